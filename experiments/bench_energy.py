"""Section ``energy``: synaptic events per decision of a trained agent's spiking twin against the
analog network's multiply-accumulates per step, at the default and at the shortest safe step_ms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .bench import ENV_ID, BenchContext, Section, check_positive, show
from .grid_runs import summary_of, train_grid
from .reporting import TARGET_SUCCESS, markdown_table
from .store import RunStore

HEADER = [
    "setting",
    "step_ms",
    "spiking success",
    "decision agreement",
    "mean rate (Hz)",
    "spikes / decision",
    "synaptic events / decision",
    "analog MACs / step",
    "events / MAC",
]


@dataclass(frozen=True)
class EnergySettings:
    """Closed-loop ``episodes`` of the comparison, the swept step_ms, and the budget of the agent
    trained when neither ``--agent`` nor a solved sample-efficiency run is at hand."""

    episodes: int = 200
    sweep: tuple[float, ...] = (10, 20, 30, 50, 75, 100, 150, 200)
    budget: int = 500_000

    def validate(self) -> None:
        check_positive(self, "episodes", "budget")
        if not self.sweep or not all(isinstance(x, int | float) and x > 0 for x in self.sweep):
            raise ValueError(f"sweep must list positive step_ms values, got {self.sweep!r}")


def energy_agent(ctx: BenchContext, s: EnergySettings) -> Path:
    """A trained agent: ``ctx.agent``, else a solved corridor-10 run of the sample-efficiency
    section, else one trained here (corridor 10, seed 0)."""
    if ctx.agent is not None:
        return ctx.agent
    for record in RunStore(ctx.runs / "sample_efficiency").all().values():
        summary = summary_of(record)
        name = record.get("name", "")
        ckpt = Path(summary["out"]) / "agent.pt"
        if (
            name.startswith("N10-ours-")
            and (summary.get("success_rate") or 0) >= TARGET_SUCCESS
            and ckpt.is_file()
        ):
            return ckpt
    print("  training an agent for the energy figures (noisy T-maze, corridor 10, seed 0)", flush=True)
    result = train_grid(ctx, "energy", ("ours",), (10,), 1, {10: s.budget})[(10, "ours", 0)]
    if result is None:
        raise RuntimeError("training the energy section's agent failed; see its log under the runs folder")
    return Path(result["out"]) / "agent.pt"


def run(ctx: BenchContext, s: EnergySettings) -> None:
    from sublstm.spiking import TwinTiming

    from .comparing import run_comparison

    default = TwinTiming()
    sweep = sorted({*s.sweep, default.step_ms})  # the default belongs to the sweep it is judged by
    ckpt = energy_agent(ctx, s)
    out = ctx.runs / "energy" / "twin"  # beside the store of the agent trained here, not in it
    res = run_comparison(
        ckpt, out, episodes=s.episodes, seed=0, sweep_step_ms=sweep, plots=False, wandb="disabled", log=print
    )
    delay = str(res.timing.recurrent_delay_ms)
    safe = res.shortest_step_ms.get(delay)
    macs = res.analog_macs_per_step

    def row(label: str, step_ms, success, agree, rate, spikes, synops) -> list:
        return [label, f"{step_ms:g}", f"{success:.2f}", f"{agree:.3f}", f"{rate:.1f}", f"{spikes:,.0f}",
                f"{synops:,.0f}", f"{macs:,}", f"{synops / macs:,.1f}"]  # fmt: skip

    rows = [
        row(
            "default",
            res.timing.step_ms,
            res.spiking_success,
            res.teacher_forced_agreement,
            res.mean_rate_hz,
            res.spikes_per_decision,
            res.synaptic_events_per_decision,
        )  # fmt: skip
    ]
    if safe is not None:
        r = next(r for r in res.sweep if str(r.recurrent_delay) == delay and r.step_ms == safe)
        rows.append(row("shortest safe", safe, r.success_rate, r.teacher_forced, r.mean_rate_hz,
                        r.spikes_per_decision, r.synops_per_decision))  # fmt: skip
    table = markdown_table(HEADER, rows)
    print(table)
    ctx.results["energy"] = {"rows": rows, "safe_step_ms": safe}
    swept = ", ".join(f"{x:g}" for x in sweep)
    safe_text = (
        f"{safe:g} ms: the shortest step_ms of the sweep ({swept}) from which every longer one keeps "
        f">= {res.level:.0%} teacher-forced decision agreement with the analog network"
        if safe is not None
        else f"not found: no step_ms of the sweep kept >= {res.level:.0%} decision agreement"
    )
    body = f"""
The spiking twin of a trained agent (`{show(ckpt)}`, {res.env_id or ENV_ID} {res.env_kwargs}; analog
success {res.analog_success:.2f}) over {res.episodes} closed-loop episodes (`sublstm compare`
library, dt {res.timing.dt:g} ms, recurrent delay {delay}). A synaptic event is one spike delivered
to one target (neuron, memory cell or readout unit); the analog network's multiply-accumulates per
step count every weight once. Shortest safe step: {safe_text}. Raw output: `{show(out / "compare.json")}`.

{table}
"""
    ctx.write(SECTION, body)


SECTION = Section(
    "energy",
    "Energy proxy: synaptic events against multiply-accumulates",
    run,
    EnergySettings(),
    EnergySettings(episodes=20, sweep=(20, 100), budget=2_048),
    order=60,
)
