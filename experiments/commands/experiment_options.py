"""Options shared by the experiment commands (validate, acceptance, gating): ``--render``, ``--jobs``,
``--address``, ``--runs-dir`` and ``--doc``, and comma-separated number lists."""

from __future__ import annotations

import argparse


def add_experiment_arguments(
    parser: argparse.ArgumentParser, runs_dir: str | None, doc: str | None, what: str, none: str = ""
) -> None:
    """``--render`` (run nothing, rewrite ``what`` from the stored runs), ``--jobs``, ``--address``,
    ``--runs-dir`` and ``--doc`` with these defaults; ``none`` says what a None default stands for."""
    parser.add_argument(
        "--render", action="store_true", help=f"run nothing: rewrite {what} from the stored runs"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs side by side as Ray tasks (the ray extra), one torch thread each (None: 1 without "
        "--address, every CPU of the cluster with it); without Ray installed, one at a time",
    )
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster to run on ('auto', 'ray://HOST:10001'; its nodes need the package) "
        "(None: a local Ray started for the run when --jobs > 1)",
    )
    parser.add_argument(
        "--runs-dir", default=runs_dir, help=f"folder of the runs and their stored results{none}"
    )
    parser.add_argument("--doc", default=doc, help=f"markdown file that receives {what}{none}")


def executor_and_files(args: argparse.Namespace, **files) -> object:
    """The runner's executor for ``--jobs`` / ``--address`` (refusing bad ones) after checking that
    none of ``files`` (option name without dashes -> path, default: ``doc=args.doc``) is a folder."""
    from pathlib import Path

    from ..runner import executor_for

    executor = executor_for(args.jobs, args.address)
    for option, path in (files or {"doc": args.doc}).items():
        if path is not None and Path(path).is_dir():
            raise ValueError(f"--{option} {path} is a folder, not a file")
    return executor


def run_then_render(args: argparse.Namespace, executor, settings, run, render, what: str) -> int:
    """``run(settings, runs_dir, jobs=executor)`` unless ``--render``, then ``render(runs_dir, doc,
    settings)`` (which returns how many seeds it tabulated); prints where ``what`` went."""
    if not args.render:
        run(settings, args.runs_dir, jobs=executor)
    n = render(args.runs_dir, args.doc, settings)
    print(f"wrote {what} ({n} seeds) into {args.doc}")
    return 0


def numbers(text, option: str, kind: type) -> tuple:
    """``"0,1"`` -> ``(0, 1)``; lists (from a config file) pass; ValueError naming the option."""
    if isinstance(text, (list, tuple)):
        return tuple(text)
    try:
        return tuple(kind(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise ValueError(f"{option} must be comma-separated numbers, got {text!r}") from None
