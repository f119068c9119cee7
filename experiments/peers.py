"""The peers' runner: the recurrent and memoryless learners a user would otherwise reach for.

    from sublstm.experiments.peers import PeerConfig, run_peer

    config = PeerConfig.from_dict({"peer": {"algo": "recurrent-ppo", "seed": 0},
                                   "env": {"kwargs": {"corridor_length": 10}},
                                   "learn": {"total_timesteps": 200_000}, "run": {"out": "runs/rppo"}})
    result = run_peer(config)           # result.summary["timesteps_to_95"], result.model (SB3)

Algorithms (``peer.algo``), behind the ``baselines`` extra (``pip install sublstm[baselines]``):

- ``recurrent-ppo``: sb3-contrib RecurrentPPO with "MlpLstmPolicy", the standard recurrent peer;
- ``ppo``: SB3 PPO with a memoryless MLP. The floor: at the T-maze junction it sees [0, 1, 0]
  whatever the sign was, so it cannot beat chance on the final turn;
- ``ppo-framestack``: SB3 PPO on the last ``peer.n_stack`` observations. It can solve a T-maze
  only if the window reaches back to the sign (n_stack > corridor_length).

A run writes into ``run.out`` the files a training run of our agent writes, where they make sense:

- ``config.json``: the resolved configuration (sections env, peer, learn, run);
- ``metrics.csv``: one row per training episode (our agent's columns; epsilon, loss, rate_hz empty);
- ``learning_curve.csv``: one row per periodic deterministic evaluation (our agent's columns);
- ``learning_curve.png``: the evaluations and the rolling training success;
- ``summary.json``: success_rate, mean_return, mean_length over ``learn.eval_episodes`` fresh
  deterministic episodes after training, timesteps, episodes, wall_s, steps_per_s, timesteps_to_95,
  wall_s_to_95, stop_reason, interrupted, the hyperparameters and the machine;
- ``model.zip``: the SB3 model (``RecurrentPPO.load`` / ``PPO.load``), written atomically;
- wandb files under the folder unless ``run.wandb`` is "disabled".

Evaluation runs through :func:`sublstm.agents.rollout.rollout`, the one evaluation rollout of the
agent and its twin: the model's ``predict`` with its recurrent state, frames stacked in the closure.
Training stops on the same rule as our agent's (``learn.stop_at_success`` reached in
``learn.stop_patience`` evaluations in a row); Ctrl-C (or SIGINT) keeps what was learnt and writes
the summary with ``interrupted`` true.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config as cfg
from .reporting import TARGET_SUCCESS, first_reaching, fmt, machine_info, write_json

ALGOS = ("recurrent-ppo", "ppo", "ppo-framestack")
INSTALL_HINT = "pip install sublstm[baselines]"
MODEL_FILE = "model.zip"


def require_baselines() -> None:
    """ImportError naming the extra to install when sb3-contrib (RecurrentPPO) is missing."""
    try:
        import sb3_contrib  # noqa: F401
    except ImportError:
        raise ImportError(f"the peers need sb3-contrib: {INSTALL_HINT}") from None


def default_hyperparameters(algo: str) -> dict[str, Any]:
    """The peers' hyperparameters for small working-memory tasks (T-maze, corridor 10-100).

    Shared by the three algorithms where they mean the same thing, so that only the memory
    mechanism differs. The vector size (``peer.n_envs``) and the frame window (``peer.n_stack``)
    are peer settings, not entries here.
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {', '.join(ALGOS)}, got {algo!r}{cfg.near_match(algo, ALGOS)}")
    common: dict[str, Any] = {
        "n_steps": 128,  # 2048 steps per update with 16 envs: longer than an optimal episode up to
        # corridor 100, so RecurrentPPO's truncated BPTT (cut at rollout boundaries) spans sign -> junction
        "batch_size": 512,
        "n_epochs": 10,
        "learning_rate": 1e-3,  # small nets on a 3-d input tolerate a large step
        "gamma": 0.99,
        "gae_lambda": 0.95,
        "clip_range": 0.2,
        "ent_coef": 0.01,  # keeps both turns at the junction in play until the memory is learnt
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
    }
    if algo == "recurrent-ppo":
        common["policy_kwargs"] = {
            "lstm_hidden_size": 32,
            "n_lstm_layers": 1,
            "enable_critic_lstm": True,  # the value of the junction state depends on the memory too
            "net_arch": {"pi": [32], "vf": [32]},
            "ortho_init": True,
        }
    else:
        common["policy_kwargs"] = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}}
    return common


# -- configuration ------------------------------------------------------------------------------------------
@dataclass
class PeerSettings:
    """Section ``peer``: which learner, its seed and machine, and changes to its hyperparameters."""

    algo: str = "recurrent-ppo"
    seed: int = 0
    n_envs: int = 16  # the vector size of our agent's default, for a like-for-like budget
    n_stack: int | None = None  # ppo-framestack only (default 4 there)
    device: str = "cpu"
    threads: int = 1
    hyperparameters: dict = field(default_factory=dict)  # overrides of default_hyperparameters(algo)

    def validate(self) -> None:
        from sublstm.agents.settings import check_int

        from .training_config import check_device

        default_hyperparameters(self.algo)  # names a bad algo
        check_int("seed", self.seed, 0, numpy_ok=False)
        check_int("n_envs", self.n_envs, 1, numpy_ok=False)
        check_int("threads", self.threads, 1, numpy_ok=False)
        check_device(self.device, "device")
        if self.n_stack is not None:
            if self.algo != "ppo-framestack":
                raise ValueError(f"n_stack only applies to algo ppo-framestack, not {self.algo!r}")
            check_int("n_stack", self.n_stack, 1, numpy_ok=False)
        hp = self.resolved_hyperparameters()
        for name in ("n_steps", "batch_size", "n_epochs"):
            check_int(f"hyperparameters.{name}", hp[name], 1, numpy_ok=False)
        if hp["batch_size"] > self.n_envs * hp["n_steps"]:
            raise ValueError(
                f"hyperparameters.batch_size ({hp['batch_size']}) must not exceed n_envs * n_steps "
                f"({self.n_envs} * {hp['n_steps']} = {self.n_envs * hp['n_steps']})"
            )

    def resolved_hyperparameters(self) -> dict[str, Any]:
        """default_hyperparameters(algo) with ``hyperparameters`` applied (unknown keys refused)."""
        hp = default_hyperparameters(self.algo)
        unknown = sorted(set(self.hyperparameters) - set(hp))
        if unknown:
            hint = cfg.near_match(unknown[0], hp)
            raise ValueError(f"unknown hyperparameter {unknown[0]!r}{hint}; known: {sorted(hp)}")
        hp.update(self.hyperparameters)
        return hp

    @property
    def window(self) -> int | None:
        """Frames stacked (None: no stacking)."""
        if self.algo != "ppo-framestack":
            return None
        return self.n_stack or 4


def _section_types() -> dict[str, type]:
    from sublstm.agents.settings import LearnSettings

    from .training_config import EnvSection, RunSection

    return {"env": EnvSection, "peer": PeerSettings, "learn": LearnSettings, "run": RunSection}


def _default(section: str):
    return field(default_factory=lambda: _section_types()[section]())


@dataclass
class PeerConfig:
    """A peer's whole run: sections ``env`` and ``run`` as a training run of our agent has them
    (:mod:`sublstm.experiments.training_config`), ``peer`` (:class:`PeerSettings`) and ``learn``
    (the agent's :class:`~sublstm.agents.settings.LearnSettings`: budget, evaluations, stop rule)."""

    env: Any = _default("env")
    peer: PeerSettings = field(default_factory=PeerSettings)
    learn: Any = _default("learn")
    run: Any = _default("run")

    SECTIONS = ("env", "peer", "learn", "run")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None) -> PeerConfig:
        """Build and check every section of nested plain data (unknown sections / keys refused)."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.SECTIONS))
        if unknown:
            hint = cfg.near_match(unknown[0], cls.SECTIONS)
            raise cfg.ConfigError(
                f"unknown section {unknown[0]!r}{hint}; sections: {', '.join(cls.SECTIONS)}"
            )
        sections = {}
        for name, kind in _section_types().items():
            given = values.get(name) or {}
            if not isinstance(given, Mapping):
                raise cfg.ConfigError(f"section {name!r} must be a table of keys, got {given!r}")
            sections[name] = cfg.build(kind, given, name)
        config = cls(**sections)
        config.validate()
        return config

    def validate(self) -> None:
        for name in self.SECTIONS:
            try:
                getattr(self, name).validate()
            except cfg.ConfigError:
                raise
            except ValueError as exc:
                raise cfg.ConfigError(f"{name}: {exc}") from None
        if self.run.resume:
            raise cfg.ConfigError("run.resume: a peer's run cannot be resumed; start it again")

    @property
    def out(self) -> Path:
        return Path(self.run.out or f"runs/{self.peer.algo}-seed{self.peer.seed}")

    def to_dict(self) -> dict[str, Any]:
        values = cfg.to_dict(self)
        values["run"]["out"] = str(self.out)
        return values

    def check_out(self) -> None:
        """ValueError if ``out`` lies under a file or already holds a run and ``run.overwrite`` is off."""
        from .training import check_run_folder

        check_run_folder(self.out, overwrite=self.run.overwrite)


# -- environments and models -----------------------------------------------------------------------------
def make_venv(env, n_envs: int, seed: int, n_stack: int | None = None):
    """The training vector: a DummyVecEnv of Monitor-wrapped copies, frames stacked if asked."""
    import sublstm.envs  # noqa: F401  (registers the sublstm/... ids)
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, VecFrameStack

    venv = make_vec_env(
        env.id, n_envs=n_envs, seed=seed, env_kwargs=dict(env.kwargs), vec_env_cls=DummyVecEnv
    )
    return VecFrameStack(venv, n_stack) if n_stack else venv


def make_model(algo: str, venv, hp: Mapping[str, Any], seed: int, device: str = "cpu"):
    """The SB3 / sb3-contrib model of ``algo`` on ``venv``."""
    if algo == "recurrent-ppo":
        require_baselines()
        from sb3_contrib import RecurrentPPO

        return RecurrentPPO("MlpLstmPolicy", venv, seed=seed, device=device, verbose=0, **hp)
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", venv, seed=seed, device=device, verbose=0, **hp)


# -- evaluation through the shared rollout ---------------------------------------------------------------
def _to_sb3(flat: np.ndarray, space) -> Any:
    """A batch of flat observations in the form SB3's ``predict`` takes for ``space``."""
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return flat.reshape((len(flat), *space.shape)).astype(space.dtype, copy=False)
    rows = [spaces.unflatten(space, row) for row in flat]
    if isinstance(space, spaces.Dict):
        return {key: np.stack([np.asarray(r[key]) for r in rows]) for key in space.spaces}
    return np.stack([np.asarray(r) for r in rows])


def peer_decide(model, n: int, n_stack: int | None = None):
    """A ``decide(obs, alive)`` for :func:`rollout`: ``model.predict``, deterministic.

    The recurrent state and ``episode_start`` are carried as SB3's evaluate_policy carries them;
    with ``n_stack`` the last ``n_stack`` observations are stacked as VecFrameStack stacks them
    (oldest first, zeros before the episode's start).
    """
    space = model.observation_space
    state, start, frames = None, np.ones(n, dtype=bool), None

    def decide(obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
        nonlocal state, start, frames
        x = obs
        if n_stack:
            d = obs.shape[1]
            if frames is None:
                frames = np.zeros((n, n_stack * d), dtype=np.float32)
            frames[:, :-d] = frames[:, d:].copy()
            frames[:, -d:] = obs
            x = frames
        actions, state = model.predict(
            _to_sb3(x, space), state=state, episode_start=start, deterministic=True
        )
        start = np.zeros(n, dtype=bool)
        return np.asarray(actions)

    return decide


def evaluate_peer(model, envs, seeds, n_stack: int | None = None):
    """One deterministic episode per env (env k reset with ``seeds[k]``): a :class:`Rollout`."""
    from sublstm.agents.rollout import rollout

    return rollout(envs, peer_decide(model, len(envs), n_stack), seeds)


def make_eval_envs(env, n: int) -> list:
    import gymnasium as gym
    import sublstm.envs  # noqa: F401

    return [gym.make(env.id, **env.kwargs) for _ in range(n)]


# -- training --------------------------------------------------------------------------------------------
class _StopRule:
    """Our agent's stop rule: the target reached in ``patience`` evaluations in a row."""

    def __init__(self, learn) -> None:
        self.learn = learn
        self.streak = 0

    def __call__(self, row: dict) -> str | None:
        s = self.learn
        hit = False
        reason = None
        if s.stop_at_success is not None and not math.isnan(row["success_rate"]):
            hit = row["success_rate"] >= s.stop_at_success
            reason = f"success >= {s.stop_at_success:g} in {s.stop_patience} evaluations in a row"
        elif getattr(s, "stop_at_return", None) is not None:
            hit = row["mean_return"] >= s.stop_at_return
            reason = f"mean return >= {s.stop_at_return:g} in {s.stop_patience} evaluations in a row"
        self.streak = self.streak + 1 if hit else 0
        return reason if hit and self.streak >= s.stop_patience else None


def _training_callback(evaluate, learn, t0: float, on_eval, on_episode, keep_going=lambda: True):
    """An SB3 callback: episode rows from Monitor's infos, an evaluation every ``eval_interval``
    steps, and a stop when the stop rule is met or ``keep_going()`` turns False."""
    from stable_baselines3.common.callbacks import BaseCallback

    stop_rule = _StopRule(learn)
    interval = learn.eval_interval

    class PeriodicEval(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next_eval = interval
            self.rows: list[dict[str, Any]] = []
            self.episodes = 0
            self.stop_reason: str | None = None

        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                if "episode" in info:
                    self.episodes += 1
                    success = info.get("success")
                    on_episode(
                        {
                            "episode": self.episodes,
                            "timesteps": self.num_timesteps,
                            "return": float(info["episode"]["r"]),
                            "length": int(info["episode"]["l"]),
                            "success": None if success is None else int(bool(success)),
                        }
                    )
            if not keep_going():
                return False
            if not interval or self.num_timesteps < self.next_eval:
                return True
            while self.next_eval <= self.num_timesteps:
                self.next_eval += interval
            row = {"timesteps": self.num_timesteps, "episodes": self.episodes, **evaluate()}
            row["wall_s"] = time.perf_counter() - t0
            self.rows.append(row)
            on_eval(row)
            self.stop_reason = stop_rule(row)
            return self.stop_reason is None

    return PeriodicEval()


def _wandb_writer(run):
    """An SB3 logger output forwarding each dump to the wandb run (numbers only)."""
    from stable_baselines3.common.logger import KVWriter

    from .tracking import log_numbers

    class WandbWriter(KVWriter):
        def write(self, key_values, key_excluded, step=0) -> None:
            log_numbers(run, dict(key_values), step=step)

    return WandbWriter()


def _save_model(model, out: Path) -> None:
    tmp = out / f".{MODEL_FILE}.tmp.zip"
    try:
        model.save(tmp)
        os.replace(tmp, out / MODEL_FILE)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class PeerResult:
    model: Any
    summary: dict[str, Any]
    out: Path
    history: list[dict] = field(default_factory=list)


def run_peer(config: PeerConfig) -> PeerResult:
    """Train one peer as configured; write the run folder (see the module docstring); return it.

    Every setting is checked before the folder is made. SIGINT / SIGTERM stop training at the
    next step; the model and the summary (``interrupted`` true) are still written.
    """
    import torch
    from stable_baselines3.common.logger import Logger

    from .plots import learning_curve
    from .run_logging import EPISODE_COLUMNS, EVAL_COLUMNS, write_rows
    from .signals import StopOnSignals
    from .tracking import log_images, log_numbers, start_wandb
    from .training import FINAL_EVAL_SEED_OFFSET, clear_run_folder

    config.validate()
    config.check_out()
    if config.peer.algo == "recurrent-ppo":
        require_baselines()
    env, peer, learn, run = config.env, config.peer, config.learn, config.run
    hp = peer.resolved_hyperparameters()
    torch.set_num_threads(peer.threads)
    out = config.out
    venv = make_venv(env, peer.n_envs, peer.seed, peer.window)  # the env's own checks, before the folder
    eval_envs = make_eval_envs(env, learn.eval_episodes)
    if run.overwrite:  # nothing of the old run stays beside the new one
        clear_run_folder(out)
        (out / MODEL_FILE).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config.to_dict())

    model = make_model(peer.algo, venv, hp, peer.seed, peer.device)
    label = f"{peer.algo} seed {peer.seed}"
    wb = start_wandb(run.wandb, out, config.to_dict(), name=f"{peer.algo}-s{peer.seed}", job_type="baselines")
    model.set_logger(Logger(folder=None, output_formats=[_wandb_writer(wb)] if wb else []))
    episodes: list[dict] = []
    eval_seeds = [peer.seed + 20_000 + k for k in range(learn.eval_episodes)]  # the same at every evaluation

    def evaluate() -> dict[str, float]:
        return evaluate_peer(model, eval_envs, eval_seeds, peer.window).summary()

    def on_eval(row: dict) -> None:
        log_numbers(wb, row, step=row["timesteps"], prefix="eval/")
        if run.verbose:
            print(
                f"[{label}] t={row['timesteps']:>8,d} success={fmt(row['success_rate'])} "
                f"return={fmt(row['mean_return'])} wall={fmt(row['wall_s'], '.0f')}s",
                flush=True,
            )

    t0 = time.perf_counter()
    with StopOnSignals() as signals:
        periodic = _training_callback(evaluate, learn, t0, on_eval, episodes.append, signals.keep_going)
        interrupted = False
        try:
            model.learn(total_timesteps=learn.total_timesteps, callback=periodic)
        except KeyboardInterrupt:  # a second Ctrl-C: stop at once, keep what was learnt
            interrupted = True
        signals.defer()
        interrupted = interrupted or not signals.keep_going()
        train_s = time.perf_counter() - t0
        if interrupted and run.verbose:
            print(
                f"[{label}] interrupted at {model.num_timesteps} timesteps; writing the summary", flush=True
            )
        final_seeds = [peer.seed + FINAL_EVAL_SEED_OFFSET + k for k in range(learn.eval_episodes)]
        final = evaluate_peer(model, eval_envs, final_seeds, peer.window).summary()
        rows = periodic.rows
        if interrupted:
            stop_reason = f"interrupted ({signals.name or 'SIGINT'})"
        else:
            stop_reason = periodic.stop_reason or "total_timesteps reached"
        summary = {
            "task": "rl",
            "algo": peer.algo,
            "env": env.id,
            "env_kwargs": env.kwargs,
            "seed": peer.seed,
            **final,
            "eval_episodes": learn.eval_episodes,
            "timesteps": int(model.num_timesteps),
            "episodes": periodic.episodes,
            "wall_s": train_s,  # training incl. the periodic evaluations, not the final one
            "total_wall_s": time.perf_counter() - t0,
            "steps_per_s": model.num_timesteps / train_s if train_s > 0 else None,
            "timesteps_to_95": first_reaching(rows),
            "wall_s_to_95": first_reaching(rows, key="wall_s"),
            "target_success": TARGET_SUCCESS,
            "stop_reason": stop_reason,
            "interrupted": interrupted,
            "hyperparameters": {
                **hp,
                "n_envs": peer.n_envs,
                **({"n_stack": peer.window} if peer.window else {}),
            },
            "machine": machine_info(),
        }
        _save_model(model, out)
        write_rows(out / "metrics.csv", episodes, EPISODE_COLUMNS)
        write_rows(out / "learning_curve.csv", rows, EVAL_COLUMNS)
        title = f"{peer.algo} on {env.id} {env.kwargs} seed {peer.seed}"
        learning_curve(out / "learning_curve.png", rows, episodes, title=title)
        write_json(out / "summary.json", summary)
    if wb is not None:
        log_numbers(wb, {f"final/{k}": v for k, v in final.items()}, step=summary["timesteps"])
        log_images(wb, {"learning_curve": out / "learning_curve.png"}, step=summary["timesteps"])
        wb.finish()
    venv.close()
    for e in eval_envs:
        e.close()
    return PeerResult(model=model, summary=summary, out=out, history=rows)


def replace(config: PeerConfig, **sections: Mapping[str, Any]) -> PeerConfig:
    """A copy of ``config`` with some keys of some sections changed (``peer={"seed": 3}``)."""
    values = config.to_dict()
    for name, changes in sections.items():
        values.setdefault(name, {}).update(changes)
    return PeerConfig.from_dict(values)


__all__ = [
    "ALGOS",
    "PeerConfig",
    "PeerResult",
    "PeerSettings",
    "default_hyperparameters",
    "evaluate_peer",
    "peer_decide",
    "run_peer",
    "replace",
]
