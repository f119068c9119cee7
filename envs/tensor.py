"""Tensor-native versions of the registered tasks: B episodes stepped at once as torch operations.

:func:`make_tensor_env` builds one from a registered id; the id's registered kwargs (e.g.
``noise=1.0`` for ``sublstm/NoisyTMaze-v0``) apply first, then the caller's. The gymnasium envs
stay the reference: each tensor env follows the same rules, rewards, noise distribution,
truncation and ``success``, validates its kwargs by building that env, and takes its constants
from that env's module.

Interface (all tensors on ``env.device``; B = ``num_envs``):

- ``reset(seed=None) -> obs`` (B, obs_dim) float32; ``seed`` reseeds the env's
  ``torch.Generator``, so a seed fixes every draw that follows (goals, noise, sequences, trials).
- ``step(actions) -> (obs, reward, terminated, truncated, info)``; actions (B,) integer tensor;
  reward (B,) float32, terminated / truncated (B,) bool. Episodes that ended in this step start a
  new episode at once: ``obs`` is then the new episode's first observation and
  ``info["final_obs"]`` the ended episode's last one (elsewhere the same as ``obs``).
  ``info["done"]`` = terminated | truncated; ``info["success"]`` True only where an episode ended
  in success; ``info["episode_return"]`` / ``["episode_length"]`` are the totals of the episode
  each env was in during this step: complete where ``done``, the running totals elsewhere.
- ``num_envs``, ``obs_dim``, ``n_actions``, ``device``, ``env_id``, ``env_kwargs`` (resolved, so
  ``gymnasium.make(env.env_id, **env.env_kwargs)`` is the reference env), and
  ``single_observation_space`` / ``single_action_space`` (gymnasium spaces of one env).
- ``check_actions`` (default True): refuse out-of-range actions with ValueError. It costs a
  device-to-host sync per step; a trusted caller (a policy sampling from ``n_actions`` logits)
  may set it to False.
- ``uniform(*shape)`` and ``integers(low, high, *shape)``: every random draw of the env goes
  through these two (first dimension: the batch); a caller may replace them on an instance to
  choose the random streams, keeping their distributions.
- ``keep_rows(rows)``: narrow the env to some of its episodes, each one continuing where it was
  (a caller that no longer needs some rows stops paying for them).

:class:`TableEnv` steps a task that is a small state machine (the T-maze, the saccade task) by
table lookups. :func:`measure_tensor_env_rate`, :func:`measure_gym_vector_rate` and
:func:`compare_rates` time env steps per second, the tensor env beside gymnasium's sync vector.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import numbers
import statistics
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch

#: ids with a tensor version -> "module:class" (imported on first use, so that the env modules can
#: import :class:`TensorEnv` from here)
TENSOR_ENVS = {
    "sublstm/TMaze-v0": "sublstm.envs.tensor_tmaze:TensorTMaze",
    "sublstm/NoisyTMaze-v0": "sublstm.envs.tensor_tmaze:TensorTMaze",
    "sublstm/SequencePrediction-v0": "sublstm.envs.tensor_sequence:TensorSequencePrediction",
    "sublstm/SaccadeAntisaccade-v0": "sublstm.envs.tensor_saccade:TensorSaccadeAntisaccade",
}
TENSOR_ENV_IDS = tuple(TENSOR_ENVS)
_MODULE_PREFIX = "sublstm.envs:"


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_seed(seed: Any) -> None:
    if seed is not None and not _is_int(seed):
        raise ValueError(f"seed must be an int or None, got {seed!r}")


class TensorEnv:
    """Base of the batched envs: seeding, action checks, auto-reset bookkeeping, the info dict.

    A subclass names the gymnasium env it mirrors (``reference_class``), whose kwargs (rendering
    aside, same defaults) are the task's: the constructor builds that env from them (which
    validates them), takes spaces and sizes from it and hands it to :meth:`_build`, where the
    subclass sets up its task. It implements :meth:`_build`, :meth:`_reset` (all envs) and
    :meth:`_step`.
    """

    env_id: str = ""
    reference_class: type[gym.Env]
    #: attributes holding one entry per env (first dimension B): what :meth:`keep_rows` narrows
    row_state: tuple[str, ...] = ("_return",)

    def __init__(
        self, num_envs: int, device: str | torch.device = "cpu", seed: int | None = None, **env_kwargs: Any
    ):
        if not _is_int(num_envs) or num_envs < 1:
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        _check_seed(seed)
        try:
            self.device = torch.device(device)
            self.generator = torch.Generator(device=self.device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device {device!r} is not a usable torch device: {err}") from None
        self.num_envs = int(num_envs)
        self.check_actions = True
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        self._started = False
        self._return = torch.zeros(num_envs, device=self.device)
        _check_kwargs(type(self).__name__, type(self), env_kwargs)
        self.env_kwargs = {**self.task_kwargs(), **env_kwargs}
        self._setup(self.reference_class(**self.env_kwargs))  # validates the kwargs
        self._build(self.reference)

    @classmethod
    def task_kwargs(cls) -> dict[str, Any]:
        """The task's kwargs and their defaults: those of the reference env, rendering aside."""
        parameters = inspect.signature(cls.reference_class).parameters
        return {name: p.default for name, p in parameters.items() if name != "render_mode"}

    def _setup(self, reference: gym.Env) -> None:
        """Spaces and sizes from the reference env."""
        self.reference = reference
        self.single_observation_space = reference.observation_space
        self.single_action_space = reference.action_space
        self.obs_dim = int(reference.observation_space.shape[0])
        self.n_actions = int(reference.action_space.n)

    def _table(self, values, dtype=torch.float32) -> torch.Tensor:
        """A constant lookup table on the env's device."""
        return torch.as_tensor(values, dtype=dtype, device=self.device)

    # -- the random draws: the one source of randomness of every tensor env ------------------------
    def uniform(self, *shape: int) -> torch.Tensor:
        """Uniform floats in [0, 1) of ``shape`` (first dimension: the batch) from ``generator``.

        With :meth:`integers` an extension point: every random draw of a tensor env goes through
        these two, so a caller may replace them on an instance (same signature, same distribution,
        tensors on ``device``) to choose where each env's numbers come from, e.g. one stream per
        group of rows (``sublstm.agents.population_envs``).
        """
        return torch.rand(*shape, generator=self.generator, device=self.device)

    def integers(self, low: int, high: int, *shape: int) -> torch.Tensor:
        """Integers uniform in [low, high) of ``shape`` (first dimension: the batch), int64; see
        :meth:`uniform`."""
        return torch.randint(low, high, shape, generator=self.generator, device=self.device)

    # -- the public interface ---------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> torch.Tensor:
        """Start a new episode in every env; returns the first observations, (B, obs_dim) float32."""
        _check_seed(seed)
        if seed is not None:
            self.generator.manual_seed(int(seed))
        self._return.zero_()
        self._started = True
        return self._reset()

    def step(self, actions: torch.Tensor):
        """Step every env once; see the module docstring for what comes back."""
        if not self._started:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset()")
        actions = self._checked(actions)
        obs, final_obs, reward, terminated, truncated, success, done, episode_length = self._step(actions)
        episode_return = self._return + reward
        self._return = episode_return * ~done
        info = {
            "final_obs": final_obs,
            "done": done,
            "success": success,
            "episode_return": episode_return,
            "episode_length": episode_length,
        }
        return obs, reward, terminated, truncated, info

    def _checked(self, actions) -> torch.Tensor:
        if not isinstance(actions, torch.Tensor):
            actions = torch.as_tensor(actions, device=self.device)
        integer = not (
            actions.dtype.is_floating_point or actions.dtype.is_complex or actions.dtype == torch.bool
        )
        if actions.shape != (self.num_envs,) or not integer:
            raise ValueError(
                f"actions must be an integer tensor of shape ({self.num_envs},), "
                f"got {actions.dtype} of shape {tuple(actions.shape)}"
            )
        if actions.device != self.device:
            actions = actions.to(self.device)
        if actions.dtype != torch.long:
            actions = actions.long()
        if self.check_actions:
            low, high = torch.aminmax(actions)
            if low < 0 or high >= self.n_actions:
                raise ValueError(
                    f"actions must lie in 0 .. {self.n_actions - 1}, got values {int(low)} .. {int(high)}"
                )
        return actions

    def keep_rows(self, rows) -> None:
        """Keep only the envs ``rows`` (distinct indices, in the order given): each one's episode
        continues where it was; the others are dropped. Per-env state is whatever
        :attr:`row_state` names."""
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.device).reshape(-1)
        if len(rows) == 0 or len(torch.unique(rows)) != len(rows):
            raise ValueError(f"keep_rows needs distinct env indices, at least one, got {rows.tolist()}")
        if int(rows.min()) < 0 or int(rows.max()) >= self.num_envs:
            raise ValueError(
                f"keep_rows: env indices must lie in 0 .. {self.num_envs - 1}, got {rows.tolist()}"
            )
        for name in self.row_state:
            setattr(self, name, getattr(self, name).index_select(0, rows))
        self.num_envs = len(rows)

    # -- what each env implements -----------------------------------------------------------------
    def _build(self, reference: gym.Env) -> None:
        """The task's sizes and tables, from the reference env built from the validated kwargs."""
        raise NotImplementedError

    def _reset(self) -> torch.Tensor:
        raise NotImplementedError

    def _step(self, actions: torch.Tensor):
        """-> obs, final_obs, reward, terminated, truncated, success, done, episode_length (steps taken
        in the episode each env was in, this one included): (B, D) or (B,) tensors."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id!r}, num_envs={self.num_envs}, device={self.device})"


class TableEnv(TensorEnv):
    """A task that, its clock aside, is a small deterministic state machine, stepped by table lookups.

    Each env is in one of ``S`` states (``state``, (B,) long) and has a clock (``steps``, steps
    taken in the episode). A subclass describes the task once, as tables indexed by
    ``state * n_actions + action`` (:meth:`_set_tables`): the next state, the reward, whether the
    episode terminates, whether that is a success, the observation returned (plus, optionally,
    ``noise * U[0, 1)`` per component, drawn afresh at every step) and the start states (drawn
    uniformly) with their first observations. The next state of a pair that ends the episode is
    never used (a start state replaces it). A step is then a handful of gathers, whatever the task;
    ``max_steps`` (None: none) truncates episodes on the clock.
    """

    row_state = (*TensorEnv.row_state, "state", "steps")

    def _set_tables(
        self,
        *,
        next_state: torch.Tensor,
        reward: torch.Tensor,
        terminated: torch.Tensor,
        success: torch.Tensor,
        obs: torch.Tensor,
        start_states: torch.Tensor,
        start_obs: torch.Tensor,
        obs_noise: torch.Tensor | None = None,
        max_steps: int | None = None,
    ) -> None:
        to = self.device
        self._next = next_state.to(to, torch.long)
        self._reward = reward.to(to, torch.float32)
        self._terminated = terminated.to(to, torch.bool)
        self._success = success.to(to, torch.bool)
        self._obs = obs.to(to, torch.float32)
        self._obs_noise = (
            None if obs_noise is None or not obs_noise.any() else obs_noise.to(to, torch.float32)
        )
        self.start_states = start_states.to(to, torch.long)  # start index (goal, trial type) -> state
        self._start_obs = start_obs.to(to, torch.float32)
        self._max_steps = max_steps
        self.state = self.start_states[torch.zeros(self.num_envs, dtype=torch.long, device=to)]
        self.steps = torch.zeros(self.num_envs, dtype=torch.long, device=to)

    def _draw_starts(self) -> torch.Tensor:
        return self.integers(0, len(self.start_states), self.num_envs)

    def _reset(self) -> torch.Tensor:
        start = self._draw_starts()
        self.state = self.start_states[start]
        self.steps.zero_()
        return self._start_obs[start]

    def _step(self, actions: torch.Tensor):
        i = torch.add(actions, self.state, alpha=self.n_actions)
        reward, terminated, success = self._reward[i], self._terminated[i], self._success[i]
        final_obs = self._obs[i]
        if self._obs_noise is not None:
            final_obs = torch.addcmul(
                final_obs, self._obs_noise[i], self.uniform(self.num_envs, self.obs_dim)
            )
        steps = self.steps + 1
        if self._max_steps is None:
            truncated, done = torch.zeros_like(terminated), terminated
        else:
            truncated = (steps >= self._max_steps) & ~terminated
            done = terminated | truncated
        start = self._draw_starts()  # used only where an episode ended
        self.state = torch.where(done, self.start_states[start], self._next[i])
        obs = torch.where(done[:, None], self._start_obs[start], final_obs)
        self.steps = steps * ~done
        return obs, final_obs, reward, terminated, truncated, success, done, steps


def _env_class(env_id: Any) -> tuple[str, type[TensorEnv]]:
    if isinstance(env_id, str) and env_id.startswith(_MODULE_PREFIX):
        env_id = env_id[len(_MODULE_PREFIX) :]
    if not isinstance(env_id, str) or env_id not in TENSOR_ENVS:
        close = difflib.get_close_matches(str(env_id), TENSOR_ENV_IDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"no tensor version of env id {env_id!r}{hint} Ids with one: {', '.join(TENSOR_ENV_IDS)}"
        )
    module, name = TENSOR_ENVS[env_id].split(":")
    return env_id, getattr(importlib.import_module(module), name)


def _check_kwargs(env_id: str, cls: type[TensorEnv], env_kwargs: dict[str, Any]) -> None:
    allowed = list(cls.task_kwargs())
    for name in env_kwargs:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"{env_id} has no argument {name!r}{hint}; its tensor version takes: {', '.join(allowed)}"
            )


def make_tensor_env(
    env_id: str, num_envs: int, device: str | torch.device = "cpu", seed: int | None = None, **env_kwargs
) -> TensorEnv:
    """A batched tensor version of a registered env, ``num_envs`` episodes stepped at once on ``device``.

    ``env_kwargs`` are those of the gymnasium env (rendering aside), checked the same way; an id
    without a tensor version or an unknown kwarg raises ValueError naming it and what is allowed.
    ``seed`` seeds the env's torch.Generator (None: a random seed); call ``reset()`` before ``step``.
    """
    env_id, cls = _env_class(env_id)
    if "render_mode" in env_kwargs:
        raise ValueError("tensor envs do not render; drop render_mode (render the gymnasium env instead)")
    _check_kwargs(env_id, cls, env_kwargs)
    kwargs = {**gym.spec(env_id).kwargs, **env_kwargs}
    env = cls(num_envs, device, seed, **kwargs)
    env.env_id = env_id
    return env


# -- throughput -----------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_tensor_env_rate(
    env_id: str, batch: int, steps: int, device: str | torch.device = "cpu", seed: int = 0, **env_kwargs
) -> float:
    """Env steps per second (``batch * steps / seconds``) of the tensor env under random actions.

    Actions are drawn in advance on the device, uniformly over the action space, and action checks
    are off (as in a training loop that samples its own actions); ``steps`` steps of the whole batch
    are timed after 10 untimed ones.
    """
    env = make_tensor_env(env_id, batch, device=device, seed=seed, **env_kwargs)
    env.check_actions = False
    gen = torch.Generator(device=env.device).manual_seed(seed)
    actions = torch.randint(env.n_actions, (steps + 10, batch), generator=gen, device=env.device)
    env.reset()
    for a in actions[:10]:
        env.step(a)
    _sync(env.device)
    start = time.perf_counter()
    for a in actions[10:]:
        env.step(a)
    _sync(env.device)
    return batch * steps / (time.perf_counter() - start)


def measure_gym_vector_rate(env_id: str, batch: int, steps: int, seed: int = 0, **env_kwargs) -> float:
    """Env steps per second of gymnasium's sync vector env of the same id, random actions in advance."""
    envs = gym.make_vec(env_id, num_envs=batch, vectorization_mode="sync", **env_kwargs)
    try:
        actions = np.random.default_rng(seed).integers(envs.single_action_space.n, size=(steps + 10, batch))
        envs.reset(seed=seed)
        for a in actions[:10]:
            envs.step(a)
        start = time.perf_counter()
        for a in actions[10:]:
            envs.step(a)
        return batch * steps / (time.perf_counter() - start)
    finally:
        envs.close()


def compare_rates(
    env_id: str,
    batches: tuple[int, ...] = (1, 64, 1024),
    steps: int = 1000,
    gym_env_steps: int = 20_000,
    repeats: int = 3,
    device: str | torch.device = "cpu",
    **env_kwargs,
) -> list[dict[str, float]]:
    """Tensor env beside gymnasium's sync vector env, one row per batch size (env steps per second).

    Each figure is the median of ``repeats`` runs: ``steps`` batched steps of the tensor env, and
    ``max(20, gym_env_steps // batch)`` steps of the vector env (it is much slower at large batch).
    Rows: {"batch", "tensor", "gym_sync", "speedup"}.
    """
    rows = []
    for batch in batches:
        tensor = [
            measure_tensor_env_rate(env_id, batch, steps, device, r, **env_kwargs) for r in range(repeats)
        ]
        vec_steps = max(20, gym_env_steps // batch)
        gym_sync = [
            measure_gym_vector_rate(env_id, batch, vec_steps, r, **env_kwargs) for r in range(repeats)
        ]
        t, g = statistics.median(tensor), statistics.median(gym_sync)
        rows.append({"batch": batch, "tensor": t, "gym_sync": g, "speedup": t / g})
    return rows
