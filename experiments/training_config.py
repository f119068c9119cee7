"""The settings of a training run as dataclasses, resolved from defaults, a config file and overrides.

A reinforcement-learning run (:class:`TrainConfig`) has four sections::

    [env]                      # the task
    id = "sublstm/NoisyTMaze-v0"
    kwargs = { corridor_length = 10 }
    [agent]                    # core, seed, device, threads and any Hyperparams field
    core = "asn-sublstm"
    learning_rate = 0.003
    [learn]                    # LearnSettings: budget, evaluations, stop rule
    total_timesteps = 300000
    [run]                      # the run folder and its logging
    out = "runs/x"
    wandb = "offline"

A supervised sequence run (:class:`SequenceConfig`) has the sections ``sequence`` and ``run``.
:func:`resolve_config` applies dotted overrides (``agent.learning_rate=1e-3``) on top; a resumed
run starts from the ``config.json`` stored in its folder. Every error is a
:class:`~sublstm.experiments.config.ConfigError` naming the key (and its command-line option).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sublstm.agents.cores import CORES
from sublstm.agents.settings import HYPERPARAM_NAMES, Hyperparams, LearnSettings, check_int, check_number

from .config import ConfigError, build, merge_overrides, near_match, to_dict
from .reporting import read_json
from .tracking import check_wandb_mode

DEFAULT_ENV = "sublstm/NoisyTMaze-v0"
DEFAULT_ENV_KWARGS = {"corridor_length": 10}  # the default task: noisy T-maze, corridor 10
TASKS = ("rl", "sequence")

#: config key -> the ``sublstm train`` option that sets it (named in error messages)
OPTIONS = {
    "env.id": "--env",
    "env.kwargs": "--env-kwargs",
    "agent.core": "--core",
    "agent.seed": "--seed",
    "agent.device": "--device",
    "agent.threads": "--threads",
    "agent.rate_penalty": "--rate-penalty",
    "learn.total_timesteps": "--total-timesteps",
    "learn.stop_at_success": "--stop-at-success",
    "learn.stop_patience": "--stop-patience",
    "learn.eval_interval": "--eval-interval",
    "learn.eval_episodes": "--eval-episodes",
    "run.out": "--out",
    "run.wandb": "--wandb",
    "sequence.p": "--p",
    "sequence.noisy": "--noisy",
    "sequence.core": "--core",
    "sequence.seed": "--seed",
    "sequence.device": "--device",
    "sequence.threads": "--threads",
    "sequence.rate_penalty": "--rate-penalty",
    "sequence.max_updates": "--total-timesteps",
    "sequence.eval_every": "--eval-interval",
    "sequence.eval_sequences": "--eval-episodes",
}


def check_device(device: Any, name: str = "agent.device") -> str:
    """A torch device string that exists on this machine (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{name} must be a torch device such as cpu, cuda or cuda:0, got {device!r}"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{name} is {device!r} but CUDA is not available here; use cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            n = torch.cuda.device_count()
            raise ValueError(f"{name} is {device!r} but there are {n} CUDA devices (cuda:0..cuda:{n - 1})")
    elif dev.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError(f"{name} is {device!r} but MPS is not available here; use cpu")
    elif dev.type != "cpu":
        raise ValueError(f"{name} must be cpu, cuda[:N] or mps, got {device!r}")
    return str(device)


def check_core(core: Any, name: str) -> None:
    if core not in CORES:
        raise ValueError(f"{name} must be one of {sorted(CORES)}, got {core!r}{near_match(str(core), CORES)}")


@dataclass
class EnvSection:
    """The gymnasium env id and its keyword arguments (None: corridor 10 for the default T-maze)."""

    id: str = DEFAULT_ENV
    kwargs: dict | None = None

    def __post_init__(self) -> None:
        if self.kwargs is None:
            self.kwargs = dict(DEFAULT_ENV_KWARGS) if self.id == DEFAULT_ENV else {}

    def validate(self) -> None:
        from sublstm.envs import check_make_args

        try:
            check_make_args(self.id)
        except ValueError as exc:
            raise ValueError(f"id: {exc}") from None
        try:
            check_make_args(self.id, self.kwargs)
        except ValueError as exc:
            raise ValueError(f"kwargs: {exc}") from None


@dataclass
class AgentSection:
    """The agent: recurrent core, seed, torch device and threads, and its :class:`Hyperparams`."""

    core: str = "asn-sublstm"
    seed: int = 0
    device: str = "cpu"
    threads: int = 1  # torch threads; one is fastest for these small networks on a busy machine
    hyperparams: Hyperparams = field(default_factory=Hyperparams)

    def validate(self) -> None:
        check_core(self.core, "core")
        check_int("seed", self.seed, 0, numpy_ok=False)
        check_device(self.device, "device")
        check_int("threads", self.threads, 1, numpy_ok=False)
        self.hyperparams.validate()


@dataclass
class RunSection:
    """The run folder and how the run reports.

    ``out`` None: ``runs/<task>-<core>-seed<seed>``. ``resume`` continues the run in ``out`` from
    its checkpoint; ``overwrite`` replaces a finished run there (without either, a folder holding a
    run is refused). ``progress``: a progress bar (else one line per evaluation); ``verbose`` 0
    prints nothing.
    """

    out: str | None = None
    wandb: str = "offline"
    progress: bool = True
    resume: bool = False
    overwrite: bool = False
    verbose: int = 1

    def validate(self) -> None:
        check_wandb_mode(self.wandb, "wandb")
        check_int("verbose", self.verbose, 0, numpy_ok=False)
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other: continue the run or replace it")


@dataclass
class _RunConfig:
    """What both kinds of run config share: the task's name and the run section (the run folder)."""

    run: RunSection = field(default_factory=RunSection)

    task = ""

    def _model(self) -> AgentSection | SequenceSettings:
        raise NotImplementedError

    @property
    def out(self) -> Path:
        """``run.out``, or ``runs/<task>-<core>-seed<seed>``."""
        model = self._model()
        return Path(self.run.out or f"runs/{self.task}-{model.core}-seed{model.seed}")

    def _run_dict(self) -> dict[str, Any]:
        return {**to_dict(self.run), "out": str(self.out)}


@dataclass
class TrainConfig(_RunConfig):
    """A reinforcement-learning run: env, agent, learn (:class:`LearnSettings`) and run sections."""

    env: EnvSection = field(default_factory=EnvSection)
    agent: AgentSection = field(default_factory=AgentSection)
    learn: LearnSettings = field(default_factory=LearnSettings)

    task = "rl"

    def _model(self) -> AgentSection:
        return self.agent

    def to_dict(self) -> dict[str, Any]:
        """Plain data in the form :meth:`from_dict` reads (the agent section flat, as in a config file)."""
        agent = to_dict(self.agent)
        agent.update(agent.pop("hyperparams"))
        env, learn = to_dict(self.env), to_dict(self.learn)
        return {"task": "rl", "env": env, "agent": agent, "learn": learn, "run": self._run_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        _check_sections(data, ("task", "env", "agent", "learn", "run"))
        agent = dict(data.get("agent") or {})
        hp = dict(agent.pop("hyperparams", None) or {})
        known = [f.name for f in dataclasses.fields(AgentSection) if f.name != "hyperparams"]
        for key in list(agent):
            if key in HYPERPARAM_NAMES:
                hp[key] = agent.pop(key)
            elif key not in known:
                choices = [*known, *HYPERPARAM_NAMES]
                raise ConfigError(f"unknown key agent.{key}{near_match(key, choices)}; known: {choices}")
        with naming_options():
            hyperparams = build(Hyperparams, _integral(Hyperparams, hp), "agent")
            return cls(
                env=build(EnvSection, data.get("env"), "env"),
                agent=build(
                    AgentSection, {**_integral(AgentSection, agent), "hyperparams": hyperparams}, "agent"
                ),
                learn=build(LearnSettings, _integral(LearnSettings, data.get("learn")), "learn"),
                run=build(RunSection, _integral(RunSection, data.get("run")), "run"),
            )


def check_sequence_sizes(p: int, batch_size: int, eval_sequences: int) -> None:
    """The sequence env's limits, checked before a run starts: ``p`` in 2 .. MAX_P and batches of
    at most MAX_BATCH_ELEMENTS inputs (``sequence_batch`` refuses larger ones only once training runs)."""
    from sublstm.envs.sequence import MAX_BATCH_ELEMENTS, MAX_P

    if not 2 <= p <= MAX_P:
        raise ValueError(f"p must be an integer >= 2 and <= {MAX_P:_}, got {p!r}")
    for name, size in (("batch_size", batch_size), ("eval_sequences", eval_sequences)):
        if p * size * (p + 1) > MAX_BATCH_ELEMENTS:
            most = MAX_BATCH_ELEMENTS // (p * (p + 1))
            raise ValueError(f"{name} must be <= {most:_} at p = {p} (a batch of inputs), got {size!r}")


@dataclass
class SequenceSettings:
    """The supervised sequence task (2a, or 2b with ``noisy``) and the arguments of ``train_sequence``.

    ``max_updates`` gradient updates at most; every ``eval_every`` updates the final-symbol accuracy
    on ``eval_sequences`` fresh sequences; training stops once it reaches ``stop_at_accuracy``.
    """

    p: int = 10
    noisy: bool = False
    core: str = "asn-sublstm"
    seed: int = 0
    n_hidden: int = 16
    n_cells: int = 8
    batch_size: int = 64
    max_updates: int = 5000
    learning_rate: float = 3e-3
    max_grad_norm: float = 1.0
    rate_penalty: float = 2.0  # low firing rates of the twin, as agents.supervised.train_sequence
    eval_every: int = 10
    eval_sequences: int = 1000
    stop_at_accuracy: float | None = 1.0
    device: str = "cpu"
    threads: int = 1

    def validate(self) -> None:
        check_core(self.core, "core")
        for name in ("p", "n_hidden", "n_cells", "batch_size", "max_updates", "eval_every", "eval_sequences"):
            check_int(name, getattr(self, name), 1, numpy_ok=False)
        check_sequence_sizes(self.p, self.batch_size, self.eval_sequences)
        check_int("seed", self.seed, 0, numpy_ok=False)
        check_int("threads", self.threads, 1, numpy_ok=False)
        for name in ("learning_rate", "max_grad_norm"):
            check_number(name, getattr(self, name), minimum=0.0, strict=True)
        check_number("rate_penalty", self.rate_penalty, minimum=0.0)
        if (
            self.stop_at_accuracy is not None
            and not 0.0 <= check_number("stop_at_accuracy", self.stop_at_accuracy) <= 1.0
        ):
            raise ValueError(f"stop_at_accuracy must be in [0, 1] or None, got {self.stop_at_accuracy!r}")
        check_device(self.device, "device")

    def train_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`sublstm.agents.supervised.train_sequence`."""
        kwargs = to_dict(self)
        kwargs.pop("threads")
        return kwargs


@dataclass
class SequenceConfig(_RunConfig):
    """A supervised sequence run: the task and network (``sequence``) and the run folder (``run``)."""

    sequence: SequenceSettings = field(default_factory=SequenceSettings)

    task = "sequence"

    def _model(self) -> SequenceSettings:
        return self.sequence

    def to_dict(self) -> dict[str, Any]:
        return {"task": "sequence", "sequence": to_dict(self.sequence), "run": self._run_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SequenceConfig:
        _check_sections(data, ("task", "sequence", "run"))
        with naming_options():
            config = cls(
                sequence=build(
                    SequenceSettings, _integral(SequenceSettings, data.get("sequence")), "sequence"
                ),
                run=build(RunSection, _integral(RunSection, data.get("run")), "run"),
            )
        if config.run.resume:
            raise ConfigError(
                "--resume (run.resume) applies to --task rl only (sequence training takes seconds)"
            )
        return config


def resolve_config(
    values: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None, task: str | None = None
) -> TrainConfig | SequenceConfig:
    """The run's config: built-in defaults <- ``values`` (e.g. a config file) <- dotted ``overrides``.

    ``task`` ("rl" or "sequence") wins over a ``task`` key in ``values``. When the result resumes a
    run whose folder holds a ``config.json``, that stored config replaces the built-in defaults, so
    ``--resume`` alone continues the run with its own settings.
    """
    data = merge_overrides(values or {}, overrides or {})
    task = task or data.get("task") or "rl"
    if task not in TASKS:
        raise ConfigError(
            f"--task must be one of {', '.join(TASKS)}, got {task!r}{near_match(str(task), TASKS)}"
        )
    data["task"] = task
    cls = TrainConfig if task == "rl" else SequenceConfig
    config = cls.from_dict(data)
    stored = config.out / "config.json"
    if config.run.resume and stored.is_file():
        try:
            base = {k: v for k, v in read_json(stored).items() if k != "run"}
        except ValueError as exc:
            raise ConfigError(f"--resume: {stored} is not readable JSON: {exc}") from None
        base["task"] = task
        config = cls.from_dict(merge_overrides(merge_overrides(base, values or {}), overrides or {}))
    return config


# -- helpers ---------------------------------------------------------------------------------------------
def _check_sections(data: dict[str, Any], sections: tuple[str, ...]) -> None:
    for key, value in data.items():
        if key not in sections:
            raise ConfigError(
                f"unknown config section {key!r}{near_match(key, sections)}; known: {list(sections)}"
            )
        if key != "task" and value is not None and not isinstance(value, dict):
            raise ConfigError(f"config section {key!r} must be a table of keys, got {value!r}")


def _integral(cls: type, values: dict[str, Any] | None) -> dict[str, Any]:
    """Whole floats (``1e5`` from a command line) as ints where the field is an int."""
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if hints.get(key) is int and isinstance(value, float) and value.is_integer():
            values[key] = int(value)
    return values


class naming_options:  # noqa: N801 (used as a context manager, like contextlib.suppress)
    """Re-raise a ValueError as a ConfigError with the command-line option beside the config key it
    names; ``options`` maps ``section.key`` to the option (default: those of ``sublstm train``)."""

    def __init__(self, options: dict[str, str] | None = None) -> None:
        self.options = OPTIONS if options is None else options

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None or not issubclass(exc_type, ValueError):
            return False
        message = str(exc)
        for key, option in self.options.items():
            section, name = key.split(".")
            pattern = rf"(?<![\w.-]){re.escape(section)}(?:\.|: ){re.escape(name)}\b"
            message, n = re.subn(pattern, f"{option} ({key})", message, count=1)
            if n:
                break
        raise ConfigError(message) from None
