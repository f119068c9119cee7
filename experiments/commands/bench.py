"""Benchmarks: our agent beside its peers, the spiking simulator, the envs. Each section prints a
table and writes its own section of docs/benchmarks.md (command and machine included).

    sublstm bench --quick                                 # every section, tiny budgets, under runs/
    sublstm bench --only throughput spiking energy        # the cheap ones, for real
    sublstm bench --only sample-efficiency --jobs 16      # many training runs, in parallel
    sublstm bench --only scaling --corridors 10 50 --seeds 5 --budget 50=2000000
    sublstm bench --only throughput throughput.repeats=5 spiking.device=cuda

Sections: asn (one ASN against AF, into docs/results.md), envs, throughput, spiking,
sample-efficiency, scaling, energy; each is a module sublstm.experiments.bench_<name> with its own
settings (config table [<name>], e.g. [sample_efficiency]); [bench] holds the shared ones
(corridors, seeds, budgets, eval_interval, eval_episodes, max_run_s). Training runs are stored in
--runs and reused by a later invocation with the same command line unless --fresh.
"""

from __future__ import annotations

import argparse
import sys

from .options import add_config_arguments, given, option, resolve

HELP = "measure sample efficiency, throughput, scaling, the spiking simulator, energy; write the doc"

KEYS = {"corridors": "bench.corridors", "seeds": "bench.seeds", "max_run_s": "bench.max_run_s"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..bench import section_names

    option(
        p,
        "--only",
        default="all",
        nargs="+",
        metavar="SECTION",
        help=f"run these sections: {', '.join(section_names())}",
    )
    option(
        p,
        "--quick",
        default=False,
        action="store_true",
        help="tiny budgets; writes under the runs folder, never docs/",
    )
    option(
        p,
        "--corridors",
        default="each section's own",
        type=int,
        nargs="+",
        metavar="N",
        help="corridor lengths of the training sections",
    )
    option(p, "--seeds", default="each section's own", type=int, metavar="N", help="seeds per setting")
    option(
        p,
        "--budget",
        default="each section's own",
        nargs="+",
        metavar="N=STEPS",
        help="training budget per corridor length, e.g. 10=500000 20=1000000",
    )
    option(
        p,
        "--max-run-s",
        default="3600; quick 120",
        type=float,
        metavar="S",
        help="wall-clock cap of one training run",
    )
    option(p, "--jobs", default=1, type=int, help="training runs at a time (one core each)")
    option(
        p,
        "--runs",
        default="runs/bench; quick runs/bench_quick",
        metavar="DIR",
        help="folder of the training runs and their stored records",
    )
    option(
        p,
        "--write-doc",
        dest="doc",
        default="docs/benchmarks.md; quick: inside --runs",
        metavar="PATH",
        help="markdown file the sections write",
    )
    option(
        p,
        "--results-doc",
        default="docs/results.md; quick: inside --runs",
        metavar="PATH",
        help="results file of the asn section",
    )
    option(
        p,
        "--agent",
        default="a solved sample-efficiency run, else one trained",
        metavar="PATH",
        help="energy: a trained agent.pt",
    )
    option(p, "--fresh", default=False, action="store_true", help="rerun training runs even if stored")
    add_config_arguments(p, "bench.eval_episodes=50 throughput.repeats=5")


def parse_budgets(items: list[str]) -> dict[int, int]:
    """``["10=500000"]`` -> ``{10: 500000}`` (ValueError naming --budget on a bad item)."""
    budgets = {}
    for item in items:
        n, sep, steps = item.partition("=")
        if not (sep and n.isdigit() and steps.isdigit() and int(n) > 0 and int(steps) > 0):
            raise ValueError(f"--budget entries must look like N=STEPS with positive integers, got {item!r}")
        budgets[int(n)] = int(steps)
    return budgets


def run(args: argparse.Namespace) -> int:
    from ..bench import FULL, QUICK, prepare, run_sections
    from ..training_config import naming_options

    explicit = given(args, KEYS)
    if "bench.corridors" in explicit:
        explicit["bench.corridors"] = tuple(explicit["bench.corridors"])
    values = resolve(args, explicit)
    if hasattr(args, "budget"):
        values.setdefault("bench", {}).setdefault("budgets", {}).update(parse_budgets(args.budget))
    where = {
        k: getattr(args, k)
        for k in ("only", "doc", "results_doc", "runs", "jobs", "fresh", "agent")
        if hasattr(args, k)
    }
    with naming_options({key: "--" + dest.replace("_", "-") for dest, key in KEYS.items()}):
        ctx, sections, own = prepare(
            bench=QUICK if getattr(args, "quick", False) else FULL, values=values, **where
        )
    status = run_sections(ctx, sections, own)
    failed = [name for name, s in status.items() if s != "ok"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
