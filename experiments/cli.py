"""The ``sublstm`` command: one subcommand per job, each a thin layer over the library.

    sublstm train --config run.toml agent.learning_rate=1e-3
    sublstm compare runs/x/agent.pt
    sublstm demo

Every subcommand lives in ``sublstm.experiments.commands.<name>`` and provides ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Bad input of any kind ends in one line
``error: ...`` and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "train",
    "compare",
    "demo",
    "baselines",
    "bench",
    "gating",
    "validate",
    "acceptance",
    "twin-tables",
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each option's default and keeps the description's line breaks."""


def command_module(name: str) -> str:
    """The module of a subcommand (a dash in its name is an underscore in the module's)."""
    return f"sublstm.experiments.commands.{name.replace('-', '_')}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sublstm",
        description="Working-memory RL with spiking subtractive LSTMs: train, convert, compare, measure.",
        formatter_class=HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(command_module(name))
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=HelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse stops filling a positional list at the first option, so KEY=VALUE overrides given
    # after options arrive here as leftovers; they belong to the overrides all the same
    overrides = [item for item in extra if "=" in item and not item.startswith("-")]
    unknown = [item for item in extra if item not in overrides]
    if unknown or (overrides and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(unknown or overrides)}")
    if overrides:
        args.overrides = [*(args.overrides or []), *overrides]
    from sublstm.agents.checkpoint import CheckpointError

    try:
        return int(args._run(args) or 0)
    except (ValueError, CheckpointError, FileNotFoundError, NotADirectoryError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
