"""Command-line pieces shared by the scripts."""

from __future__ import annotations

import ast
from typing import Any


def parse_key_values(items: list[str] | None, option: str) -> dict[str, Any]:
    """``["corridor_length=10", "noise=0.5"]`` -> ``{"corridor_length": 10, "noise": 0.5}``.

    Values are Python literals where they parse as one (ints, floats, True/None, quoted strings),
    plain strings otherwise. An item without ``=`` or with a key that is not a Python name raises
    ValueError naming ``option`` and the item.
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"{option} items must look like key=value with a Python key, got {item!r}")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out
