"""Figures of the comparison of an agent with its spiking twin.

A spike raster of one episode, its memory cells analog against spiking, AF against one simulated
ASN, and success and agreement against the decision time ``step_ms``. Every function saves its
figure to ``path`` and returns it (closed, still readable: tests check its labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .plots import pyplot

#: one colour per population of the twin, in the order of sublstm.spiking.POPULATIONS
COLORS = {
    "input": "tab:gray",
    "hidden": "tab:blue",
    "cell_input": "tab:green",
    "input_gate": "tab:red",
    "output_gate": "tab:orange",
    "output_cell": "tab:purple",
}
#: the constant inputs at which one simulated ASN is compared with AF
AF_INPUTS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5)


def _save(fig, path: str | Path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return fig


def raster(path: str | Path, raster: np.ndarray, slices: dict[str, slice], dt: float, step_ms: float):
    """Spikes of one episode, one row per neuron, coloured by population, with the decision steps.

    The legend names every population (silent ones too) and sits outside the axes, so it hides no
    neuron: the output cells are the top rows.
    """
    from matplotlib.lines import Line2D

    plt = pyplot()
    t_ms = (np.arange(raster.shape[0]) + 1) * dt
    decisions = round(raster.shape[0] * dt / step_ms)
    fig, ax = plt.subplots(figsize=(11, 5))
    handles = []
    for pop, sl in slices.items():
        ts, idx = np.nonzero(raster[:, sl])
        ax.scatter(t_ms[ts], idx + sl.start, s=4, marker="|", color=COLORS[pop])
        handles.append(Line2D([], [], ls="", marker="s", color=COLORS[pop], label=pop))
    for k in range(decisions + 1):
        ax.axvline(k * step_ms, color="k", lw=0.3, alpha=0.4)
    n = max(sl.stop for sl in slices.values())
    ax.set(
        xlabel="simulated time (ms)",
        ylabel="neuron",
        ylim=(-0.5, n - 0.5),
        title=f"Spike raster, episode 0 ({decisions} decisions)",
    )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return _save(fig, path)


def memory_cells(path: str | Path, spiking_c: np.ndarray, analog_c: np.ndarray, dt: float, step_ms: float):
    """The four largest memory cells of one episode: spiking at every dt, analog at each step's end."""
    plt = pyplot()
    t_ms = (np.arange(spiking_c.shape[0]) + 1) * dt
    steps = (np.arange(analog_c.shape[0]) + 1) * step_ms
    fig, ax = plt.subplots(figsize=(8, 4))
    for j, cell in enumerate(np.argsort(-np.abs(analog_c).max(0))[:4]):
        ax.plot(t_ms, spiking_c[:, cell], color=f"C{j}", lw=1, label=f"cell {cell} spiking")
        ax.plot(steps, analog_c[:, cell], "o--", color=f"C{j}", label=f"cell {cell} analog")
    ax.set(xlabel="simulated time (ms)", ylabel="memory cell c", title="Memory cells, episode 0")
    ax.legend(fontsize=7)
    return _save(fig, path)


def af_vs_asn(path: str | Path, params, dt: float = 1.0):
    """AF in closed form against the mean trace and rate of one ASN driven by constant inputs."""
    import torch
    from sublstm.agents.neuron import af
    from sublstm.spiking.asn import simulate_constant

    plt = pyplot()
    trace, rate = simulate_constant(
        list(AF_INPUTS), duration_ms=1000.0, settle_ms=300.0, params=params, dt=dt
    )
    grid = np.linspace(0, 5, 300)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, af(torch.as_tensor(grid), params).numpy(), label="AF (closed form)")
    ax.plot(AF_INPUTS, trace.numpy(), "o", label="simulated ASN: mean trace")
    ax2 = ax.twinx()
    ax2.plot(AF_INPUTS, rate.numpy(), "x", color="tab:red", label="rate")
    ax2.set_ylabel("firing rate (Hz)", color="tab:red")
    ax.set(xlabel="constant input x", ylabel="activation", title="Effective activation vs one simulated ASN")
    ax.legend(loc="lower right")
    return _save(fig, path)


def sweep(path: str | Path, rows: Sequence[dict], analog_success: float, level: float):
    """Spiking success and agreement against step_ms, one panel per recurrent delay.

    ``rows`` are sweep rows as dicts. The log axis is labelled at the swept values, in plain
    numbers ("100", "200", "300"), with no minor labels.
    """
    from matplotlib.ticker import NullFormatter

    plt = pyplot()
    delays = list(dict.fromkeys(r["recurrent_delay"] for r in rows))
    fig, axes = plt.subplots(1, len(delays), figsize=(6 * len(delays), 4), squeeze=False, sharey=True)
    for ax, delay in zip(axes[0], delays, strict=True):
        sub = sorted((r for r in rows if r["recurrent_delay"] == delay), key=lambda r: r["step_ms"])
        steps = [r["step_ms"] for r in sub]
        ax.plot(steps, [r["success_rate"] for r in sub], "o-", label="spiking success")
        ax.plot(steps, [r["teacher_forced_end"] for r in sub], "s-", label="agreement, teacher-forced (end)")
        ax.plot(
            steps, [r["teacher_forced_mean"] for r in sub], "^-", label="agreement, teacher-forced (mean)"
        )
        ax.plot(steps, [r["closed_loop"] for r in sub], "d-", label="agreement, closed loop")
        ax.axhline(analog_success, color="k", ls="--", lw=1, label="analog success")
        ax.axhline(level, color="gray", ls=":", lw=1, label=f"level {level:g}")
        ax.set_xscale("log")
        ax.set_xticks(steps, [f"{s:g}" for s in steps])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(xlabel="decision time step_ms", title=f"recurrent delay: {delay}")
    axes[0][0].set_ylabel("fraction")
    axes[0][0].legend(fontsize=7)
    return _save(fig, path)


def plot_comparison(folder: str | Path, agent, comparison) -> dict[str, Path]:
    """Every figure of ``comparison`` (a sublstm.spiking.Comparison of ``agent``) into ``folder``.

    The raster and memory-cell figures rerun episode 0 (the comparison's first seed): the analog
    agent for its observations and cells, the twin with the comparison's timing at every dt.
    """
    from sublstm.spiking import SpikingPolicy
    from sublstm.spiking.compare import analog_run, episode_trace

    folder = Path(folder)
    policy = SpikingPolicy.from_agent(agent, comparison.timing)
    net = policy.network
    analog = analog_run(agent, episodes=1, seed=comparison.seed)
    length = int(analog.rollout.lengths[0])
    trace = episode_trace(policy, analog.rollout.obs[:length, 0])
    paths = {
        "raster": folder / "raster.png",
        "memory_cell": folder / "memory_cell.png",
        "af_vs_asn": folder / "af_vs_asn.png",
    }
    raster(paths["raster"], trace["raster"], net.slices, net.dt, net.step_ms)
    memory_cells(paths["memory_cell"], trace["c"], analog.c[:length, 0].numpy(), net.dt, net.step_ms)
    af_vs_asn(paths["af_vs_asn"], net.params, net.dt)
    if comparison.sweep:
        paths["sweep"] = folder / "sweep.png"
        rows = comparison.to_dict()["sweep"]
        sweep(paths["sweep"], rows, comparison.analog_success, comparison.level)
    return paths
