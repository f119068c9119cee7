"""A comparison run: an agent against its spiking twin, written to a run folder.

    from sublstm.experiments.comparing import run_comparison, format_comparison

    result = run_comparison("runs/x/agent.pt")  # runs/x/compare.json, runs/x/compare/*.png
    print(format_comparison(result))

The measurement is :func:`sublstm.spiking.compare.compare`; this module adds the files: the
result as JSON (atomic), the figures and the resolved settings under ``<out>/compare/``, a wandb
run there (offline by default, never in the current folder), and a block for docs/results.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sublstm.spiking.compare import AGREEMENT_LEVEL, Comparison, compare, sweep_timings
from sublstm.spiking.timing import TimingError, TwinTiming, parse_delay, resolve_timing

from .reporting import command_line, fmt, machine_info, machine_line, markdown_table, write_block, write_json
from .tracking import check_wandb_mode, log_images, start_wandb
from .training_config import check_device

#: the docs/results.md section comparison blocks go into
DOC_SECTION = "Spiking twin"
DEFAULT_SWEEP = (100.0, 200.0, 300.0)


@dataclass(frozen=True)
class CompareSettings:
    """What a comparison run measures and writes (the ``compare`` section of a config file).

    Attributes:
        episodes: episodes per run, side by side (episode k reset with seed + k).
        seed: the first episode's seed.
        sweep_step_ms: decision times swept (empty: no sweep).
        sweep_delays: recurrent delays swept ("step", "hold" or ms); empty: the twin's own.
        level: the agreement a step_ms must keep to count as safe.
        plots: write the figures.
        wandb: "offline", "online" or "disabled".
        device: torch device the agent is loaded on.
    """

    episodes: int = 200
    seed: int = 0
    sweep_step_ms: Sequence[float] = DEFAULT_SWEEP
    sweep_delays: Sequence[float | str] = ()
    level: float = AGREEMENT_LEVEL
    plots: bool = True
    wandb: str = "offline"
    device: str = "cpu"

    def __post_init__(self) -> None:
        # lists from a config file become tuples (the settings are frozen), ints become floats
        for name in ("sweep_step_ms", "sweep_delays"):
            value = getattr(self, name)
            if isinstance(value, list | tuple):
                value = tuple(
                    float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value
                )
                object.__setattr__(self, name, value)

    def validate(self) -> CompareSettings:
        """Raise ValueError naming the first bad field; returns self."""
        if isinstance(self.episodes, bool) or not isinstance(self.episodes, int) or self.episodes < 1:
            raise ValueError(f"episodes must be an integer >= 1, got {self.episodes!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if isinstance(self.level, bool) or not isinstance(self.level, int | float) or not 0 < self.level <= 1:
            raise ValueError(f"level must be a number in (0, 1], got {self.level!r}")
        steps = self.sweep_step_ms
        if not isinstance(steps, tuple) or not all(isinstance(v, float) for v in steps):
            raise ValueError(f"sweep_step_ms must be a list of numbers of ms, got {steps!r}")
        if not isinstance(self.sweep_delays, tuple):
            raise ValueError(
                f"sweep_delays must be a list of delays (ms, 'step', 'hold'), got {self.sweep_delays!r}"
            )
        check_wandb_mode(self.wandb, "wandb")
        check_device(self.device, "device")
        return self


def load_agent(path: str | Path, device: str = "cpu"):
    """An AdvantageAgent from a checkpoint file; ValueError naming the path if it is none."""
    from sublstm.agents.agent import AdvantageAgent

    path = Path(path)
    if path.is_dir():
        hint = f" (did you mean {path / 'agent.pt'}?)" if (path / "agent.pt").is_file() else ""
        raise ValueError(f"checkpoint {path} is a folder, not a checkpoint file{hint}")
    if not path.is_file():
        raise ValueError(f"checkpoint {path}: no such file")
    try:
        return AdvantageAgent.load(path, device=device)
    except ValueError as exc:  # CheckpointError included: the message starts with the path
        raise ValueError(f"checkpoint {exc}") from None


def check_sweep(settings: CompareSettings, timing: TwinTiming) -> list[float | str]:
    """The recurrent delays to sweep (the twin's own if none are set); ValueError naming the field
    (sweep_step_ms, sweep_delays) of a value the twin cannot run."""
    try:
        delays = [parse_delay(d) for d in settings.sweep_delays] or [timing.recurrent_delay_ms]
        sweep_timings(timing, settings.sweep_step_ms, delays)
    except TimingError as exc:
        field = "sweep_step_ms" if exc.field == "step_ms" else "sweep_delays"
        raise ValueError(f"{field}: {exc}") from None
    return delays


def run_comparison(
    agent_or_checkpoint_path,
    out: str | Path | None = None,
    *,
    episodes: int = 200,
    seed: int = 0,
    timing: TwinTiming | None = None,
    sweep_step_ms: Sequence[float] = DEFAULT_SWEEP,
    sweep_delays: Sequence[float | str] = (),
    level: float = AGREEMENT_LEVEL,
    plots: bool = True,
    wandb: str = "offline",
    device: str = "cpu",
    json_path: str | Path | None = None,
    doc: str | Path | None = None,
    command: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Comparison:
    """Compare an agent (or the agent in a checkpoint) with its twin and write the run's files.

    ``out`` (default: the checkpoint's folder; with an agent object and no ``out`` nothing is
    written) receives ``compare.json`` (or ``json_path``), and ``compare/`` the figures, the
    resolved settings (``config.json``) and the wandb run. ``doc`` names a markdown file whose
    "Spiking twin" section gets this run's block. Every argument is checked before anything is
    run or written.
    """
    timing = resolve_timing(timing)
    settings = CompareSettings(
        episodes, seed, tuple(sweep_step_ms or ()), tuple(sweep_delays or ()), level, plots, wandb, device
    ).validate()
    delays = check_sweep(settings, timing)
    checkpoint = None
    if isinstance(agent_or_checkpoint_path, str | Path):
        checkpoint = Path(agent_or_checkpoint_path)
        agent = load_agent(checkpoint, device)
        out = checkpoint.parent if out is None else out
    else:
        agent = agent_or_checkpoint_path
    for name, path in (("out", out), ("json", json_path), ("doc", doc)):
        if path is not None and Path(path).exists() and Path(path).is_dir() != (name == "out"):
            kind = "a folder, not a file" if name != "out" else "a file, not a folder"
            raise ValueError(f"{name} {path} is {kind}")
    out = None if out is None else Path(out)

    result = compare(agent, episodes, seed, timing, settings.sweep_step_ms, delays, settings.level, log=log)
    if out is None:
        return result
    folder = out / "compare"
    config = {"twin": timing.to_dict(), "compare": dataclasses.asdict(settings)}
    config["compare"]["sweep_delays"] = [str(d) for d in delays]
    write_json(folder / "config.json", config)
    figures = {}
    if settings.plots:
        from .compare_plots import plot_comparison

        figures = plot_comparison(folder, agent, result)
    record = result.to_dict() | {
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "config": config,
        "plots": [str(p) for p in figures.values()],
        "machine": machine_info(),
        "command": command or command_line(),
    }
    write_json(Path(json_path) if json_path is not None else out / "compare.json", record)
    if doc is not None:
        write_doc(doc, result, checkpoint, record["command"], record["plots"])
    log_to_wandb(settings.wandb, folder, result, config, figures)
    return result


# -- reports -------------------------------------------------------------------------------------------
def format_comparison(c: Comparison) -> str:
    """The comparison as a short table for the terminal."""
    t = c.timing
    lines = [
        f"{c.env_id} {c.env_kwargs} core {c.core}; {c.episodes} episodes from seed {c.seed}",
        f"{'':28s}{'analog':>12s}{'spiking':>12s}",
        f"{'success rate':28s}{fmt(c.analog_success, '12.3f'):>12s}{fmt(c.spiking_success, '12.3f'):>12s}",
        f"{'mean return':28s}{c.analog_return:12.3f}{c.spiking_return:12.3f}",
        f"{'mean episode length':28s}{c.analog_length:12.2f}{c.spiking_length:12.2f}",
        f"agreement: teacher-forced {c.teacher_forced_agreement:.4f} (end {c.teacher_forced_end:.4f}, "
        f"mean {c.teacher_forced_mean:.4f}), closed loop {c.closed_loop_agreement:.4f}; decisive steps "
        f"{fmt(c.decisive_agreement, '.4f')} ({c.decisive_fraction:.1%} of steps), final decision "
        f"{c.final_decision_agreement:.4f}; |c error| at the final decision {c.final_c_error:.3f} "
        f"(|c| {c.final_c_abs:.3f})",
        f"twin: step_ms {t.step_ms:g}, dt {t.dt:g} ms, readout window {t.readout_window_ms:g} ms, "
        f"recurrent delay {t.recurrent_delay_ms}",
        "firing rate (Hz): " + ", ".join(f"{k} {v:.1f}" for k, v in c.rates_hz.items()),
        f"spikes/decision {c.spikes_per_decision:.1f}, synaptic events/decision "
        f"{c.synaptic_events_per_decision:.1f}, analog MACs/step {c.analog_macs_per_step}",
    ]
    if c.sweep:
        lines.append(
            f"shortest step_ms keeping agreement >= {c.level:g}: teacher-forced {c.shortest_step_ms}, "
            f"closed loop {c.shortest_step_ms_closed}"
        )
    return "\n".join(lines)


def doc_text(
    c: Comparison,
    checkpoint: str | Path | None,
    command: str,
    plots: Sequence[str] = (),
    machine: str | None = None,
) -> str:
    """The comparison as a markdown block for docs/results.md."""
    t = c.timing
    where = f" — `{checkpoint}`" if checkpoint is not None else ""
    lines = [
        f"### {c.env_id} {c.env_kwargs}{where}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine or machine_line()}; wall time {c.wall_s:.0f} s.",
        "",
        markdown_table(
            ["", "analog", "spiking"],
            [
                ["success rate", fmt(c.analog_success, ".3f"), fmt(c.spiking_success, ".3f")],
                ["mean episode length", f"{c.analog_length:.2f}", f"{c.spiking_length:.2f}"],
            ],
        ),
        "",
        f"{c.episodes} episodes (seeds {c.seed}…{c.seed + c.episodes - 1}), step_ms = {t.step_ms:g}, "
        f"dt = {t.dt:g} ms, readout window {t.readout_window_ms:g} ms, recurrent delay "
        f"{t.recurrent_delay_ms}. Decision agreement: teacher-forced **{c.teacher_forced_agreement:.4f}** "
        f"(read at the step's end {c.teacher_forced_end:.4f}, averaged over its last "
        f"{t.readout_window_ms:g} ms {c.teacher_forced_mean:.4f}; whole episodes identical "
        f"{c.episodes_identical:.3f}), closed loop {c.closed_loop_agreement:.4f}. On decisive steps "
        f"(analog best action ahead by >= {c.gap_margin:g}, {c.decisive_fraction:.1%} of steps) "
        f"teacher-forced agreement is **{fmt(c.decisive_agreement, '.4f')}**; on each episode's final "
        f"decision {c.final_decision_agreement:.4f}, where the memory cells differ by "
        f"{c.final_c_error:.3f} on average (mean |c| {c.final_c_abs:.3f}).",
        "",
        markdown_table(
            ["population", *c.rates_hz, "spikes/decision", "synaptic events/decision", "analog MACs/step"],
            [
                [
                    "rate (Hz)",
                    *[f"{v:.1f}" for v in c.rates_hz.values()],
                    f"{c.spikes_per_decision:.1f}",
                    f"{c.synaptic_events_per_decision:.1f}",
                    c.analog_macs_per_step,
                ],
                ["neurons", *[str(v) for v in c.neurons.values()], str(sum(c.neurons.values())), "", ""],
            ],
        ),
    ]
    if c.sweep:
        lines += [
            "",
            "Sweep over the decision time and the recurrent delay (0: plain conversion, the loop closes "
            "within a step; step: recurrent synapses delayed by one step_ms; hold: the previous step's "
            f"settled h held on the gates). Shortest step_ms keeping teacher-forced agreement >= "
            f"{c.level:.0%}: {c.shortest_step_ms}; closed loop: {c.shortest_step_ms_closed}.",
            "",
            markdown_table(
                [
                    "delay",
                    "step_ms",
                    "agree tf (end)",
                    "agree tf (mean)",
                    "agree decisive",
                    "agree final",
                    "agree closed",
                    "success",
                    "rate (Hz)",
                    "spikes/dec",
                ],
                [
                    [
                        str(r.recurrent_delay),
                        f"{r.step_ms:g}",
                        f"{r.teacher_forced_end:.4f}",
                        f"{r.teacher_forced_mean:.4f}",
                        fmt(r.decisive, ".4f"),
                        f"{r.final_decision:.4f}",
                        f"{r.closed_loop:.4f}",
                        fmt(r.success_rate, ".3f"),
                        f"{r.mean_rate_hz:.1f}",
                        f"{r.spikes_per_decision:.1f}",
                    ]
                    for r in c.sweep
                ],
            ),
        ]
    if plots:
        lines += ["", "Plots: " + ", ".join(f"`{p}`" for p in plots)]
    return "\n".join(lines)


def doc_key(c: Comparison, checkpoint: str | Path | None) -> str:
    """The block key of a comparison: the checkpoint's folder name and the env's name."""
    run = Path(checkpoint).parent.name if checkpoint is not None else "agent"
    env = (c.env_id or "env").split("/")[-1]
    return f"compare-{run}-{env}"


def write_doc(
    path: str | Path, c: Comparison, checkpoint: str | Path | None, command: str, plots: Sequence[str] = ()
) -> None:
    """Replace (or add) this comparison's block in the "Spiking twin" section of ``path``."""
    write_block(path, doc_key(c, checkpoint), doc_text(c, checkpoint, command, plots), DOC_SECTION)


def log_to_wandb(
    mode: str, folder: Path, c: Comparison, config: dict[str, Any], figures: dict[str, Path]
) -> None:
    """Summary numbers, the sweep table and the figures as a wandb run under ``folder``."""
    run = start_wandb(mode, folder, config, name=f"compare-{folder.parent.name}", job_type="compare")
    if run is None:
        return
    import wandb

    data = c.to_dict()
    run.summary.update(
        {k: v for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        | {f"rate_hz/{k}": v for k, v in c.rates_hz.items()}
    )
    if c.sweep:
        columns = list(data["sweep"][0])
        # the delay column mixes numbers and names: a wandb table needs one type per column
        rows = [[str(r[k]) if k == "recurrent_delay" else r[k] for k in columns] for r in data["sweep"]]
        run.log({"sweep": wandb.Table(columns=columns, data=rows)})
    log_images(run, {f"plots/{name}": path for name, path in figures.items()})
    run.finish()
