"""The analog agent's validation experiments: training runs repeated over seeds, tabulated in docs/results.md.

An experiment is a training run's settings (the sections of ``sublstm train``: env, agent, learn
for the T-maze; sequence for the supervised task), repeated for every seed. The RL seeds of an
experiment are trained side by side, ``settings.block`` at a time, as one
:class:`~sublstm.agents.population.Population` per block
(:func:`~sublstm.experiments.population_runs.train_population_runs`); where the population cannot
train the runs (an env without a tensor version, wandb logging, ``block`` 0; see
:func:`~sublstm.experiments.population_runs.population_refusal`) each seed is a
:func:`~sublstm.experiments.training.train_run`, and each sequence seed a ``train_sequence_run``.
Every seed's run folder is ``<runs_dir>/<experiment>-s<seed>/`` and its outcome is stored as
``<experiment>-s<seed>.json`` (:mod:`sublstm.experiments.runner`: resumable, serial or side by
side; a block whose seeds are all stored is skipped). The section "Analog agent" of
docs/results.md holds one block per experiment, rendered from the stored records only.

From Python::

    from sublstm.experiments.validation import ValidationSettings, run_validation
    records = run_validation(["clean10"], ValidationSettings(seeds=(0, 1)), "runs/validate")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConfigError, merge_overrides, near_match
from .population_blocks import BLOCK, BLOCK_GROUP, BlockExecutor, check_block
from .reporting import fmt, machine_line, markdown_table, median, write_block
from .runner import Cell, Jobs, executor_for, run_cells
from .store import RunStore

SECTION = "Analog agent"
NOISY, CLEAN = "sublstm/NoisyTMaze-v0", "sublstm/TMaze-v0"
TASKS = ("rl", "sequence")
SECTIONS = {"rl": ("env", "agent", "learn"), "sequence": ("sequence",)}  # what an experiment may set


def dotted(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested table as dotted keys (``{"learn": {"eval_interval": 5}}`` -> ``{"learn.eval_interval": 5}``),
    for :func:`~sublstm.experiments.config.merge_overrides`, which then merges instead of replacing."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping) and value:
            out |= dotted(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def tmaze(env: str, corridor: int, **agent: Any) -> dict:
    """The settings of a T-maze experiment: env id, corridor length and agent settings."""
    return {"env": {"id": env, "kwargs": {"corridor_length": corridor}}, "agent": agent}


@dataclass(frozen=True)
class Experiment:
    """One experiment: a title and the training settings (sections of ``sublstm train``) of every seed."""

    title: str
    task: str = "rl"  # "rl": AdvantageAgent on an env; "sequence": supervised next-symbol prediction
    config: dict = field(default_factory=dict)

    def validate(self) -> None:
        if self.task not in TASKS:
            raise ValueError(
                f"task must be one of {TASKS}, got {self.task!r}{near_match(str(self.task), TASKS)}"
            )
        if not isinstance(self.config, dict):
            raise ValueError(f"config must be a table of sections, got {type(self.config).__name__}")
        allowed = SECTIONS[self.task]
        for section in self.config:
            if section not in allowed:
                hint = near_match(section, allowed)
                raise ValueError(f"config.{section}: a {self.task} experiment sets only {allowed}{hint}")


EXPERIMENTS: dict[str, Experiment] = {
    "noisy10": Experiment("Noisy T-maze, corridor 10, asn-sublstm (acceptance run)", config=tmaze(NOISY, 10)),
    "clean10": Experiment("T-maze (noise-free), corridor 10, asn-sublstm", config=tmaze(CLEAN, 10)),
    "noisy10-sublstm": Experiment(
        "Noisy T-maze, corridor 10, sublstm core (sigmoid, forget gate)",
        config=tmaze(NOISY, 10, core="sublstm"),
    ),
    "noisy10-lstm": Experiment("Noisy T-maze, corridor 10, lstm core", config=tmaze(NOISY, 10, core="lstm")),
    "noisy10-rate": Experiment(
        "Noisy T-maze, corridor 10, asn-sublstm with rate penalty 0.1",
        config=tmaze(NOISY, 10, rate_penalty=0.1),
    ),
    "noisy20": Experiment("Noisy T-maze, corridor 20, asn-sublstm", config=tmaze(NOISY, 20)),
    "clean20": Experiment("T-maze (noise-free), corridor 20, asn-sublstm", config=tmaze(CLEAN, 20)),
    "noisy50": Experiment("Noisy T-maze, corridor 50, asn-sublstm", config=tmaze(NOISY, 50)),
    "clean50": Experiment("T-maze (noise-free), corridor 50, asn-sublstm", config=tmaze(CLEAN, 50)),
    "seq2a": Experiment(
        "Sequence prediction 2a (p = 10), asn-sublstm, supervised", "sequence", {"sequence": {"p": 10}}
    ),
    "seq2b": Experiment(
        "Sequence prediction 2b (p = 10, noisy), asn-sublstm, supervised",
        "sequence",
        {"sequence": {"p": 10, "noisy": True}},
    ),
}


@dataclass(frozen=True)
class ValidationSettings:
    """What every experiment of one invocation shares.

    ``overrides`` are sections applied to every experiment that has them, e.g.
    ``{"learn": {"total_timesteps": 50_000}, "sequence": {"max_updates": 1000}}``. ``block``: RL
    seeds trained side by side as one population, at most (0: each seed its own ``train_run``).
    """

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    overrides: dict = field(default_factory=dict)
    wandb: str = "disabled"  # wandb mode of every training run
    block: int = BLOCK

    def validate(self) -> None:
        from .tracking import check_wandb_mode

        check_block(self.block)

        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be non-negative integers, got {list(self.seeds)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must not repeat, got {list(self.seeds)}")
        check_wandb_mode(self.wandb, "wandb")
        known = sorted({s for sections in SECTIONS.values() for s in sections})
        for section, values in self.overrides.items():
            if section not in known:
                raise ValueError(
                    f"overrides.{section}: unknown section{near_match(section, known)}; known: {known}"
                )
            if not isinstance(values, dict):
                raise ValueError(f"overrides.{section} must be a table, got {values!r}")


def run_section(out: str | Path, wandb: str) -> dict:
    """The ``run`` section of a training run made by an experiment: quiet, and replacing whatever
    its folder holds (a run is redone only when its result is not stored, so that is stale)."""
    return {"out": str(out), "wandb": wandb, "progress": False, "overwrite": True, "verbose": 0}


def run_config(experiment: Experiment, seed: int, settings: ValidationSettings, out: Path):
    """The TrainConfig (or SequenceConfig) of one seed's run into ``out``."""
    from .training_config import SequenceConfig, TrainConfig

    rl = experiment.task == "rl"
    shared = {k: v for k, v in settings.overrides.items() if k in SECTIONS[experiment.task]}
    data = merge_overrides(experiment.config, dotted(shared))
    data = merge_overrides(data, {("agent.seed" if rl else "sequence.seed"): seed})
    data["run"] = run_section(out, settings.wandb)
    return (TrainConfig if rl else SequenceConfig).from_dict(data)


def engine_for(config, settings: ValidationSettings) -> tuple[str, str | None]:
    """How the seeds of a run config are trained: ("population", None), ("train_run", why not as a
    population) or, for the sequence task, ("train_sequence_run", None)."""
    from .population_runs import engine_for as rl_engine
    from .training_config import TrainConfig

    if not isinstance(config, TrainConfig):
        return "train_sequence_run", None
    return rl_engine(config, settings.block)


def cells(
    experiments: Mapping[str, Experiment], settings: ValidationSettings, runs_dir: str | Path
) -> list[Cell]:
    """One cell per experiment and seed; every setting is resolved (and checked) here. The cells of
    an RL experiment the population can train carry ``engine: "population"`` in their settings (so
    that runs stored by ``train_run`` do not count for them) and the experiment as block group."""
    from sublstm.agents import make_env

    out = []
    for name, experiment in experiments.items():
        experiment.validate()
        engine = why = None
        for seed in settings.seeds:
            try:
                config = run_config(experiment, seed, settings, Path(runs_dir) / f"{name}-s{seed}")
                if engine is None:
                    if experiment.task == "rl":
                        make_env(config.env.id, config.env.kwargs).close()  # the env's own checks
                    engine, why = engine_for(config, settings)
            except ValueError as exc:
                raise ConfigError(f"experiment {name}: {exc}") from None
            config = config.to_dict()
            run = config.pop("run")
            params = {"experiment": name, "title": experiment.title, "task": experiment.task, "seed": seed}
            params |= {"run": run, "engine": engine}
            if engine == "population":
                config["engine"], params[BLOCK_GROUP] = engine, name
            elif why is not None:
                params["engine_note"] = why
            out.append(Cell(f"{name}-s{seed}", config, params))
    return out


def _train_data(cell: Cell) -> dict:
    """The run config of a cell as TrainConfig.from_dict reads it."""
    return {k: v for k, v in cell.settings.items() if k != "engine"} | {"run": cell.params["run"]}


def rl_result(summary: dict) -> dict:
    """What the doc tabulates of an RL run's summary."""
    keys = ("success_rate", "timesteps", "wall_s", "timesteps_to_95", "wall_s_to_95", "stop_reason")
    return {k: summary.get(k) for k in keys} | {"rate_hz": summary["predicted_mean_rate_hz"]}


def run_cell(cell: Cell) -> dict:
    """Train one seed of an experiment; its outcome as the doc tabulates it."""
    from .training import SequenceConfig, TrainConfig, train_run, train_sequence_run

    if cell.params["task"] == "rl":
        return rl_result(train_run(TrainConfig.from_dict(_train_data(cell))).summary)
    s = train_sequence_run(SequenceConfig.from_dict(_train_data(cell))).summary
    keys = ("final_accuracy", "all_accuracy", "updates", "wall_s", "stop_reason")
    return {k: s.get(k) for k in keys} | {"rate_hz": s["predicted_mean_rate_hz"]}


def run_block(block: Sequence[Cell]) -> dict[str, dict]:
    """Train the seeds of one experiment side by side as a population; each one's outcome."""
    from .population_runs import train_population_runs
    from .training import TrainConfig

    trained = train_population_runs([TrainConfig.from_dict(_train_data(cell)) for cell in block])
    return {cell.name: rl_result(t.summary) for cell, t in zip(block, trained, strict=True)}


def report(record: dict, k: int, n: int) -> None:
    r = record["result"]
    figure = (
        f"success {fmt(r['success_rate'])}, {r['timesteps']} timesteps"
        if "success_rate" in r
        else f"final-symbol accuracy {fmt(r['final_accuracy'], '.3f')}, {r['updates']} updates"
    )
    print(f"[{k}/{n}] {record['name']}: {figure}, {fmt(r['wall_s'], '.0f')} s", flush=True)


def pick(
    names: Sequence[str] | Mapping[str, Experiment], known: Mapping[str, Experiment] = EXPERIMENTS
) -> dict[str, Experiment]:
    """The experiments named (``["all"]``: every one of ``known``), or the given mapping itself."""
    if isinstance(names, Mapping):
        return dict(names)
    names = list(known) if list(names) == ["all"] else list(names)
    unknown = [n for n in names if n not in known]
    if unknown:
        hint = near_match(unknown[0], known)
        raise ValueError(f"unknown experiment {unknown[0]!r}{hint}; known: {list(known)}")
    return {n: known[n] for n in names}


def run_validation(
    experiments: Sequence[str] | Mapping[str, Experiment] = ("noisy10",),
    settings: ValidationSettings | None = None,
    runs_dir: str | Path = "runs/validate",
    *,
    doc: str | Path | None = None,
    jobs: Jobs = 1,
) -> dict[str, dict]:
    """Run every seed of ``experiments`` (names of presets, or ``{name: Experiment}``) not yet stored
    in ``runs_dir``, ``jobs`` at a time (or through an executor); with ``doc``, rewrite their blocks
    there. Returns the records by run name."""
    settings = settings or ValidationSettings()
    settings.validate()
    executor = executor_for(jobs)
    chosen = pick(experiments)
    todo = cells(chosen, settings, runs_dir)
    from .reporting import command_line

    say_engines(todo, settings.block)
    if settings.block:
        executor = BlockExecutor(executor, settings.block, run_block)
    records = run_cells(RunStore(runs_dir), todo, run_cell, executor, report, {"command": command_line()})
    if doc is not None:
        render(runs_dir, doc, list(chosen))
    return records


def say_engines(todo: Sequence[Cell], block: int) -> None:
    """One line per experiment saying how its seeds are trained (and why not as a population)."""
    from .population_runs import describe

    seen: dict[str, dict] = {}
    for cell in todo:
        seen.setdefault(cell.params["experiment"], cell.params)
    for name, p in seen.items():
        print(f"{name}: {describe(p['engine'], p.get('engine_note'), block)}", flush=True)


# -- the doc ----------------------------------------------------------------------------------------------
def intro() -> str:
    from sublstm.agents.settings import Hyperparams, LearnSettings

    defaults = ", ".join(f"`{k}={v}`" for k, v in dataclasses.asdict(Hyperparams()).items())
    learn = ", ".join(f"`{k}={v}`" for k, v in dataclasses.asdict(LearnSettings()).items())
    return (
        "Written by `sublstm validate` from the runs it stored, one block per experiment; do not edit "
        "by hand. Every RL run is a `sublstm train` run with its defaults (AdvantageAgent, one torch "
        "thread, deterministic evaluations, a stop rule) unless its block says otherwise (blocks "
        "trained as populations say so: their seeds learned side by side in one process, "
        "`sublstm.agents.population`, and their wall-clock figures are the population's); the success "
        "column is a final evaluation on fresh episodes, the wall-clock to 95 % the training time "
        "(evaluations included) until the first evaluation at or above 95 %. Blocks whose command is "
        "`scripts/validate_agent.py` stopped at the first such evaluation, or at the wall-clock cap of "
        "their command. Wall-clock figures were measured on a shared 2-core machine with other jobs "
        "running, so they are upper bounds rather than best cases. The predicted mean rate is the ASN "
        "firing rate implied by the AF activations (all units, deterministic evaluation episodes).\n\n"
        f"Defaults at the time of rendering: {defaults}; learn settings {learn}; network "
        "AdvantageNetwork (AF input units, AF hidden layer, memory core, linear head)."
    )


def differences(records: Sequence[dict]) -> list[str]:
    """Lines naming the settings of these runs that differ from today's defaults, if any."""
    from sublstm.agents.settings import Hyperparams, LearnSettings

    agent = records[0]["settings"].get("agent")
    if agent is None:
        return []
    lines = []
    for what, used, today in (
        ("Hyperparameters", agent, dataclasses.asdict(Hyperparams())),
        ("Learn settings", records[0]["settings"]["learn"], dataclasses.asdict(LearnSettings())),
    ):
        changed = {k: v for k, v in used.items() if k in today and today[k] != v}
        if changed:
            lines += [
                f"{what} that differ from today's defaults: "
                + ", ".join(f"`{k}={v}`" for k, v in changed.items())
                + ".",
                "",
            ]
    return lines


def rl_table(records: Sequence[dict]) -> list[str]:
    # a rate read from sigmoid/tanh units means nothing: only AF units are ASNs
    spiking = records[0]["settings"]["agent"]["core"].startswith("asn-")
    rows = []
    for rec in records:
        r = rec["result"]
        rows.append(
            [
                rec["seed"],
                fmt(r["success_rate"]),
                fmt(r["timesteps_to_95"], none="not reached"),
                fmt(r["wall_s_to_95"], ".0f", "not reached"),
                r["timesteps"],
                fmt(r["rate_hz"], ".1f") if spiking else "n/a (not AF units)",
            ]
        )
    header = [
        "seed",
        "success (fresh episodes)",
        "timesteps to 95 %",
        "wall-clock to 95 % (s)",
        "timesteps run",
        "predicted mean rate (Hz)",
    ]
    results = [rec["result"] for rec in records]
    ok = sum(r["success_rate"] is not None and r["success_rate"] >= 0.95 for r in results)
    wall = median([float("inf") if r["wall_s_to_95"] is None else r["wall_s_to_95"] for r in results])
    rate = f"; median predicted rate {median([r['rate_hz'] for r in results]):.1f} Hz." if spiking else "."
    shown = "**not reached**" if wall == float("inf") else f"**{wall:.0f} s**"
    summary = f"Seeds at ≥ 95 % success: **{ok} of {len(results)}**; median wall-clock to 95 %: {shown}{rate}"
    return [markdown_table(header, rows), "", summary]


def sequence_table(records: Sequence[dict]) -> list[str]:
    header = [
        "seed",
        "final-symbol accuracy",
        "all-symbol accuracy",
        "updates",
        "wall (s)",
        "predicted rate (Hz)",
    ]
    rows = [
        [rec["seed"], fmt(r["final_accuracy"], ".3f"), fmt(r["all_accuracy"], ".3f"), r["updates"],
         fmt(r["wall_s"], ".1f"), fmt(r["rate_hz"], ".1f")]
        for rec in records
        for r in [rec["result"]]
    ]  # fmt: skip
    return [markdown_table(header, rows)]


def population_note(records: Sequence[dict]) -> list[str]:
    """A line saying which seeds were trained as populations, and how many at a time, if any were."""
    blocks = [rec["block"]["runs"] for rec in records if rec["settings"].get("engine") == "population"]
    if not blocks:
        return []
    which = "Every seed was" if len(blocks) == len(records) else f"{len(blocks)} of {len(records)} seeds were"
    return [
        f"{which} trained in a population of up to {max(map(len, blocks))} seeds side by side "
        "(`sublstm.agents.population`, under the agent's defaults); "
        "wall-clock figures are the population's, which trains all its seeds at once.",
        "",
    ]


def block(records: Sequence[dict]) -> str:
    """The doc block of one experiment from its stored records (sorted by seed)."""
    first = records[0]
    commands = list(dict.fromkeys(rec.get("command", "") for rec in records))
    lines = [
        f"### {first['title']}",
        "",
        ", then ".join(f"`{c}`" for c in commands) + f" ({machine_line(first['machine'])})",
        "",
    ]
    lines += differences(records)
    lines += population_note(records)
    lines += rl_table(records) if first["task"] == "rl" else sequence_table(records)
    return "\n".join(lines)


def render(runs_dir: str | Path, doc: str | Path, names: Sequence[str] | None = None) -> list[str]:
    """Rewrite the intro and the blocks of ``names`` (None: every stored experiment) in the section
    "Analog agent" of ``doc`` from the records stored in ``runs_dir``; other blocks stay as they are.
    Returns the experiments written; ValueError when none of them is stored."""
    by_name: dict[str, list[dict]] = {}
    for record in RunStore(runs_dir).all().values():
        by_name.setdefault(record["experiment"], []).append(record)
    chosen = [n for n in (names if names is not None else by_name) if n in by_name]
    if not chosen:
        raise ValueError(
            f"no validation runs of {names or 'any experiment'} stored in {runs_dir}; nothing to render"
        )
    write_block(doc, "validate-intro", intro(), SECTION)
    for name in chosen:
        write_block(doc, f"validate-{name}", block(sorted(by_name[name], key=lambda r: r["seed"])), SECTION)
    return chosen
