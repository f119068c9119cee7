"""One evaluation rollout: ``n`` episodes side by side until every one has ended.

It serves the analog agent's evaluation, the comparison of an agent with its spiking twin and the
peers' evaluation: each supplies a ``decide(obs, alive) -> actions`` callable that keeps its own
recurrent state (the first call of a rollout is the first step of every episode).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from .encoding import ObservationEncoder

Decide = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class Rollout:
    """Per-episode outcomes; with ``record``, what each decision saw and chose.

    success is NaN-free: episodes whose env reports no ``info["success"]`` count as False and
    ``has_success`` is False, so that :attr:`success_rate` is NaN rather than a silent 0.
    """

    success: np.ndarray  # (n,) bool
    returns: np.ndarray  # (n,) float
    lengths: np.ndarray  # (n,) int
    has_success: bool
    obs: np.ndarray | None = None  # (T, n, d) float32: the observation behind each decision
    actions: np.ndarray | None = None  # (T, n) int: -1 once the episode has ended

    @property
    def success_rate(self) -> float:
        return float(self.success.mean()) if self.has_success else float("nan")

    @property
    def mean_return(self) -> float:
        return float(self.returns.mean())

    @property
    def mean_length(self) -> float:
        return float(self.lengths.mean())

    def summary(self) -> dict[str, float]:
        return {
            "success_rate": self.success_rate,
            "mean_return": self.mean_return,
            "mean_length": self.mean_length,
        }


def rollout(
    envs: Sequence[gym.Env],
    decide: Decide,
    seeds: Sequence[int],
    encoder: ObservationEncoder | None = None,
    max_steps: int = 100_000,
    record: bool = False,
) -> Rollout:
    """Run one episode in each env (env k reset with ``seeds[k]``) until all have ended.

    ``decide(obs (n, d) float32, alive (n,) bool) -> actions (n,)`` is called once per step for
    the whole batch; rows of ended episodes keep their last observation and their actions are
    ignored. ``max_steps`` bounds the longest episode (a safety net for envs without a limit).
    """
    n = len(envs)
    if n < 1:
        raise ValueError("rollout needs at least one env")
    if len(seeds) != n:
        raise ValueError(f"rollout got {len(seeds)} seeds for {n} envs")
    encode = encoder or ObservationEncoder(envs[0].observation_space)
    obs = np.stack([encode(env.reset(seed=int(s))[0]) for env, s in zip(envs, seeds, strict=True)])
    alive = np.ones(n, dtype=bool)
    success = np.zeros(n, dtype=bool)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    has_success = True
    obs_hist: list[np.ndarray] = []
    act_hist: list[np.ndarray] = []
    for _ in range(max_steps):
        if not alive.any():
            break
        actions = np.asarray(decide(obs, alive)).reshape(n)
        if record:
            obs_hist.append(obs.copy())
            act_hist.append(np.where(alive, actions, -1))
        for k in np.flatnonzero(alive):
            o, r, terminated, truncated, info = envs[k].step(int(actions[k]))
            returns[k] += float(r)
            lengths[k] += 1
            if terminated or truncated:
                alive[k] = False
                if isinstance(info, dict) and "success" in info:
                    success[k] = bool(info["success"])
                else:
                    has_success = False
            else:
                obs[k] = encode(o)
    return Rollout(
        success=success,
        returns=returns,
        lengths=lengths,
        has_success=has_success,
        obs=np.stack(obs_hist) if record and obs_hist else None,
        actions=np.stack(act_hist) if record and act_hist else None,
    )
