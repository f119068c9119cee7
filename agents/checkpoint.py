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

Writes are atomic: the file is written next to the target under a temporary name, flushed,
fsync'ed, then moved over the target with ``os.replace``; a failed save leaves any previous file
untouched. Reads use ``torch.load(weights_only=True)``, which never executes code from the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

MAGIC = b"SUBLSTM-CHECKPOINT\n"
FORMAT_VERSION = 1
_MAX_HEADER = 4096


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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
