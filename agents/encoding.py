"""Observations as flat float32 vectors, the way stable-baselines3 flattens them.

One encoder serves the agent, its spiking twin and the peers, so all three see the same numbers:
Box -> flattened, Discrete -> one-hot, MultiDiscrete -> concatenated one-hots, MultiBinary ->
0/1, Tuple and Dict -> their parts flattened and concatenated (gymnasium's ``flatten`` order).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


def _check_supported(space: spaces.Space, where: str = "observation space") -> None:
    if isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        return
    if isinstance(space, spaces.Tuple):
        for sub in space.spaces:
            _check_supported(sub, where)
        return
    if isinstance(space, spaces.Dict):
        for sub in space.spaces.values():
            _check_supported(sub, where)
        return
    raise ValueError(
        f"unsupported {where} {space}: the agent needs Box, Discrete, MultiDiscrete, MultiBinary, "
        "or a Tuple / Dict of those"
    )


class ObservationEncoder:
    """``encoder(obs) -> (dim,)`` and ``encoder.batch(obs) -> ((B, dim), single)`` float32."""

    def __init__(self, space: spaces.Space) -> None:
        _check_supported(space)
        self.space = space
        self.dim = int(spaces.flatdim(space))
        # the common cases get a fast path; everything else goes through gymnasium's flatten
        self._flat_box = isinstance(space, spaces.Box)
        self._discrete = isinstance(space, spaces.Discrete)

    def __call__(self, obs: Any) -> np.ndarray:
        if self._flat_box:
            return np.asarray(obs, dtype=np.float32).reshape(self.dim)
        if self._discrete:
            vec = np.zeros(self.dim, dtype=np.float32)
            vec[int(obs) - int(self.space.start)] = 1.0
            return vec
        return np.asarray(spaces.flatten(self.space, obs), dtype=np.float32).reshape(self.dim)

    def batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        """One observation or a batch -> (B, dim) float32, and whether a single one was given.

        A batch is a sequence of observations (for Box, an array with one more leading axis than
        the space; for Dict spaces, a dict of stacked arrays as SB3 vector envs return it).
        """
        if self._flat_box:
            arr = np.asarray(obs, dtype=np.float32)
            shape = self.space.shape
            if arr.shape == shape:
                return arr.reshape(1, self.dim), True
            if arr.ndim == len(shape) + 1 and arr.shape[1:] == shape:
                return arr.reshape(arr.shape[0], self.dim), False
            raise ValueError(f"observation of shape {arr.shape} does not match the space {self.space}")
        if self._discrete:
            arr = np.asarray(obs)
            if not np.issubdtype(arr.dtype, np.integer):
                raise ValueError(f"observation {obs!r} is not an integer of the space {self.space}")
            single = arr.ndim == 0
            idx = arr.reshape(-1).astype(np.int64) - int(self.space.start)
            if ((idx < 0) | (idx >= self.dim)).any():
                raise ValueError(f"observation {obs!r} lies outside the space {self.space}")
            out = np.zeros((idx.size, self.dim), dtype=np.float32)
            out[np.arange(idx.size), idx] = 1.0
            return out, single
        if _is_single(obs, self.space):
            return self(obs)[None], True
        if isinstance(self.space, spaces.Dict):
            n = len(next(iter(obs.values())))
            items = [{k: v[i] for k, v in obs.items()} for i in range(n)]
        else:
            items = list(obs)
        return np.stack([self(o) for o in items]), False


def _is_single(obs: Any, space: spaces.Space) -> bool:
    try:
        return bool(space.contains(obs))
    except Exception:  # a batched dict is not contained; its arrays fail some checks loudly
        return False
