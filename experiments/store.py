"""A resumable store of runs: one small JSON file per finished run, written atomically.

Runners (validation, twin acceptance, the gating grid, benchmarks) put a record the moment a run
finishes; a rerun skips every run already stored with the same settings, so an interrupted
experiment resumes where it stopped, and documents are rendered from the stored records only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .reporting import write_json

_NAME = re.compile(r"[A-Za-z0-9_.+=-]+")


class RunStore:
    """Runs stored as ``<root>/<name>.json``; files whose name starts with ``_`` are metadata."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"run store {self.root} is a file, not a folder")

    def path(self, name: str) -> Path:
        if not _NAME.fullmatch(name) or name.startswith("_"):
            raise ValueError(f"run name must be letters, digits and _.+=- (no leading _), got {name!r}")
        return self.root / f"{name}.json"

    def get(self, name: str, settings: Mapping[str, Any] | None = None) -> dict | None:
        """The stored record of ``name`` (None if absent, unreadable, or made with other settings)."""
        path = self.path(name)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if settings is not None and record.get("settings") != json.loads(json.dumps(dict(settings))):
            return None
        return record

    def put(self, name: str, record: Mapping[str, Any]) -> Path:
        path = self.path(name)
        write_json(path, dict(record))
        return path

    def all(self, settings: Mapping[str, Any] | None = None) -> dict[str, dict]:
        """Every stored run by name (only those made with ``settings`` when given), sorted by name."""
        if not self.root.is_dir():
            return {}
        out = {}
        for path in sorted(self.root.glob("*.json")):
            if path.name.startswith("_"):
                continue
            record = self.get(path.stem, settings)
            if record is not None:
                out[path.stem] = record
        return out

    def pending(self, names: list[str], settings: Mapping[str, Any] | None = None) -> list[str]:
        """The names among ``names`` without a stored record (made with ``settings``)."""
        return [n for n in names if self.get(n, settings) is None]
