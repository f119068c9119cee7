"""docs/gating.md and its figure, rendered from the gating grid's stored runs only.

The unit of every statistic is one trained net converted to one twin. Nets whose analog did not
solve the task (test success below ``SOLVED``) are counted and listed apart, never pooled. The page
is written whole on every render except its section *Reading*, the only hand-written part, kept
between ``<!-- reading -->`` markers.
"""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
from collections.abc import Sequence
from pathlib import Path

from .gating import (
    COLLAPSE,
    CORES,
    FULL,
    SOLVED,
    TEST_SEED,
    GatingGrid,
    GatingStore,
    products,
    stored_runs,
    twin_name,
)
from .gating_stats import (
    LEVEL,
    Estimate,
    bootstrap_difference,
    bootstrap_mean,
    bootstrap_slope,
    bootstrap_slope_difference,
    detectable_difference,
    detectable_mean_difference,
    newcombe,
    power_two_proportions,
    runs_for_power,
    wilson,
)
from .plots import pyplot
from .reporting import machine_line, markdown_table, write_text_atomic
from .runner import sessions
from .store import RunStore

READING_START, READING_END = "<!-- reading -->", "<!-- /reading -->"
REFERENCE = "asn-sublstm"  # every other twin is compared with the subtractive cell's
#: collapse rates of the previous grid (5 seeds x 5 noises per cell, no noise-aware training, a
#: one-step spike delay): 3/25 asn-sublstm, 7/25 asn-lstm twins lost the memory; the power rows ask
#: whether this grid could have told such rates apart
PREVIOUS_RATES = (0.12, 0.28)
TWINS = [twin_name(core, product) for core in CORES for product in products(core)]
COLORS = dict(zip(TWINS, ("tab:blue", "tab:red", "tab:orange", "tab:green", "tab:olive"), strict=True))


def members(runs: dict[str, dict]) -> list[dict]:
    """One row per (net, twin): task, noise, twin, seed, analog and spiking success, loss, solved."""
    rows = []
    for record in runs.values():
        for m in record["result"]["members"]:
            for product, twin in m["twins"].items():
                rows.append(
                    {
                        "task": record["task"],
                        "noise": record["noise"],
                        "twin": twin_name(record["core"], product),
                        "seed": m["seed"],
                        "analog": m["analog_success"],
                        "spiking": twin["spiking_success"],
                        "loss": m["analog_success"] - twin["spiking_success"],
                        "solved": m["analog_success"] >= SOLVED,
                        "agreement": twin["agreement"],
                        "agreement_final": twin["agreement_final"],
                        "rate": twin["mean_rate_hz"],
                        "rates": twin.get("rate_hz", {}),
                        "timesteps": m.get("timesteps"),
                    }
                )
    return rows


def select(rows: Sequence[dict], **where) -> list[dict]:
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def twins_of(rows: Sequence[dict]) -> list[str]:
    present = {r["twin"] for r in rows}
    return [t for t in TWINS if t in present]


def collapses(rows: Sequence[dict]) -> Estimate:
    return wilson(sum(r["loss"] >= COLLAPSE for r in rows), len(rows))


def same_noises(ref: Sequence[dict], rows: Sequence[dict]) -> list[dict]:
    """The reference rows at the noise levels ``rows`` has: a pooled comparison never sets one cell's
    noise levels against others."""
    levels = {r["noise"] for r in rows}
    return [r for r in ref if r["noise"] in levels]


def mean_of(rows: Sequence[dict], key: str) -> str:
    return f"{statistics.fmean(r[key] for r in rows):.3f}" if rows else "–"


GATES = ("cell_input", "input_gate", "output_gate")  # the populations a rate penalty can silence


def gate_rates(rows: Sequence[dict]) -> str:
    """Mean twin rates (Hz) of the cell input, input gate and output gate: ``z / i / o``."""
    per = [[r["rates"][g] for r in rows if g in r.get("rates", {})] for g in GATES]
    return " / ".join(f"{statistics.fmean(x):.0f}" for x in per) if all(per) else "–"


# -- tables ---------------------------------------------------------------------------------------------
def condition_table(rows: list[dict], task: str) -> str:
    """Per (noise, twin), solved nets only: losses and collapses with their intervals."""
    header = [
        "noise", "twin", "solved / trained", "analog success", "spiking success", "conversion loss [95 % CI]",
        "collapse rate [95 % CI]", "agreement", "final agreement", "rate (Hz)", "z / i / o rate (Hz)",
    ]  # fmt: skip
    body = []
    for noise in sorted({r["noise"] for r in select(rows, task=task)}):
        for twin in twins_of(rows):
            every = select(rows, task=task, noise=noise, twin=twin)
            if not every:
                continue
            sel = [r for r in every if r["solved"]]
            c = collapses(sel)
            body.append(
                [
                    f"{noise:g}",
                    twin,
                    f"{len(sel)} / {len(every)}",
                    mean_of(sel, "analog"),
                    mean_of(sel, "spiking"),
                    bootstrap_mean([r["loss"] for r in sel]).text(".3f", signed=True),
                    f"{c.text('.2f')} ({sum(r['loss'] >= COLLAPSE for r in sel)}/{len(sel)})",
                    mean_of(sel, "agreement"),
                    mean_of(sel, "agreement_final"),
                    f"{statistics.fmean(r['rate'] for r in sel):.0f}" if sel else "–",
                    gate_rates(sel),
                ]
            )
    return markdown_table(header, body)


def difference_table(rows: list[dict], task: str) -> str:
    """Each twin minus asn-sublstm's, per noise and pooled over noise (solved nets)."""
    header = [
        "twin − asn-sublstm", "noise", "n (twin, ref)", "Δ conversion loss [95 % CI]",
        "Δ collapse rate [95 % CI]",
    ]  # fmt: skip
    body = []
    solved = [r for r in select(rows, task=task) if r["solved"]]
    noises = sorted({r["noise"] for r in solved})
    for twin in twins_of(solved):
        if twin == REFERENCE:
            continue
        for noise in [*noises, None] if len(noises) > 1 else noises:
            where = {} if noise is None else {"noise": noise}
            a = select(solved, twin=twin, **where)
            b = same_noises(select(solved, twin=REFERENCE, **where), a)
            if not a or not b:
                continue
            ka, kb = (sum(r["loss"] >= COLLAPSE for r in x) for x in (a, b))
            body.append(
                [
                    twin,
                    "pooled" if noise is None else f"{noise:g}",
                    f"{len(a)}, {len(b)}",
                    bootstrap_difference([r["loss"] for r in a], [r["loss"] for r in b]).text(".3f", True),
                    newcombe(ka, len(a), kb, len(b)).text(".2f", signed=True),
                ]
            )
    return markdown_table(header, body)


def trend_table(rows: list[dict], task: str) -> str:
    """Least-squares trend with noise (per unit of noise) of the loss and of collapse, per twin, and
    the difference of the loss trend from asn-sublstm's (solved nets; runs resampled per noise)."""
    header = [
        "twin", "loss vs noise (slope) [95 % CI]", "collapse vs noise (slope) [95 % CI]",
        "loss slope − asn-sublstm's [95 % CI]",
    ]  # fmt: skip
    solved = [r for r in select(rows, task=task) if r["solved"]]
    ref = select(solved, twin=REFERENCE)
    body = []
    for twin in twins_of(solved):
        sel = select(solved, twin=twin)
        xs = [r["noise"] for r in sel]
        mine = same_noises(ref, sel)
        diff = (
            "–"
            if twin == REFERENCE or not mine
            else bootstrap_slope_difference(
                (xs, [r["loss"] for r in sel]), ([r["noise"] for r in mine], [r["loss"] for r in mine])
            ).text(".3f", True)
        )
        body.append(
            [
                twin,
                bootstrap_slope(xs, [r["loss"] for r in sel]).text(".3f", True),
                bootstrap_slope(xs, [float(r["loss"] >= COLLAPSE) for r in sel]).text(".3f", True),
                diff,
            ]
        )
    return markdown_table(header, body)


def power_table(rows: list[dict], task: str) -> str:
    """What the grid could detect, per twin against asn-sublstm (solved nets): per noise level (the
    smallest n) and pooled."""
    header = [
        "twin vs asn-sublstm", "n per noise (smallest)", "n pooled",
        f"power, collapse {PREVIOUS_RATES[0]:.2f} vs {PREVIOUS_RATES[1]:.2f}: per noise / pooled",
        "collapse rise detectable (80 %): per noise / pooled", "loss difference detectable (80 %), pooled",
    ]  # fmt: skip
    solved = [r for r in select(rows, task=task) if r["solved"]]
    ref = select(solved, twin=REFERENCE)
    if not ref:
        return markdown_table(header, [])
    base = sum(r["loss"] >= COLLAPSE for r in ref) / len(ref)
    noises = sorted({r["noise"] for r in solved})
    body = []
    for twin in twins_of(solved):
        if twin == REFERENCE:
            continue
        sel = select(solved, twin=twin)
        ref = same_noises(select(solved, twin=REFERENCE), sel)
        n_noise = min(
            min(len(select(sel, noise=x)), len(select(ref, noise=x))) for x in noises if select(sel, noise=x)
        )
        sd = [statistics.stdev([r["loss"] for r in x]) if len(x) > 1 else math.nan for x in (sel, ref)]
        p1, p2 = PREVIOUS_RATES
        body.append(
            [
                twin,
                str(n_noise),
                f"{len(sel)}, {len(ref)}",
                f"{power_two_proportions(p2, p1, n_noise, n_noise):.2f} / "
                f"{power_two_proportions(p2, p1, len(sel), len(ref)):.2f}",
                f"{_fmt(detectable_difference(base, n_noise, n_noise))} / "
                f"{_fmt(detectable_difference(base, len(sel), len(ref)))}",
                "– (no spread)"
                if sd[0] == sd[1] == 0
                else _fmt(detectable_mean_difference(sd[0], sd[1], len(sel), len(ref)), ".3f"),
            ]
        )
    return markdown_table(header, body)


def _fmt(x: float, spec: str = ".2f") -> str:
    return "–" if math.isnan(x) else f"{x:{spec}}"


def unsolved_table(rows: list[dict]) -> str:
    """Nets whose analog did not solve the task, per condition: how many and their twins' losses."""
    header = ["task", "noise", "twin", "unsolved / trained", "their analog success", "their conversion loss"]
    body = []
    for (task, noise, twin), every in _groups(rows).items():
        bad = [r for r in every if not r["solved"]]
        if bad:
            body.append(
                [
                    task,
                    f"{noise:g}",
                    twin,
                    f"{len(bad)} / {len(every)}",
                    ", ".join(f"{r['analog']:.2f}" for r in bad),
                    ", ".join(f"{r['loss']:+.2f}" for r in bad),
                ]
            )
    return markdown_table(header, body) if body else "None: every trained net solved its task."


def _groups(rows: list[dict]) -> dict[tuple, list[dict]]:
    order = {"tmaze": 0, "seq2a": 1, "seq2b": 2}
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["task"], r["noise"], r["twin"]), []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1], TWINS.index(kv[0][2]))))


def runs_table(runs: dict[str, dict]) -> str:
    header = ["run", "nets", "analog solved", "train (s)", "convert and test (s)", "wall (s)"]
    body = []
    for name, rec in sorted(runs.items()):
        ms, r = rec["result"]["members"], rec["result"]
        body.append(
            [
                name,
                len(ms),
                sum(m["analog_success"] >= SOLVED for m in ms),
                f"{r['train_wall_s']:.0f}",
                f"{r['eval_wall_s']:.0f}",
                f"{rec['wall_s']:.0f}",
            ]
        )
    return markdown_table(header, body)


def time_split(runs: dict[str, dict]) -> str:
    """Where the blocks' time went, per cell: training against converting and testing."""
    by_core: dict[str, list[float]] = {}
    for rec in runs.values():
        split = by_core.setdefault(rec["core"], [0.0, 0.0])
        split[0] += rec["result"]["train_wall_s"]
        split[1] += rec["result"]["eval_wall_s"]
    parts = [
        f"{core} {train / 60:.0f} min training, {test / 60:.0f} min converting and testing "
        f"({test / (train + test):.0%})"
        for core, (train, test) in sorted(by_core.items(), key=lambda kv: CORES.index(kv[0]))
        if train + test > 0
    ]
    return "Where the time went: " + "; ".join(parts) + "."


# -- figure -----------------------------------------------------------------------------------------------
def make_figure(rows: list[dict], path: Path, corridor: int) -> None:
    """T-maze, solved nets: collapse rate (Wilson CI) and mean conversion loss (bootstrap CI) by noise."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    solved = [r for r in select(rows, task="tmaze") if r["solved"]]
    twins = twins_of(solved)
    for k, twin in enumerate(twins):
        noises = sorted({r["noise"] for r in select(solved, twin=twin)})
        shift = (k - (len(twins) - 1) / 2) * 0.012
        xs = [x + shift for x in noises]
        for ax, stat in ((axes[0], collapses), (axes[1], lambda s: bootstrap_mean([r["loss"] for r in s]))):
            est = [stat(select(solved, twin=twin, noise=x)) for x in noises]
            ax.errorbar(
                xs, [e.value for e in est],
                # at 0 (one outcome, a bootstrap of equal values) rounding can put a bound a hair
                # past the estimate: matplotlib refuses negative error bars
                yerr=[[max(0.0, e.value - e.low) for e in est], [max(0.0, e.high - e.value) for e in est]],
                fmt="o-" if twin.endswith("spikes") is False else "s--", capsize=3,
                color=COLORS.get(twin), label=twin,
            )  # fmt: skip
    levels = {r["noise"] for r in solved}
    n = min((len(select(solved, twin=t, noise=x)) for t in twins for x in levels), default=0)
    axes[0].set(
        xlabel="corridor noise", ylabel=f"collapse rate (loss ≥ {COLLAPSE:g})", ylim=(-0.02, 1.02),
        title=f"T-maze corridor {corridor}: twins that lost the memory ({LEVEL:.0%} Wilson CI)",
    )  # fmt: skip
    axes[1].set(
        xlabel="corridor noise", ylabel="conversion loss (analog − spiking success)",
        title=f"mean conversion loss ({LEVEL:.0%} bootstrap CI)",
    )  # fmt: skip
    fig.suptitle(f"solved nets only, ≥ {n} per point", fontsize=9, y=0.01, x=0.99, ha="right", va="bottom")
    for ax in axes:
        ax.set(xlim=(-0.08, 1.08), xticks=FULL.noises)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# -- the page ---------------------------------------------------------------------------------------------
def read_reading(doc: Path) -> str:
    """The hand-written reading block of an existing doc, kept across re-renders."""
    text = doc.read_text() if doc.exists() else ""
    start, end = text.find(READING_START), text.find(READING_END)
    if start >= 0 and end > start:
        return text[start : end + len(READING_END)]
    return f"{READING_START}\n(not written yet)\n{READING_END}"


def setup_lines(grid: GatingGrid, runs: dict[str, dict]) -> list[str]:
    tmaze = next((r for r in runs.values() if r["task"] == "tmaze"), None)
    any_run = next(iter(runs.values()))
    twin = any_run["settings"]["twin"]
    lines = [
        "- **Cells**: `asn-sublstm` (c += z − i, h = AF(c) − o), `asn-lstm` (c += z·i, h = AF(c)·o, "
        "AF gates) and `asn-lstm-bounded` (the same with gates G = min(AF, 1) in [0, 1], "
        "`sublstm.agents.gates`); same units, sizes, training and conversion. **Twins**: the cell name "
        "alone is the twin with the exact product at the synapse; `+spikes` is the twin whose products "
        "are carried by the gate neurons' spikes (`sublstm.spiking.multiplicative`; docs/science.md "
        "says what each assumes).",
    ]
    if tmaze is not None:
        s = tmaze["settings"]
        learn, hp = s["learn"], s["hyperparams"]
        noisy = ", ".join(f"`{k}={hp[k]}`" for k in sorted(hp) if "noise" in k or "rate" in k)
        noises = sorted({r["noise"] for r in runs.values() if r["task"] == "tmaze"})
        rule = rule_text(s.get("hyperparam_overrides", {}))
        lines.append(
            f"- **T-maze**: `sublstm/TMaze-v0`, corridor {s['corridor']}, noise ∈ "
            f"{{{', '.join(f'{x:g}' for x in noises)}}}; "
            f"trained as populations of {s['population']} seeds (`sublstm.agents.population`) with the "
            f"package's hyperparameter defaults of the day{rule} ({noisy}) and the stop rule of "
            "`sublstm train`: "
            f"success ≥ {learn['stop_at_success']} in {learn['stop_patience']} evaluations in a row "
            f"({learn['eval_episodes']} episodes every {learn['eval_interval']:,} steps), at most "
            f"{learn['total_timesteps']:,} steps per agent. Tested on {s['test_episodes']} episodes "
            f"(env seeds {TEST_SEED}…), the same for the analog net and each twin (closed loop)."
            + start_rule_text(hp)
        )
    seq = next((r for r in runs.values() if r["task"] != "tmaze"), None)
    if seq is not None:
        s = seq["settings"]
        q = s["sequence"]
        rule = rule_text(s.get("hyperparam_overrides", {}))
        noisy = ", ".join(f"`{k}={q[k]}`" for k in sorted(q) if "noise" in k or "rate" in k)
        rate_stop = (
            "accuracy alone, as the T-maze stops on success alone (`stop_at_rate_hz=None`, the grid's pin)"
            if q.get("stop_at_rate_hz", 8.0) is None
            else f"a predicted rate of at most {q.get('stop_at_rate_hz', 8.0)} Hz besides"
        )
        lines.append(
            "- **Sequence prediction** 2a / 2b (p = 10): `train_sequence` with the defaults of "
            f"`sublstm train --task sequence`{rule} ({noisy}): batches of {q['batch_size']}, stop once "
            f"{q.get('stop_patience', 3)} evaluations in a row ({q['eval_sequences']:,} fresh sequences "
            f"every {q['eval_every']} updates) reach final-symbol accuracy {q['stop_at_accuracy']}, "
            f"on {rate_stop}; at most {q['max_updates']:,} updates. Tested on {s['test_sequences']} "
            "fresh sequences, the twin fed the one-hot symbols step by step; success = final-symbol "
            "accuracy."
        )
    lines += [
        "- **Conversion**: `TwinTiming` defaults of the day ("
        + ", ".join(f"{k} {v}" for k, v in twin.items())
        + ").",
        f"- **Statistics**: a net *solved* the task when its analog test success is ≥ {SOLVED}; only "
        "solved nets enter the tables and comparisons, the others are listed apart. Conversion loss = "
        f"analog − spiking success of one net; *collapse*: loss ≥ {COLLAPSE:g}. Intervals are "
        f"{LEVEL:.0%}: Wilson for rates, Newcombe's hybrid score for differences of rates, percentile "
        "bootstrap (10,000 resamples; runs resampled within each noise level for slopes) for means, "
        "differences of means and slopes. Power: two-sided two-proportion z-test at 5 %.",
    ]
    return lines


def start_rule_text(hp: dict) -> str:
    """When a population member's updates begin, and how runs stored before the option read."""
    unit = hp.get("learning_starts_unit")
    if unit == "steps":
        return (
            f" A member's updates begin once it has taken {hp['learning_starts']} steps and finished "
            f'{hp["n_envs"]} episodes (`learning_starts_unit="steps"`, the grid\'s pin: how every '
            "population counted `learning_starts` before the option existed; stored runs without the "
            'field were made that way, read as "steps" and pool with the new ones).'
        )
    return f" `learning_starts={hp['learning_starts']}` counted in {unit}." if unit else ""


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def rule_text(overrides: dict) -> str:
    """`` and the overrides rate_penalty=0.5 applied to every cell`` (empty without overrides)."""
    if not overrides:
        return ""
    return (
        " and the overrides "
        + ", ".join(f"`{k}={v}`" for k, v in overrides.items())
        + " applied to every cell"
    )


def other_runs(runs: dict[str, dict], runs_dir: Path) -> dict[str, dict]:
    """The stored runs not shown in the tables (made under other settings), by name."""
    return {
        n: r
        for n, r in GatingStore(runs_dir).all().items()
        if n not in runs and "members" in r.get("result", {})
    }


def settings_diff(record: dict, runs: dict[str, dict]) -> list[str]:
    """How ``record``'s settings differ from those of the shown runs of its task kind."""
    shown = {r["task"] == "tmaze": _flat(r["settings"]) for r in runs.values()}
    ref = shown.get(record["task"] == "tmaze")
    if ref is None:
        return []
    mine = _flat(record["settings"])
    return sorted(
        f"`{k}` {mine.get(k)} (here {ref.get(k)})" for k in set(mine) | set(ref) if mine.get(k) != ref.get(k)
    )


def other_defaults_lines(runs: dict[str, dict], runs_dir: Path) -> list[str]:
    """The stored runs left out because they were made under other settings, and how those settings
    differ from the ones shown."""
    others = other_runs(runs, runs_dir)
    if not others:
        return []
    diffs = {d for r in others.values() for d in settings_diff(r, runs)}
    return [
        f"- {len(others)} stored run(s) were made under other settings "
        f"({'; '.join(sorted(diffs)) or 'another budget'}); "
        "they stay in the store, are not pooled with these and are summarised in *Runs under other settings*."
    ]


def other_runs_section(runs: dict[str, dict], runs_dir: Path) -> list[str]:
    """Per group of runs made under the same other settings: what differs, and per condition how
    many nets solved the task and the exact twins' gate rates (a rate penalty can silence gates)."""
    groups: dict[tuple, dict[str, dict]] = {}
    for name, record in other_runs(runs, runs_dir).items():
        groups.setdefault(tuple(settings_diff(record, runs)), {})[name] = record
    if not groups:
        return []
    header = [
        "task",
        "noise",
        "twin",
        "solved / trained",
        "median analog success",
        "rate (Hz)",
        "z / i / o rate (Hz)",
    ]
    out = ["", "## Runs under other settings (not pooled)", ""]
    for diff, group in sorted(groups.items(), key=lambda kv: sorted(kv[1])[0]):
        rows = [r for r in members(group) if "+" not in r["twin"]]  # the exact twin of each net
        body = [
            [
                task,
                f"{noise:g}",
                twin,
                f"{sum(r['solved'] for r in every)} / {len(every)}",
                f"{statistics.median(r['analog'] for r in every):.2f}",
                f"{statistics.fmean(r['rate'] for r in every):.0f}",
                gate_rates(every),
            ]
            for (task, noise, twin), every in _groups(rows).items()
        ]
        out += [
            f"Runs {', '.join(f'`{n}`' for n in sorted(group))}; settings that differ from the tables': "
            f"{'; '.join(diff) or 'none'}.",
            "",
            markdown_table(header, body),
            "",
        ]
    return out[:-1]


def completion_command(grid: GatingGrid) -> str:
    """The command that completes the full grid with this grid's budget (resumable)."""
    parts = ["sublstm gating --jobs 2"]
    default = dataclasses.asdict(FULL.budget)
    parts += [
        f"budget.{k}={v}"
        for k, v in dataclasses.asdict(grid.budget).items()
        if default[k] != v and k != "hyperparams"
    ]
    parts += [f"budget.hyperparams.{k}={v}" for k, v in sorted(grid.budget.hyperparams.items())]
    if grid.corridor != FULL.corridor:
        parts.append(f"grid.corridor={grid.corridor}")
    return " ".join(parts)


def coverage_lines(grid: GatingGrid, rows: list[dict]) -> list[str]:
    """How far the stored runs are from the full grid (every task, 64 seeds per condition)."""
    have = {}
    for (task, _noise, _twin), every in _groups(rows).items():
        have.setdefault(task, []).append(len(every))
    out = []
    for task in FULL.tasks:
        if task not in have:
            out.append(f"- {task}: not run yet.")
            continue
        seeds = min(have[task])
        status = "complete" if seeds >= FULL.seeds else f"{FULL.seeds - seeds} seeds per condition missing"
        out.append(f"- {task}: {seeds} seeds per condition (the issue asks for ≥ {FULL.seeds}): {status}.")
    missing_noise = [x for x in FULL.noises if x not in {r["noise"] for r in select(rows, task="tmaze")}]
    if missing_noise and "tmaze" in have:
        out.append(f"- T-maze noise levels not run: {', '.join(f'{x:g}' for x in missing_noise)}.")
    out.append(
        "- Corridor 20 not run. Command that completes the grid from the stored runs: "
        f"`{completion_command(grid)}` (resumable; `--address auto` runs it on a Ray cluster)."
    )
    return out


def render(grid: GatingGrid, runs_dir: str | Path, doc: str | Path, figure: str | Path | None = None) -> Path:
    """Write ``doc`` (and its figure, default ``gating.png`` beside it) from the runs stored in
    ``runs_dir`` with today's defaults and the grid's budget; ValueError when there are none."""
    runs_dir, doc = Path(runs_dir), Path(doc)
    figure = Path(figure) if figure is not None else doc.with_name("gating.png")
    runs = stored_runs(grid, runs_dir)
    if not runs:
        raise ValueError(f"no runs stored in {runs_dir} with this grid's budget and today's defaults")
    rows = members(runs)
    make_figure(rows, figure, grid.corridor)
    done = sessions(RunStore(runs_dir))
    commands = list(dict.fromkeys(s["command"] for s in done))
    executors = sorted({f"{s.get('executor', 'serial')} ×{s['jobs']}" for s in done})
    run_s = sum(r["wall_s"] for r in runs.values())
    session_s = sum(s["wall_s"] for s in done)
    tasks = sorted({r["task"] for r in rows}, key=["tmaze", "seq2a", "seq2b"].index)
    nets = {(r["task"], r["noise"], r["twin"].split("+")[0], r["seed"]) for r in rows}
    overrides = grid.budget.hyperparams
    title = "# Subtractive vs multiplicative gating under spiking conversion"
    if overrides:  # one page per training rule: the title names it
        title += " (rule: " + ", ".join(f"`{k}={v}`" for k, v in sorted(overrides.items())) + ")"
    lines = [
        title,
        "",
        "Written by `sublstm gating` from the runs it stored in "
        f"`{os.path.relpath(runs_dir, doc.parent.parent if doc.parent.name == 'docs' else doc.parent)}/`; "
        "do not edit by hand (the section *Reading* is kept across re-renders and is the only "
        "hand-written part).",
        "",
        "The claim tested (SCIENCE.md sections 1 and 8): with ASN activations, subtractive gating "
        "converts to spikes far better than multiplicative gating, and sensory noise makes the "
        "difference. Question asked of the data: do multiplicative twins lose more of their analog "
        "net's success (conversion loss) or collapse more often, and does the gap grow with noise?",
        "",
        "## Setup",
        "",
        *setup_lines(grid, runs),
        "",
        "## How it was run",
        "",
        "Commands that filled the store (runs under other settings included): "
        + (", then ".join(f"`{c}`" for c in commands) or "(no session recorded)")
        + " (resumable: a rerun skips stored runs; "
        "`--render` rebuilds this page from them).  ",
        f"Machine: {machine_line(next(iter(runs.values()))['machine'])}.  ",
        f"Executor: {', '.join(executors) or '(no session recorded)'}; one torch thread per run.  ",
        f"Stored runs (blocks of seeds): {len(runs)}; trained nets: {len(nets)}. "
        f"Wall-clock: {session_s / 60:.1f} min over {len(done)} session(s); the runs took "
        f"{run_s / 60:.1f} min of process time (training, conversion and tests). {time_split(runs)}",
        "",
        "What is missing against the issue's grid:",
        "",
        *coverage_lines(grid, rows),
        *other_defaults_lines(runs, runs_dir),
    ]
    if "tmaze" in tasks:
        lines += [
            "",
            "## T-maze",
            "",
            f"![collapse rate and conversion loss against noise]({os.path.relpath(figure, doc.parent)})",
            "",
            "Per condition (solved nets only):",
            "",
            condition_table(rows, "tmaze"),
            "",
            "Differences from asn-sublstm (positive: the multiplicative twin loses more):",
            "",
            difference_table(rows, "tmaze"),
            "",
            "Trend with noise:",
            "",
            trend_table(rows, "tmaze"),
            "",
            "Power of this grid (solved nets):",
            "",
            power_table(rows, "tmaze"),
        ]
    for task in tasks:
        if task == "tmaze":
            continue
        lines += [
            "",
            f"## Sequence prediction {task[3:]} (p = 10)",
            "",
            "Per cell (solved nets only; success = final-symbol accuracy; the noise column is "
            + ("1: the middle symbols are random" if task == "seq2b" else "0: the middle symbols are fixed")
            + "):",
            "",
            condition_table(rows, task),
            "",
            "Differences from asn-sublstm (positive: the multiplicative twin loses more):",
            "",
            difference_table(rows, task),
            "",
            "Power (solved nets):",
            "",
            power_table(rows, task),
        ]
    lines += [
        "",
        "## Nets that did not solve the task (reported apart)",
        "",
        unsolved_table(rows),
        *other_runs_section(runs, runs_dir),
        "",
        "## Reading",
        "",
        read_reading(doc),
        "",
        "## Every stored run",
        "",
        runs_table(runs),
    ]
    write_text_atomic(doc, "\n".join(lines) + "\n")
    return doc


__all__ = ["render", "members", "runs_for_power"]
