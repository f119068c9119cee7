"""The spiking twin's acceptance run: train agents with the defaults, convert, compare, tabulate.

For every seed: a training run with the settings of ``sublstm train`` (noisy T-maze, corridor 10,
asn-sublstm) into ``<runs_dir>/s<seed>/``, then a comparison with its twin
(:func:`~sublstm.experiments.comparing.run_comparison`, the
:class:`~sublstm.spiking.timing.TwinTiming` defaults, a sweep over step_ms) written beside it. The
seeds are trained side by side, ``settings.block`` at a time, as one
:class:`~sublstm.agents.population.Population` per block
(:func:`~sublstm.experiments.population_runs.train_population_runs`); where the population cannot
train them (an env without a tensor version, wandb logging, ``block`` 0) each seed is a
:func:`~sublstm.experiments.training.train_run`. Each seed's outcome is stored as ``s<seed>.json``
(resumable, :mod:`sublstm.experiments.runner`; a block whose seeds are all stored is skipped); the
block ``acceptance`` of the "Spiking twin" section of docs/results.md is rendered from them.

From Python::

    from sublstm.experiments.acceptance import AcceptanceSettings, run_acceptance
    records = run_acceptance(AcceptanceSettings(seeds=(0, 1)), "runs/twin-acceptance", jobs=2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sublstm.spiking.network import POPULATIONS

from .comparing import DOC_SECTION, CompareSettings, check_sweep
from .config import ConfigError, merge_overrides, to_dict
from .population_blocks import BLOCK as POPULATION_BLOCK
from .population_blocks import BLOCK_GROUP, BlockExecutor, check_block
from .reporting import command_line, fmt, machine_line, markdown_table, median, write_block
from .runner import Cell, Jobs, executor_for, run_cells
from .store import RunStore
from .validation import dotted, run_section

BLOCK = "acceptance"
RUNS = "runs/twin-acceptance"  # the default folder of the per-seed runs
Doc = str | Path | None
TRAIN_SECTIONS = ("env", "agent", "learn")


@dataclass(frozen=True)
class AcceptanceSettings:
    """What the acceptance run trains and measures.

    ``train``: sections of ``sublstm train`` (env, agent, learn) changed from its defaults;
    ``timing``: :class:`TwinTiming` fields changed from the twin defaults; ``compare``: the
    comparison of every seed; ``success_gap``: the largest analog - spiking success difference
    that counts as kept (the agreement level is ``compare.level``); ``block``: seeds trained side by
    side as one population, at most (0: each seed its own ``train_run``).
    """

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    train: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    compare: CompareSettings = field(
        default_factory=lambda: CompareSettings(
            sweep_step_ms=(50.0, 100.0, 200.0, 300.0), plots=False, wandb="disabled"
        )
    )
    success_gap: float = 0.02
    block: int = POPULATION_BLOCK

    def validate(self) -> None:
        from sublstm.spiking.timing import resolve_timing

        check_block(self.block)
        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be non-negative integers, got {list(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must not repeat, got {list(self.seeds)}")
        unknown = [s for s in self.train if s not in TRAIN_SECTIONS]
        if unknown:
            raise ValueError(f"train.{unknown[0]}: the acceptance run sets only {TRAIN_SECTIONS}")
        try:
            timing = resolve_timing(None, **self.timing)
        except ValueError as exc:
            raise ValueError(f"timing: {exc}") from None
        self.compare.validate()
        try:
            check_sweep(self.compare, timing)  # the sweep's timings, checked before any training
        except ValueError as exc:
            raise ValueError(f"compare.{exc}") from None
        gap = self.success_gap
        if isinstance(gap, bool) or not isinstance(gap, (int, float)) or not 0 <= gap <= 1:
            raise ValueError(f"success_gap must be a number in [0, 1], got {self.success_gap!r}")


def cells(settings: AcceptanceSettings, runs_dir: str | Path) -> list[Cell]:
    """One cell per seed; the training config of each is resolved (and checked) here. Seeds the
    population can train carry ``engine: "population"`` in their settings (so that runs stored by
    ``train_run`` do not count for them) and a block group."""
    from sublstm.agents import make_env

    from .population_runs import engine_for
    from .training_config import TrainConfig

    settings.validate()
    compare = to_dict(settings.compare) | {
        "timing": dict(settings.timing),
        "success_gap": settings.success_gap,
    }
    out = []
    engine = note = None
    for seed in settings.seeds:
        run = run_section(Path(runs_dir) / f"s{seed}", settings.compare.wandb)
        data = merge_overrides(settings.train, dotted({"agent": {"seed": seed}}))
        try:
            config = TrainConfig.from_dict(data | {"run": run})
            if engine is None:
                make_env(config.env.id, config.env.kwargs).close()  # the env's own checks of its values
                engine, note = engine_for(config, settings.block)
        except ValueError as exc:
            raise ConfigError(f"train: {exc}") from None
        train = config.to_dict()
        train.pop("run")
        cell_settings = {"train": train, "compare": compare}
        params = {"seed": seed, "run": run, "engine": engine}
        if engine == "population":
            cell_settings["engine"], params[BLOCK_GROUP] = engine, "acceptance"
        elif note is not None:
            params["engine_note"] = note
        out.append(Cell(f"s{seed}", cell_settings, params))
    return out


def train_config(cell: Cell):
    """The TrainConfig of a cell's training run."""
    from .training_config import TrainConfig

    return TrainConfig.from_dict({**cell.settings["train"], "run": cell.params["run"]})


def run_cell(cell: Cell) -> dict:
    """Train one agent, compare it with its twin; the comparison and the training summary."""
    from .training import train_run

    return compare_trained(cell, train_run(train_config(cell)))


def run_block(block: Sequence[Cell]) -> dict[str, dict]:
    """Train the seeds of a block side by side as a population, then compare each with its twin."""
    from .population_runs import train_population_runs

    trained = train_population_runs([train_config(cell) for cell in block])
    return {cell.name: compare_trained(cell, t) for cell, t in zip(block, trained, strict=True)}


def compare_trained(cell: Cell, trained) -> dict:
    """Compare a trained agent (a TrainResult) with its twin; the comparison and the training summary."""
    from sublstm.spiking.timing import resolve_timing

    from .comparing import run_comparison

    c = dict(cell.settings["compare"])
    timing = resolve_timing(None, **c.pop("timing"))
    c.pop("success_gap")
    result = run_comparison(
        trained.agent,
        trained.out,
        timing=timing,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()},
    )
    keep = ("success_rate", "timesteps", "timesteps_to_95", "wall_s", "stop_reason")
    return result.to_dict() | {"training": {k: trained.summary.get(k) for k in keep}}


def report(record: dict, k: int, n: int) -> None:
    r = record["result"]
    print(
        f"[{k}/{n}] seed {record['seed']}: analog {fmt(r['analog_success'], '.3f')} spiking "
        f"{fmt(r['spiking_success'], '.3f')} agreement {fmt(r['teacher_forced_agreement'], '.4f')} "
        f"({record['wall_s']:.0f} s)",
        flush=True,
    )


def run_acceptance(
    settings: AcceptanceSettings | None = None,
    runs_dir: str | Path = RUNS,
    *,
    doc: Doc = None,
    jobs: Jobs = 1,
) -> dict[str, dict]:
    """Train and compare every seed not yet stored in ``runs_dir``, ``jobs`` at a time (or through an
    executor); with ``doc``, write the block ``acceptance`` there. Returns the records by run name
    (``s<seed>``)."""
    from .population_runs import describe

    settings = settings or AcceptanceSettings()
    executor = executor_for(jobs)
    todo = cells(settings, runs_dir)
    p = todo[0].params
    print(f"training: {describe(p['engine'], p.get('engine_note'), settings.block)}", flush=True)
    if settings.block:
        executor = BlockExecutor(executor, settings.block, run_block)
    extra = {"command": command_line()}
    records = run_cells(RunStore(runs_dir), todo, run_cell, executor, report, extra)
    if doc is not None:
        render(runs_dir, doc, settings)
    return records


# -- the doc ----------------------------------------------------------------------------------------------
def row(record: dict) -> list:
    r = record["result"]
    delay = str(r["timing"]["recurrent_delay_ms"])
    rates = r["rates_hz"]
    return [
        record["seed"],
        fmt(r["analog_success"], ".3f"),
        fmt(r["spiking_success"], ".3f"),
        fmt(r["teacher_forced_agreement"], ".4f"),
        fmt(r["closed_loop_agreement"], ".4f"),
        fmt(r["decisive_agreement"], ".4f"),
        fmt(r["shortest_step_ms"].get(delay), "g", "-"),
        fmt(rates["overall"], ".1f"),
        " / ".join(fmt(rates.get(p), ".0f") for p in POPULATIONS),
        fmt(r["spikes_per_decision"], ".0f"),
        fmt(r["synaptic_events_per_decision"], ".0f"),
    ]


def stop_rule(learn: dict) -> str:
    if learn["stop_at_success"] is None:
        return "no stop rule on success"
    return (
        f"stop after {learn['stop_patience']} evaluations in a row at >= {learn['stop_at_success'] * 100:g} %"
    )


def trained_as(records: Sequence[dict]) -> str:
    """ ", trained in populations of up to N seeds side by side" where the records were."""
    blocks = [rec["block"]["runs"] for rec in records if rec["settings"].get("engine") == "population"]
    if not blocks:
        return ""
    which = "" if len(blocks) == len(records) else f" ({len(blocks)} of {len(records)} seeds)"
    return f", trained in populations of up to {max(map(len, blocks))} seeds side by side{which}"


def block(records: Sequence[dict]) -> str:
    """The acceptance block from the stored records of one settings (sorted by seed)."""
    first = records[0]
    train, compare = first["settings"]["train"], first["settings"]["compare"]
    timing, learn, level = first["result"]["timing"], train["learn"], compare["level"]
    results = [rec["result"] for rec in records]
    n = len(results)
    gap = compare["success_gap"]
    kept = sum(abs(r["analog_success"] - r["spiking_success"]) <= gap + 1e-9 for r in results)
    agree = sum(r["teacher_forced_agreement"] >= level for r in results)
    header = [
        "seed", "analog success", "spiking success", "agreement (tf)", "closed loop", "decisive steps",
        f"shortest step_ms >= {level * 100:g} %", "rate (Hz)", "input / hidden / z / i / o / out-cell (Hz)",
        "spikes/decision", "synaptic events/decision",
    ]  # fmt: skip
    commands = ", then ".join(f"`{c}`" for c in dict.fromkeys(rec.get("command", "") for rec in records))
    sweep = ",".join(f"{s:g}" for s in compare["sweep_step_ms"])
    env, pct = f"{train['env']['id']} {train['env']['kwargs']}", f"{level * 100:g} %"
    median_rate = median([r["rates_hz"]["overall"] for r in results])
    return "\n".join(
        [
            "### Acceptance with the current defaults",
            "",
            f"Command: {commands}  ",
            f"Machine: {machine_line(first['machine'])}.  ",
            f"Agents: `sublstm train` on {env}, {train['agent']['core']}, {stop_rule(learn)} "
            f"(at most {learn['total_timesteps']:,} timesteps){trained_as(records)}. "
            f"Twins: step_ms {timing['step_ms']:g}, "
            f"dt {timing['dt']:g} ms, readout window {timing['readout_window_ms']:g} ms, recurrent delay "
            f"{timing['recurrent_delay_ms']}; {compare['episodes']} closed-loop episodes with the same seeds "
            f"for both; the sweep ({sweep} ms) finds the shortest step from which every longer one keeps >= "
            f"{pct} teacher-forced agreement.",
            "",
            markdown_table(header, [row(rec) for rec in records]),
            "",
            f"Spiking success within {gap * 100:g} points of the analog: **{kept} of {n}** seeds; "
            f"teacher-forced decision agreement >= {pct} at the default step: **{agree} of {n}**; median "
            f"overall rate {median_rate:.1f} Hz.",
        ]
    )


def render(runs_dir: str | Path, doc: str | Path, settings: AcceptanceSettings | None = None) -> int:
    """Write the block ``acceptance`` of ``doc`` from the seeds of ``settings`` stored in ``runs_dir``
    with these settings; ValueError when none is. Returns the number of seeds tabulated."""
    store = RunStore(runs_dir)
    records = [
        r for c in cells(settings or AcceptanceSettings(), runs_dir) if (r := store.get(c.name, c.settings))
    ]
    if not records:
        raise ValueError(f"no acceptance runs stored in {runs_dir} with these settings; nothing to render")
    write_block(doc, BLOCK, block(records), DOC_SECTION)
    return len(records)
