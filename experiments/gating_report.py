"""docs/gating.md and its figure, rendered from the gating grid's stored runs only.

The page is written whole on every render except its section *Reading*, the only hand-written
part, which is kept between ``<!-- reading -->`` markers.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from .gating import CORES, TEST_SEED, TRAIN_OVERRIDES, GatingGrid, GridStore, stored_runs
from .gating_stats import fmt_mean_sd, mean_sd, permutation_p, slope
from .plots import pyplot
from .reporting import markdown_table, median, write_text_atomic
from .runner import sessions

GATING = {"asn-sublstm": "subtractive", "asn-lstm": "multiplicative"}
TASK_ORDER = {"tmaze": 0, "seq2a": 1, "seq2b": 2}
READING_START, READING_END = "<!-- reading -->", "<!-- /reading -->"
BUDGET_NOTE = (
    "The T-maze cap is a compromise: the grid (50 T-maze runs) had to fit into about an hour on a "
    "2-core machine shared with other jobs, two runs at a time; it is far below the 300,000 "
    "timesteps of `sublstm validate`, so a seed that learns slowly is cut off rather than "
    "given time (the column *seeds at stop rule* counts those that reached it)."
)
#: per-seed result fields collected for each (task, noise, cell)
COLLECTED = (
    "analog_success",
    "spiking_success",
    "agreement",
    "agreement_final",
    "mean_rate_hz",
    "timesteps",
    "timesteps_to_stop",
    "updates",
    "spiking_final_xy",
)


def core_order(core: str) -> int:
    return CORES.index(core) if core in CORES else len(CORES)


def summarise(runs: dict[str, dict]) -> list[dict]:
    """One row per (task, noise, cell): the runs' results listed over seeds."""
    groups: dict[tuple, list[dict]] = {}
    for rec in runs.values():
        groups.setdefault((rec["task"], rec["noise"], rec["core"]), []).append(rec)
    rows = []
    for (task, noise, core), recs in sorted(
        groups.items(), key=lambda kv: (TASK_ORDER[kv[0][0]], kv[0][1], core_order(kv[0][2]))
    ):
        recs = sorted(recs, key=lambda r: r["seed"])
        res = [r["result"] for r in recs]
        rows.append(
            {"task": task, "noise": noise, "core": core, "seeds": [r["seed"] for r in recs]}
            | {k: [r.get(k) for r in res] for k in COLLECTED}
        )
    return rows


def cores_of(rows: Sequence[dict]) -> list[str]:
    return sorted({r["core"] for r in rows}, key=core_order)


def loss_lines(rows: list[dict], task: str) -> list[str]:
    """Sentences computed from the table: the conversion loss (analog - spiking) per cell."""
    out = []
    for core in cores_of(rows):
        sel = [r for r in rows if r["task"] == task and r["core"] == core]
        if not sel:
            continue
        losses = []
        for r in sel:
            loss = mean_sd([a - s for a, s in zip(r["analog_success"], r["spiking_success"], strict=True)])[0]
            losses.append(f"{r['noise']:g}: {loss:+.2f}")
        out.append(
            f"- {core} ({GATING.get(core, core)}): analog − spiking success by noise — " + ", ".join(losses)
        )
    return out


def pooled_comparison(runs: dict[str, dict]) -> list[str]:
    """The T-maze runs of each cell pooled over noise levels: conversion loss, its trend with noise,
    and the difference between the cells with a permutation test; all runs, then solved nets only."""
    cores = cores_of(list(runs.values()))
    table, notes = [], []
    for subset, keep in (("all", lambda r: True), ("analog ≥ 0.95", lambda r: r["analog_success"] >= 0.95)):
        losses = {}
        for core in cores:
            sel = [
                r for r in runs.values() if r["task"] == "tmaze" and r["core"] == core and keep(r["result"])
            ]
            loss = [r["result"]["analog_success"] - r["result"]["spiking_success"] for r in sel]
            losses[core] = loss
            if not sel:
                continue
            table.append(
                [
                    subset,
                    core,
                    len(sel),
                    f"{statistics.fmean(loss):+.3f}",
                    sum(x >= 0.1 for x in loss),
                    f"{slope([r['noise'] for r in sel], loss):+.3f}",
                    f"{statistics.fmean(r['result']['agreement'] for r in sel):.3f}",
                    f"{statistics.fmean(r['result']['agreement_final'] for r in sel):.3f}",
                ]
            )
        if len(cores) >= 2 and losses[cores[1]] and losses[cores[0]]:
            a, b = losses[cores[1]], losses[cores[0]]
            diff = statistics.fmean(a) - statistics.fmean(b)
            notes.append(
                f"- {subset}: mean loss {cores[1]} − {cores[0]} = {diff:+.3f}, "
                f"permutation p = {permutation_p(a, b):.2f} (two-sided, 20,000 permutations)"
            )
    header = [
        "runs",
        "cell",
        "n",
        "conversion loss (mean)",
        "runs losing ≥ 0.1",
        "loss vs noise (slope)",
        "agreement (mean)",
        "final agreement (mean)",
    ]
    return [markdown_table(header, table), "", *notes]


def make_figure(rows: list[dict], path: Path, corridor: int = 10) -> None:
    """Success (analog, spiking; every seed as a dot) and agreement against noise, per cell."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = {"asn-sublstm": "tab:blue", "asn-lstm": "tab:red"}
    cores = cores_of(rows)
    for k, core in enumerate(cores):
        sel = [r for r in rows if r["task"] == "tmaze" and r["core"] == core]
        if not sel:
            continue
        color = colors.get(core, f"C{k + 2}")
        xs = [r["noise"] for r in sel]
        for key, style, label, ax in (
            ("spiking_success", "o-", f"{core} ({GATING.get(core, core)}), spiking", axes[0]),
            ("analog_success", "s--", f"{core}, analog", axes[0]),
            ("agreement", "o-", f"{core} ({GATING.get(core, core)}), every decision", axes[1]),
            ("agreement_final", "^:", f"{core}, final decision", axes[1]),
        ):
            stats = [mean_sd(r[key]) for r in sel]
            ax.errorbar(
                xs, [m for m, _ in stats], yerr=[s for _, s in stats], fmt=style, color=color,
                capsize=3, label=label, alpha=0.9 if style.endswith("-") else 0.6,
            )  # fmt: skip
        # every seed's spiking success, shifted sideways per cell: the spread is bimodal
        shift = 0.015 if k % 2 else -0.015
        for r in sel:
            axes[0].scatter(
                [r["noise"] + shift] * len(r["spiking_success"]), r["spiking_success"], s=10,
                color=color, alpha=0.35, zorder=1,
            )  # fmt: skip
    axes[0].set(
        xlabel="corridor noise", ylabel="success rate (test episodes)", ylim=(0.3, 1.05),
        title=f"T-maze (corridor {corridor}): success, mean ± sd; dots: seeds (spiking)",
    )  # fmt: skip
    axes[1].set(
        xlabel="corridor noise", ylabel="decision agreement, teacher-forced", ylim=(0.3, 1.05),
        title="Spiking twin vs analog net, same observations",
    )  # fmt: skip
    axes[0].axhline(0.5, color="gray", lw=0.8, ls=":")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def read_reading(doc: Path) -> str:
    """The hand-written reading block of an existing doc, kept across re-renders."""
    text = doc.read_text() if doc.exists() else ""
    start, end = text.find(READING_START), text.find(READING_END)
    if start >= 0 and end > start:
        return text[start : end + len(READING_END)]
    return f"{READING_START}\n(not written yet)\n{READING_END}"


def machine_text(m: dict) -> str:
    """The machine of the first stored run (the grid's first runs stored a shorter stamp)."""
    from .reporting import machine_line

    if "commit" in m:
        return machine_line(m)
    return (
        f"{m['cpu']}, {m['cores']} cores (shared with other jobs), Python {m['python']}, torch "
        f"{m['torch']}, numpy {m['numpy']}, gymnasium {m['gymnasium']}"
    )


def session_command(session: dict) -> str:
    """The command of a recorded session (the first sessions stored the script's arguments only)."""
    if "command" in session:
        return session["command"]
    return " ".join(["python scripts/experiment_gating.py", *session["argv"]])


def setup_lines(grid: GatingGrid, runs: dict[str, dict]) -> list[str]:
    b = grid.budget
    twin = next(iter(runs.values()))["result"]["twin"]
    return [
        f"- **T-maze**: `sublstm/TMaze-v0`, corridor {grid.corridor}, noise ∈ "
        f"{{{', '.join(f'{x:g}' for x in grid.noises)}}} (corridor observation components 1 and 3 are "
        "(1 − noise) + noise·U[0,1]; noise 1 is the noisy T-maze). AdvantageAgent defaults "
        "(`sublstm.agents.Hyperparams`) except "
        + ", ".join(f"`{k}={v:g}`" for k, v in TRAIN_OVERRIDES.items())
        + " (no noise-aware training: see `TRAIN_OVERRIDES` in `sublstm.experiments.gating` for why), "
        f"trained until a deterministic evaluation on {b.rl_eval_episodes} episodes (every "
        f"{b.rl_eval_interval} timesteps) reaches {b.rl_stop_at_success:.0%} success, or at most "
        f"{b.rl_cap_timesteps:,} timesteps — the same budget and stop rule for both cells. " + BUDGET_NOTE,
        f"- **Test**: {b.test_episodes} episodes with env seeds {TEST_SEED}… (the same for analog and "
        "spiking, closed loop); *agreement* is the spiking twin's decision agreement with the analog net "
        "when fed the analog run's observations (teacher-forced, every decision); *final agreement* the "
        "same on each episode's last decision (the turn at the junction).",
        f"- **Sequence prediction** 2a / 2b (p = 10): `agents/supervised.py` (its defaults, batch 64), a "
        f"fixed {b.seq_updates:,} updates for both cells (no early stop: the analog nets solve the task "
        "within a few hundred updates, and a net stopped at its first perfect evaluation can keep "
        f"final-symbol margins too thin for any conversion); tested on {b.test_sequences} fresh "
        "sequences, the twin fed the one-hot symbols step by step; success = final-symbol accuracy.",
        f"- **Spiking twin**: SpikingPolicy defaults but the recurrent delay (step {twin['step_ms']:g} ms, "
        f"dt {twin['dt_ms']:g} ms, readout averaged over the last {twin['readout_window_ms']:g} ms, "
        f"recurrent delay {twin['recurrent_delay']}). Rate = mean firing rate of all ASNs over the "
        "closed-loop test (Hz).",
        f"- **Seeds**: {', '.join(str(s) for s in grid.seeds)}; mean ± sample sd over seeds.",
    ]


def tmaze_table(rows: list[dict]) -> str:
    header = [
        "noise", "cell", "analog success", "spiking success", "agreement", "final agreement",
        "rate (Hz)", "seeds at stop rule", "timesteps (median)",
    ]  # fmt: skip
    body = [
        [
            f"{r['noise']:g}",
            r["core"],
            fmt_mean_sd(r["analog_success"]),
            fmt_mean_sd(r["spiking_success"]),
            fmt_mean_sd(r["agreement"], ".3f"),
            fmt_mean_sd(r["agreement_final"]),
            fmt_mean_sd(r["mean_rate_hz"], ".0f"),
            f"{sum(t is not None for t in r['timesteps_to_stop'])}/{len(r['seeds'])}",
            f"{median(r['timesteps']):,.0f}",
        ]
        for r in rows
        if r["task"] == "tmaze"
    ]
    return markdown_table(header, body)


def sequence_table(rows: list[dict]) -> str:
    header = [
        "task", "cell", "analog final-symbol accuracy", "spiking final-symbol accuracy",
        "agreement (all steps)", "final agreement", "spiking final prediction is X or Y", "rate (Hz)",
        "updates (median)",
    ]  # fmt: skip
    body = [
        [
            r["task"],
            r["core"],
            fmt_mean_sd(r["analog_success"]),
            fmt_mean_sd(r["spiking_success"]),
            fmt_mean_sd(r["agreement"], ".3f"),
            fmt_mean_sd(r["agreement_final"]),
            fmt_mean_sd(r["spiking_final_xy"]),
            fmt_mean_sd(r["mean_rate_hz"], ".0f"),
            f"{median(r['updates']):,.0f}",
        ]
        for r in rows
        if r["task"] != "tmaze"
    ]
    return markdown_table(header, body)


def runs_table(runs: dict[str, dict]) -> str:
    header = ["run", "analog", "spiking", "agreement", "final agreement", "rate (Hz)", "trained", "wall (s)"]
    body = []
    for name, rec in sorted(runs.items()):
        r = rec["result"]
        trained = f"{r['timesteps']:,} steps" if "timesteps" in r else f"{r['updates']:,} updates"
        body.append(
            [
                name,
                f"{r['analog_success']:.2f}",
                f"{r['spiking_success']:.2f}",
                f"{r['agreement']:.3f}",
                f"{r['agreement_final']:.2f}",
                f"{r['mean_rate_hz']:.0f}",
                trained,
                f"{rec['wall_s']:.0f}",
            ]
        )
    return markdown_table(header, body)


def render(grid: GatingGrid, runs_dir: str | Path, doc: str | Path, figure: str | Path | None = None) -> Path:
    """Write ``doc`` (and its figure, default ``gating.png`` beside it) from the runs stored in
    ``runs_dir`` with the grid's budget; ValueError when there are none. Returns the doc's path."""
    runs_dir, doc = Path(runs_dir), Path(doc)
    figure = Path(figure) if figure is not None else doc.with_name("gating.png")
    runs = stored_runs(grid, runs_dir)
    if not runs:
        raise ValueError(f"no runs stored in {runs_dir} with this grid's budget; nothing to render")
    rows = summarise(runs)
    make_figure(rows, figure, grid.corridor)
    done = sessions(GridStore(runs_dir))
    run_s = sum(r["wall_s"] for r in runs.values())
    session_s = sum(s["wall_s"] for s in done)
    commands = list(dict.fromkeys(session_command(s) for s in done))
    jobs = sorted({s["jobs"] for s in done}) or [1]
    machine = machine_text(next(iter(runs.values()))["machine"])
    lines = [
        "# Subtractive vs multiplicative gating under spiking conversion",
        "",
        "Written by `sublstm gating` from the per-run results it stored in "
        f"`{os.path.relpath(runs_dir)}/`; do not edit by hand (the section *Reading* is kept "
        "across re-renders and is the only hand-written part).",
        "",
        "The claim tested (SCIENCE.md sections 1 and 8): with ASN activations, subtractive gating "
        "(`asn-sublstm`: c += z − i, h = AF(c) − o) converts to spikes far better than multiplicative "
        "gating (`asn-lstm`: c += z·i, h = AF(c)·o), and sensory noise makes the difference. The two "
        "cells have the same units, sizes, training, conversion and readout; only the gating differs. "
        "In the spiking twin a subtractive gate is an inhibitory synapse (a difference of post-synaptic "
        "traces), a multiplicative gate scales the post-synaptic trace at the synapse (a product of "
        "traces): the CEC integrates trace_z·trace_i / T and the recurrent gates (delayed by one step) "
        "and the readout see trace_oc·trace_og.",
        "",
        "## Setup",
        "",
        *setup_lines(grid, runs),
        "",
        "## How it was run",
        "",
        "Command: " + ", then ".join(f"`{c}`" for c in commands) + " (resumable: a rerun skips stored runs; "
        "`--render` rebuilds this page from them).  ",
        f"Machine: {machine}, one torch thread per run, {'/'.join(map(str, jobs))} run(s) in parallel.  ",
        f"Runs stored: {len(runs)} of {len(grid.cells())}. Wall-clock: {session_s / 60:.1f} min over "
        f"{len(done)} session(s); the runs themselves took {run_s / 60:.1f} min of "
        "process time in total (training and testing).",
        "",
        "## T-maze",
        "",
        f"![spiking and analog success against noise]({os.path.relpath(figure, doc.parent)})",
        "",
        tmaze_table(rows),
        "",
        "Conversion loss, computed from the table (mean over seeds of analog − spiking success):",
        "",
        *loss_lines(rows, "tmaze"),
        "",
        "Pooled over noise levels (the T-maze runs of each cell; *conversion loss* = analog − spiking "
        "success of one run; *slope*: least-squares trend of the loss with noise, per unit of noise; "
        "second block: only runs whose analog net reached 0.95 on the test episodes):",
        "",
        *pooled_comparison(runs),
        "",
        "## Sequence prediction (p = 10)",
        "",
        sequence_table(rows),
        "",
        "## Reading",
        "",
        read_reading(doc),
        "",
        "## Every run",
        "",
        runs_table(runs),
    ]
    write_text_atomic(doc, "\n".join(lines) + "\n")
    return doc
