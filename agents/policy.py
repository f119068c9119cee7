"""Acting: one network step on a batch of observations, epsilon-greedy actions, and the checks on
what a user hands to ``predict`` (observations, recurrent state, episode starts)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .cores import State
from .encoding import ObservationEncoder
from .network import AdvantageNetwork


@torch.no_grad()
def act(
    network: AdvantageNetwork,
    obs: np.ndarray,
    state: State,
    starts: np.ndarray,
    epsilon: float,
    rng: np.random.Generator,
    device: torch.device,
) -> tuple[np.ndarray, State, dict[str, torch.Tensor]]:
    """One step on obs (B, D): greedy actions (random with probability ``epsilon``), next state,
    activations by population. The state is zeroed first where ``starts`` (B,) is True."""
    x = torch.from_numpy(obs).to(device).unsqueeze(0)
    resets = torch.from_numpy(starts).to(device).unsqueeze(0)
    q, state, acts = network(x, state, resets)
    actions = q[0].argmax(-1).cpu().numpy()
    if epsilon > 0.0:
        explore = rng.random(len(actions)) < epsilon
        if explore.any():
            actions[explore] = rng.integers(q.shape[-1], size=int(explore.sum()))
    return actions, state, acts


def check_observations(encoder: ObservationEncoder, observation: Any) -> tuple[np.ndarray, bool]:
    """Observation(s) -> (B, D) float32 and whether a single one was given; ValueError for an
    observation outside the space, of the wrong shape, or holding NaN / inf."""
    try:
        obs, single = encoder.batch(observation)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ValueError(f"observation does not fit the space {encoder.space}: {exc}") from exc
    if not np.isfinite(obs).all():
        raise ValueError(f"observation must be finite, got NaN or inf in {observation!r}")
    return obs, single


def check_state(state: Any, n: int, n_cells: int, single: bool) -> tuple[np.ndarray, np.ndarray]:
    """The recurrent state predict returned, as two float32 arrays (n, n_cells); ValueError naming
    ``state`` when it is not a pair of finite float arrays of that shape ((n_cells,) for a single
    observation)."""
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError(f"state must be the pair (h, c) that predict returned, got {type(state).__name__}")
    shapes = [(n, n_cells)] + ([(n_cells,)] if single else [])
    out = []
    for k, part in enumerate(state):
        arr = part.detach().cpu().numpy() if isinstance(part, torch.Tensor) else np.asarray(part)
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"state[{k}] must hold floats, got dtype {arr.dtype}")
        if arr.shape not in shapes:
            allowed = " or ".join(str(s) for s in shapes)
            raise ValueError(f"state[{k}] has shape {arr.shape}; for {n} observation(s) it must be {allowed}")
        if not np.isfinite(arr).all():
            raise ValueError(f"state[{k}] must be finite, got NaN or inf")
        out.append(arr.astype(np.float32).reshape(n, n_cells))
    return out[0], out[1]


def check_episode_start(episode_start: Any, n: int, single: bool) -> np.ndarray:
    """Episode starts as a bool array (n,); None means none. ValueError naming ``episode_start``
    unless it holds bools or 0/1 ints, one per observation."""
    if episode_start is None:
        return np.zeros(n, dtype=bool)
    arr = np.asarray(episode_start)
    zero_one_ints = np.issubdtype(arr.dtype, np.integer) and np.isin(arr, (0, 1)).all()
    if arr.dtype != bool and not zero_one_ints:
        raise ValueError(f"episode_start must hold bools or 0/1 ints, got {episode_start!r}")
    shapes = [(n,)] + ([()] if single else [])
    if arr.shape not in shapes:
        raise ValueError(
            f"episode_start has shape {arr.shape}; for {n} observation(s) it must be "
            + " or ".join(str(s) for s in shapes)
        )
    return arr.astype(bool).reshape(n)
