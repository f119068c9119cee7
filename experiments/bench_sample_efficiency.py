"""Section ``sample-efficiency``: env steps to >= 95 % deterministic success on the noisy T-maze,
our agent against RecurrentPPO and memoryless PPO, over seeds; median, spread and a plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .bench import (
    ENV_ID,
    LEARNER_LABELS,
    BenchContext,
    Section,
    TrainingGrid,
    curve_on_grid,
    save_figure,
    seed_stats,
)
from .grid_runs import train_grid
from .reporting import TARGET_SUCCESS, markdown_table

LEARNERS = ("ours", "recurrent-ppo", "ppo")
COLORS = {"ours": "tab:blue", "recurrent-ppo": "tab:orange", "ppo": "tab:gray"}
HEADER = [
    "corridor",
    "learner",
    "seeds reaching 95 %",
    "steps to 95 % (median)",
    "min - max",
    "final success (median)",
    "wall s to 95 % (median)",
    "steps/s (median)",
]


def run(ctx: BenchContext, own: TrainingGrid) -> None:
    from .peers import default_hyperparameters

    grid = own.resolved(ctx.bench)
    b = ctx.bench
    results = train_grid(ctx, "sample_efficiency", LEARNERS, grid.corridors, grid.seeds, grid.budgets)
    rows = []
    for n in grid.corridors:
        for learner in LEARNERS:
            st = seed_stats([results.get((n, learner, s)) for s in range(grid.seeds)], grid.budgets[n])
            cells = ("reached", "median", "spread", "success", "wall_to", "steps_per_s")
            rows.append([n, LEARNER_LABELS[learner], *(st[c] for c in cells)])
    table = markdown_table(HEADER, rows)
    print(table)
    plot = ctx.plots / "bench_sample_efficiency.png"
    plot_curves(plot, results, grid, b.eval_interval)
    budgets = ", ".join(f"corridor {n}: {grid.budgets[n]:,}" for n in grid.corridors)
    peer_hp = "; ".join(
        f"{algo}: " + ", ".join(f"{k} {v}" for k, v in default_hyperparameters(algo).items())
        for algo in ("recurrent-ppo", "ppo")
    )
    body = f"""
Environment steps until the first deterministic evaluation ({b.eval_episodes} episodes, every
{b.eval_interval:,} steps) reaches >= 95 % success on `{ENV_ID}` (noise 1), {grid.seeds} seeds
(0 .. {grid.seeds - 1}) per learner. Budgets: {budgets} steps. Every learner stops on our agent's
rule (>= 95 % in two evaluations in a row); "> budget" marks a seed that never got there (the
median counts it as infinite); a run still going after {b.max_run_s:g} s of wall-clock is stopped
there and counts as not reached. Final success is a fresh evaluation after training. All learners
step 16 envs; each run is one process with one torch thread. Our agent: `sublstm train` defaults;
the peers: `sublstm baselines` defaults. A memoryless policy sees the same observation at the
junction whatever the sign said, so its success is capped near 50 %.

{table}

![success against steps]({ctx.link(plot)})

Curves: median over seeds, band min to max; after an early stop the last evaluation is carried forward.

Peers' hyperparameters (`sublstm.experiments.peers.default_hyperparameters`, the same for both PPO
variants where they overlap; 16 envs): {peer_hp}.
"""
    ctx.write(SECTION, body)


def plot_curves(path: Path, results: dict, grid: TrainingGrid, eval_interval: int) -> None:
    from .plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, len(grid.corridors), figsize=(5.5 * len(grid.corridors), 3.6), squeeze=False)
    for ax, n in zip(axes[0], grid.corridors, strict=True):
        steps = np.arange(eval_interval, grid.budgets[n] + 1, eval_interval)
        for learner in LEARNERS:
            runs = [results.get((n, learner, s)) for s in range(grid.seeds)]
            curves = [curve_on_grid(r["curve"], steps) for r in runs if r is not None and r["curve"]]
            if not curves or not len(steps):
                continue
            y = np.stack(curves)
            label = f"{LEARNER_LABELS[learner]} ({len(curves)} seeds)"
            ax.step(steps, np.median(y, 0), where="post", color=COLORS[learner], label=label)
            ax.fill_between(steps, y.min(0), y.max(0), step="post", color=COLORS[learner], alpha=0.2, lw=0)
        ax.axhline(TARGET_SUCCESS, color="k", lw=0.6, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"noisy T-maze, corridor {n}", fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("deterministic success")
        ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, path)


SECTION = Section(
    "sample-efficiency",
    "Sample efficiency: noisy T-maze, steps to 95 % success",
    run,
    TrainingGrid(corridors=(10, 20), seeds=5, budgets={10: 500_000, 20: 1_000_000}),
    TrainingGrid(corridors=(10, 20), seeds=1, budgets={10: 4_096, 20: 4_096}),
    order=40,
)
