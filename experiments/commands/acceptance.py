"""The spiking twin's acceptance run: train agents with the defaults, convert, compare, tabulate.

    sublstm acceptance                                   # seeds 0-4, then the block in docs/results.md
    sublstm acceptance --seeds 0,1 --jobs 2 --episodes 100
    sublstm acceptance --render                          # rewrite the block from the stored runs
    sublstm acceptance train.learn.total_timesteps=100000 timing.step_ms=200
    sublstm acceptance --block 0                         # one train_run per seed, no populations

Settings: the sections ``acceptance`` (seeds, success_gap, block), ``train`` (env, agent and learn
sections of ``sublstm train``), ``timing`` (TwinTiming fields) and ``compare`` (episodes, seed,
sweep_step_ms, sweep_delays, level, plots, wandb, device) of ``--config FILE`` and the overrides.

The seeds are trained side by side, ``--block`` at a time, as one population
(``sublstm.agents.population``; ``--jobs`` runs several blocks at once); settings the population
cannot train (an env without a tensor version, ``compare.wandb`` other than disabled) fall back to
one ``train_run`` per seed, and the command says so.
"""

from __future__ import annotations

import argparse

from .experiment_options import add_experiment_arguments, executor_and_files, numbers, run_then_render
from .options import add_config_arguments, given, option, resolve

HELP = "acceptance of the spiking twin: train agents over seeds, compare each with its twin, tabulate"
SECTIONS = ("acceptance", "train", "timing", "compare")
OPTIONS = {
    "seeds": "acceptance.seeds",
    "block": "acceptance.block",
    "episodes": "compare.episodes",
    "sweep": "compare.sweep_step_ms",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    option(parser, "--seeds", default="0,1,2,3,4", help="seeds, comma-separated: one agent each")
    option(
        parser,
        "--block",
        default=16,
        type=int,
        help="seeds trained side by side as one population, at most (0: each seed its own train_run)",
    )
    option(parser, "--episodes", default=200, type=int, help="closed-loop episodes per comparison")
    option(parser, "--sweep", default="50,100,200,300", help="step_ms values swept, comma-separated")
    add_experiment_arguments(parser, "runs/twin-acceptance", "docs/results.md", "the 'acceptance' block")
    add_config_arguments(parser, "train.learn.total_timesteps=100000 timing.step_ms=200")


def settings_from(values: dict):
    """AcceptanceSettings from the sections of ``values`` on top of the defaults."""
    from ..acceptance import AcceptanceSettings
    from ..comparing import CompareSettings
    from ..config import ConfigError, build, near_match, to_dict

    for section in values:
        if section not in SECTIONS:
            raise ConfigError(
                f"unknown section {section!r}{near_match(section, SECTIONS)}; sections: {SECTIONS}"
            )
    fields = dict(values.get("acceptance") or {})
    if "seeds" in fields:
        fields["seeds"] = numbers(fields["seeds"], "--seeds (acceptance.seeds)", int)
    compare = dict(values.get("compare") or {})
    if "sweep_step_ms" in compare:
        compare["sweep_step_ms"] = numbers(compare["sweep_step_ms"], "--sweep (compare.sweep_step_ms)", float)
    defaults = to_dict(AcceptanceSettings().compare)
    fields["compare"] = build(CompareSettings, defaults | compare, "compare")
    fields["train"], fields["timing"] = values.get("train") or {}, values.get("timing") or {}
    return build(AcceptanceSettings, fields, "acceptance")


def run(args: argparse.Namespace) -> int:
    from ..acceptance import render, run_acceptance
    from ..training_config import naming_options

    executor = executor_and_files(args)
    values = resolve(args, given(args, OPTIONS))
    with naming_options({key: "--" + dest for dest, key in OPTIONS.items()}):
        settings = settings_from(values)
    return run_then_render(args, executor, settings, run_acceptance, render, "the acceptance block")
