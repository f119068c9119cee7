"""AdvantageAgent: a recurrent advantage-learning agent shaped like a stable-baselines3 model.

    agent = AdvantageAgent("sublstm/NoisyTMaze-v0", core="asn-sublstm", seed=0)
    agent.learn(total_timesteps=200_000, stop_at_success=0.95)
    action, state = agent.predict(obs, state=state, episode_start=starts, deterministic=True)
    agent.save("agent.pt"); agent = AdvantageAgent.load("agent.pt")

The loop, top to bottom:

1. act: a batch of ``n_envs`` copies of the env is stepped in lock-step; the network runs one step
   on the batch (its recurrent state zeroed where an episode starts); actions are epsilon-greedy
   (:mod:`.policy`, :mod:`.environments`).
2. store: each finished episode (observations including the one after the last step, actions,
   rewards, whether it terminated) goes into an episode replay buffer (:mod:`.replay`).
3. learn: every ``train_every`` vector steps, ``gradient_steps`` updates, each on a batch of whole
   episodes (:mod:`.learner`).
4. evaluate: every ``eval_interval`` timesteps, ``eval_episodes`` deterministic episodes through
   the one evaluation rollout (:mod:`.rollout`); training stops early by the rule of
   :mod:`.stopping`.

Each agent owns its random generators and sets torch's thread count while it works
(:mod:`.runtime`), so a run depends on its seed only and stays fast on a busy machine.
"""

from __future__ import annotations

import copy
import functools
import math
import time
import warnings
from collections import deque
from dataclasses import asdict
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from . import fast_update
from .advantage import linear_schedule
from .callbacks import Callbacks
from .checkpoint import load_checkpoint, save_checkpoint
from .cores import CORES
from .encoding import ObservationEncoder
from .environments import EnvBatch, EnvLike, EnvSource, check_action_space, make_env
from .learner import gradient_step, make_optimizer
from .network import AdvantageNetwork, predicted_mean_rate_hz
from .neuron import ASNParams
from .policy import act, check_episode_start, check_observations, check_state
from .replay import Episode, pack_episodes, unpack_episodes
from .rollout import rollout
from .runtime import AgentRandomness, check_threads, seeded_torch, torch_threads
from .settings import (
    HYPERPARAM_NAMES,
    Hyperparams,
    LearnSettings,
    check_int,
    penalised,
    penalty_scale,
    stop_history,
    updates_may_start,
)
from .stopping import StopRule

__all__ = ["AdvantageAgent", "Hyperparams", "LearnSettings", "make_env"]

RATE_EVERY = 50  # vector steps between firing-rate estimates (and progress-bar updates)


class AdvantageAgent:
    """Advantage(lambda) learning with a recurrent AdvantageNetwork; SB3-shaped API.

    Args:
        env: an env id string (made with ``env_kwargs``), a gymnasium Env (deep-copied for every
            env the agent steps, its wrappers kept) or a zero-argument function returning an Env.
        core: "asn-sublstm" (default), "asn-lstm", "sublstm" or "lstm".
        seed: seeds the agent's own generators: weights, exploration, replay sampling, env resets,
            training noise.
        env_kwargs: keyword arguments for ``gym.make`` when ``env`` is an id.
        device: "cpu" (default) or a torch device such as "cuda".
        asn: neuron parameters for the AF units.
        n_threads: torch's intra-op thread count while the agent learns, evaluates or predicts
            (restored afterwards); 1 is fastest for these small networks. None: leave torch as is.
        verbose: 1 prints one line per evaluation and why training stopped.
        **hyperparams: fields of :class:`Hyperparams`; unknown names raise ValueError.
    """

    def __init__(
        self,
        env: EnvLike,
        core: str = "asn-sublstm",
        seed: int = 0,
        env_kwargs: dict | None = None,
        device: str | torch.device = "cpu",
        asn: ASNParams | None = None,
        n_threads: int | None = 1,
        verbose: int = 0,
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
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device {device!r} is not a torch device: {exc}") from exc
        self.n_threads = check_threads(n_threads)
        self.verbose = check_int("verbose", verbose, 0)

        self._env_source = EnvSource(env, env_kwargs)
        self.env = self._env_source.env
        self.env_id, self.env_kwargs = self._env_source.env_id, self._env_source.env_kwargs
        self.observation_space = self.env.observation_space
        self.action_space = self.env.action_space
        self.encoder = ObservationEncoder(self.observation_space)
        self.obs_dim = self.encoder.dim
        self.n_actions = check_action_space(self.action_space)

        self.random = AgentRandomness(self.seed, self.device)
        with seeded_torch(self.seed):  # the initial weights depend on the seed only
            self.network = AdvantageNetwork(
                self.obs_dim,
                self.n_actions,
                core=core,
                n_hidden=self.hp.n_hidden,
                n_cells=self.hp.n_cells,
                asn=self.asn,
                input_gain=self.hp.input_gain,
            ).to(self.device)
        self.target_network = copy.deepcopy(self.network) if self.hp.target_update_interval else None
        self.optimizer = make_optimizer(self.network, self.hp.learning_rate)
        self.buffer: deque[Episode] = deque(maxlen=self.hp.buffer_episodes)
        self.num_timesteps = 0
        self.num_episodes = 0
        self.num_updates = 0
        # evaluations: event, timesteps, episodes, wall_s, epsilon, success_rate, mean_return, mean_length
        self.history: list[dict[str, Any]] = []
        self.stop_reason: str | None = None  # why the last learn() ended
        self._train_wall_s = 0.0
        self._batch: EnvBatch | None = None
        self._batch_state = None
        self._eval_env_cache: list[gym.Env] = []
        self._warned: set[str] = set()

    @property
    def rng(self) -> np.random.Generator:
        """The agent's numpy generator (exploration, replay sampling, env seeds)."""
        return self.random.numpy

    @property
    def env_is_plain_id(self) -> bool:
        """Whether ``env_id`` and ``env_kwargs`` alone rebuild the env (no wrapper or factory of yours)."""
        return self._env_source.plain_id

    def get_env(self) -> EnvBatch | None:
        """The batch of envs being trained on (``num_envs`` of them), None before the first learn()."""
        return self._batch

    # --- acting ----------------------------------------------------------------------------------
    def _act(self, obs: np.ndarray, state, starts: np.ndarray, epsilon: float):
        network = self.network
        if fast_update.supported(network):  # the same step in numpy: a tenth of torch's cost
            network = functools.partial(fast_update.forward_step, network)
        return act(network, obs, state, starts, epsilon, self.rng, self.device)

    def predict(
        self,
        observation: Any,
        state: tuple[np.ndarray, np.ndarray] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray | int, tuple[np.ndarray, np.ndarray]]:
        """SB3-style: action(s) for one observation or a batch, and the next recurrent state.

        ``state`` is what the previous call returned (None: zero state); where ``episode_start``
        (bools or 0/1 ints, one per observation) is True the state is zeroed first.
        Non-deterministic prediction is epsilon-greedy with the final exploration rate ``eps_end``.
        Observations outside the space or not finite, a state of another shape or dtype, and
        episode starts that are not booleans raise ValueError naming the argument.
        """
        obs, single = check_observations(self.encoder, observation)
        n = obs.shape[0]
        starts = check_episode_start(episode_start, n, single)
        if state is None:
            torch_state = self.network.initial_state(n, self.device)
        else:
            h, c = check_state(state, n, self.network.n_cells, single)
            torch_state = (torch.from_numpy(h).to(self.device), torch.from_numpy(c).to(self.device))
        eps = 0.0 if deterministic else self.hp.eps_end
        with torch_threads(self.n_threads):
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
        n_episodes = check_int("n_episodes", n_episodes, 1)
        max_steps = check_int("max_steps", max_steps, 1)
        if seed is not None:
            seed = check_int("seed", seed, 0)
        rng = np.random.default_rng(self.rng.integers(2**31 - 1) if seed is None else seed)
        seeds = [int(rng.integers(2**31 - 1)) for _ in range(n_episodes)]
        envs = self._eval_envs(n_episodes)
        state = [self.network.initial_state(n_episodes, self.device)]
        no_reset = np.zeros(n_episodes, dtype=bool)
        collected: dict[str, list[torch.Tensor]] = {}

        def decide(obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
            actions, state[0], acts = self._act(obs, state[0], no_reset, 0.0)
            if return_rates:
                live = torch.from_numpy(alive).to(self.device)
                for name, a in acts.items():
                    collected.setdefault(name, []).append(a[0][live])
            return actions

        with torch_threads(self.n_threads):
            result: dict[str, Any] = rollout(envs, decide, seeds, self.encoder, max_steps).summary()
        if return_rates:
            stacked = {k: torch.cat(v).unsqueeze(0) for k, v in collected.items()}
            result["rate_hz"] = predicted_mean_rate_hz(stacked, self.asn)
        return result

    def _eval_envs(self, n: int) -> list[gym.Env]:
        if len(self._eval_env_cache) < n:
            self._eval_env_cache += self._env_source.make(n - len(self._eval_env_cache))
        return self._eval_env_cache[:n]

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
        idx = self.rng.integers(len(self.buffer), size=self.hp.batch_episodes)
        episodes = [self.buffer[i] for i in idx]
        net, target, opt = self.network, self.target_network, self.optimizer
        hp = penalised(self.hp, penalty_scale(self.hp, self.history, self.num_timesteps))
        out = gradient_step(net, target, opt, episodes, hp, self.device, self.random.torch)
        self.num_updates += 1
        if self.target_network is not None and self.num_updates % self.hp.target_update_interval == 0:
            self.target_network.load_state_dict(self.network.state_dict())
        return out

    def learn(
        self,
        total_timesteps: int,
        callback: Any = None,
        progress_bar: bool = True,
        eval_interval: int = 5_000,
        eval_episodes: int = 100,
        stop_at_success: float | None = None,
        stop_patience: int = 1,
        stop_at_return: float | None = None,
        reset_num_timesteps: bool = False,
    ) -> AdvantageAgent:
        """Train ``total_timesteps`` more timesteps (as stable-baselines3 does), or until a stop rule.

        ``callback``: a function of an event dict (``event`` "episode" or "eval", with metrics;
        returning False stops training), or a stable-baselines3 ``BaseCallback`` / ``CallbackList``
        / list of them (driven as SB3 drives them; see :mod:`.callbacks`). Every ``eval_interval``
        timesteps (0: never) a deterministic evaluation of ``eval_episodes`` episodes runs and is
        appended to :attr:`history`. Training stops early once the success rate has reached
        ``stop_at_success``, or the mean return ``stop_at_return``, in ``stop_patience``
        consecutive evaluations (more than one trains past a lucky evaluation, which widens the
        decision margins that the spiking twin needs); an env without ``info["success"]`` gets a
        warning saying which rule applies. :attr:`stop_reason` says why training ended.

        The counters (timesteps, episodes, wall-clock) and the running episodes continue across
        calls; ``reset_num_timesteps`` starts them afresh (and clears :attr:`history`).
        """
        settings = LearnSettings(
            total_timesteps=total_timesteps,
            eval_interval=eval_interval,
            eval_episodes=eval_episodes,
            stop_at_success=stop_at_success,
            stop_patience=stop_patience,
            stop_at_return=stop_at_return,
        )
        settings.validate()
        callbacks = Callbacks(callback)
        if reset_num_timesteps:
            self.num_timesteps = self.num_episodes = 0
            self._train_wall_s = 0.0
            self.history = []
            self._batch = None
        with torch_threads(self.n_threads):
            self._learn(settings, callbacks, progress_bar, callback)
        return self

    def _learn(self, settings: LearnSettings, callbacks: Callbacks, progress_bar: bool, callback) -> None:
        hp = self.hp
        total = int(settings.total_timesteps)
        end = self.num_timesteps + total
        rule = StopRule(settings.stop_at_success, settings.stop_at_return, settings.stop_patience)
        self._warn_once("no evaluations", rule.no_evaluations(settings.eval_interval, total))
        if self._batch is None:
            self._batch = EnvBatch(self._env_source.make(hp.n_envs), self.encoder, self.rng)
            self._batch_state = self.network.initial_state(hp.n_envs, self.device)
        envs = self._batch  # running episodes carry on across learn() calls
        self.stop_reason = None
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, unit="step")
        step_locals: dict[str, Any] = {"self": self, "total_timesteps": total, "callback": callback}
        callbacks.training_start(self, step_locals, globals())
        recent: deque[Episode] = deque(maxlen=100)
        last = {"loss": float("nan")}
        rate_hz = float("nan")
        interval = settings.eval_interval
        next_eval = (self.num_timesteps // interval + 1) * interval if interval else None
        t0 = time.perf_counter()
        vec_steps = 0
        try:
            while self.num_timesteps < end and self.stop_reason is None:
                if vec_steps % hp.train_every == 0:
                    callbacks.rollout_start()
                eps = self.epsilon()
                actions, state, acts = self._act(envs.obs, self._batch_state, envs.starts.copy(), eps)
                finished = envs.step(actions)
                self._batch_state = state
                self.num_timesteps += hp.n_envs
                vec_steps += 1
                if bar is not None:
                    bar.update(min(hp.n_envs, total - bar.n))
                if vec_steps % RATE_EVERY == 1 or RATE_EVERY == 1:
                    rate_hz = predicted_mean_rate_hz(acts, self.asn)["overall"]
                    if bar is not None:
                        bar.set_postfix(self._postfix(recent, eps, last["loss"]), refresh=False)
                for ep in finished:
                    self.buffer.append(ep)
                    self.num_episodes += 1
                    recent.append(ep)
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
                    if not callbacks.event(event):
                        self.stop_reason = "callback"
                if callbacks.per_step:
                    step_locals.update(
                        actions=actions,
                        new_obs=envs.obs.copy(),
                        rewards=envs.rewards.copy(),
                        dones=envs.dones.copy(),
                        infos=list(envs.infos),
                    )
                    if not callbacks.step(step_locals):
                        self.stop_reason = "callback"
                        break
                if vec_steps % hp.train_every == 0:
                    callbacks.rollout_end()
                    if updates_may_start(hp, self.num_timesteps, len(self.buffer)):
                        for _ in range(hp.gradient_steps):
                            last = self._train_step()
                if next_eval is not None and self.num_timesteps >= next_eval:
                    next_eval += interval
                    record = self._evaluation(settings.eval_episodes, t0, eps)
                    self._report(record, bar)
                    self._warn_once("no success", rule.unavailable(record, total))
                    if not callbacks.event(record):
                        self.stop_reason = "callback"
                    self.stop_reason = self.stop_reason or rule.reason(stop_history(hp, self.history))
        except BaseException as exc:
            self.stop_reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
            raise
        finally:
            self._train_wall_s += time.perf_counter() - t0
            if bar is not None:
                bar.close()
        if self.stop_reason is None:
            self.stop_reason = "total_timesteps reached"
        elif progress_bar or self.verbose >= 1:
            print(f"stopped at {self.num_timesteps:,} steps: {self.stop_reason}")
        callbacks.training_end()

    @staticmethod
    def _postfix(recent: deque[Episode], eps: float, loss: float) -> dict[str, str]:
        succ = [e.success for e in recent if e.success is not None]
        return {
            "success": f"{np.mean(succ):.2f}" if succ else "-",
            "eps": f"{eps:.2f}",
            "loss": f"{loss:.3g}",
        }

    def _evaluation(self, n_episodes: int, t0: float, eps: float) -> dict[str, Any]:
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
        return record

    def _report(self, record: dict[str, Any], bar) -> None:
        """With verbose >= 1, one rounded line per evaluation."""
        if self.verbose < 1:
            return
        success = record.get("success_rate", float("nan"))
        line = (
            f"eval at {record['timesteps']:,} steps: success "
            + ("-" if math.isnan(success) else f"{success:.2f}")
            + f", mean return {record.get('mean_return', float('nan')):.3g}"
            + f", epsilon {record['epsilon']:.2f}, wall {record['wall_s']:.1f} s"
        )
        if bar is not None:
            bar.write(line)
        else:
            print(line)

    def _warn_once(self, kind: str, message: str | None) -> None:
        """Warn ``message`` (None: nothing to say) unless this agent has warned of ``kind`` before."""
        if message is not None and kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, UserWarning, stacklevel=4)

    # --- persistence ---------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the agent, as JSON-able plain types.

        ``env_id`` is recorded only where it rebuilds the env (a registered id, no wrapper or factory
        of the user's); otherwise it is None and loading needs ``env=``.
        """
        plain = self.env_is_plain_id
        return {
            "kind": "AdvantageAgent",
            "env_id": self.env_id if plain else None,
            "env_kwargs": self.env_kwargs if plain else {},
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
            "rng": self.random.state_dict(),
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
            fused = [group.get("fused") for group in agent.optimizer.param_groups]
            agent.optimizer.load_state_dict(state["optimizer"])
            for group, flag in zip(agent.optimizer.param_groups, fused, strict=True):
                group["fused"] = flag  # a checkpoint's own flag would not fit this torch and device
        except (KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(path, f"does not match the AdvantageAgent it describes: {exc}") from exc
        agent.num_timesteps = int(state.get("num_timesteps", 0))
        agent.num_episodes = int(state.get("num_episodes", 0))
        agent.num_updates = int(state.get("num_updates", 0))
        agent._train_wall_s = float(state.get("train_wall_s", 0.0))
        if state.get("buffer") is not None:
            agent.buffer.extend(unpack_episodes(state["buffer"]))
        if state.get("rng") is not None:  # checkpoints from before the agent owned its generators lack it
            try:
                agent.random.load_state_dict(state["rng"])
            except ValueError as exc:
                raise CheckpointError(path, str(exc), "state.rng") from exc
        return agent
