"""Where the agent's envs come from, and the batch of them it trains on.

The env a user passes is the env trained and evaluated on: an env id string is made with
``gym.make``; a gymnasium Env is deep-copied (its wrappers kept) for every copy the agent needs; a
zero-argument callable returning an Env is called once per copy. :class:`EnvBatch` steps ``n``
copies in lock-step and hands back the episodes that ended.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .encoding import ObservationEncoder
from .replay import Episode

EnvLike = gym.Env | str | Callable[[], gym.Env]


def make_env(env_id: str, env_kwargs: dict | None = None) -> gym.Env:
    """gym.make, importing sublstm.envs first when the id is one of ours and not yet registered.

    An unknown id or keyword argument is a ValueError naming it.
    """
    from sublstm.envs import check_make_args  # importing sublstm.envs registers the sublstm/... ids

    check_make_args(env_id, env_kwargs, allow_module=True)  # the caller named this id itself
    try:
        return gym.make(env_id, **(env_kwargs or {}))
    except gym.error.Error as exc:
        raise ValueError(f"env id {env_id!r}: {exc}") from exc
    except TypeError as exc:
        raise ValueError(f"env {env_id!r} refused env_kwargs {env_kwargs!r}: {exc}") from exc


def check_action_space(space: spaces.Space) -> int:
    """The number of actions of a Discrete space; ValueError naming any other space."""
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"unsupported action space {space}: AdvantageAgent needs Discrete actions")
    return int(space.n)


def _is_plain_id(env: gym.Env) -> bool:
    """Whether ``gym.make(env.spec.id, **env.spec.kwargs)`` rebuilds ``env`` (no wrapper of the user's)."""
    spec = env.spec
    if spec is None or spec.id not in gym.registry or spec.additional_wrappers:
        return False
    return spec.max_episode_steps == gym.registry[spec.id].max_episode_steps


class EnvSource:
    """The env given to the agent, and how to make more copies of it.

    Attributes: ``env`` (the instance whose spaces the agent uses), ``kind`` ("id", "env" or
    "factory"), ``env_id`` and ``env_kwargs`` (from the id or the env's spec; None and {} when it
    has none) and ``plain_id`` (whether the id and kwargs alone rebuild the env).
    """

    def __init__(self, env: EnvLike, env_kwargs: dict | None = None) -> None:
        self._factory: Callable[[], gym.Env] | None = None
        if isinstance(env, str):
            if env_kwargs is not None and not isinstance(env_kwargs, dict):
                raise ValueError(f"env_kwargs must be a dict, got {env_kwargs!r}")
            self.kind = "id"
            self.env = make_env(env, env_kwargs)
            self.env_id: str | None = env
            self.env_kwargs: dict = dict(env_kwargs or {})
            self.plain_id = True
            return
        if env_kwargs:
            raise ValueError("env_kwargs is only used when env is an id string")
        if isinstance(env, gym.Env):
            self.kind = "env"
            self.env = env
            try:
                copy.deepcopy(env)
            except Exception as exc:
                raise ValueError(
                    f"env {env} cannot be deep-copied ({type(exc).__name__}: {exc}); pass a zero-argument "
                    "function that makes it instead, e.g. env=lambda: MyWrapper(gym.make(...))"
                ) from exc
        elif callable(env):
            self.kind = "factory"
            self._factory = env
            self.env = self._call_factory()
        else:
            raise ValueError(
                f"env must be an env id string, a gymnasium Env or a zero-argument function returning "
                f"one, got {env!r}"
            )
        spec = self.env.spec
        self.env_id = spec.id if spec is not None else None
        self.env_kwargs = dict(spec.kwargs) if spec is not None else {}
        self.plain_id = _is_plain_id(self.env)

    def _call_factory(self) -> gym.Env:
        made = self._factory()
        if not isinstance(made, gym.Env):
            raise ValueError(f"the env factory {self._factory!r} returned {made!r}, not a gymnasium Env")
        return made

    def make(self, n: int) -> list[gym.Env]:
        """``n`` fresh copies of the env."""
        if self.kind == "id":
            return [make_env(self.env_id, self.env_kwargs) for _ in range(n)]
        if self.kind == "factory":
            return [self._call_factory() for _ in range(n)]
        return [copy.deepcopy(self.env) for _ in range(n)]


class EnvBatch:
    """``n`` copies of one env stepped in lock-step, each reset as soon as its episode ends.

    Cheaper than a gymnasium vector env for tiny envs, and the episode bookkeeping the replay
    buffer needs (the observation after the last step, terminated vs truncated) stays explicit.
    After each :meth:`step`, ``rewards``, ``dones`` and ``infos`` hold that step's outcome (what
    stable-baselines3 callbacks read).
    """

    def __init__(self, envs: list[gym.Env], encode: ObservationEncoder, rng: np.random.Generator) -> None:
        self.envs, self.encode, self.rng = envs, encode, rng
        self.num_envs = len(envs)
        self.obs = np.stack([self._reset(env) for env in envs])
        self.starts = np.ones(self.num_envs, dtype=bool)
        self.rewards = np.zeros(self.num_envs, dtype=np.float32)
        self.dones = np.zeros(self.num_envs, dtype=bool)
        self.infos: list[dict[str, Any]] = [{} for _ in envs]
        self._traj = [([o], [], []) for o in self.obs]

    def _reset(self, env: gym.Env) -> np.ndarray:
        obs, _ = env.reset(seed=int(self.rng.integers(2**31 - 1)))
        return self.encode(obs)

    def step(self, actions: np.ndarray) -> list[Episode]:
        """Step every env; return the episodes that ended (their envs are reset)."""
        finished = []
        self.starts[:] = False
        for k, (env, a) in enumerate(zip(self.envs, actions, strict=True)):
            obs, reward, terminated, truncated, info = env.step(int(a))
            obs_list, act_list, rew_list = self._traj[k]
            enc = self.encode(obs)
            obs_list.append(enc)
            act_list.append(int(a))
            rew_list.append(float(reward))
            self.rewards[k], self.dones[k], self.infos[k] = reward, terminated or truncated, info
            if terminated or truncated:
                success = info.get("success") if isinstance(info, dict) else None
                finished.append(Episode(obs_list, act_list, rew_list, terminated, success))
                enc = self._reset(env)
                self._traj[k] = ([enc], [], [])
                self.starts[k] = True
            self.obs[k] = enc
        return finished
