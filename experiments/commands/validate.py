"""The analog agent's validation experiments: train each over seeds, tabulate them in docs/results.md.

    sublstm validate --experiment noisy10                 # seeds 0-4, then its block in the doc
    sublstm validate --experiment all --jobs 2            # every preset, two runs at a time
    sublstm validate --render                             # rewrite the blocks from the stored runs
    sublstm validate --experiment clean20,noisy20 --seeds 0,1 learn.total_timesteps=100000
    sublstm validate --experiment noisy10 --seeds 0,1,2,3,4,5,6,7 --block 0   # one train_run per seed

Settings: the sections ``validation`` (seeds, overrides, wandb) and ``experiments`` (one table per
experiment: title, task, config with the sections of ``sublstm train``) of ``--config FILE`` and
of the overrides; a new name under ``experiments`` defines a new experiment. ``learn.*``,
``agent.*``, ``env.*`` and ``sequence.*`` overrides apply to every experiment that has the section.

The RL seeds of an experiment are trained side by side, ``--block`` at a time, as one population
(``sublstm.agents.population``; ``--jobs`` runs several blocks at once); an experiment the
population cannot train (an env without a tensor version, ``validation.wandb`` logging) runs one
``train_run`` per seed, and the command says so. Sequence experiments run one seed at a time.
"""

from __future__ import annotations

import argparse

from .experiment_options import add_experiment_arguments, executor_and_files, numbers
from .options import add_config_arguments, resolve

HELP = "validation experiments of the analog agent (training over seeds) and their doc blocks"
SHARED = ("learn", "agent", "env", "sequence")  # override sections applied to every experiment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..validation import EXPERIMENTS

    parser.add_argument(
        "--experiment",
        default="",
        metavar="NAMES",
        help=f"experiments to run, comma-separated, or 'all'; presets: {', '.join(EXPERIMENTS)}",
    )
    parser.add_argument(
        "--seeds", default=None, help="seeds of every experiment, comma-separated (None: 0,1,2,3,4)"
    )
    parser.add_argument(
        "--block",
        type=int,
        default=None,
        help="RL seeds of an experiment trained side by side as one population, at most "
        "(0: each seed its own train_run; None: validation.block, 16 unless set)",
    )
    add_experiment_arguments(parser, "runs/validate", "docs/results.md", "the 'Analog agent' blocks")
    add_config_arguments(parser, "learn.total_timesteps=100000 experiments.noisy10.config.agent.core=lstm")


def settings_from(values: dict, seeds: tuple[int, ...] | None, block: int | None = None):
    """ValidationSettings and the experiments (presets with the ``experiments`` section applied);
    ``seeds`` and ``block``, where given, win over ``values``."""
    from ..config import ConfigError, build, merge_overrides, near_match, to_dict
    from ..validation import EXPERIMENTS, Experiment, ValidationSettings, dotted

    values = dict(values)
    shared = {s: values.pop(s) for s in SHARED if s in values}
    for section in values:
        if section not in ("validation", "experiments"):
            known = ("validation", "experiments", *SHARED)
            raise ConfigError(f"unknown section {section!r}{near_match(section, known)}; sections: {known}")
    fields = dict(values.get("validation") or {})
    fields["overrides"] = merge_overrides(fields.get("overrides") or {}, dotted(shared))
    if seeds is not None:
        fields["seeds"] = seeds
    if block is not None:
        fields["block"] = block
    if isinstance(fields.get("seeds"), list):
        fields["seeds"] = tuple(fields["seeds"])
    settings = build(ValidationSettings, fields, "validation")
    experiments = dict(EXPERIMENTS)
    for name, table in (values.get("experiments") or {}).items():
        base = to_dict(experiments[name]) if name in experiments else {}
        if not isinstance(table, dict) or not (name in experiments or "title" in table):
            raise ConfigError(
                f"experiments.{name} must be a table with a title (a new experiment), got {table!r}"
            )
        experiments[name] = build(Experiment, merge_overrides(base, dotted(table)), f"experiments.{name}")
    return settings, experiments


def run(args: argparse.Namespace) -> int:

    from ..validation import pick, render, run_validation

    executor = executor_and_files(args)
    seeds = None if args.seeds is None else numbers(args.seeds, "--seeds", int)
    settings, experiments = settings_from(resolve(args, {}), seeds, args.block)
    chosen = pick([n.strip() for n in args.experiment.split(",") if n.strip()], experiments)
    if args.render:
        written = render(args.runs_dir, args.doc, list(chosen) or None)
        print(f"wrote the blocks of {', '.join(written)} into {args.doc}")
        return 0
    if not chosen:
        raise ValueError("give --experiment NAMES (or 'all'), or --render")
    run_validation(chosen, settings, args.runs_dir, doc=args.doc, jobs=executor)
    print(f"wrote the blocks of {', '.join(chosen)} into {args.doc}")
    return 0
