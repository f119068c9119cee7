"""Section ``scaling``: our agent on the noisy T-maze at corridor lengths 10 to 100 (success and
wall-clock to 95 %), and the simulated cost of one spiking episode against corridor length."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .bench import ENV_ID, BenchContext, Section, TrainingGrid, save_figure, seed_stats
from .grid_runs import train_grid
from .reporting import markdown_table, median

HEADER = [
    "corridor",
    "seeds reaching 95 %",
    "final success (median)",
    "steps to 95 % (median)",
    "training wall s (median)",
    "wall s to 95 % (median)",
    "spiking episode: decisions",
    "spiking episode: ms",
    "ms per decision",
]


def optimal_episode(corridor: int, goal: int = 0) -> np.ndarray:
    """The observations an optimal T-maze episode shows (sign, corridor..., junction), (N+1, 1, 3)."""
    from sublstm.envs.tmaze import EAST, TMazeEnv

    env = TMazeEnv(corridor_length=corridor, noise=1.0)
    obs, _ = env.reset(seed=goal)
    seq = [obs]
    for _ in range(corridor):  # N moves east; the (N+1)-th decision, the turn, is taken at the junction
        obs, *_ = env.step(EAST)
        seq.append(obs)
    return np.stack(seq)[:, None, :].astype(np.float32)


def spiking_episode_seconds(network, corridor: int, repeats: int = 3) -> float:
    """Median wall-clock of the spiking twin (default timing, batch 1) over one optimal episode."""
    import torch
    from sublstm.spiking import SpikingPolicy

    policy = SpikingPolicy.from_network(network)
    obs = torch.as_tensor(optimal_episode(corridor))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        policy.teacher_forced(obs)
        times.append(time.perf_counter() - t0)
    return median(times)


def run(ctx: BenchContext, own: TrainingGrid) -> None:
    from sublstm.agents import AdvantageAgent
    from sublstm.spiking import TwinTiming

    grid = own.resolved(ctx.bench)
    b = ctx.bench
    results = train_grid(ctx, "scaling", ("ours",), grid.corridors, grid.seeds, grid.budgets)
    rows, spike_cost = [], {}
    for n in grid.corridors:
        runs = [results.get((n, "ours", s)) for s in range(grid.seeds)]
        st = seed_stats(runs, grid.budgets[n])
        ckpts = [
            Path(r["out"]) / "agent.pt"
            for r in runs
            if r is not None and (Path(r["out"]) / "agent.pt").exists()
        ]
        if ckpts:
            network = AdvantageAgent.load(ckpts[0]).network.eval()
        else:  # no trained agent (a failed run): the cost of simulating does not depend on the weights
            network = AdvantageAgent(ENV_ID, env_kwargs={"corridor_length": n}, seed=0).network.eval()
        spike_cost[n] = spiking_episode_seconds(network, n)
        ms = spike_cost[n] * 1e3
        cells = [st[c] for c in ("reached", "success", "median", "wall", "wall_to")]
        rows.append([n, *cells, f"{n + 1}", f"{ms:.0f}", f"{ms / (n + 1):.2f}"])
    decisions = np.array(grid.corridors, dtype=float) + 1.0
    cost = np.array([spike_cost[n] for n in grid.corridors])
    slope, intercept, r2 = linear_fit(decisions, cost)
    table = markdown_table(HEADER, rows)
    print(table)
    plot = ctx.plots / "bench_scaling.png"
    plot_scaling(plot, grid, results, spike_cost)
    budgets = ", ".join(f"{n}: {grid.budgets[n]:,}" for n in grid.corridors)
    timing = TwinTiming()
    body = f"""
Our agent (`sublstm train` defaults, asn-sublstm) on `{ENV_ID}` with corridor length N,
{grid.seeds} seeds each, stopping once evaluations reach 95 % twice in a row ({b.eval_episodes}
episodes every {b.eval_interval:,} steps); budgets (steps) {budgets}; a run still going after
{b.max_run_s:g} s of wall-clock is stopped there. Training wall-clock includes the periodic
evaluations; one process and one torch thread per run.

Spiking episode: the spiking twin of the seed-0 agent (`SpikingPolicy`, default timing: dt
{timing.dt:g} ms, {timing.step_ms:g} ms per decision) fed the observations of an optimal episode
(N+1 decisions), batch 1, median of 3; wall-clock on this machine. Linear fit: {slope * 1e3:.2f} ms
per decision + {intercept * 1e3:.1f} ms, R^2 = {r2:.4f}.

{table}

![scaling]({ctx.link(plot)})
"""
    ctx.write(SECTION, body)


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, intercept and R^2 of a least-squares line (a single point: slope 0, R^2 NaN)."""
    if len(x) < 2:
        return 0.0, float(y.mean()), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    fit = slope * x + intercept
    r2 = 1.0 - ((y - fit) ** 2).sum() / max(1e-30, ((y - y.mean()) ** 2).sum())
    return float(slope), float(intercept), float(r2)


def plot_scaling(path: Path, grid: TrainingGrid, results: dict, spike_cost: dict) -> None:
    from .plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for n in grid.corridors:
        ok = [r for r in (results.get((n, "ours", s)) for s in range(grid.seeds)) if r is not None]
        done = [r for r in ok if r.get("success_rate") is not None]
        axes[0].scatter([n] * len(done), [r["success_rate"] for r in done], color="tab:blue", s=14)
        axes[1].scatter([n] * len(ok), [r["wall_s"] for r in ok], color="tab:blue", s=14)
    axes[0].set_ylabel("final success")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("training wall-clock (s)")
    axes[1].set_yscale("log")
    x = np.array(grid.corridors)
    axes[2].plot(x + 1, [spike_cost[n] * 1e3 for n in grid.corridors], "o-", color="tab:purple")
    axes[2].set_xlabel("decisions per episode (N + 1)")
    axes[2].set_ylabel("spiking episode (ms wall-clock)")
    for ax in axes[:2]:
        ax.set_xlabel("corridor length N")
        ax.set_xscale("log")
        ax.set_xticks(x, [str(n) for n in grid.corridors])
    save_figure(fig, path)


CORRIDORS = (10, 20, 50, 100)
FULL = TrainingGrid(CORRIDORS, seeds=3, budgets={10: 500_000, 20: 1_000_000, 50: 2_000_000, 100: 4_000_000})
QUICK = TrainingGrid(CORRIDORS, seeds=1, budgets=dict.fromkeys(CORRIDORS, 2_048))
SECTION = Section("scaling", "Scaling with corridor length", run, FULL, QUICK, order=50)
