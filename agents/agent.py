"""AdvantageAgent: a recurrent advantage-learning agent shaped like a stable-baselines3 model.

    agent = AdvantageAgent("sublstm/NoisyTMaze-v0", core="asn-sublstm", seed=0)
    agent.learn(total_timesteps=200_000, stop_at_success=0.95)
    action, state = agent.predict(obs, state=state, episode_start=starts, deterministic=True)
    agent.save("agent.pt"); agent = AdvantageAgent.load("agent.pt")

The loop, top to bottom:

1. act: a batch of ``n_envs`` env instances is stepped in lock-step; the network runs one step on
   the batch (its recurrent state zeroed where an episode starts); actions are epsilon-greedy.
2. store: each finished episode (observations including the one after the last step, actions,
   rewards, whether it terminated) goes into an episode replay buffer.
3. learn: every ``train_every`` vector steps, ``gradient_steps`` updates, each on a batch of whole
   episodes padded to the longest, unrolled from a zero state (BPTT), with advantage(lambda)
   targets from :mod:`.advantage` computed by the (optionally lagged) target network.
4. evaluate: every ``eval_interval`` timesteps, ``eval_episodes`` deterministic episodes; training
   stops early once the success rate reaches ``stop_at_success``.
"""

from __future__ import annotations

import copy
import importlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from .advantage import (
    advantage_loss,
    advantage_targets,
    bootstrap_values,
    check_unit_interval,
    lambda_returns,
    linear_schedule,
)
from .checkpoint import load_checkpoint, save_checkpoint
from .cores import CORES
from .network import AdvantageNetwork, predicted_mean_rate_hz
from .neuron import ASNParams


@dataclass
class Hyperparams:
    """Everything that shapes learning. Defaults solve the noisy T-maze (corridor 10); see docs/results.md."""

    n_hidden: int = 16
    n_cells: int = 8
    n_envs: int = 16
    learning_rate: float = 3e-3
    batch_episodes: int = 32
    buffer_episodes: int = 2000
    learning_starts: int = 64  # episodes in the buffer before the first update
    train_every: int = 1  # vector steps between rounds of updates
    gradient_steps: int = 1
    gamma: float = 0.98
    lam: float = 0.8
    kappa: float = 0.5
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: int = 30_000  # timesteps over which epsilon falls linearly
    max_grad_norm: float = 1.0
    target_update_interval: int = 0  # updates between target-network copies; 0: no target network
    huber_delta: float = 0.0  # 0: squared error
    rate_penalty: float = 0.0  # coefficient of the mean AF activation in the loss
    # coefficient of the mean cell-input and input-gate activation (z, i) in the loss: where both
    # are ~0 the memory cell cannot drift, neither in the analog net nor in its spiking twin
    gate_rate_penalty: float = 0.0
    # noise-aware training (online network, loss only; acting and evaluation stay noise-free):
    # std of Gaussian noise on the signals the spiking twin carries as traces (x, a, h) ...
    train_noise: float = 0.1
    # ... and on each step's memory-cell increment z - i. Measured (docs/results.md, Spiking
    # twin): it widens the analog decision margins, so that the twin's rate errors flip fewer
    # near-ties (agreement 0.947 -> 0.996 on seed 1) at an unchanged analog success
    train_cell_noise: float = 0.05

    def validate(self) -> None:
        positive_ints = (
            "n_hidden",
            "n_cells",
            "n_envs",
            "batch_episodes",
            "buffer_episodes",
            "train_every",
            "gradient_steps",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("learning_starts", "eps_decay_steps", "target_update_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        for name in ("learning_rate", "max_grad_norm"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        for name in ("huber_delta", "rate_penalty", "gate_rate_penalty", "train_noise", "train_cell_noise"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
        for name in ("gamma", "lam", "eps_start", "eps_end"):
            check_unit_interval(name, getattr(self, name))
        check_unit_interval("kappa", self.kappa, open_low=True)
        if self.batch_episodes > self.buffer_episodes:
            raise ValueError(
                f"batch_episodes ({self.batch_episodes}) must not exceed "
                f"buffer_episodes ({self.buffer_episodes})"
            )


HYPERPARAM_NAMES = tuple(f.name for f in fields(Hyperparams))


# --- environments ----------------------------------------------------------------------------------
def make_env(env_id: str, env_kwargs: dict | None = None) -> gym.Env:
    """gym.make, importing sublstm.envs first when the id is one of ours and not yet registered."""
    if env_id not in gym.registry and env_id.startswith("sublstm/"):
        importlib.import_module("sublstm.envs")  # registers the sublstm/... ids
    return gym.make(env_id, **(env_kwargs or {}))


def observation_dim(space: spaces.Space) -> int:
    """Network input size for a supported observation space; ValueError naming any other space."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return int(space.shape[0])
    raise ValueError(f"unsupported observation space {space}: AdvantageAgent needs a flat Box or Discrete")


def check_action_space(space: spaces.Space) -> int:
    if not isinstance(space, spaces.Discrete):
        raise ValueError(f"unsupported action space {space}: AdvantageAgent needs Discrete actions")
    return int(space.n)


class Episode:
    """One finished episode: obs (L+1, D) float32, actions (L,), rewards (L,), terminated, info."""

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


class EnvBatch:
    """``n`` copies of one env stepped in lock-step, each reset as soon as its episode ends.

    Cheaper than a gymnasium vector env for tiny envs, and the episode bookkeeping the replay
    buffer needs (the observation after the last step, terminated vs truncated) stays explicit.
    """

    def __init__(self, envs: list[gym.Env], encode: Callable[[Any], np.ndarray], rng: np.random.Generator):
        self.envs, self.encode, self.rng = envs, encode, rng
        self.obs = np.stack([self._reset(env) for env in envs])
        self.starts = np.ones(len(envs), dtype=bool)
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
            if terminated or truncated:
                success = info.get("success") if isinstance(info, dict) else None
                finished.append(Episode(obs_list, act_list, rew_list, terminated, success))
                enc = self._reset(env)
                self._traj[k] = ([enc], [], [])
                self.starts[k] = True
            self.obs[k] = enc
        return finished


class AdvantageAgent:
    """Advantage(lambda) learning with a recurrent AdvantageNetwork; SB3-shaped API.

    Args:
        env: a gymnasium Env, or an env id string (made with ``env_kwargs``).
        core: "asn-sublstm" (default), "asn-lstm", "sublstm" or "lstm".
        seed: seeds torch, the action sampling and the env resets.
        env_kwargs: keyword arguments for ``gym.make`` when ``env`` is an id.
        device: "cpu" (default) or a torch device such as "cuda".
        asn: neuron parameters for the AF units.
        **hyperparams: fields of :class:`Hyperparams`; unknown names raise ValueError.
    """

    def __init__(
        self,
        env: gym.Env | str,
        core: str = "asn-sublstm",
        seed: int = 0,
        env_kwargs: dict | None = None,
        device: str | torch.device = "cpu",
        asn: ASNParams | None = None,
        **hyperparams: Any,
    ) -> None:
        unknown = sorted(set(hyperparams) - set(HYPERPARAM_NAMES))
        if unknown:
            raise ValueError(f"unknown hyperparameters {unknown}; known: {list(HYPERPARAM_NAMES)}")
        if core not in CORES:
            raise ValueError(f"unknown core {core!r}; choose one of {sorted(CORES)}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.hp = Hyperparams(**hyperparams)
        self.hp.validate()
        self.seed = int(seed)
        self.core = core
        self.asn = asn or ASNParams()
        self.device = torch.device(device)

        if isinstance(env, str):
            self.env_id: str | None = env
            self.env_kwargs: dict = dict(env_kwargs or {})
            self.env = make_env(env, self.env_kwargs)
        elif isinstance(env, gym.Env):
            if env_kwargs:
                raise ValueError("env_kwargs is only used when env is an id string")
            self.env = env
            spec = env.spec
            self.env_id = spec.id if spec is not None else None
            self.env_kwargs = dict(spec.kwargs) if spec is not None else {}
        else:
            raise ValueError(f"env must be a gymnasium Env or an env id string, got {env!r}")
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self.obs_dim = observation_dim(self.observation_space)
        self.n_actions = check_action_space(self.action_space)

        torch.manual_seed(self.seed)
        self.rng = np.random.default_rng(self.seed)
        self.network = AdvantageNetwork(
            self.obs_dim,
            self.n_actions,
            core=core,
            n_hidden=self.hp.n_hidden,
            n_cells=self.hp.n_cells,
            asn=self.asn,
        ).to(self.device)
        self.target_network = copy.deepcopy(self.network) if self.hp.target_update_interval else None
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=self.hp.learning_rate)
        self.buffer: deque[Episode] = deque(maxlen=self.hp.buffer_episodes)
        self.num_timesteps = 0
        self.num_episodes = 0
        self.num_updates = 0
        self.history: list[dict[str, Any]] = []  # evaluations: timesteps, success, wall_s
        self._train_wall_s = 0.0
        self._batch: EnvBatch | None = None
        self._batch_state = None

    # --- observation handling ------------------------------------------------------------------
    def _encode(self, obs: Any) -> np.ndarray:
        """One observation -> float32 vector (one-hot for Discrete)."""
        if isinstance(self.observation_space, spaces.Discrete):
            vec = np.zeros(self.obs_dim, dtype=np.float32)
            vec[int(obs) - int(self.observation_space.start)] = 1.0
            return vec
        return np.asarray(obs, dtype=np.float32).reshape(self.obs_dim)

    def _encode_batch(self, obs: Any) -> tuple[np.ndarray, bool]:
        """Observation(s) -> (B, D) float32 and whether a single observation was given."""
        if isinstance(self.observation_space, spaces.Discrete):
            arr = np.asarray(obs)
            single = arr.ndim == 0
            idx = arr.reshape(-1).astype(np.int64) - int(self.observation_space.start)
            out = np.zeros((idx.size, self.obs_dim), dtype=np.float32)
            out[np.arange(idx.size), idx] = 1.0
            return out, single
        arr = np.asarray(obs, dtype=np.float32)
        if arr.shape == (self.obs_dim,):
            return arr[None], True
        if arr.ndim == 2 and arr.shape[1] == self.obs_dim:
            return arr, False
        raise ValueError(
            f"observation of shape {arr.shape} does not match the space {self.observation_space}"
        )

    def _make_envs(self, n: int) -> list[gym.Env]:
        if self.env_id is not None:
            return [make_env(self.env_id, self.env_kwargs) for _ in range(n)]
        return [copy.deepcopy(self.env) for _ in range(n)]

    # --- acting ----------------------------------------------------------------------------------
    @torch.no_grad()
    def _act(self, obs: np.ndarray, state, starts: np.ndarray, epsilon: float):
        """One network step on a batch; epsilon-greedy actions, next state, activations."""
        x = torch.from_numpy(obs).to(self.device).unsqueeze(0)
        resets = torch.from_numpy(starts).to(self.device).unsqueeze(0)
        q, state, acts = self.network(x, state, resets)
        actions = q[0].argmax(-1).cpu().numpy()
        if epsilon > 0.0:
            explore = self.rng.random(len(actions)) < epsilon
            if explore.any():
                actions[explore] = self.rng.integers(self.n_actions, size=int(explore.sum()))
        return actions, state, acts

    def predict(
        self,
        observation: Any,
        state: tuple[np.ndarray, np.ndarray] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray | int, tuple[np.ndarray, np.ndarray]]:
        """SB3-style: action(s) for one observation or a batch, and the next recurrent state.

        ``state`` is what the previous call returned (None: zero state); where ``episode_start``
        is True the state is zeroed first. Non-deterministic prediction is epsilon-greedy with the
        final exploration rate ``eps_end``.
        """
        obs, single = self._encode_batch(observation)
        n = obs.shape[0]
        if state is None:
            torch_state = self.network.initial_state(n, self.device)
        else:
            torch_state = tuple(
                torch.as_tensor(np.asarray(s, dtype=np.float32), device=self.device).reshape(n, -1)
                for s in state
            )
        starts = np.zeros(n, dtype=bool) if episode_start is None else np.asarray(episode_start, dtype=bool)
        starts = starts.reshape(n)
        eps = 0.0 if deterministic else self.hp.eps_end
        actions, new_state, _ = self._act(obs, torch_state, starts, eps)
        np_state = tuple(s.cpu().numpy() for s in new_state)
        if single:
            return int(actions[0]), tuple(s[0] for s in np_state)
        return actions, np_state

    # --- evaluation --------------------------------------------------------------------------------
    def evaluate(
        self,
        n_episodes: int = 100,
        seed: int | None = None,
        max_steps: int = 100_000,
        return_rates: bool = False,
    ) -> dict[str, Any]:
        """Deterministic evaluation on ``n_episodes`` episodes run side by side.

        Returns success_rate (NaN if the env reports no ``success``), mean_return and mean_length;
        with ``return_rates``, also ``rate_hz``: the predicted mean firing rate per population (and
        ``overall``) over every step of every episode.
        """
        if n_episodes < 1:
            raise ValueError(f"n_episodes must be >= 1, got {n_episodes!r}")
        rng = np.random.default_rng(self.rng.integers(2**31 - 1) if seed is None else seed)
        envs = self._eval_envs(n_episodes)
        obs = np.stack([self._encode(env.reset(seed=int(rng.integers(2**31 - 1)))[0]) for env in envs])
        state = self.network.initial_state(n_episodes, self.device)
        alive = np.ones(n_episodes, dtype=bool)
        returns = np.zeros(n_episodes)
        lengths = np.zeros(n_episodes, dtype=np.int64)
        success = np.zeros(n_episodes, dtype=bool)
        has_success = True
        no_reset = np.zeros(n_episodes, dtype=bool)
        collected: dict[str, list[torch.Tensor]] = {}
        for _ in range(max_steps):
            actions, state, acts = self._act(obs, state, no_reset, 0.0)
            if return_rates:
                live = torch.from_numpy(alive).to(self.device)
                for name, a in acts.items():
                    collected.setdefault(name, []).append(a[0][live])
            for k in np.flatnonzero(alive):
                o, r, term, trunc, info = envs[k].step(int(actions[k]))
                obs[k] = self._encode(o)
                returns[k] += r
                lengths[k] += 1
                if term or trunc:
                    alive[k] = False
                    if "success" in info:
                        success[k] = bool(info["success"])
                    else:
                        has_success = False
            if not alive.any():
                break
        result: dict[str, Any] = {
            "success_rate": float(success.mean()) if has_success else float("nan"),
            "mean_return": float(returns.mean()),
            "mean_length": float(lengths.mean()),
        }
        if return_rates:
            stacked = {k: torch.cat(v).unsqueeze(0) for k, v in collected.items()}
            result["rate_hz"] = predicted_mean_rate_hz(stacked, self.asn)
        return result

    def _eval_envs(self, n: int) -> list[gym.Env]:
        cache = getattr(self, "_eval_env_cache", None)
        if cache is None or len(cache) < n:
            cache = self._make_envs(n)
            self._eval_env_cache = cache
        return cache[:n]

    @property
    def train_wall_s(self) -> float:
        """Wall-clock seconds spent in :meth:`learn` so far (across resumes)."""
        return self._train_wall_s

    # --- learning ----------------------------------------------------------------------------------
    def epsilon(self) -> float:
        return linear_schedule(
            self.hp.eps_start, self.hp.eps_end, 1.0, self.num_timesteps / max(1, self.hp.eps_decay_steps)
        )

    def _train_step(self) -> dict[str, float]:
        hp = self.hp
        idx = self.rng.integers(len(self.buffer), size=hp.batch_episodes)
        batch = pad_episodes([self.buffer[i] for i in idx], self.device)
        # (T+1, B, A) from a zero state; noise (if set) makes the decisions robust to the twin's errors
        q, _, acts = self.network(batch["obs"], noise_std=hp.train_noise, cell_noise_std=hp.train_cell_noise)
        with torch.no_grad():
            q_boot = self.target_network(batch["obs"])[0] if self.target_network is not None else q
            values = q_boot.max(-1).values  # V = max_a A, (T+1, B)
            next_values = bootstrap_values(values, batch["terminated"])
            returns = lambda_returns(batch["rewards"], next_values, batch["continues"], hp.gamma, hp.lam)
            targets = advantage_targets(values[:-1], returns, hp.kappa)
        mask = batch["mask"]
        loss = advantage_loss(q[:-1], batch["actions"], targets, mask, hp.huber_delta or None)
        td_loss = float(loss.detach())
        m = mask.to(q.dtype).unsqueeze(-1)
        if hp.rate_penalty > 0.0:
            # mean AF activation over the units that become spiking neurons, real steps only
            penalty = sum((a[:-1] * m).sum() / (m.sum() * a.shape[-1]) for a in acts.values()) / len(acts)
            loss = loss + hp.rate_penalty * penalty
        if hp.gate_rate_penalty > 0.0:
            zi = [acts[k] for k in ("cell_input", "input_gate") if k in acts]
            if zi:
                penalty = sum((a[:-1] * m).sum() / (m.sum() * a.shape[-1]) for a in zi) / len(zi)
                loss = loss + hp.gate_rate_penalty * penalty
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.network.parameters(), hp.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1
        if self.target_network is not None and self.num_updates % hp.target_update_interval == 0:
            self.target_network.load_state_dict(self.network.state_dict())
        return {"loss": td_loss, "grad_norm": float(grad_norm)}

    def learn(
        self,
        total_timesteps: int,
        callback: Callable[[dict[str, Any]], bool | None] | None = None,
        progress_bar: bool = True,
        eval_interval: int = 5_000,
        eval_episodes: int = 100,
        stop_at_success: float | None = None,
        reset_num_timesteps: bool = False,
        stop_patience: int = 1,
    ) -> AdvantageAgent:
        """Train until ``num_timesteps`` reaches ``total_timesteps`` (or the success target).

        ``callback(event)`` gets dicts with ``event`` in {"episode", "eval"} and metrics; returning
        False stops training. Every ``eval_interval`` timesteps (0: never) a deterministic evaluation
        of ``eval_episodes`` episodes runs; with ``stop_at_success`` set, training stops once the
        success rate has reached it in ``stop_patience`` consecutive evaluations (more than one
        trains past the first lucky evaluation, which widens the decision margins that the spiking
        twin needs). The counters continue across calls unless ``reset_num_timesteps``.
        """
        for name, value in (("total_timesteps", total_timesteps), ("stop_patience", stop_patience)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if eval_interval < 0:
            raise ValueError(f"eval_interval must be >= 0, got {eval_interval!r}")
        if stop_at_success is not None:
            check_unit_interval("stop_at_success", stop_at_success)
        if reset_num_timesteps:
            self.num_timesteps = 0
        hp = self.hp
        if self._batch is None:
            self._batch = EnvBatch(self._make_envs(hp.n_envs), self._encode, self.rng)
            self._batch_state = self.network.initial_state(hp.n_envs, self.device)
        envs, state = self._batch, self._batch_state  # running episodes carry on across learn() calls

        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total_timesteps, initial=min(self.num_timesteps, total_timesteps), unit="step")
        recent = deque(maxlen=100)
        last = {"loss": float("nan")}
        rate_hz = float("nan")
        next_eval = (self.num_timesteps // eval_interval + 1) * eval_interval if eval_interval else None
        t0 = time.perf_counter()
        vec_steps = 0
        stop = False
        try:
            while self.num_timesteps < total_timesteps and not stop:
                eps = self.epsilon()
                actions, state, acts = self._act(envs.obs, state, envs.starts.copy(), eps)
                finished = envs.step(actions)
                self._batch_state = state
                self.num_timesteps += hp.n_envs
                vec_steps += 1
                if bar is not None:
                    bar.update(min(hp.n_envs, max(0, total_timesteps - bar.n)))
                for ep in finished:
                    self.buffer.append(ep)
                    self.num_episodes += 1
                    recent.append(ep)
                    if callback is not None:
                        event = {
                            "event": "episode",
                            "timesteps": self.num_timesteps,
                            "episode": self.num_episodes,
                            "return": ep.ret,
                            "length": len(ep),
                            "success": ep.success,
                            "epsilon": eps,
                            "loss": last["loss"],
                            "rate_hz": rate_hz,
                        }
                        if callback(event) is False:
                            stop = True
                if (
                    len(self.buffer) >= max(hp.learning_starts, hp.batch_episodes)
                    and vec_steps % hp.train_every == 0
                ):
                    for _ in range(hp.gradient_steps):
                        last = self._train_step()
                if vec_steps % 50 == 0:
                    rate_hz = predicted_mean_rate_hz(acts, self.asn)["overall"]
                    if bar is not None:
                        succ = [e.success for e in recent if e.success is not None]
                        bar.set_postfix(
                            success=f"{np.mean(succ):.2f}" if succ else "-",
                            eps=f"{eps:.2f}",
                            loss=f"{last['loss']:.3f}",
                        )
                if next_eval is not None and self.num_timesteps >= next_eval:
                    next_eval += eval_interval
                    stop = self._periodic_eval(eval_episodes, callback, t0, eps) or stop
                    stop = stop or self._success_streak(stop_at_success) >= stop_patience
        finally:
            self._train_wall_s += time.perf_counter() - t0
            if bar is not None:
                bar.close()
        return self

    def _success_streak(self, target: float | None) -> int:
        """How many of the latest evaluations in a row reached ``target`` (0 when it is None)."""
        streak = 0
        for record in reversed(self.history if target is not None else []):
            if math.isnan(record["success_rate"]) or record["success_rate"] < target:
                break
            streak += 1
        return streak

    def _periodic_eval(self, n_episodes, callback, t0, eps) -> bool:
        result = self.evaluate(n_episodes)
        record = {
            "event": "eval",
            "timesteps": self.num_timesteps,
            "episodes": self.num_episodes,
            "wall_s": self._train_wall_s + time.perf_counter() - t0,
            "epsilon": eps,
            **result,
        }
        self.history.append(record)
        return callback is not None and callback(record) is False

    # --- persistence ---------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the agent, as JSON-able plain types."""
        return {
            "kind": "AdvantageAgent",
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "core": self.core,
            "seed": self.seed,
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
            "asn": self.asn.to_dict(),
            "hyperparams": asdict(self.hp),
        }

    def save(self, path) -> None:
        state = {
            "network": self.network.state_dict(),
            "target_network": self.target_network.state_dict() if self.target_network is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "num_timesteps": self.num_timesteps,
            "num_episodes": self.num_episodes,
            "num_updates": self.num_updates,
            "train_wall_s": self._train_wall_s,
            "buffer": pack_episodes(list(self.buffer)),
        }
        save_checkpoint(path, self.config(), state)

    @classmethod
    def load(
        cls,
        path,
        env: gym.Env | str | None = None,
        device: str | torch.device = "cpu",
        allow_module_import: bool = False,
    ) -> AdvantageAgent:
        """Rebuild an agent from a checkpoint; ``env`` defaults to the stored env id and kwargs.

        A stored id ``module:Env-v0`` would import ``module``: refused unless ``allow_module_import``
        (trusted files only). Inconsistent content raises CheckpointError naming file and field.
        """
        from .checkpoint import CheckpointError, check_agent_config, check_agent_state

        config, state = load_checkpoint(path, map_location=device)
        check_agent_config(path, config, env_given=env is not None, allow_module_import=allow_module_import)
        if config.get("kind") != "AdvantageAgent":
            raise CheckpointError(path, f"holds a {config.get('kind')!r}, not an AdvantageAgent")
        env_kwargs = None
        if env is None:
            if config.get("env_id") is None:
                raise ValueError(f"{path}: the checkpoint names no env id; pass env=")
            env, env_kwargs = config["env_id"], config.get("env_kwargs") or {}
        try:
            agent = cls(
                env,
                core=config["core"],
                seed=config["seed"],
                env_kwargs=env_kwargs,
                device=device,
                asn=ASNParams(**config["asn"]),
                **config["hyperparams"],
            )
            check_agent_state(
                path, config, state, obs_dim=agent.obs_dim, n_actions=agent.n_actions,
                network=agent.network, optimizer=agent.optimizer, target_network=agent.target_network,
            )  # fmt: skip
            if (agent.obs_dim, agent.n_actions) != (config["obs_dim"], config["n_actions"]):
                raise ValueError(
                    f"env has obs_dim {agent.obs_dim} and {agent.n_actions} actions; the checkpoint "
                    f"was trained with {config['obs_dim']} and {config['n_actions']}"
                )
            agent.network.load_state_dict(state["network"])
            if agent.target_network is not None and state.get("target_network") is not None:
                agent.target_network.load_state_dict(state["target_network"])
            agent.optimizer.load_state_dict(state["optimizer"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(path, f"does not match the AdvantageAgent it describes: {exc}") from exc
        agent.num_timesteps = int(state.get("num_timesteps", 0))
        agent.num_episodes = int(state.get("num_episodes", 0))
        agent.num_updates = int(state.get("num_updates", 0))
        agent._train_wall_s = float(state.get("train_wall_s", 0.0))
        if state.get("buffer") is not None:
            agent.buffer.extend(unpack_episodes(state["buffer"]))
        return agent
