"""One way to configure: dataclasses, a ``--config`` file (TOML, YAML or JSON) and ``key=value`` overrides.

A config file has one table per section, e.g. for ``sublstm train``::

    [env]
    id = "sublstm/NoisyTMaze-v0"
    kwargs = { corridor_length = 20 }

    [agent]
    core = "asn-sublstm"
    learning_rate = 0.003

and overrides on the command line name the section: ``agent.learning_rate=1e-3 learn.seed=3``.
:func:`build` turns a section into its dataclass, refusing unknown keys (with a near match) and
values of the wrong type, each error naming the key.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import json
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "parse_key_values",
    "load_config_file",
    "merge_overrides",
    "build",
    "to_dict",
    "near_match",
]


class ConfigError(ValueError):
    """A bad config file, key or value; the message names it."""


def near_match(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _literal(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def parse_key_values(items: Iterable[str] | None, option: str) -> dict[str, Any]:
    """``["corridor_length=10", "noise=0.5"]`` -> ``{"corridor_length": 10, "noise": 0.5}``.

    Values are Python literals where they parse as one (ints, floats, True/None, quoted strings,
    lists), plain strings otherwise. Keys may be dotted (``agent.learning_rate``). An item without
    ``=`` or with a key that is not a (dotted) Python name raises :class:`ConfigError` naming
    ``option`` and the item.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not all(part.isidentifier() for part in key.split(".")):
            raise ConfigError(f"{option} items must look like key=value with a Python key, got {item!r}")
        out[key] = _literal(raw)
    return out


def load_config_file(path: str | Path) -> dict[str, Any]:
    """A config file as a dict: ``.toml``, ``.yaml`` / ``.yml`` or ``.json``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(path.read_text())
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(path.read_text()) or {}
        elif suffix == ".json":
            data = json.loads(path.read_text())
        else:
            raise ConfigError(f"--config {path}: unknown format {suffix!r}; use .toml, .yaml, .yml or .json")
    except ConfigError:
        raise
    except Exception as exc:  # a parser's own error type, whichever parser it was
        raise ConfigError(f"--config {path}: cannot parse it: {exc}") from None
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise ConfigError(f"--config {path}: the top level must be a table of sections, got {kind}")
    return data


def merge_overrides(config: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Apply dotted overrides (``{"agent.lr": 1e-3}``) to a nested config; returns a new dict."""
    out = json.loads(json.dumps(config))  # deep copy of plain data
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = out
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {dotted}: {part!r} is a value, not a section")
            node = child
        node[leaf] = value
    return out


def _type_ok(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits a dataclass field's type (the simple types configs use)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is not None:
        hint = origin
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is typing.Literal:
        return True
    try:
        return isinstance(value, hint)
    except TypeError:
        return True


def build(cls: type, values: Mapping[str, Any] | None, section: str) -> Any:
    """``cls(**values)`` for a dataclass, refusing unknown keys and values of the wrong type.

    Errors are :class:`ConfigError` naming ``section.key``. A dataclass's own ``validate()`` runs if
    it has one.
    """
    values = dict(values or {})
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key {section}.{key}{near_match(key, known)}; known: {sorted(known)}")
        if not _type_ok(value, hints.get(key, Any)):
            hint = hints[key]
            kind = hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
            raise ConfigError(f"{section}.{key} must be of type {kind}, got {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and hints.get(key) is float:
            values[key] = float(value)
    try:
        obj = cls(**values)
        if hasattr(obj, "validate"):
            obj.validate()
    except ValueError as exc:
        raise ConfigError(f"{section}: {exc}") from None
    return obj


def to_dict(obj: Any) -> Any:
    """A dataclass (or nested dataclasses / dicts) as plain JSON-able data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj
