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


def _agent(**kwargs: Any):
    """A small agent on the noisy T-maze (corridor 2); ``kwargs`` are more hyperparameters."""
    from sublstm.agents import AdvantageAgent

    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, n_hidden=4, n_cells=2, **kwargs)


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
            agent = _agent(n_envs=2, batch_episodes=2, learning_starts=2, target_update_interval=3)
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


def _path_is_a_file(name: str, argv: tuple[str, ...]) -> CliCase:
    """The case ``name``: ``argv`` ends with an option whose path is given as an existing file."""
    return CliCase(name, (*argv, "{dir}/afile"), ("afile",), _file_at("afile"))


def _path_is_a_folder(name: str, argv: tuple[str, ...]) -> CliCase:
    """The case ``name``: ``argv`` ends with an option whose path is given as an existing folder."""
    return CliCase(name, (*argv, "{dir}/afolder"), ("afolder",), _folder_at("afolder"))


HUGE = str(10**12)
# the config-file cases every subcommand gets: (what, file name, its text or None for no file, mention)
BAD_CONFIGS = (
    ("missing --config file", "nope.toml", None, "nope.toml"),
    ("unparsable --config file", "bad.toml", "[agent\nx = = 1\n", "bad.toml"),
    ("--config of an unknown suffix", "run.ini", "[agent]\n", "run.ini"),
    ("--config section not a table", "flat.json", '{"learn": 3}', "learn"),
)


def _config_cases(command: str, head: tuple[str, ...], unknown: tuple[str, str]) -> list[CliCase]:
    """The --config and override cases of one subcommand: ``head`` is a valid argv, ``unknown`` a
    (config text with an unknown key, the key) pair."""
    cases = []
    for what, name, text, mention in BAD_CONFIGS:
        prepare = None if text is None else (lambda f, n=name, t=text: (f / n).write_text(t))
        cases.append(
            CliCase(f"{command}: {what}", (*head, "--config", f"{{dir}}/{name}"), (mention,), prepare)
        )
    text, key = unknown
    return [
        *cases,
        CliCase(
            f"{command}: --config with an unknown key",
            (*head, "--config", "{dir}/unknown.toml"),
            (key,),
            _file_at("unknown.toml", text),
        ),
        CliCase(f"{command}: override without '='", (*head, "agent.learning_rate"), ("agent.learning_rate",)),
        CliCase(f"{command}: override of an unknown section", (*head, "agnet.seed=1"), ("agnet",)),
        CliCase(f"{command}: override key not a name", (*head, "a-b.c=1"), ("a-b.c",)),
    ]


def _env_cases(command: str, head: tuple[str, ...], section: str = "env") -> list[CliCase]:
    """Bad env settings given as overrides of ``section`` (``env``, or ``train.env``)."""
    return [
        CliCase(
            f"{command}: unknown env id",
            (*head, f"{section}.id=sublstm/TMase-v0"),
            ("sublstm/TMase-v0", "did you mean"),
        ),
        CliCase(
            f"{command}: unknown env kwarg",
            (*head, f"{section}.kwargs.corridor_lenght=5"),
            ("corridor_lenght", "did you mean"),
        ),
        CliCase(
            f"{command}: absurd corridor_length",
            (*head, f"{section}.kwargs.corridor_length={HUGE}"),
            ("corridor_length", "10_000"),
        ),
        CliCase(
            f"{command}: absurd max_steps", (*head, f"{section}.kwargs.max_steps={HUGE}"), ("max_steps",)
        ),
    ]


def _device_cases(command: str, head: tuple[str, ...]) -> list[CliCase]:
    """The --device and --threads cases of a subcommand that runs a network (``head``: a valid argv)."""
    return [
        CliCase(f"{command}: --device cudaa", (*head, "--device", "cudaa"), ("--device", "cudaa")),
        CliCase(f"{command}: --device cuda:99", (*head, "--device", "cuda:99"), ("--device", "cuda:99")),
        CliCase(f"{command}: --threads 0", (*head, "--threads", "0"), ("--threads",)),
    ]


def train_cases() -> list[CliCase]:
    out = ("--out", "{dir}/run")
    train = ("train", *TINY_TRAIN, *out)
    seq = ("train", "--task", "sequence", "--total-timesteps", "2", "--wandb", "disabled", *out)
    return [
        CliCase(
            "train: unknown env id",
            (*train, "--env", "sublstm/TMase-v0"),
            ("sublstm/TMase-v0", "did you mean"),
        ),
        CliCase("train: env id with a module part", (*train, "--env", "os:TMaze-v0"), ("os:TMaze-v0",)),
        CliCase(
            "train: unknown env kwarg", (*train, "--env-kwargs", "corridor_lenght=5"), ("corridor_lenght",)
        ),
        CliCase(
            "train: env kwarg without '='", (*train, "--env-kwargs", "corridor_length"), ("--env-kwargs",)
        ),
        CliCase(
            "train: absurd corridor_length",
            (*train, "--env-kwargs", f"corridor_length={HUGE}"),
            ("corridor_length",),
        ),
        CliCase("train: absurd max_steps override", (*train, f"env.kwargs.max_steps={HUGE}"), ("max_steps",)),
        _path_is_a_file("train: output path is a file", ("train", *TINY_TRAIN, "--out")),
        CliCase("train: bad device", (*train, "--device", "gpu7"), ("device",)),
        *_device_cases("train", train),
        CliCase("train: --threads two", (*train, "--threads", "two"), ("threads",)),
        CliCase("train: --seed -1", (*train, "--seed", "-1"), ("seed",)),
        CliCase("train: --seed 1.5", (*train, "--seed", "1.5"), ("seed",)),
        CliCase("train: --total-timesteps 0", (*train, "--total-timesteps", "0"), ("total_timesteps",)),
        CliCase("train: --eval-interval -1", (*train, "--eval-interval", "-1"), ("eval_interval",)),
        CliCase("train: --eval-episodes 0", (*train, "--eval-episodes", "0"), ("eval_episodes",)),
        CliCase("train: --stop-at-success 1.5", (*train, "--stop-at-success", "1.5"), ("stop_at_success",)),
        CliCase("train: --stop-patience 0", (*train, "--stop-patience", "0"), ("stop_patience",)),
        CliCase("train: --rate-penalty -1", (*train, "--rate-penalty", "-1"), ("rate_penalty",)),
        CliCase("train: unknown core", (*train, "--core", "gru"), ("core",)),
        CliCase("train: unknown --hp key", (*train, "--hp", "n_hiden=4"), ("n_hiden", "did you mean")),
        CliCase("train: --hp value out of range", (*train, "--hp", "gamma=1.5"), ("gamma",)),
        CliCase("train: unknown override", (*train, "agent.learning_rat=1e-3"), ("learning_rat",)),
        CliCase("train: wandb mode", (*train, "--wandb", "sometimes"), ("wandb",)),
        CliCase("train: --task bogus", (*train, "--task", "rll"), ("--task",)),
        CliCase("train: --resume with no run", (*train, "--resume"), ("resume",)),
        CliCase("train: --p of the other task", (*train, "--p", "5"), ("--p",)),
        CliCase("train: sequence --p 0", (*seq, "--p", "0"), ("p",)),
        CliCase("train: sequence --p 10**6", (*seq, "--p", str(10**6)), ("p",)),
        CliCase("train: sequence --env", (*seq, "--env", ENV), ("--env",)),
        *_config_cases("train", train, ("[agent]\nn_hiden = 4\n", "n_hiden")),
    ]


def compare_cases() -> list[CliCase]:
    compare = (
        "compare",
        "{base}",
        *["--episodes", "2", "--sweep", "", "--no-plots", "--wandb", "disabled", "--out", "{dir}/cmp"],
    )
    return [
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
        CliCase("compare: --step-ms -5", (*compare, "--step-ms", "-5"), ("--step-ms",)),
        CliCase(
            "compare: negative --readout-window-ms", (*compare, "--readout-window-ms", "-1"), ("readout",)
        ),
        CliCase("compare: --dt 0", (*compare, "--dt", "0"), ("dt",)),
        CliCase("compare: --dt -1", (*compare, "--dt", "-1"), ("--dt",)),
        CliCase("compare: --recurrent-delay soon", (*compare, "--recurrent-delay", "soon"), ("recurrent",)),
        CliCase("compare: --sweep with 0", (*compare, "--sweep", "0,100"), ("sweep",)),
        CliCase("compare: --sweep of words", (*compare, "--sweep", "fast"), ("--sweep",)),
        CliCase("compare: --sweep-delays soon", (*compare, "--sweep-delays", "soon"), ("sweep_delays",)),
        CliCase("compare: --level 1.5", (*compare, "--level", "1.5"), ("level",)),
        CliCase("compare: --episodes 0", ("compare", "{base}", "--episodes", "0"), ("episodes",)),
        CliCase("compare: --episodes -3", (*compare, "--episodes", "-3"), ("episodes",)),
        *_device_cases("compare", compare),
        CliCase("compare: --wandb sometimes", (*compare, "--wandb", "sometimes"), ("wandb",)),
        _path_is_a_file("compare: --out is a file", ("compare", "{base}", "--episodes", "2", "--out")),
        _path_is_a_folder("compare: --json is a folder", (*compare, "--json")),
        CliCase("compare: unknown override", (*compare, "twin.step_mss=100"), ("step_mss",)),
        *_config_cases("compare", compare, ("[twin]\nstep_mss = 100\n", "step_mss")),
    ]


def demo_cases() -> list[CliCase]:
    demo = (
        "demo",
        "--total-timesteps",
        "32",
        "--episodes",
        "2",
        "--wandb",
        "disabled",
        "--out",
        "{dir}/demo",
    )
    return [
        *_env_cases("demo", demo),
        _path_is_a_file("demo: output path is a file", ("demo", "--total-timesteps", "32", "--out")),
        *_device_cases("demo", demo),
        CliCase("demo: --episodes 0", (*demo, "--episodes", "0"), ("--episodes",)),
        CliCase("demo: --episodes many", (*demo, "--episodes", "many"), ("--episodes",)),
        CliCase("demo: --total-timesteps 0", (*demo, "--total-timesteps", "0"), ("total_timesteps",)),
        CliCase("demo: --seed -1", (*demo, "--seed", "-1"), ("seed",)),
        CliCase("demo: --wandb sometimes", (*demo, "--wandb", "sometimes"), ("wandb",)),
        CliCase("demo: --resume with no run", (*demo, "--resume"), ("resume",)),
        CliCase("demo: learn.eval_episodes=0", (*demo, "learn.eval_episodes=0"), ("eval_episodes",)),
        *_config_cases("demo", demo, ("[learn]\ntotal_timestep = 4\n", "total_timestep")),
    ]


def baselines_cases() -> list[CliCase]:
    head = ("baselines", "--total-timesteps", "64", "--n-envs", "4", "--wandb", "disabled", "--quiet")
    peer = (*head, "--out", "{dir}/peer")
    return [
        CliCase(
            "baselines: unknown env id",
            (*peer, "--env", "sublstm/TMase-v0"),
            ("--env", "sublstm/TMase-v0", "did you mean"),
        ),
        CliCase(
            "baselines: unknown env kwarg",
            (*peer, "--env-kwargs", "corridor_lenght=5"),
            ("--env-kwargs", "corridor_lenght"),
        ),
        CliCase(
            "baselines: absurd corridor_length",
            (*peer, "--env-kwargs", f"corridor_length={HUGE}"),
            ("corridor_length",),
        ),
        _path_is_a_file("baselines: output path is a file", (*head, "--out")),
        *_device_cases("baselines", peer),
        CliCase("baselines: --algo unknown", (*peer, "--algo", "ppo2"), ("--algo",)),
        CliCase("baselines: --n-envs 0", (*peer, "--n-envs", "0"), ("--n-envs",)),
        CliCase("baselines: --n-stack for ppo", (*peer, "--algo", "ppo", "--n-stack", "4"), ("--n-stack",)),
        CliCase("baselines: --total-timesteps 0", (*peer, "--total-timesteps", "0"), ("--total-timesteps",)),
        CliCase("baselines: --eval-episodes 0", (*peer, "--eval-episodes", "0"), ("--eval-episodes",)),
        CliCase("baselines: --stop-at-success 2", (*peer, "--stop-at-success", "2"), ("--stop-at-success",)),
        CliCase("baselines: unknown --hp key", (*peer, "--hp", "learning_rat=1e-3"), ("learning_rat",)),
        CliCase("baselines: --seed abc", (*peer, "--seed", "abc"), ("--seed",)),
        CliCase("baselines: --wandb sometimes", (*peer, "--wandb", "sometimes"), ("--wandb",)),
        *_config_cases("baselines", peer, ("[peer]\nn_env = 4\n", "n_env")),
    ]


def bench_cases() -> list[CliCase]:
    bench = ("bench", "--quick", "--only", "envs", "--runs", "{dir}/bench")
    return [
        CliCase("bench: unknown section", ("bench", "--quick", "--only", "thruput"), ("thruput",)),
        CliCase("bench: --jobs 0", (*bench, "--jobs", "0"), ("jobs",)),
        CliCase("bench: --jobs many", (*bench, "--jobs", "many"), ("--jobs",)),
        CliCase("bench: --seeds 0", (*bench, "--seeds", "0"), ("--seeds",)),
        CliCase("bench: --seeds x", (*bench, "--seeds", "x"), ("--seeds",)),
        CliCase("bench: --corridors 0", (*bench, "--corridors", "0"), ("--corridors",)),
        CliCase("bench: --corridors 10**12", (*bench, "--corridors", HUGE), ("--corridors", "10_000")),
        CliCase("bench: --budget without '='", (*bench, "--budget", "10:500"), ("--budget",)),
        CliCase("bench: --max-run-s 0", (*bench, "--max-run-s", "0"), ("--max-run-s",)),
        _path_is_a_file("bench: --runs is a file", ("bench", "--quick", "--only", "envs", "--runs")),
        _path_is_a_folder("bench: --write-doc is a folder", (*bench, "--write-doc")),
        CliCase("bench: --agent missing", (*bench, "--agent", "{dir}/nope.pt"), ("nope.pt",)),
        _path_is_a_folder("bench: --agent folder", (*bench, "--agent")),
        CliCase(
            "bench: --agent corrupt",
            (*bench, "--only", "energy", "--agent", "{dir}/bad.pt"),
            ("bad.pt",),
            _file_at("bad.pt", "junk"),
        ),
        CliCase("bench: spiking.device=cudaa", (*bench, "spiking.device=cudaa"), ("device",)),
        CliCase("bench: unknown section key", (*bench, "throughput.repeatz=5"), ("repeatz",)),
        *_config_cases("bench", bench, ("[bench]\nseedz = 2\n", "seedz")),
    ]


def _experiment_cases(command: str, head: tuple[str, ...]) -> list[CliCase]:
    """Cases every experiment command (validate, acceptance, gating) shares."""
    return [
        CliCase(f"{command}: --jobs 0", (*head, "--jobs", "0"), ("jobs",)),
        CliCase(f"{command}: --jobs -2", (*head, "--jobs", "-2"), ("jobs",)),
        CliCase(f"{command}: --jobs many", (*head, "--jobs", "many"), ("--jobs",)),
        CliCase(f"{command}: blank --address", (*head, "--address", " "), ("address",)),
        _path_is_a_file(f"{command}: --runs-dir is a file", (*head, "--runs-dir")),
        _path_is_a_folder(f"{command}: --doc is a folder", (*head, "--doc")),
        CliCase(f"{command}: --render with nothing stored", (*head, "--render"), ("runs",)),
    ]


def validate_cases() -> list[CliCase]:
    runs = ("--runs-dir", "{dir}/runs", "--doc", "{dir}/results.md")
    head = ("validate", "--experiment", "noisy10", "--seeds", "0", *runs, "learn.total_timesteps=32")
    return [
        CliCase(
            "validate: unknown experiment",
            ("validate", "--experiment", "noisy11", *runs),
            ("noisy11", "did you mean"),
        ),
        CliCase("validate: no experiment", ("validate", *runs), ("--experiment",)),
        CliCase("validate: --seeds 0,a", (*head, "--seeds", "0,a"), ("--seeds",)),
        CliCase("validate: --seeds -1", (*head, "--seeds", "-1"), ("seed",)),
        CliCase("validate: --seeds empty", (*head, "--seeds", ","), ("seeds",)),
        CliCase(
            "validate: learn.total_timesteps=0", (*head, "learn.total_timesteps=0"), ("total_timesteps",)
        ),
        *_env_cases("validate", head),
        CliCase("validate: agent.device=cudaa", (*head, "agent.device=cudaa"), ("device",)),
        CliCase("validate: validation.wandb=sometimes", (*head, "validation.wandb=sometimes"), ("wandb",)),
        *_experiment_cases("validate", ("validate", "--experiment", "noisy10", "--seeds", "0", *runs)),
        *_config_cases("validate", head, ("[validation]\nseedz = [0]\n", "seedz")),
    ]


def acceptance_cases() -> list[CliCase]:
    runs = ("--runs-dir", "{dir}/runs", "--doc", "{dir}/results.md")
    head = ("acceptance", "--seeds", "0", "--episodes", "2", *runs, "train.learn.total_timesteps=32")
    return [
        CliCase("acceptance: --seeds 0,a", (*head, "--seeds", "0,a"), ("--seeds",)),
        CliCase("acceptance: --seeds -1", (*head, "--seeds", "-1"), ("--seeds",)),
        CliCase("acceptance: --episodes 0", (*head, "--episodes", "0"), ("--episodes",)),
        CliCase("acceptance: --sweep 0,100", (*head, "--sweep", "0,100"), ("--sweep",)),
        CliCase("acceptance: --sweep fast", (*head, "--sweep", "fast"), ("--sweep",)),
        CliCase("acceptance: timing.step_ms=0", (*head, "timing.step_ms=0"), ("step_ms",)),
        CliCase("acceptance: timing.dt=-1", (*head, "timing.dt=-1"), ("dt",)),
        CliCase("acceptance: unknown timing key", (*head, "timing.step_mss=1"), ("step_mss",)),
        *_env_cases("acceptance", head, "train.env"),
        CliCase("acceptance: train.agent.device=cuda:99", (*head, "train.agent.device=cuda:99"), ("device",)),
        CliCase("acceptance: compare.device=cudaa", (*head, "compare.device=cudaa"), ("device",)),
        CliCase("acceptance: compare.wandb=sometimes", (*head, "compare.wandb=sometimes"), ("wandb",)),
        *_experiment_cases("acceptance", head),
        *_config_cases("acceptance", head, ("[acceptance]\nseedz = [0]\n", "seedz")),
    ]


def gating_cases() -> list[CliCase]:
    runs = ("--runs-dir", "{dir}/runs", "--doc", "{dir}/gating.md")
    head = ("gating", "--quick", *runs, "budget.total_timesteps=32")
    return [
        CliCase("gating: unknown core", (*head, "grid.cores=['gru']"), ("gru",)),
        CliCase("gating: unknown task", (*head, "grid.tasks=['maze']"), ("maze",)),
        CliCase("gating: negative noise", (*head, "grid.noises=[-1]"), ("noise",)),
        CliCase("gating: seeds 0", (*head, "grid.seeds=0"), ("seeds",)),
        CliCase("gating: budget 0", (*head, "budget.total_timesteps=0"), ("total_timesteps",)),
        CliCase("gating: population 0", (*head, "budget.population=0"), ("population",)),
        CliCase("gating: test_episodes -1", (*head, "budget.test_episodes=-1"), ("test_episodes",)),
        CliCase("gating: absurd corridor", (*head, f"grid.corridor={HUGE}"), ("corridor",)),
        CliCase(
            "gating: unknown budget key",
            (*head, "budget.total_timestep=5"),
            ("total_timestep", "did you mean"),
        ),
        _path_is_a_folder("gating: --figure is a folder", (*head, "--figure")),
        *_experiment_cases("gating", head),
        *_config_cases("gating", head, ("[grid]\nseedz = [0]\n", "seedz")),
    ]


def twin_tables_cases() -> list[CliCase]:
    runs = ("--runs-dir", "{dir}/runs", "--doc", "{dir}/results.md")
    head = ("twin-tables", "--rows", "tmaze-c10-n1", "--seeds", "1", "--block", "1", *runs)
    return [
        CliCase("twin-tables: unknown row", (*head, "--rows", "tmaze-c11"), ("rows", "tmaze-c11")),
        CliCase("twin-tables: no rows", (*head, "--rows", ","), ("rows",)),
        CliCase("twin-tables: --seeds 0", (*head, "--seeds", "0"), ("seeds",)),
        CliCase("twin-tables: --seeds -3", (*head, "--seeds", "-3"), ("seeds",)),
        CliCase("twin-tables: --block 0", (*head, "--block", "0"), ("block",)),
        CliCase("twin-tables: --total-timesteps 0", (*head, "--total-timesteps", "0"), ("total_timesteps",)),
        CliCase("twin-tables: --episodes 0", (*head, "--episodes", "0"), ("episodes",)),
        CliCase("twin-tables: --sweep 0,100", (*head, "--sweep", "0,100"), ("sweep",)),
        CliCase("twin-tables: --sweep fast", (*head, "--sweep", "fast"), ("--sweep",)),
        CliCase(
            "twin-tables: unknown --hp", (*head, "--hp", "rate_penalti=1"), ("rate_penalti", "did you mean")
        ),
        CliCase("twin-tables: bad --hp value", (*head, "--hp", "learning_rate=-1"), ("learning_rate",)),
        CliCase("twin-tables: --hp without '='", (*head, "--hp", "rate_penalty"), ("--hp",)),
        *_experiment_cases("twin-tables", head),
    ]


def cli_cases() -> list[CliCase]:
    """The command-line cases of every subcommand; append to a subcommand's list to cover more
    (argv with "{dir}" for the case's own folder, "{base}" for a valid checkpoint)."""
    return [
        *train_cases(),
        *compare_cases(),
        *demo_cases(),
        *baselines_cases(),
        *bench_cases(),
        *validate_cases(),
        *acceptance_cases(),
        *gating_cases(),
        *twin_tables_cases(),
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

# Cases known not to be refused clearly yet, each with the fix it needs (in a file whose owner is
# still changing it). The report lists them as NOT CLEAR; the test fails on any other unclear case,
# and on a case listed here that has become clear (then delete its entry).
KNOWN_GAPS: dict[str, str] = {}
