"""The bad inputs that ``python -m sublstm.experiments.reliability`` tries, class by class.

Each class is a function returning a list of :class:`Case` (an attempt that should raise, and the
words its message must contain); the command line is a list of :class:`CliCase` (argv and the
words its one-line error must contain). To cover more, append to a list; :data:`CLASSES` names the
classes in the order of the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV = "sublstm/NoisyTMaze-v0"
# budgets that keep a wrongly accepted command short instead of a real training run
TINY_TRAIN = ["--total-timesteps", "32", "--eval-interval", "0", "--wandb", "disabled", "--no-progress"]


@dataclass(frozen=True)
class Case:
    """One bad input: ``attempt(scratch)`` does it (raising is refusing)."""

    name: str
    attempt: Callable[[Scratch], Any]
    mentions: tuple[str, ...] = ()  # what the message must name; "{path}" is the case's file
    expect: tuple[type[BaseException], ...] = (ValueError,)
    side_effect: Callable[[Scratch], str | None] | None = None  # a problem left behind, or None


@dataclass
class Scratch:
    """The folder a case works in, and the small trained checkpoint the checkpoint cases damage."""

    root: Path
    path: Path = field(init=False)  # the file a case writes ("{path}" in its mentions)
    _base: Path | None = None
    _count: int = 0

    def __post_init__(self) -> None:
        self.path = self.root

    def folder(self) -> Path:
        """A new empty folder for one case."""
        self._count += 1
        folder = self.root / f"case{self._count:03d}"
        folder.mkdir(parents=True)
        return folder

    def new(self, name: str = "agent.pt") -> Path:
        """The path of a file (not yet written) in a new folder; it becomes ``self.path``."""
        self.path = self.folder() / name
        return self.path

    def base_checkpoint(self) -> Path:
        """A checkpoint with optimizer state, replay buffer and a target network (made once)."""
        if self._base is None:
            from sublstm.agents import AdvantageAgent

            agent = AdvantageAgent(
                ENV,
                env_kwargs={"corridor_length": 2},
                n_hidden=4,
                n_cells=2,
                n_envs=2,
                batch_episodes=2,
                learning_starts=2,
                target_update_interval=3,
            )
            agent.learn(64, progress_bar=False, eval_interval=0)
            self._base = self.root / "base" / "agent.pt"
            agent.save(self._base)
        return self._base


# --- checkpoints ------------------------------------------------------------------------------------
def _load(path: Path, **kwargs) -> Any:
    from sublstm.agents import AdvantageAgent

    return AdvantageAgent.load(path, **kwargs)


def _write_body(path: Path, payload: Any, header_extra: dict | None = None) -> Path:
    """A checkpoint file of ``payload`` with a header whose size and sha256 are right."""
    import torch
    from sublstm.agents.checkpoint import FORMAT_VERSION, MAGIC

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    body = buffer.getvalue()
    header = {"format_version": FORMAT_VERSION, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    header.update(header_extra or {})
    path.write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + body)
    return path


def _tampered(scratch: Scratch, change: Callable[[dict, dict], Any]) -> Path:
    """The base checkpoint with ``change(config, state)`` applied, behind a valid checksum."""
    from sublstm.agents.checkpoint import load_checkpoint

    config, state = load_checkpoint(scratch.base_checkpoint())
    config.pop("_package_version", None)
    change(config, state)
    return _write_body(scratch.new(), {"config": json.dumps(config), "state": state})


def _raw(change: Callable[[bytes], bytes]) -> Callable[[Scratch], Any]:
    def attempt(scratch: Scratch) -> Any:
        data = scratch.base_checkpoint().read_bytes()
        path = scratch.new()
        path.write_bytes(change(data))
        return _load(path)

    return attempt


def _flip_middle(data: bytes) -> bytes:
    out = bytearray(data)
    out[len(out) // 2] ^= 0xFF
    return bytes(out)


def _future_version(data: bytes) -> bytes:
    from sublstm.agents.checkpoint import MAGIC

    end = data.index(b"\n", len(MAGIC))
    header = json.loads(data[len(MAGIC) : end])
    header["format_version"] = 999
    return MAGIC + json.dumps(header).encode() + data[end:]


def file_cases() -> list[Case]:
    from sublstm.agents.checkpoint import CheckpointError

    ck = (CheckpointError,)

    def folder(scratch: Scratch) -> Any:
        scratch.new().mkdir()
        return _load(scratch.path)

    def foreign_torch(scratch: Scratch) -> Any:
        import torch

        torch.save({"weights": torch.zeros(3)}, scratch.new())
        return _load(scratch.path)

    def text(scratch: Scratch) -> Any:
        scratch.new().write_text("hello\n")
        return _load(scratch.path)

    return [
        Case("missing file", lambda s: _load(s.new()), ("{path}",), (FileNotFoundError,)),
        Case("a folder instead of a file", folder, ("{path}",), (FileNotFoundError, IsADirectoryError)),
        Case("truncated by 100 bytes", _raw(lambda d: d[:-100]), ("{path}", "truncated"), ck),
        Case("one flipped byte in the tensor data", _raw(_flip_middle), ("{path}", "corrupted"), ck),
        Case("a plain torch file", foreign_torch, ("{path}", "not a sublstm checkpoint"), ck),
        Case("a text file", text, ("{path}", "not a sublstm checkpoint"), ck),
        Case("a future format version", _raw(_future_version), ("{path}", "version 999"), ck),
        Case("empty file", _raw(lambda d: b""), ("{path}",), ck),
    ]


class _Planted:
    """A pickled object that would run code when unpickled without weights_only."""

    def __reduce__(self):
        return (exec, ("import sys; sys.sublstm_reliability_ran = True",))


def _planted_module(scratch: Scratch) -> Any:
    """A module next to the checkpoint, named by the checkpoint's env id, the folder on sys.path."""
    path = _tampered(scratch, lambda c, s: c.update(env_id=f"sublstm_reliability_planted:{ENV}"))
    (path.parent / "sublstm_reliability_planted.py").write_text(
        "import sys\nsys.sublstm_reliability_ran = True\n"
    )
    sys.path.insert(0, str(path.parent))
    old_cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        return _load(path)
    finally:
        os.chdir(old_cwd)
        sys.path.remove(str(path.parent))


def _ran(scratch: Scratch) -> str | None:
    ran = getattr(sys, "sublstm_reliability_ran", False) or "sublstm_reliability_planted" in sys.modules
    with contextlib.suppress(AttributeError):
        del sys.sublstm_reliability_ran
    sys.modules.pop("sublstm_reliability_planted", None)
    return "the planted code ran" if ran else None


def _pickled_code(scratch: Scratch) -> Any:
    return _load(_write_body(scratch.new(), {"config": "{}", "state": {"x": _Planted()}}))


def crafted_cases() -> list[Case]:
    from sublstm.agents.checkpoint import CheckpointError

    ck = (CheckpointError,)
    return [
        Case(
            "env id 'module:Env-v0' naming a module next to the file",
            _planted_module,
            ("{path}", "config.env_id", "module"),
            ck,
            _ran,
        ),
        Case("a pickled object that runs code", _pickled_code, ("{path}", "unreadable"), ck, _ran),
    ]


_DROP = object()  # Damage.value: delete the entry


@dataclass(frozen=True)
class Fn:
    """Damage.value: a function of the entry's old value."""

    apply: Callable[[Any], Any]


@dataclass(frozen=True)
class Damage:
    """Set (or drop, or map) ``key`` of the mapping at dotted ``where`` ("config.asn", "state.buffer");
    the error must name ``field`` (default ``where.key``)."""

    what: str
    where: str
    key: Any
    value: Any = _DROP
    field: str | None = None

    def apply(self, config: dict, state: dict) -> None:
        parts = self.where.split(".")
        target = config if parts[0] == "config" else state
        for part in parts[1:]:
            target = target.setdefault(part, {})  # a missing mapping (such as an old "rng") is made
        if self.value is _DROP:
            del target[self.key]
        elif isinstance(self.value, Fn):
            target[self.key] = self.value.apply(target[self.key])
        else:
            target[self.key] = self.value

    @property
    def names(self) -> str:
        return self.field or f"{self.where}.{self.key}"


def _bump_first(t):
    out = t.clone()
    out[0] += 1
    return out


def content_damages() -> list[Damage]:
    """One damage per field kind; append here to cover more."""
    import torch

    long, nan = Fn(lambda t: t.long()), Fn(lambda t: t * float("nan"))
    return [
        Damage("kind of another object", "config", "kind", "Trojan"),
        Damage("config field missing", "config", "core"),
        Damage("extra config field", "config", "payload", 1),
        Damage("unknown core", "config", "core", "asn-sublstmm"),
        Damage("seed as a string", "config", "seed", "0"),
        Damage("obs_dim not the env's", "config", "obs_dim", 7),
        Damage("n_actions not the env's", "config", "n_actions", 2),
        Damage("neuron parameter negative", "config.asn", "tau_phi", -1.0, field="config.asn"),
        Damage("neuron parameter missing", "config.asn", "m_f"),
        Damage("unknown hyperparameter", "config.hyperparams", "n_hiden", 4),
        Damage("hyperparameter missing", "config.hyperparams", "gamma"),
        Damage("hyperparameter invalid", "config.hyperparams", "n_cells", 0, field="config.hyperparams"),
        Damage("no env id", "config", "env_id", None),
        Damage("unregistered env id", "config", "env_id", "sublstm/NoisyTmaze-v0"),
        Damage("unknown env kwarg", "config.env_kwargs", "corridor_lenght", 2, field="config.env_kwargs"),
        Damage("absurd env kwarg", "config.env_kwargs", "corridor_length", 10**12, field="config.env_kwargs"),
        Damage("state field missing", "state", "optimizer"),
        Damage("extra state field", "state", "payload", 1),
        Damage("weights stored as integers", "state.network", "head.weight", long),
        Damage("weights of another shape", "state.network", "head.bias", torch.zeros(7)),
        Damage("NaN weights", "state.network", "head.bias", nan),
        Damage("weight missing", "state.network", "hidden.bias"),
        Damage("target network of another shape", "state.target_network", "head.weight", torch.zeros(1, 1)),
        Damage(
            "optimizer moment of another shape",
            "state.optimizer.state",
            0,
            Fn(lambda e: {**e, "exp_avg": torch.zeros(9)}),
            field="state.optimizer.state.0.exp_avg",
        ),
        Damage("optimizer state of no parameter", "state.optimizer.state", 99, {}),
        Damage("optimizer groups changed", "state.optimizer", "param_groups", Fn(lambda g: [*g, {}])),
        Damage("negative counter", "state", "num_timesteps", -5),
        Damage("counter as a string", "state", "num_updates", "3"),
        Damage("wall time NaN", "state", "train_wall_s", float("nan")),
        Damage(
            "buffer lengths not summing to the steps",
            "state.buffer",
            "lengths",
            Fn(_bump_first),
            field="state.buffer.obs",
        ),
        Damage("buffer actions as floats", "state.buffer", "actions", Fn(lambda t: t.float())),
        Damage("buffer actions out of range", "state.buffer", "actions", Fn(lambda t: t + 9)),
        Damage("buffer field missing", "state.buffer", "success"),
        Damage("buffer as a list", "state", "buffer", [1, 2]),
        Damage("rng as a string", "state", "rng", "seed"),
        Damage("rng torch state as floats", "state.rng", "torch", torch.zeros(4)),
    ]


def content_cases() -> list[Case]:
    from sublstm.agents.checkpoint import CheckpointError

    return [
        Case(d.what, lambda s, d=d: _load(_tampered(s, d.apply)), ("{path}", d.names), (CheckpointError,))
        for d in content_damages()
    ]


# --- env arguments ------------------------------------------------------------------------------------
def _make(env_id: str, **kwargs: Any) -> Callable[[Scratch], Any]:
    def attempt(scratch: Scratch) -> Any:
        from sublstm.agents.environments import make_env

        return make_env(env_id, kwargs)

    return attempt


def _step(env_id: str, action: Any) -> Callable[[Scratch], Any]:
    def attempt(scratch: Scratch) -> Any:
        import gymnasium as gym
        import sublstm.envs  # noqa: F401  (registers the ids)

        env = gym.make(env_id).unwrapped
        env.reset(seed=0)
        return env.step(action)

    return attempt


def env_cases() -> list[Case]:
    huge = 10**12
    cases = [
        Case(
            "T-maze corridor_length 10**12", _make(ENV, corridor_length=huge), ("corridor_length", "10_000")
        ),
        Case("T-maze max_steps 10**12", _make(ENV, max_steps=huge), ("max_steps", "1_000_000")),
        Case("T-maze corridor_length 0", _make(ENV, corridor_length=0), ("corridor_length",)),
        Case("T-maze noise NaN", _make(ENV, noise=float("nan")), ("noise",)),
        Case("sequence p 10**6", _make("sublstm/SequencePrediction-v0", p=10**6), ("p", "1000")),
        Case("sequence p True", _make("sublstm/SequencePrediction-v0", p=True), ("p",)),
        Case("unknown env id", _make("sublstm/TMase-v0"), ("sublstm/TMase-v0", "did you mean")),
        Case("unknown env kwarg", _make(ENV, corridor_lenght=3), ("corridor_lenght", "did you mean")),
        Case("bool action", _step(ENV, True), ("action True",)),
        Case("float action", _step(ENV, 1.0), ("action 1.0",)),
        Case("string action", _step(ENV, "east"), ("action 'east'",)),
        Case("action out of range", _step(ENV, 4), ("action 4",)),
    ]
    for name in ("fixation_steps", "cue_steps", "delay_steps", "go_steps"):
        make = _make("sublstm/SaccadeAntisaccade-v0", **{name: huge})
        cases.append(Case(f"saccade {name} 10**12", make, (name, "10_000")))
    return cases


# --- agent inputs -------------------------------------------------------------------------------------
def _agent(**kwargs: Any):
    from sublstm.agents import AdvantageAgent

    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, n_hidden=4, n_cells=2, **kwargs)


def _predict(observation: Any, **kwargs: Any) -> Callable[[Scratch], Any]:
    def attempt(scratch: Scratch) -> Any:
        import numpy as np

        agent = _agent()
        if isinstance(kwargs.get("state"), str):  # "batch of 3": a state from a batch of another size
            _, kwargs["state"] = agent.predict(np.zeros((3, 3), dtype=np.float32))
        return agent.predict(np.asarray(observation, dtype=np.float32), **kwargs)

    return attempt


def agent_cases() -> list[Case]:
    import numpy as np

    two = np.zeros((2, 3))
    return [
        Case("unknown hyperparameter", lambda s: _agent(n_hiden=4), ("n_hiden",)),
        Case("hyperparameter out of range", lambda s: _agent(gamma=1.5), ("gamma",)),
        Case("unknown core", lambda s: _agent(core="gru"), ("core", "gru")),
        Case("seed True", lambda s: _agent(seed=True), ("seed",)),
        Case("threads 0", lambda s: _agent(n_threads=0), ("threads",)),
        Case(
            "predict: state from a batch of 3 for 2 observations",
            _predict(two, state="batch of 3"),
            ("state",),
        ),
        Case("predict: state not a pair", _predict(two, state=np.zeros(2)), ("state",)),
        Case(
            "predict: state of strings",
            _predict(two, state=(np.array(["a"] * 4), np.array(["b"] * 4))),
            ("state",),
        ),
        Case(
            "predict: episode_start of strings",
            _predict(two, episode_start=np.array(["yes", "no"])),
            ("episode_start",),
        ),
        Case("predict: NaN observation", _predict(np.full(3, np.nan)), ("observation",)),
        Case("predict: observation of another size", _predict(np.zeros(5)), ("observation",)),
        Case(
            "learn: total_timesteps 0", lambda s: _agent().learn(0, progress_bar=False), ("total_timesteps",)
        ),
        Case("evaluate: n_episodes 0", lambda s: _agent().evaluate(0), ("n_episodes",)),
    ]


# --- the command line ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CliCase:
    """``sublstm <argv>``; its error must name ``mentions``. In argv, "{dir}" is the case's own
    folder and "{base}" a valid checkpoint (so that only the option under test is wrong)."""

    name: str
    argv: tuple[str, ...]
    mentions: tuple[str, ...]
    prepare: Callable[[Path], None] | None = None  # files the case needs, made in its folder


def _file_at(name: str, text: str = "x") -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text(text)


def _folder_at(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def cli_cases() -> list[CliCase]:
    """The command-line cases; append here (argv with "{dir}" for the case's own folder)."""
    out = ("--out", "{dir}/run")
    train = ("train", *TINY_TRAIN)
    compare = (
        "compare",
        "{base}",
        *["--episodes", "2", "--no-plots", "--wandb", "disabled", "--out", "{dir}/cmp"],
    )
    return [
        CliCase(
            "train: unknown env id",
            (*train, *out, "--env", "sublstm/TMase-v0"),
            ("sublstm/TMase-v0", "did you mean"),
        ),
        CliCase(
            "train: unknown env kwarg",
            (*train, *out, "--env-kwargs", "corridor_lenght=5"),
            ("corridor_lenght",),
        ),
        CliCase(
            "train: absurd env kwarg",
            (*train, *out, "--env-kwargs", "corridor_length=1000000000000"),
            ("corridor_length",),
        ),
        CliCase(
            "train: output path is a file", (*train, "--out", "{dir}/afile"), ("afile",), _file_at("afile")
        ),
        CliCase("train: bad device", (*train, *out, "--device", "gpu7"), ("device",)),
        CliCase("train: --threads 0", (*train, *out, "--threads", "0"), ("threads",)),
        CliCase("train: --eval-episodes 0", (*train, *out, "--eval-episodes", "0"), ("eval_episodes",)),
        CliCase("train: unknown core", (*train, *out, "--core", "gru"), ("core",)),
        CliCase("train: unknown override", (*train, *out, "agent.learning_rat=1e-3"), ("learning_rat",)),
        CliCase("train: wandb mode", (*train, *out, "--wandb", "sometimes"), ("wandb",)),
        CliCase("compare: missing checkpoint", ("compare", "{dir}/nope.pt", "--episodes", "4"), ("nope.pt",)),
        CliCase(
            "compare: folder as checkpoint",
            ("compare", "{dir}/afolder", "--episodes", "4"),
            ("afolder",),
            _folder_at("afolder"),
        ),
        CliCase(
            "compare: corrupt checkpoint",
            ("compare", "{dir}/bad.pt", "--episodes", "4"),
            ("bad.pt",),
            _file_at("bad.pt", "junk"),
        ),
        CliCase("compare: --step-ms 0", (*compare, "--step-ms", "0"), ("step_ms",)),
        CliCase(
            "compare: negative --readout-window-ms", (*compare, "--readout-window-ms", "-1"), ("readout",)
        ),
        CliCase("compare: --dt 0", (*compare, "--dt", "0"), ("dt",)),
        CliCase("compare: --episodes 0", ("compare", "{base}", "--episodes", "0"), ("episodes",)),
    ]


CLASSES: dict[str, tuple[str, Callable[[], list[Case]]]] = {
    "checkpoint files": ("missing, truncated, corrupted, foreign or future files", file_cases),
    "crafted checkpoints": ("files made to run code through the loader", crafted_cases),
    "checkpoint content": ("damaged content behind a valid checksum, one field at a time", content_cases),
    "env arguments": ("sizes, types and actions the task envs refuse; unknown ids and kwargs", env_cases),
    "agent inputs": ("constructor, predict, learn and evaluate arguments", agent_cases),
}
CLI_CLASS = "command line"
CLI_WHAT = "`sublstm ...` through cli.main: exit code 2 and one line `error: ...`"
