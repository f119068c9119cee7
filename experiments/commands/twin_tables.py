"""The spiking twin on every task: per-task acceptance tables over many seeds (issue 11).

    sublstm twin-tables                                   # every row, 16 seeds, then the tables
    sublstm twin-tables --rows tmaze-c10-n1,seq2a --seeds 4
    sublstm twin-tables --render                          # rewrite the tables from the stored runs
    sublstm twin-tables --rows saccade --hp rate_penalty=0.5 --runs-dir runs/twin-tables-rp0.5

Rows, seeds and their results are stored per (row, block of seeds) under ``--runs-dir``; a rerun
trains only what is missing. The tables go into the "Spiking twin" section of ``--doc``.
"""

from __future__ import annotations

import argparse

from .experiment_options import add_experiment_arguments, executor_and_files, numbers, run_then_render

HELP = "the spiking twin on every task: train seeds per task, compare each with its twin, tabulate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..twin_tables import ROW_NAMES, TwinTableSettings

    d = TwinTableSettings()
    parser.add_argument("--rows", default=",".join(ROW_NAMES), help="rows, comma-separated")
    parser.add_argument("--seeds", type=int, default=d.seeds, help="seeds per row (0 .. SEEDS-1)")
    parser.add_argument("--block", type=int, default=d.block, help="seeds trained together, one stored run")
    parser.add_argument(
        "--total-timesteps", type=int, default=d.total_timesteps, help="most timesteps per RL agent"
    )
    parser.add_argument(
        "--stop-patience",
        type=int,
        default=d.stop_patience,
        help="an RL agent stops after this many evaluations in a row at >= 95 %% (rows with their own "
        "stop rule keep it)",
    )
    parser.add_argument("--episodes", type=int, default=d.episodes, help="held-out episodes per seed")
    parser.add_argument(
        "--sweep",
        default=",".join(f"{s:g}" for s in d.sweep_step_ms),
        help="step_ms values tried besides the default, comma-separated",
    )
    parser.add_argument(
        "--hp",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="RL hyperparameters changed from the package defaults (e.g. rate_penalty=0.5); "
        "a stored run counts only for the same changes",
    )
    add_experiment_arguments(parser, "runs/twin-tables", "docs/results.md", "the 'twin-tables' block")


def settings_from(args: argparse.Namespace):
    from sublstm.agents.settings import Hyperparams

    from ..config import build, parse_key_values
    from ..twin_tables import TwinTableSettings

    rows = tuple(r.strip() for r in str(args.rows).split(",") if r.strip())
    settings = TwinTableSettings(
        rows=rows,
        seeds=args.seeds,
        block=args.block,
        total_timesteps=args.total_timesteps,
        stop_patience=args.stop_patience,
        episodes=args.episodes,
        sweep_step_ms=numbers(args.sweep, "--sweep", float),
        hyperparams=parse_key_values(args.hp, "--hp"),
    )
    build(Hyperparams, settings.hyperparams, "--hp")  # unknown names and bad values, named
    settings.validate()
    return settings


def run(args: argparse.Namespace) -> int:
    from ..twin_tables import render, run_twin_tables

    executor = executor_and_files(args)
    settings = settings_from(args)
    return run_then_render(args, executor, settings, run_twin_tables, render, "the twin tables")
