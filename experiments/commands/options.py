"""Command-line pieces shared by the subcommands: ``--config FILE``, ``KEY=VALUE`` overrides, and
explicit options that win over the file only when they are given.

Precedence, lowest first: the dataclasses' defaults, the ``--config`` file, the explicit options
given on the command line, the positional ``section.key=value`` overrides.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ..config import load_config_file, merge_overrides, parse_key_values


def add_config_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    """``--config FILE`` and the positional overrides (``example`` shows one in the help)."""
    parser.set_defaults(config=None, overrides=[])  # present when not given; the help says "none"
    option(
        parser,
        "--config",
        default="none",
        metavar="FILE",
        help="settings file (.toml, .yaml, .yml or .json) with one table per section",
    )
    option(
        parser,
        "overrides",
        default="none",
        nargs="*",
        metavar="KEY=VALUE",
        help=f"dotted settings applied last, e.g. {example}",
    )


def option(parser: argparse.ArgumentParser, *flags: str, default: Any, help: str, **kwargs: Any) -> None:
    """An option that is absent from the parsed arguments unless given (so a config file's value
    stands); its help shows ``default``, the value used when neither it nor the file sets one."""
    shown = "off" if default is False else default
    parser.add_argument(*flags, default=argparse.SUPPRESS, help=f"{help} (default: {shown})", **kwargs)


def resolve(args: argparse.Namespace, explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as nested plain data: config file, then ``explicit`` (dotted key -> value, only
    for options given), then the positional overrides."""
    values = load_config_file(args.config) if args.config else {}
    values = merge_overrides(values, explicit)
    return merge_overrides(values, parse_key_values(args.overrides, "overrides"))


def given(args: argparse.Namespace, mapping: Mapping[str, str]) -> dict[str, Any]:
    """``{dotted key: value}`` for each option dest of ``mapping`` present in ``args``."""
    return {key: getattr(args, dest) for dest, key in mapping.items() if hasattr(args, dest)}
