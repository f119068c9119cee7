"""The training runs that the benchmark sections (sample efficiency, scaling, energy) share.

One run per (corridor, learner, seed) on the noisy T-maze, launched as ``sublstm train`` (ours) or
``sublstm baselines`` (the peers) with the bench's budget, evaluations and the agent's stop rule,
stored per section so that a rerun resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .bench import ENV_ID, BenchContext
from .reporting import TARGET_SUCCESS
from .store import RunStore


def learner_settings(
    learner: str, corridor: int, seed: int, budget: int, ctx: BenchContext, out: Path
) -> tuple[str, dict[str, Any]]:
    """The package command and its dotted settings for one run."""
    b = ctx.bench
    common = {
        "env.id": ENV_ID,
        "env.kwargs.corridor_length": corridor,
        "learn.total_timesteps": budget,
        "learn.eval_interval": b.eval_interval,
        "learn.eval_episodes": b.eval_episodes,
        "learn.stop_at_success": TARGET_SUCCESS,
        "run.out": str(out),
        "run.wandb": "disabled",
        "run.progress": False,
        "run.overwrite": True,
    }
    if learner == "ours":
        return "train", {"agent.core": "asn-sublstm", "agent.seed": seed, "agent.threads": 1, **common}
    return "baselines", {"peer.algo": learner, "peer.seed": seed, "peer.threads": 1, **common}


def train_grid(
    ctx: BenchContext, section: str, learners: tuple[str, ...], corridors, seeds: int, budgets
) -> dict[tuple[int, str, int], dict | None]:
    """Run (or reuse) every (corridor, learner, seed); each run's summary by key (None: failed).

    A run's summary gets ``bench_wall_limit_s`` when the wall-clock cap stopped it, and its
    learning curve as ``curve``.
    """
    from .command_runs import command_cell, run_commands

    root = ctx.runs / section
    cells, keys = [], {}
    for n in corridors:
        for learner in learners:
            for seed in range(seeds):
                name = f"N{n}-{learner}-seed{seed}"
                out = root / "runs" / name
                command, settings = learner_settings(learner, n, seed, budgets[n], ctx, out)
                # memoryless PPO never stops early, so it runs its whole budget: schedule it first
                cost = budgets[n] * (2.0 if learner == "ppo" else 1.0)
                cells.append(command_cell(name, command, settings, out, cost=cost))
                keys[name] = (n, learner, seed)
    records = run_commands(RunStore(root), cells, ctx.jobs, ctx.bench.max_run_s, ctx.fresh)
    return {keys[name]: summary_of(record) for name, record in records.items()}


def summary_of(record: dict | None) -> dict | None:
    """A stored run's summary with its learning curve (``curve``) and run folder (``out``)."""
    if record is None:
        return None
    result = record["result"]
    return {**result["summary"], "curve": result["curve"], "out": result["out"]}


def train_populations(
    ctx: BenchContext, section: str, corridors, run_corridor, settings_of
) -> dict[int, dict | None]:
    """Run (or reuse) one population per corridor, in this process; each one's result by corridor.

    ``run_corridor(n)`` trains corridor ``n``'s population and returns its result (plain data);
    ``settings_of(n)`` is what the stored record must have been made with to be reused. A corridor
    whose run raised is reported, left out of the store and None.
    """
    store = RunStore(ctx.runs / section)
    results = {}
    for n in corridors:
        name, settings = f"N{n}-population", settings_of(n)
        record = None if ctx.fresh else store.get(name, settings)
        if record is None:
            print(f"[{section}] corridor {n}: training", flush=True)
            try:
                record = {"settings": settings, "result": run_corridor(n)}
            except Exception as exc:  # one corridor's failure must not hide the others' figures
                print(f"[{section}] FAILED corridor {n}: {type(exc).__name__}: {exc}", flush=True)
                results[n] = None
                continue
            store.put(name, record)
        results[n] = record["result"]
    return results
