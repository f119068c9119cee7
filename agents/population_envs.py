"""The envs of a population: one tensor env of S * n episodes, whose random draws come from the
members' own streams, so that member k's episodes depend on its seed alone.

A tensor env (``sublstm.envs.tensor``) draws all randomness through two methods of its base class,
``uniform(*shape)`` and ``integers(low, high, *shape)`` (its documented extension point), whose
first dimension is the batch.
:class:`MemberEnv` replaces both on its instance with draws from :class:`MemberStreams`: rows
``k*n .. k*n+n-1`` (member k's envs) take member k's numbers. Same distributions, one env call per
step for the whole population.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .population_random import MemberStreams


def tensor_env_for(env_id: str, num_envs: int, device: torch.device, env_kwargs: dict | None):
    """``sublstm.envs.tensor.make_tensor_env`` (ValueError for ids without a tensor version)."""
    from sublstm.envs.tensor import make_tensor_env  # envs are optional for the rest of agents/

    env = make_tensor_env(env_id, num_envs, device=device, seed=0, **(env_kwargs or {}))
    env.check_actions = False  # actions come from argmax / uniform draws over n_actions
    return env


class MemberEnv:
    """S members x ``n_envs`` episodes of one tensor env, stepped as (S, n_envs) batches."""

    def __init__(
        self,
        env_id: str,
        seeds: Sequence[int],
        n_envs: int,
        device: torch.device,
        env_kwargs: dict | None = None,
        purpose: str = "env",
    ) -> None:
        self.n_members, self.n_envs = len(seeds), n_envs
        self.env = tensor_env_for(env_id, self.n_members * n_envs, device, env_kwargs)
        for hook in ("uniform", "integers"):
            if not callable(getattr(self.env, hook, None)):
                raise ValueError(f"tensor env {env_id!r} has no {hook}() to draw per member from")
        self.streams = MemberStreams(seeds, purpose, device)
        self.env.uniform = self._uniform
        self.env.integers = self._integers
        self.obs_dim, self.n_actions = self.env.obs_dim, self.env.n_actions
        self.max_steps = getattr(self.env, "max_steps", None)

    def _rows(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if not shape or shape[0] != self.n_members * self.n_envs:
            raise RuntimeError(f"tensor env drew {shape}; MemberEnv serves (batch, ...) draws only")
        return (self.n_envs, *shape[1:])

    def _uniform(self, *shape: int) -> Tensor:
        return self.streams.uniform(*self._rows(shape)).reshape(shape)

    def _integers(self, low: int, high: int, *shape: int) -> Tensor:
        return self.streams.integers(high - low, *self._rows(shape)).reshape(shape) + low

    def keep(self, positions: Sequence[int]) -> None:
        """Keep the members at ``positions`` only (in that order): their episodes and streams go
        on where they were, the others' envs no longer run."""
        positions = list(positions)
        rows = torch.tensor([k * self.n_envs + i for k in positions for i in range(self.n_envs)])
        self.env.keep_rows(rows)
        self.streams.keep(positions)
        self.n_members = len(positions)

    def reset(self, seeds: Sequence[int] | None = None) -> Tensor:
        """First observations (S, n, D); ``seeds`` restarts every member's stream first."""
        if seeds is not None:
            self.streams.reseed(seeds)
        return self.env.reset().view(self.n_members, self.n_envs, -1)

    def step(self, actions: Tensor):
        """actions (S, n) -> obs, reward, terminated, truncated, info, each shaped (S, n, ...)."""
        obs, reward, terminated, truncated, info = self.env.step(actions.reshape(-1))
        s, n = self.n_members, self.n_envs
        info = {k: v.view(s, n, *v.shape[1:]) for k, v in info.items() if isinstance(v, Tensor)}
        return obs.view(s, n, -1), reward.view(s, n), terminated.view(s, n), truncated.view(s, n), info
