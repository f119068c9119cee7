"""Subtractive against multiplicative gating under spiking conversion: run the grid, write its doc.

    sublstm gating --jobs 2                        # the full grid as Ray tasks (resumable), then the doc
    sublstm gating --address auto                  # the same on a running Ray cluster
    sublstm gating --quick                         # a reduced grid and budget, under runs/gating-quick/
    sublstm gating --render                        # rebuild docs/gating.md from the stored runs only
    sublstm gating grid.seeds=64 grid.tasks=[tmaze] budget.total_timesteps=60000
    sublstm gating grid.tasks=[tmaze] budget.hyperparams.rate_penalty=0.5   # one rule for every cell
    # the rate penalty after a warm-up (the rule of docs/gating.md):
    sublstm gating --jobs 2 budget.total_timesteps=100000 budget.hyperparams.rate_penalty_after=0.95
        budget.hyperparams.rate_penalty_ramp=10000 budget.hyperparams.rate_penalty_ramp_updates=500

Settings: the sections ``grid`` (noises, seeds: the number of seeds, cores, tasks, corridor) and
``budget`` (total_timesteps, test_episodes, test_sequences, population, hyperparams: overrides
applied to every cell: Hyperparams fields to its T-maze agents, ``train_sequence`` arguments to its
sequence nets, a name that is both to both) of ``--config FILE`` and of the
overrides, applied to the preset. Training and conversion use the package's defaults of the day with
those overrides (stored with every run; a run made under other settings is run again, not pooled;
runs under other overrides are stored under their own names).
The runs are stored in docs/gating_runs/ and the page is docs/gating.md (with --quick:
runs/gating-quick/runs/ and runs/gating-quick/gating.md) unless --runs-dir / --doc say otherwise.
"""

from __future__ import annotations

import argparse

from .experiment_options import add_experiment_arguments, executor_and_files
from .options import add_config_arguments, resolve

HELP = "the gating grid (subtractive vs multiplicative gates under conversion) and docs/gating.md"
SECTIONS = ("grid", "budget")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the reduced preset: T-maze at noise 1 and sequence 2a, 2 seeds, a smaller budget (minutes)",
    )
    none = " (None: the preset's, see above)"
    add_experiment_arguments(parser, None, None, "the page and its figure", none)
    parser.add_argument("--figure", default=None, help="figure of the page (None: gating.png beside the doc)")
    parser.add_argument("--only", default=None, help="run only the cells whose name contains this text")
    add_config_arguments(parser, "budget.total_timesteps=20000 grid.seeds=16")


def grid_from(values: dict, quick: bool):
    """The preset (full or quick) with the ``grid`` and ``budget`` sections of ``values`` applied."""
    from ..config import ConfigError, build, near_match, to_dict
    from ..gating import FULL, QUICK, GatingBudget, GatingGrid

    for section in values:
        if section not in SECTIONS:
            raise ConfigError(
                f"unknown section {section!r}{near_match(section, SECTIONS)}; sections: {SECTIONS}"
            )
    preset = QUICK if quick else FULL
    budget = build(GatingBudget, to_dict(preset.budget) | values.get("budget", {}), "budget")
    grid = {k: v for k, v in to_dict(preset).items() if k != "budget"} | values.get("grid", {})
    grid = {k: tuple(v) if isinstance(v, list) else v for k, v in grid.items()}
    return build(GatingGrid, grid | {"budget": budget}, "grid")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..gating import run_grid

    grid = grid_from(resolve(args, {}), args.quick)
    base = Path("runs/gating-quick") if args.quick else Path("docs")
    runs_dir = Path(args.runs_dir) if args.runs_dir else base / ("runs" if args.quick else "gating_runs")
    doc = Path(args.doc) if args.doc else base / "gating.md"
    figure = Path(args.figure) if args.figure else doc.with_name("gating.png")
    executor = executor_and_files(args, doc=doc, figure=figure)
    if not args.render:
        run_grid(grid, runs_dir, jobs=executor, only=args.only)
    from ..gating_report import render

    render(grid, runs_dir, doc, figure)
    print(f"wrote {doc} and {figure}")
    return 0
