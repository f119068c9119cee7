"""One safe file format for trained agents.

A checkpoint is a single ``torch.save`` file holding a dict of plain types and tensors:

- ``format``: the marker string :data:`FORMAT`, so foreign files are recognised;
- ``format_version``: :data:`FORMAT_VERSION`; files of another version are refused;
- ``package_version``: the installed sublstm version that wrote it (informative);
- ``config``: a JSON string (env id and kwargs, core, sizes, neuron parameters, hyperparameters),
  so nothing in it can be code;
- ``state``: a dict of tensors and plain values (weights, optimizer state, progress counters).

Writes are atomic: the file is written next to the target under a temporary name, flushed,
fsync'ed, then moved over the target with ``os.replace``; a failed save leaves any previous file
untouched. Reads use ``torch.load(weights_only=True)``, which never executes code from the file.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "sublstm-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file that is not a readable sublstm checkpoint of the supported version."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


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
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": package_version(),
        "config": config_json,
        "state": state,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
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
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, ... on bad bytes
        raise CheckpointError(path, f"not a readable checkpoint (truncated or corrupted?): {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, f"not a sublstm checkpoint (no {FORMAT!r} marker)")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            path, f"checkpoint format version {version!r} is not supported (this code reads {FORMAT_VERSION})"
        )
    try:
        config = json.loads(payload["config"])
        state = payload["state"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, f"checkpoint is missing or has a malformed field: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise CheckpointError(path, "checkpoint config or state is not a mapping")
    config["_package_version"] = payload.get("package_version", "unknown")
    return config, state
