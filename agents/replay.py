"""The episode replay buffer's contents: finished episodes, padded batches of them for BPTT, and
their packing into a few flat tensors for checkpoints (which hold tensors, never pickled objects)."""

from __future__ import annotations

import numpy as np
import torch


class Episode:
    """One finished episode: obs (L+1, D) float32, actions (L,), rewards (L,), terminated, success."""

    __slots__ = ("obs", "actions", "rewards", "terminated", "success", "ret")

    def __init__(self, obs, actions, rewards, terminated: bool, success: bool | None) -> None:
        self.obs = np.asarray(obs, dtype=np.float32)
        self.actions = np.asarray(actions, dtype=np.int64)
        self.rewards = np.asarray(rewards, dtype=np.float32)
        self.terminated = bool(terminated)
        self.success = success
        self.ret = float(self.rewards.sum())

    def __len__(self) -> int:
        return len(self.actions)


def pad_episodes(episodes: list[Episode], device: torch.device) -> dict[str, torch.Tensor]:
    """Stack episodes time-major, padded to the longest: obs (T+1, B, D), the rest (T, B)."""
    n = len(episodes)
    t_max = max(len(e) for e in episodes)
    dim = episodes[0].obs.shape[1]
    obs = np.zeros((t_max + 1, n, dim), dtype=np.float32)
    actions = np.zeros((t_max, n), dtype=np.int64)
    rewards = np.zeros((t_max, n), dtype=np.float32)
    mask = np.zeros((t_max, n), dtype=bool)
    terminated = np.zeros((t_max, n), dtype=bool)
    continues = np.zeros((t_max, n), dtype=bool)
    for b, e in enumerate(episodes):
        length = len(e)
        obs[: length + 1, b] = e.obs
        actions[:length, b] = e.actions
        rewards[:length, b] = e.rewards
        mask[:length, b] = True
        continues[: length - 1, b] = True
        terminated[length - 1, b] = e.terminated
    out = dict(
        obs=obs, actions=actions, rewards=rewards, mask=mask, terminated=terminated, continues=continues
    )
    return {k: torch.from_numpy(v).to(device) for k, v in out.items()}


def pack_episodes(episodes: list[Episode]) -> dict[str, torch.Tensor] | None:
    """The replay buffer as a few flat tensors (a checkpoint holds tensors, never pickled objects)."""
    if not episodes:
        return None
    success = [-1 if e.success is None else int(e.success) for e in episodes]
    return {
        "obs": torch.from_numpy(np.concatenate([e.obs for e in episodes])),
        "actions": torch.from_numpy(np.concatenate([e.actions for e in episodes])),
        "rewards": torch.from_numpy(np.concatenate([e.rewards for e in episodes])),
        "lengths": torch.tensor([len(e) for e in episodes], dtype=torch.int64),
        "terminated": torch.tensor([e.terminated for e in episodes], dtype=torch.bool),
        "success": torch.tensor(success, dtype=torch.int8),
    }


def unpack_episodes(packed: dict[str, torch.Tensor]) -> list[Episode]:
    """Inverse of :func:`pack_episodes`."""
    obs, actions, rewards = (packed[k].cpu().numpy() for k in ("obs", "actions", "rewards"))
    episodes, o, a = [], 0, 0
    for length, term, succ in zip(
        packed["lengths"].tolist(), packed["terminated"].tolist(), packed["success"].tolist(), strict=True
    ):
        success = None if succ < 0 else bool(succ)
        episodes.append(
            Episode(obs[o : o + length + 1], actions[a : a + length], rewards[a : a + length], term, success)
        )
        o, a = o + length + 1, a + length
    return episodes
