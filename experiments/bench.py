"""Benchmarks: our agent beside its peers, the spiking simulator, the envs. Each section measures,
prints a table and writes its own ``## `` section of docs/benchmarks.md (with the command and the
machine), replacing that section if it is there and leaving every other one as it was.

    from sublstm.experiments.bench import QUICK, run_bench
    run_bench(only=["throughput"], bench=QUICK, doc="runs/bench_quick/benchmarks.md")

A section is one module ``sublstm.experiments.bench_<name>`` that defines ``SECTION``, a
:class:`Section`: its ``--only`` name, the doc heading, ``run(ctx, settings)``, and its own settings
dataclass with a FULL and a QUICK preset. Adding a module adds a section; nothing here changes.
Settings shared by the sections that train (:class:`BenchSettings`: corridors, seeds, budgets,
evaluations, the wall-clock cap) and each section's own settings are dataclasses; a config file
has a table ``[bench]`` and one per section (``[throughput]``), and ``key=value`` overrides name
them the same way (``throughput.repeats=5``).

Training runs go into a :class:`~sublstm.experiments.store.RunStore` per section (one JSON per
run), as subprocesses of the package command (``python -m sublstm.experiments train|baselines``)
under a wall-clock cap; a rerun reuses every run stored with the same command line.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import pkgutil
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sublstm.envs.tmaze import MAX_CORRIDOR_LENGTH

from . import config as cfg
from .reporting import command_line, machine_info, machine_line, median, replace_section, write_block

ENV_ID = "sublstm/NoisyTMaze-v0"
DOC_TITLE = "# Benchmarks"
LEARNER_LABELS = {
    "ours": "ours (asn-sublstm)",
    "recurrent-ppo": "RecurrentPPO (LSTM)",
    "ppo": "PPO (memoryless MLP)",
    "ppo-framestack": "PPO (frame stack)",
}


# -- settings ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchSettings:
    """Settings shared by the sections that train (config table ``[bench]``).

    ``corridors``, ``seeds`` and ``budgets`` (corridor -> env steps) replace each training section's
    own when set; a corridor without a budget anywhere gets ``budget_per_unit`` steps per unit of
    length. A training run still going after ``max_run_s`` seconds is stopped there (SIGINT: it
    writes its summary) and counts as not reached.
    """

    corridors: tuple[int, ...] | None = None
    seeds: int | None = None
    budgets: dict[int, int] = field(default_factory=dict)
    budget_per_unit: int = 100_000
    eval_interval: int = 5_000
    eval_episodes: int = 100
    max_run_s: float = 3600.0
    quick: bool = False

    def validate(self) -> None:
        if self.corridors is not None:
            if not self.corridors:
                raise ValueError("corridors must name at least one corridor length")
            for n in self.corridors:
                check_count("corridors", n, 1, MAX_CORRIDOR_LENGTH)
        if self.seeds is not None:
            check_count("seeds", self.seeds, 1)
        for n, steps in self.budgets.items():
            check_count("budgets (corridor)", n, 1, MAX_CORRIDOR_LENGTH)
            check_count(f"budgets[{n}]", steps, 1)
        for name in ("budget_per_unit", "eval_interval", "eval_episodes"):
            check_count(name, getattr(self, name), 1)
        if not (
            isinstance(self.max_run_s, int | float) and self.max_run_s > 0 and math.isfinite(self.max_run_s)
        ):
            raise ValueError(f"max_run_s must be a positive number of seconds, got {self.max_run_s!r}")

    def budget(self, corridor: int, own: Mapping[int, int] | None = None) -> int:
        """Env steps for ``corridor``: this table's, else the section's own, else per unit of length."""
        if corridor in self.budgets:
            return self.budgets[corridor]
        if own and corridor in own:
            return own[corridor]
        return self.budget_per_unit * corridor


FULL = BenchSettings()
QUICK = BenchSettings(budget_per_unit=256, eval_interval=2_048, eval_episodes=20, max_run_s=120.0, quick=True)


@dataclass(frozen=True)
class TrainingGrid:
    """The settings of a section that trains our agent (and peers) over corridors and seeds."""

    corridors: tuple[int, ...]
    seeds: int
    budgets: dict[int, int] = field(default_factory=dict)

    def validate(self) -> None:
        BenchSettings(corridors=self.corridors, seeds=self.seeds, budgets=self.budgets).validate()

    def resolved(self, bench: BenchSettings) -> TrainingGrid:
        """The grid with the shared settings applied (``bench.corridors`` / ``seeds`` / ``budgets``)."""
        corridors = bench.corridors or self.corridors
        return TrainingGrid(
            corridors=tuple(corridors),
            seeds=bench.seeds or self.seeds,
            budgets={n: bench.budget(n, self.budgets) for n in corridors},
        )


def check_count(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> None:
    """ValueError naming ``name`` unless ``value`` is an integer >= ``minimum`` (and <= ``maximum``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        most = "" if maximum is None else f" and <= {maximum:_}"
        raise ValueError(f"{name} must be an integer >= {minimum}{most}, got {value!r}")


def check_positive(settings: Any, *names: str) -> None:
    """ValueError naming the first of ``names`` whose value (an attribute of ``settings``) is not a
    positive integer."""
    for name in names:
        check_count(name, getattr(settings, name))


def _coerce(kind: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """Config-file data in the dataclass's shapes: lists as tuples, integer keys of dicts as ints."""
    hints = typing.get_type_hints(kind)
    out = dict(values)
    for key, value in out.items():
        hint = hints.get(key)
        if hint is None or value is None:
            continue
        shapes = {typing.get_origin(h) for h in (hint, *typing.get_args(hint))}
        if tuple in shapes and isinstance(value, list):
            out[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        elif dict in shapes and isinstance(value, dict):
            out[key] = {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in value.items()}
    return out


def with_values(preset: Any, values: Mapping[str, Any] | None, section: str) -> Any:
    """``preset`` (a settings dataclass instance) with ``values`` applied, type-checked and validated."""
    kind = type(preset)
    names = [f.name for f in dataclasses.fields(kind)]
    for key in values or {}:
        if key not in names:
            raise cfg.ConfigError(f"unknown key {section}.{key}{cfg.near_match(key, names)}; known: {names}")
    merged = {**{name: getattr(preset, name) for name in names}, **(values or {})}
    return cfg.build(kind, _coerce(kind, merged), section)


# -- sections ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Section:
    """One benchmark: ``run(ctx, settings)`` measures and writes its part of the doc."""

    name: str  # the --only name, e.g. "sample-efficiency" (its config table: sample_efficiency)
    title: str  # the doc's ## heading
    run: Callable[[BenchContext, Any], None]
    full: Any  # the settings dataclass instance of a full run ...
    quick: Any  # ... and of a --quick smoke check
    order: int = 50  # sections run in this order (cheap ones first)

    @property
    def key(self) -> str:
        return self.name.replace("-", "_")


def section_names() -> list[str]:
    """The ``--only`` names of the section modules: each ``bench_<name>`` module defining a SECTION
    (a ``bench_`` module without one, e.g. one being written, is not a section yet)."""
    here = Path(__file__).resolve().parent
    modules = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    return [m.removeprefix("bench_").replace("_", "-") for m in modules if _section_of(m) is not None]


def _section_of(module_name: str) -> Section | None:
    section = getattr(importlib.import_module(f"{__package__}.{module_name}"), "SECTION", None)
    return section if isinstance(section, Section) else None


def load_section(name: str) -> Section:
    """The :class:`Section` of ``name`` ("sample-efficiency" or "sample_efficiency")."""
    names = section_names()
    wanted = name.replace("_", "-")
    if wanted not in names:
        hint = cfg.near_match(wanted, names)
        raise ValueError(f"no benchmark section {name!r}{hint}; sections: {', '.join(names)}")
    return _section_of("bench_" + wanted.replace("-", "_"))


def resolve_settings(
    values: Mapping[str, Any] | None = None,
    bench: BenchSettings | None = None,
    only: Sequence[str] | None = None,
) -> tuple[BenchSettings, list[Section], dict[str, Any]]:
    """The shared settings, the sections to run (in order) and each one's settings.

    ``bench`` (default :data:`FULL`) is the shared preset; its ``quick`` picks each section's
    preset. ``values`` is nested plain data: a ``bench`` table and one table per section (its key,
    e.g. ``sample_efficiency``) applied over the presets. Every error is a ConfigError naming the key.
    """
    values = dict(values or {})
    names = section_names()
    sections = sorted(
        {s.name: s for s in map(load_section, only or names)}.values(), key=lambda s: (s.order, s.name)
    )
    tables = ["bench", *(n.replace("-", "_") for n in names)]
    for key, table in values.items():
        if key not in tables:
            raise cfg.ConfigError(
                f"unknown settings table {key!r}{cfg.near_match(key, tables)}; known: {tables}"
            )
        if not isinstance(table, Mapping):
            raise cfg.ConfigError(f"settings table {key!r} must hold keys, got {table!r}")
    shared = with_values(bench or FULL, values.get("bench"), "bench")
    own = {
        s.name: with_values(s.quick if shared.quick else s.full, values.get(s.key), s.key) for s in sections
    }
    for key in values.keys() - {"bench", *(s.key for s in sections)}:  # a table of a section not run
        other = load_section(key)
        with_values(other.quick if shared.quick else other.full, values[key], key)
    return shared, sections, own


# -- the context a section runs in ---------------------------------------------------------------------------
@dataclass
class BenchContext:
    """Where one invocation writes, and what it records beside every figure."""

    bench: BenchSettings
    runs: Path  # training runs and stored records, one folder per section
    doc: Path  # docs/benchmarks.md (or a --quick copy)
    results_doc: Path  # docs/results.md, for sections that write a block there
    jobs: int = 1
    fresh: bool = False
    agent: Path | None = None  # a trained agent for the sections that need one
    command: str = field(default_factory=command_line)
    machine: dict = field(default_factory=machine_info)
    results: dict = field(default_factory=dict)

    @property
    def plots(self) -> Path:
        return self.doc.parent

    def footer(self) -> str:
        foot = f"- Command: `{self.command}`\n- Machine: {machine_line(self.machine)}"
        if self.bench.quick:
            foot += "\n- QUICK MODE: smoke-check budgets, not the figures."
        return foot

    def write(self, section: Section, body: str) -> None:
        """Replace the section's part of the doc, adding the command and machine lines."""
        replace_section(self.doc, section.title, body.strip() + "\n\n" + self.footer(), doc_title=DOC_TITLE)
        print(f"[{section.name}] section written to {self.doc}", flush=True)

    def write_block(self, section: Section, key: str, body: str) -> None:
        """Replace the block ``key`` of the section (one per device, say), command and machine added."""
        self._drop_unblocked(section)
        write_block(self.doc, key, body.strip() + "\n\n" + self.footer(), section.title, doc_title=DOC_TITLE)
        print(f"[{section.name}] block {key} written to {self.doc}", flush=True)

    def _drop_unblocked(self, section: Section) -> None:
        """Empty the section if it holds text outside blocks (written before it had blocks)."""
        if not self.doc.is_file():
            return
        text = self.doc.read_text()
        heading = f"## {section.title}\n"
        if heading in text:
            body = text.split(heading, 1)[1].split("\n## ", 1)[0]
            if body.strip() and "<!-- block:" not in body:
                replace_section(self.doc, section.title, "", doc_title=DOC_TITLE)

    def write_result_block(self, key: str, text: str, heading: str) -> None:
        """Replace the block ``key`` in ``## heading`` of the results doc (command and machine added)."""
        write_block(self.results_doc, key, text.strip() + "\n\n" + self.footer(), heading)
        print(f"block {key} written to {self.results_doc}", flush=True)

    def link(self, path: Path) -> str:
        """``path`` relative to the doc's folder, for a markdown link."""
        return os.path.relpath(path, self.doc.parent)


def save_figure(fig, path: Path) -> None:
    """Lay out, write (creating the folder) and close a matplotlib figure."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def show(path: str | Path) -> str:
    """A path as a doc shows it: relative to the current folder when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def run_bench(
    only: Sequence[str] | None = None,
    bench: BenchSettings | None = None,
    values: Mapping[str, Any] | None = None,
    **where: Any,
) -> dict[str, str]:
    """Run the sections ``only`` (default all) and write their doc sections; ``{name: "ok" | error}``.

    ``bench`` (default :data:`FULL`) is the shared preset (:data:`QUICK` for a smoke check);
    ``values`` holds config-table changes (see :func:`resolve_settings`); ``where`` are the
    keyword arguments of :func:`prepare` (doc, results_doc, runs, jobs, fresh, agent, command).
    One failing section does not stop the others.
    """
    ctx, sections, own = prepare(only, bench, values, **where)
    return run_sections(ctx, sections, own)


def prepare(
    only: Sequence[str] | None = None,
    bench: BenchSettings | None = None,
    values: Mapping[str, Any] | None = None,
    doc: str | Path | None = None,
    results_doc: str | Path | None = None,
    runs: str | Path | None = None,
    jobs: int = 1,
    fresh: bool = False,
    agent: str | Path | None = None,
    command: str | None = None,
) -> tuple[BenchContext, list[Section], dict[str, Any]]:
    """Check every argument and build the context of a run; nothing is written yet.

    Defaults: runs in ``runs/bench`` (quick: ``runs/bench_quick``); the doc ``docs/benchmarks.md``
    and the results doc ``docs/results.md`` (quick: both inside the runs folder, never docs/).
    """
    shared, sections, own = resolve_settings(values, bench, only)
    check_count("jobs", jobs, 1)
    base = Path(runs or ("runs/bench_quick" if shared.quick else "runs/bench"))
    if base.exists() and not base.is_dir():
        raise ValueError(f"runs folder {base} is a file")
    doc = Path(doc or (base / "benchmarks.md" if shared.quick else "docs/benchmarks.md"))
    results_doc = Path(results_doc or (base / "results.md" if shared.quick else "docs/results.md"))
    for path in (doc, results_doc):
        if path.exists() and not path.is_file():
            raise ValueError(f"doc {path} is not a file")
    if agent is not None:
        check_agent(agent)
    agent = Path(agent) if agent else None
    ctx = BenchContext(shared, base, doc, results_doc, jobs, fresh, agent, command or command_line())
    return ctx, sections, own


def check_agent(path: str | Path) -> None:
    """``--agent``: a checkpoint file that loads (FileNotFoundError or CheckpointError naming it)."""
    from sublstm.agents.checkpoint import load_checkpoint

    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"--agent {path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"--agent {path}: no such file")
    try:
        load_checkpoint(path)
    except ValueError as exc:  # CheckpointError: the message starts with the path
        raise ValueError(f"--agent {exc}") from None


def run_sections(ctx: BenchContext, sections: Sequence[Section], own: Mapping[str, Any]) -> dict[str, str]:
    import torch

    torch.set_num_threads(1)
    print(f"machine: {machine_line(ctx.machine)}", flush=True)
    status = {}
    for section in sections:
        print(f"== {section.name} ==", flush=True)
        t0 = time.perf_counter()
        try:
            section.run(ctx, own[section.name])
            status[section.name] = "ok"
        except Exception as exc:  # one broken section must not hide the others' figures
            status[section.name] = f"{type(exc).__name__}: {exc}"
            print(f"[{section.name}] FAILED: {status[section.name]}", flush=True)
        print(f"[{section.name}] {time.perf_counter() - t0:.0f} s", flush=True)
    return status


# -- statistics over seeds -----------------------------------------------------------------------------------
def steps_to_target(summary: Mapping | None) -> float:
    """timesteps_to_95 of a run; inf when never reached (or the run failed)."""
    if summary is None or summary.get("timesteps_to_95") is None:
        return math.inf
    return float(summary["timesteps_to_95"])


def fmt_steps(x: float, budget: int) -> str:
    return f"> {budget:,}" if math.isinf(x) else f"{int(round(x)):,}"


def spread(values: Sequence[float], budget: int) -> str:
    """min - max over the seeds, '> budget' standing for runs that never reached the target."""
    if not values:
        return "-"
    return f"{fmt_steps(min(values), budget)} - {fmt_steps(max(values), budget)}"


def seed_stats(runs: Sequence[Mapping | None], budget: int) -> dict[str, str]:
    """Table cells over the seeds of one setting (each run's summary; None: a failed run)."""
    ok = [r for r in runs if r is not None]
    steps = [steps_to_target(r) for r in runs]
    reached = f"{sum(not math.isinf(x) for x in steps)}/{len(runs)}"
    notes = []
    if len(ok) < len(runs):
        notes.append(f"{len(runs) - len(ok)} failed")
    limited = sum("bench_wall_limit_s" in r for r in ok)
    if limited:
        notes.append(f"{limited} stopped at the wall-clock limit")
    success = [r["success_rate"] for r in ok if r.get("success_rate") is not None]
    wall_to = [r["wall_s_to_95"] for r in ok if r.get("wall_s_to_95") is not None]
    timed = [r for r in ok if r.get("wall_s") and "timesteps" in r]
    return {
        "reached": reached + (f" ({', '.join(notes)})" if notes else ""),
        "median": fmt_steps(median(steps), budget),
        "spread": spread(steps, budget),
        "success": f"{median(success):.2f}" if success else "-",
        "wall_to": f"{median(wall_to):.0f}" if wall_to else "-",
        "wall": f"{median([r['wall_s'] for r in timed]):.0f}" if timed else "-",
        "steps_per_s": f"{median([r['timesteps'] / r['wall_s'] for r in timed]):,.0f}" if timed else "-",
    }


def curve_on_grid(curve: Sequence[Mapping], grid: np.ndarray) -> np.ndarray:
    """Success at each grid point: the last evaluation at or before it, carried forward after an
    early stop; before the first evaluation, the first value."""
    t = np.array([r["timesteps"] for r in curve])
    y = np.array([r["success_rate"] for r in curve], dtype=float)
    idx = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    return y[idx]
