"""One safe file format for trained agents.

A checkpoint is one file of three parts:

1. the magic line :data:`MAGIC`, so foreign files are recognised at once;
2. a JSON header line: ``format_version`` (files of another version are refused),
   ``package_version`` (the installed sublstm that wrote it; informative), and the ``size`` and
   ``sha256`` of the body, so truncation and corruption are caught (torch's own zip format loads
   flipped bytes in tensor data silently);
3. the body, a ``torch.save`` of ``{"config": <JSON string>, "state": <tensors and plain values>}``.
   The config (env id and kwargs, core, sizes, neuron parameters, hyperparameters) is JSON, so
   nothing in it can be code; the state holds weights, optimizer state and progress counters.

Writes are atomic: the file is written next to the target under a temporary name
(``.<name>.<pid>.<random>.tmp``), flushed, fsync'ed, then moved over the target with
``os.replace``; a failed save leaves any previous file untouched. A save also removes the temp
files of the same target that writers killed mid-save left behind (their pid is gone, or they are
older than :data:`STALE_TEMP_SECONDS`). Reads use ``torch.load(weights_only=True)``, which never
executes code from the file.

A file that passes those checks can still describe something else than it claims (a crafted or
damaged file behind a valid checksum). :func:`check_agent_config` and :func:`check_agent_state`
check an AdvantageAgent checkpoint's content field by field at load time: every missing or extra
field, wrong type, dtype, shape or value is a :class:`CheckpointError` naming the file and the
field; and an env id from a checkpoint may only be a registered id (no ``module:`` part, which
would make gymnasium import a module next to the file) unless the caller allows it.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.metadata
import io
import json
import math
import os
import tempfile
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from .cores import CORES
from .neuron import ASNParams
from .settings import NEUTRAL_AT_DEFAULT, Hyperparams

MAGIC = b"SUBLSTM-CHECKPOINT\n"
FORMAT_VERSION = 1
_MAX_HEADER = 4096
# a temp file of the same target this old is a dead writer's even if its pid now names another
# process (pids are reused); far longer than any save takes
STALE_TEMP_SECONDS = 600.0


class CheckpointError(ValueError):
    """A file that is not a readable sublstm checkpoint of the supported version, or whose content
    is inconsistent; ``field`` names the offending entry (e.g. ``"state.network.head.weight"``)."""

    def __init__(self, path: str | os.PathLike, problem: str, field: str | None = None) -> None:
        where = "" if field is None else f"field {field!r}: "
        super().__init__(f"{os.fspath(path)}: {where}{problem}")
        self.path = os.fspath(path)
        self.problem = problem
        self.field = field


def package_version() -> str:
    try:
        return importlib.metadata.version("sublstm")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree without install
        return "unknown"


def save_checkpoint(path: str | os.PathLike, config: dict[str, Any], state: dict[str, Any]) -> Path:
    """Write ``config`` (JSON-able) and ``state`` (tensors and plain values) atomically to ``path``."""
    path = Path(path)
    try:
        config_json = json.dumps(config, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint config must be JSON-serialisable: {exc}") from exc
    buffer = io.BytesIO()
    torch.save({"config": config_json, "state": state}, buffer)
    body = buffer.getvalue()
    header = {
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(json.dumps(header).encode() + b"\n")
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        # also on KeyboardInterrupt: never leave a half-written temp file or touch the old file
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # exists, owned by another user (or an absurd number: treat as unknown)
    return True


def remove_stale_temp_files(path: str | os.PathLike, max_age_s: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove the temp files of saves to ``path`` whose writer is dead; return what was removed.

    A temp file ``.<name>.<pid>.<random>.tmp`` is stale when no process ``pid`` runs, or when it
    is older than ``max_age_s`` (pids are reused; files from before the pid was embedded have
    only the age). Fresh files of live writers, including this process's, are kept.
    """
    path = Path(path)
    prefix, removed = f".{path.name}.", []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[len(prefix) : -len(".tmp")].split(".")
        if len(parts) > 2 or (len(parts) == 2 and not parts[0].isdigit()):
            continue  # a temp file of another target, such as "<name>.bak"
        tmp = path.parent / name
        try:
            old = now - tmp.stat().st_mtime > max_age_s
        except OSError:
            continue  # gone meanwhile
        pid = int(parts[0]) if len(parts) == 2 else None
        dead = pid is not None and pid != os.getpid() and not _pid_alive(pid)
        if old or dead:
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed.append(tmp)
    return removed


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself (POSIX); harmless to skip where directories cannot be opened."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[dict, dict]:
    """Read a checkpoint; return ``(config, state)``.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError` for a truncated,
    corrupted or foreign file, or one written in another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    with open(path, "rb") as f:
        magic = f.read(len(MAGIC))
        if magic != MAGIC:
            raise CheckpointError(
                path, "not a sublstm checkpoint (no sublstm checkpoint marker at the start)"
            )
        header_line = f.readline(_MAX_HEADER)
        body = f.read()
    try:
        header = json.loads(header_line)
        version, size, digest = header["format_version"], header["size"], header["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(path, f"unreadable checkpoint header (corrupted?): {exc}") from exc
    if version != FORMAT_VERSION:
        raise CheckpointError(
            path, f"checkpoint format version {version!r} is not supported (this code reads {FORMAT_VERSION})"
        )
    if len(body) != size:
        raise CheckpointError(
            path, f"truncated or padded: body has {len(body)} bytes, the header says {size}"
        )
    if hashlib.sha256(body).hexdigest() != digest:
        raise CheckpointError(path, "corrupted: the body's sha256 does not match the header")
    try:
        payload = torch.load(io.BytesIO(body), map_location=map_location, weights_only=True)
        config = json.loads(payload["config"])
        state = payload["state"]
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, ... on a bad body
        raise CheckpointError(path, f"unreadable checkpoint body: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise CheckpointError(path, "checkpoint config or state is not a mapping")
    config["_package_version"] = header.get("package_version", "unknown")
    return config, state


# --- content of an AdvantageAgent checkpoint ------------------------------------------------------
AGENT_KIND = "AdvantageAgent"
# config fields and their JSON types ("_package_version" is added by load_checkpoint)
AGENT_CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "env_id": (str, type(None)),
    "env_kwargs": (dict,),
    "core": (str,),
    "seed": (int,),
    "obs_dim": (int,),
    "n_actions": (int,),
    "asn": (dict,),
    "hyperparams": (dict,),
}
AGENT_STATE_FIELDS = (
    "network",
    "target_network",
    "optimizer",
    "num_timesteps",
    "num_episodes",
    "num_updates",
    "train_wall_s",
    "buffer",
)
AGENT_STATE_OPTIONAL = ("rng",)  # the agent's generator states (torch and numpy), as tensors
# the packed episode replay buffer: entry -> dtype
BUFFER_FIELDS: dict[str, torch.dtype] = {
    "obs": torch.float32,
    "actions": torch.int64,
    "rewards": torch.float32,
    "lengths": torch.int64,
    "terminated": torch.bool,
    "success": torch.int8,
}
_PLAIN = (bool, int, float, str, type(None))
# hyperparameters added after checkpoints were first written: a checkpoint without one loads with
# its default, which is what an AdvantageAgent did before the field existed
HYPERPARAMS_ADDED_LATER = ("learning_starts_unit", *NEUTRAL_AT_DEFAULT)


def _near(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_fields(path, field: str, mapping: dict, required, optional=()) -> None:
    """Missing or extra keys of ``mapping`` -> CheckpointError naming the first of them."""
    missing = [k for k in required if k not in mapping]
    if missing:
        raise CheckpointError(path, f"missing (expected {sorted(required)})", f"{field}.{missing[0]}")
    allowed = set(required) | set(optional)
    extra = sorted((k for k in mapping if k not in allowed), key=str)
    if extra:
        raise CheckpointError(
            path,
            f"unexpected entry{_near(extra[0], allowed)}; expected {sorted(allowed)}",
            f"{field}.{extra[0]}",
        )


def _check_count(path, field: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CheckpointError(path, f"must be an integer >= {minimum}, got {value!r}", field)
    return value


def check_agent_config(
    path: str | os.PathLike,
    config: dict,
    *,
    env_given: bool = False,
    allow_module_import: bool = False,
    hyperparams_cls: type = Hyperparams,
) -> None:
    """Check an AdvantageAgent checkpoint's config before anything is built from it.

    Fields, their types, the core, the neuron parameters and the hyperparameters (which must
    validate) are checked; unless ``env_given`` (the caller brings the env), the env id must be a
    registered id without a module part (unless ``allow_module_import``), the env kwargs names the
    env takes and values it accepts. Raises :class:`CheckpointError` naming the file and field.
    """
    if config.get("kind") != AGENT_KIND:
        raise CheckpointError(path, f"holds a {config.get('kind')!r}, not an {AGENT_KIND}", "config.kind")
    _check_fields(path, "config", config, AGENT_CONFIG_FIELDS, optional=("_package_version",))
    for name, types in AGENT_CONFIG_FIELDS.items():
        value = config[name]
        if not isinstance(value, types) or (int in types and isinstance(value, bool)):
            allowed = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise CheckpointError(path, f"must be {allowed}, got {value!r}", f"config.{name}")
    for name in ("obs_dim", "n_actions"):
        _check_count(path, f"config.{name}", config[name], 1)
    if config["core"] not in CORES:
        raise CheckpointError(
            path,
            f"unknown core {config['core']!r}{_near(config['core'], CORES)}; known: {sorted(CORES)}",
            "config.core",
        )
    asn_names = [f.name for f in fields(ASNParams)]
    _check_fields(path, "config.asn", config["asn"], asn_names)
    try:
        ASNParams(**config["asn"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, str(exc), "config.asn") from exc
    hp = config["hyperparams"]
    names = [f.name for f in fields(hyperparams_cls)]
    later = [n for n in names if n in HYPERPARAMS_ADDED_LATER]
    _check_fields(path, "config.hyperparams", hp, [n for n in names if n not in later], optional=later)
    for name, value in hp.items():
        if not isinstance(value, _PLAIN) or (isinstance(value, float) and not math.isfinite(value)):
            raise CheckpointError(
                path, f"must be a finite plain value, got {value!r}", f"config.hyperparams.{name}"
            )
    try:
        hyperparams_cls(**hp).validate()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"hyperparameters do not validate: {exc}", "config.hyperparams") from exc
    if not env_given:
        _check_checkpoint_env(path, config["env_id"], config["env_kwargs"], allow_module_import)


def _check_checkpoint_env(path, env_id, env_kwargs: dict, allow_module_import: bool) -> None:
    """The stored env id names a registered env (no code import) that accepts the stored kwargs."""
    import gymnasium as gym
    from sublstm.envs.checks import check_env_id, check_make_args

    if env_id is None:
        raise CheckpointError(path, "the checkpoint names no env id; pass env= to load", "config.env_id")
    try:
        check_env_id(env_id, allow_module=allow_module_import)
    except ValueError as exc:
        hint = "" if ":" not in env_id else "; pass env= or allow_module_import=True if you trust it"
        raise CheckpointError(path, f"{exc}{hint}", "config.env_id") from exc
    try:
        check_make_args(env_id, env_kwargs, allow_module=allow_module_import)
        gym.make(env_id, **env_kwargs).close()  # the env's own checks of the values
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, str(exc), "config.env_kwargs") from exc


def _check_tensor(path, field: str, value, dtype: torch.dtype, shape=None) -> torch.Tensor:
    """A dense tensor of ``dtype`` (and ``shape``), finite if floating."""
    if not isinstance(value, torch.Tensor):
        raise CheckpointError(path, f"must be a tensor, got {type(value).__name__}", field)
    if value.layout is not torch.strided:
        raise CheckpointError(path, f"must be a dense tensor, got layout {value.layout}", field)
    if value.dtype != dtype:
        raise CheckpointError(path, f"must have dtype {dtype}, got {value.dtype}", field)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise CheckpointError(path, f"must have shape {tuple(shape)}, got {tuple(value.shape)}", field)
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise CheckpointError(path, "holds NaN or infinite values", field)
    return value


def check_state_dict(path, field: str, stored, expected: dict[str, torch.Tensor]) -> None:
    """``stored`` has exactly the keys, dtypes and shapes of the module state dict ``expected``."""
    if not isinstance(stored, dict):
        raise CheckpointError(path, f"must be a mapping of tensors, got {type(stored).__name__}", field)
    _check_fields(path, field, stored, list(expected))
    for key, ref in expected.items():
        _check_tensor(path, f"{field}.{key}", stored[key], ref.dtype, ref.shape)


def check_optimizer_state(path, field: str, stored, optimizer: torch.optim.Optimizer) -> None:
    """``stored`` is a state dict of ``optimizer``'s kind: same groups and parameters, per-parameter
    state tensors shaped like their parameters."""
    if not isinstance(stored, dict):
        raise CheckpointError(path, f"must be a mapping, got {type(stored).__name__}", field)
    expected = optimizer.state_dict()
    _check_fields(path, field, stored, list(expected))
    groups = stored["param_groups"]
    ref_groups = expected["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(ref_groups):
        raise CheckpointError(
            path, f"must be a list of {len(ref_groups)} parameter groups", f"{field}.param_groups"
        )
    params: dict[int, torch.Tensor] = {}
    for g, (group, ref, live) in enumerate(zip(groups, ref_groups, optimizer.param_groups, strict=True)):
        where = f"{field}.param_groups.{g}"
        if not isinstance(group, dict):
            raise CheckpointError(path, "must be a mapping", where)
        _check_fields(path, where, group, list(ref))
        if group["params"] != ref["params"]:
            raise CheckpointError(
                path, f"must list parameters {ref['params']}, got {group['params']!r}", f"{where}.params"
            )
        for name, value in group.items():
            if name != "params" and not isinstance(value, _PLAIN + (tuple, list)):
                raise CheckpointError(
                    path, f"must be a plain value, got {type(value).__name__}", f"{where}.{name}"
                )
        params.update(zip(ref["params"], live["params"], strict=True))
    state = stored["state"]
    if not isinstance(state, dict):
        raise CheckpointError(path, "must be a mapping of parameter index to state", f"{field}.state")
    for index, entry in state.items():
        where = f"{field}.state.{index}"
        if index not in params:
            raise CheckpointError(path, f"names no parameter (indices 0 .. {len(params) - 1})", where)
        if not isinstance(entry, dict):
            raise CheckpointError(path, "must be a mapping", where)
        for name, value in entry.items():
            if isinstance(value, torch.Tensor) and value.dim() > 0:
                ref = params[index]
                _check_tensor(path, f"{where}.{name}", value, ref.dtype, ref.shape)
            elif isinstance(value, torch.Tensor):
                if not value.is_floating_point() or not bool(torch.isfinite(value)) or float(value) < 0:
                    raise CheckpointError(
                        path, f"must be a finite number >= 0, got {value!r}", f"{where}.{name}"
                    )
            elif not isinstance(value, _PLAIN):
                raise CheckpointError(
                    path, f"must be a tensor or a number, got {type(value).__name__}", f"{where}.{name}"
                )


def check_buffer(path, field: str, buffer, obs_dim: int, n_actions: int) -> None:
    """The packed replay buffer: per-episode lengths that the flat obs / actions / rewards sum to."""
    if buffer is None:
        return
    if not isinstance(buffer, dict):
        raise CheckpointError(
            path, f"must be a mapping of tensors or null, got {type(buffer).__name__}", field
        )
    _check_fields(path, field, buffer, list(BUFFER_FIELDS))
    for name, dtype in BUFFER_FIELDS.items():
        _check_tensor(path, f"{field}.{name}", buffer[name], dtype)
    lengths = buffer["lengths"]
    if lengths.dim() != 1 or len(lengths) == 0 or bool((lengths < 1).any()):
        raise CheckpointError(
            path, "must be a non-empty 1-d tensor of episode lengths >= 1", f"{field}.lengths"
        )
    n, steps = len(lengths), int(lengths.sum())
    rows = {
        "obs": (steps + n, obs_dim),
        "actions": (steps,),
        "rewards": (steps,),
        "terminated": (n,),
        "success": (n,),
    }
    for name, shape in rows.items():
        got = tuple(buffer[name].shape)
        if got != shape:
            raise CheckpointError(
                path,
                f"must have shape {shape} for {n} episodes of {steps} steps in all, got {got}",
                f"{field}.{name}",
            )
    actions = buffer["actions"]
    if steps and (bool((actions < 0).any()) or bool((actions >= n_actions).any())):
        raise CheckpointError(path, f"holds actions outside 0 .. {n_actions - 1}", f"{field}.actions")
    if bool(((buffer["success"] < -1) | (buffer["success"] > 1)).any()):
        raise CheckpointError(path, "must hold -1 (unknown), 0 or 1", f"{field}.success")


def _check_rng(path, field: str, value) -> None:
    """Generator states: nested mappings / lists of tensors and plain values; a torch state is uint8."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_rng(path, f"{field}.{key}", item)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_rng(path, f"{field}.{i}", item)
    elif isinstance(value, torch.Tensor):
        if value.layout is not torch.strided:
            raise CheckpointError(path, "must be a dense tensor", field)
        if field.endswith(".torch") and (value.dtype != torch.uint8 or value.dim() != 1):
            raise CheckpointError(
                path, f"a torch generator state is a 1-d uint8 tensor, got {value.dtype}", field
            )
    elif not isinstance(value, _PLAIN):
        raise CheckpointError(path, f"must be tensors or plain values, got {type(value).__name__}", field)


def check_agent_state(
    path: str | os.PathLike,
    config: dict,
    state: dict,
    *,
    obs_dim: int,
    n_actions: int,
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    target_network: torch.nn.Module | None = None,
) -> None:
    """Check an AdvantageAgent checkpoint's state against the agent built from its config.

    ``obs_dim`` / ``n_actions`` are the env's (they must match the config), ``network``,
    ``optimizer`` and ``target_network`` the freshly built ones: every stored weight must have the
    dtype and shape of the live one, and be finite. Raises :class:`CheckpointError` naming the
    file and the field.
    """
    for name, live in (("obs_dim", obs_dim), ("n_actions", n_actions)):
        if config.get(name) != live:
            raise CheckpointError(
                path,
                f"the checkpoint was trained with {config.get(name)!r}, the env has {live}",
                f"config.{name}",
            )
    _check_fields(path, "state", state, AGENT_STATE_FIELDS, optional=AGENT_STATE_OPTIONAL)
    check_state_dict(path, "state.network", state["network"], network.state_dict())
    if state["target_network"] is not None:
        if target_network is None:
            raise CheckpointError(
                path, "must be null: the hyperparameters use no target network", "state.target_network"
            )
        check_state_dict(path, "state.target_network", state["target_network"], target_network.state_dict())
    check_optimizer_state(path, "state.optimizer", state["optimizer"], optimizer)
    for name in ("num_timesteps", "num_episodes", "num_updates"):
        _check_count(path, f"state.{name}", state[name])
    wall = state["train_wall_s"]
    if isinstance(wall, bool) or not isinstance(wall, int | float) or not 0 <= wall < float("inf"):
        raise CheckpointError(path, f"must be a finite number >= 0, got {wall!r}", "state.train_wall_s")
    check_buffer(path, "state.buffer", state["buffer"], obs_dim, n_actions)
    if state.get("rng") is not None:
        if not isinstance(state["rng"], dict):
            raise CheckpointError(path, f"must be a mapping, got {type(state['rng']).__name__}", "state.rng")
        _check_rng(path, "state.rng", state["rng"])
