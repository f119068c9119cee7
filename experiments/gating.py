"""The paper's central experiment: subtractive against multiplicative gating under spiking conversion.

Cells: ``asn-sublstm`` (subtractive gates), ``asn-lstm`` (multiplicative, AF gates) and
``asn-lstm-bounded`` (multiplicative, gates bounded in [0, 1]: :mod:`sublstm.agents.gates`). Each
multiplicative cell is converted twice: with the exact product at the synapse and with the product
made by the gates' spikes (:mod:`sublstm.spiking.multiplicative`), so five twins in all.

Tasks: the T-maze (``sublstm/TMaze-v0``, a corridor length, ``noise`` levels) and sequence
prediction 2a / 2b (p = 10). One training rule for every cell, read from the package when a run
starts: the T-maze agents are trained as a population (:class:`sublstm.agents.population.Population`,
its hyperparameter defaults, noise-aware training included) under
:class:`sublstm.agents.settings.LearnSettings`' stop rule; the sequence nets by ``train_sequence``
with :class:`SequenceSettings`' defaults (those of ``sublstm train --task sequence``); every twin
uses :class:`TwinTiming`'s defaults. The budget's ``hyperparams`` overrides reach both tasks (a
sequence net takes those that are ``train_sequence`` arguments). The grid pins two settings of its
own, the same for every cell (``TMAZE_PINS``, ``SEQUENCE_PINS``): the T-maze populations count
``learning_starts`` in steps, as every population did before the option existed (stored runs
without the field read as "steps"), and sequence training stops on accuracy alone, as the T-maze
stops on success alone. All of it is stored with every run, so a run made under other settings is
run again rather than pooled.

One stored run is a block of seeds of one (task, noise, cell): a population trained side by side
(T-maze), or the block's nets one after the other (sequences); each member is converted to every
twin of its cell and measured on the same test episodes. Blocks are the unit of resumption and of
the executor (serial, or Ray tasks: :mod:`sublstm.experiments.runner`).

From Python::

    from sublstm.experiments.gating import GatingGrid, GatingBudget, run_grid
    grid = GatingGrid(noises=(1.0,), seeds=4, budget=GatingBudget(total_timesteps=5_000))
    records = run_grid(grid, "runs/my-grid", jobs=2)          # resumable; Ray with jobs > 1

:mod:`sublstm.experiments.gating_report` renders docs/gating.md from the stored runs only.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import to_dict
from .reporting import first_reaching, write_json
from .runner import Cell, Jobs, executor_for, run_cells
from .store import RunStore

CORES = ("asn-sublstm", "asn-lstm", "asn-lstm-bounded")
TASKS = ("tmaze", "seq2a", "seq2b")
SEQ_P = 10  # sequence length of tasks 2a / 2b
#: the grid's own T-maze settings, applied under the budget's overrides: populations count
#: ``learning_starts`` in steps per member, as every population did before the option existed, so
#: runs stored before it (which lack the field) and new runs are one rule and pool
TMAZE_PINS = {"learning_starts_unit": "steps"}
#: the grid's own sequence settings: training stops on final-symbol accuracy alone, as the T-maze
#: stops on success alone (train_sequence's default also waits for the predicted rate to fall to
#: 8 Hz, which nets trained without a rate penalty never reach: every net would run max_updates)
SEQUENCE_PINS = {"stop_at_rate_hz": None}
#: ``train_sequence`` arguments added after sequence runs were stored, neutral at their defaults
SEQUENCE_ADDED_LATER = ("rate_penalty_after", "rate_penalty_ramp_updates")
#: ``train_sequence`` arguments that are the grid's (task, cell, seed) or not plain data
SEQUENCE_FIXED = ("p", "noisy", "core", "seed", "device", "asn", "batch_fn", "callback")
TEST_SEED = 100_000  # test episodes / sequences use seeds from here on, never seen in training
SOLVED = 0.95  # an analog net below this test success did not solve the task: reported apart
COLLAPSE = 0.1  # a conversion loss (analog - spiking success) of at least this is a collapse


def products(core: str) -> tuple[str, ...]:
    """The twins of a cell: the exact one, and for multiplicative cells the spike-made product."""
    return ("exact",) if core == "asn-sublstm" else ("exact", "spikes")


def twin_name(core: str, product: str) -> str:
    """A twin's label in tables: the cell, and ``+spikes`` for the spike-made product."""
    return core if product == "exact" else f"{core}+spikes"


@dataclass(frozen=True)
class GatingBudget:
    """What a run may spend and how it is measured; the same for every cell, stored with every run.

    Training follows the package's stop rule (LearnSettings: its evaluations and patience) with at
    most ``total_timesteps`` per agent (None: LearnSettings' own cap).
    """

    total_timesteps: int | None = None
    test_episodes: int = 100  # T-maze test episodes, the same for analog and every twin
    test_sequences: int = 200
    population: int = 16  # seeds per stored run (trained side by side on the T-maze)
    # overrides applied to every cell ({}: the package defaults): fields of Hyperparams reach the
    # T-maze agents, train_sequence arguments the sequence nets (a name that is both reaches both);
    # stored with every run and part of its name, so runs under different rules never overwrite
    # or pool with each other
    hyperparams: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "hyperparams" or (value is None and f.name == "total_timesteps"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")
        from sublstm.agents.settings import HYPERPARAM_NAMES, Hyperparams

        if not isinstance(self.hyperparams, Mapping):
            raise ValueError(f"hyperparams must be a mapping of Hyperparams fields, got {self.hyperparams!r}")
        known = [*HYPERPARAM_NAMES, *(n for n in sequence_arguments() if n not in HYPERPARAM_NAMES)]
        unknown = sorted(set(self.hyperparams) - set(known))
        if unknown:
            raise ValueError(
                f"unknown hyperparams {unknown}; known (Hyperparams, train_sequence arguments): {known}"
            )
        Hyperparams(**self.overrides("tmaze")).validate()

    def rule_tag(self, task: str = "tmaze") -> str:
        """The overrides that reach ``task`` as a run-name part (``-rate_penalty=0.5``; empty under
        the defaults)."""
        return "".join(f"-{k}={_tag_value(v)}" for k, v in sorted(self.overrides(task).items()))

    def overrides(self, task: str = "tmaze") -> dict[str, Any]:
        """The overrides that reach ``task``: all of them for the T-maze, those that are
        ``train_sequence`` arguments for the sequence tasks."""
        if task == "tmaze":
            from sublstm.agents.settings import HYPERPARAM_NAMES

            return {k: v for k, v in self.hyperparams.items() if k in HYPERPARAM_NAMES}
        names = sequence_arguments()
        return {k: v for k, v in self.hyperparams.items() if k in names}


def _tag_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def sequence_arguments() -> tuple[str, ...]:
    """The ``train_sequence`` arguments a rule may set (all but task, cell, seed and callables)."""
    import inspect

    from sublstm.agents.supervised import train_sequence

    return tuple(
        n
        for n, p in inspect.signature(train_sequence).parameters.items()
        if n not in SEQUENCE_FIXED and p.default is not inspect.Parameter.empty  # settings, not *args
    )


@dataclass(frozen=True)
class GatingGrid:
    """Which runs make the grid: every task x noise (T-maze) x cell, seeds 0 .. seeds-1."""

    noises: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # T-maze corridor noise levels
    seeds: int = 64
    cores: tuple[str, ...] = CORES
    tasks: tuple[str, ...] = TASKS
    corridor: int = 10  # T-maze corridor length
    budget: GatingBudget = field(default_factory=GatingBudget)

    def validate(self) -> None:
        from sublstm.agents.cores import CORES as KNOWN_CORES

        for name, values, allowed in (("cores", self.cores, KNOWN_CORES), ("tasks", self.tasks, TASKS)):
            if not values:
                raise ValueError(f"{name} must not be empty")
            bad = [v for v in values if v not in allowed or (name == "cores" and v not in CORES)]
            if bad:
                known = list(CORES) if name == "cores" else list(allowed)
                raise ValueError(f"unknown {name} {bad}; known: {known}")
        if "tmaze" in self.tasks and not self.noises:
            raise ValueError("noises must not be empty when the grid has the T-maze")
        bad = [
            x
            for x in self.noises
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1
        ]
        if bad:
            raise ValueError(f"noises must be numbers in [0, 1], got {bad}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 1:
            raise ValueError(f"seeds must be a positive integer (seeds 0 .. seeds-1), got {self.seeds!r}")
        from sublstm.envs.tmaze import MAX_CORRIDOR_LENGTH

        if isinstance(self.corridor, bool) or not isinstance(self.corridor, int):
            raise ValueError(f"corridor must be a positive integer, got {self.corridor!r}")
        if not 1 <= self.corridor <= MAX_CORRIDOR_LENGTH:
            raise ValueError(f"corridor must be in 1..{MAX_CORRIDOR_LENGTH:_}, got {self.corridor!r}")
        self.budget.validate()

    def blocks(self) -> list[tuple[int, ...]]:
        """The seeds in blocks of ``budget.population`` (the last one may be shorter)."""
        size = self.budget.population
        return [tuple(range(a, min(a + size, self.seeds))) for a in range(0, self.seeds, size)]

    def cells(self) -> list[Cell]:
        """Every stored run of the grid: T-maze first (the long runs), seed blocks outermost so that
        an interrupted grid has every condition at the same number of seeds."""
        settings = package_defaults(self.budget)
        runs = []
        for block in self.blocks():
            if "tmaze" in self.tasks:
                runs += [
                    {"task": "tmaze", "noise": float(noise), "core": core, "seeds": list(block)}
                    for noise in self.noises
                    for core in self.cores
                ]
            runs += [
                {"task": task, "noise": 1.0 if task == "seq2b" else 0.0, "core": core, "seeds": list(block)}
                for task in self.tasks
                if task != "tmaze"
                for core in self.cores
            ]
        return [
            Cell(
                run_name(p, self.corridor, self.budget.rule_tag(p["task"])),
                settings["tmaze"] | {"corridor": self.corridor}
                if p["task"] == "tmaze"
                else settings["sequence"],
                p,
            )
            for p in runs
        ]


FULL = GatingGrid()
QUICK = GatingGrid(
    noises=(1.0,),
    seeds=2,
    tasks=("tmaze", "seq2a"),
    budget=GatingBudget(total_timesteps=15_000, test_episodes=30, test_sequences=50, population=2),
)


def run_name(params: Mapping[str, Any], corridor: int, tag: str = "") -> str:
    """``tmaze-c10-n0.50-asn-lstm[-rate_penalty=0.5]-s0-15``: task, corridor, noise, cell, the
    training rule's overrides (``tag``), seed block."""
    seeds = params["seeds"]
    block = f"s{seeds[0]}-{seeds[-1]}"
    where = f"-c{corridor}-n{params['noise']:.2f}" if params["task"] == "tmaze" else ""
    return f"{params['task']}{where}-{params['core']}{tag}-{block}"


def package_defaults(budget: GatingBudget) -> dict[str, dict]:
    """The settings a run is made with, read from the package now (the defaults of the day): per
    task kind, the budget, the training settings (defaults, the grid's pins, then the budget's
    overrides, which are stored apart as ``hyperparam_overrides`` when there are any) and the
    twin's timing."""
    from sublstm.agents.settings import Hyperparams, LearnSettings, hyperparams_record
    from sublstm.spiking.timing import TwinTiming

    learn = to_dict(LearnSettings())
    if budget.total_timesteps is not None:
        learn["total_timesteps"] = budget.total_timesteps
    timing = to_dict(TwinTiming())
    common = {"test_episodes": budget.test_episodes, "test_sequences": budget.test_sequences, "twin": timing}
    tmaze_rule, sequence_rule = budget.overrides("tmaze"), budget.overrides("sequence")
    tmaze = {
        "population": budget.population,
        "learn": learn,
        "hyperparams": hyperparams_record(Hyperparams(**(TMAZE_PINS | tmaze_rule))),
    }
    if tmaze_rule:  # absent under the defaults: runs made before the option keep their settings
        tmaze["hyperparam_overrides"] = dict(sorted(tmaze_rule.items()))
    sequence = {"sequence": sequence_settings(sequence_rule)}
    if sequence_rule:
        sequence["hyperparam_overrides"] = dict(sorted(sequence_rule.items()))
    return {"tmaze": common | tmaze, "sequence": common | sequence}


def sequence_settings(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every ``train_sequence`` argument a sequence net is trained with (but task, cell and seed):
    its defaults, then those of ``sublstm train --task sequence`` (SequenceSettings), the grid's
    pins and ``overrides``."""
    import inspect

    from sublstm.agents.supervised import train_sequence

    from .training_config import SequenceSettings

    names = sequence_arguments()
    defaults = {n: p.default for n, p in inspect.signature(train_sequence).parameters.items() if n in names}
    command = {k: v for k, v in to_dict(SequenceSettings()).items() if k in names}
    settings = defaults | command | SEQUENCE_PINS | dict(overrides)
    for name in SEQUENCE_ADDED_LATER:  # at its default, a run stored before the argument existed matches
        if name in settings and settings[name] == defaults[name]:
            del settings[name]
    return _json(settings)


class GatingStore(RunStore):
    """The grid's run store: a stored T-maze run whose hyperparameters lack ``learning_starts_unit``
    (made before the option existed, when every population counted steps) reads as ``"steps"``, so
    that resuming and the report treat it as the rule it was made under."""

    def get(self, name: str, settings: Mapping[str, Any] | None = None) -> dict | None:
        record = super().get(name)
        if record is None:
            return None
        record = legacy_read(record)
        if settings is not None and record.get("settings") != _json(dict(settings)):
            return None
        return record


def legacy_read(record: dict) -> dict:
    """``record`` as today's settings name it: a T-maze run without ``learning_starts_unit`` in its
    hyperparameters was made under "steps" (the stored file is left as it is)."""
    hp = (record.get("settings") or {}).get("hyperparams")
    if record.get("task") != "tmaze" or not isinstance(hp, dict) or "learning_starts_unit" in hp:
        return record
    hp = {**hp, "learning_starts_unit": "steps"}
    return {**record, "settings": {**record["settings"], "hyperparams": hp}}


# -- one run: a block of seeds ---------------------------------------------------------------------------
def twin_record(policy, analog, agent, episodes: int) -> dict:
    """One twin of one trained agent on the analog run's test episodes: success, agreement, rates."""
    from sublstm.spiking.compare import closed_loop, spiking_record, teacher_forced_agreement

    tf = teacher_forced_agreement(policy, analog)
    loop = closed_loop(policy, agent, episodes, TEST_SEED)
    return {
        "spiking_success": loop.rollout.success_rate,
        "agreement": tf.agreement,
        "agreement_final": tf.final_decision,
        "agreement_closed_loop": loop.agreement,
        "final_c_error": tf.final_c_error,
        **spiking_record(policy),
    }


def run_tmaze(cell: Cell) -> dict:
    """Train the block's seeds as one population, then convert every member to every twin of its cell."""
    from sublstm.agents.population import Population
    from sublstm.spiking.compare import analog_run
    from sublstm.spiking.multiplicative import twin_policy
    from sublstm.spiking.timing import TwinTiming

    p, s = cell.params, cell.settings
    learn = s["learn"]
    pop = Population(
        "sublstm/TMaze-v0",
        n_agents=len(p["seeds"]),
        core=p["core"],
        seeds=p["seeds"],
        env_kwargs={"corridor_length": s["corridor"], "noise": p["noise"]},
        **s["hyperparams"],
    )
    pop.learn(
        learn["total_timesteps"],
        eval_interval=learn["eval_interval"],
        eval_episodes=learn["eval_episodes"],
        stop_at_success=learn["stop_at_success"],
        stop_patience=learn["stop_patience"],
    )
    timing = TwinTiming(**s["twin"])
    members = []
    t0 = time.perf_counter()
    for k, seed in enumerate(p["seeds"]):
        agent = pop.member(k)
        analog = analog_run(agent, s["test_episodes"], TEST_SEED)
        twins = {
            product: twin_record(
                twin_policy(agent.network, product, timing), analog, agent, s["test_episodes"]
            )
            for product in products(p["core"])
        }
        members.append(
            {
                "seed": seed,
                "analog_success": analog.rollout.success_rate,
                "timesteps": int(pop.timesteps[k]),
                "timesteps_to_stop": first_reaching(pop.history[k], threshold=SOLVED),
                "stop_reason": pop.stop_reason[k],
                "twins": twins,
            }
        )
    return {"members": members, "train_wall_s": pop.train_wall_s, "eval_wall_s": time.perf_counter() - t0}


def sequence_twin(policy, x, y, analog) -> dict:
    """A twin fed each test sequence's one-hot symbols step by step: its final-symbol accuracy and
    agreement with the analog predictions."""
    import torch
    from sublstm.spiking.compare import spiking_record

    state, preds = None, []
    for t in range(x.shape[0]):
        q, _, state = policy.act(x[t], state)
        preds.append(q.argmax(-1).cpu())
    spiking = torch.stack(preds)
    return {
        "spiking_success": float((spiking[-1] == y[-1]).float().mean()),
        "agreement": float((spiking == analog).float().mean()),
        "agreement_final": float((spiking[-1] == analog[-1]).float().mean()),
        "spiking_final_xy": float((spiking[-1] <= 1).float().mean()),  # X = 0, Y = 1
        **spiking_record(policy),
    }


def run_sequence(cell: Cell) -> dict:
    """Train the block's nets on next-symbol prediction, convert each to every twin of its cell and
    compare final-symbol accuracy on fresh sequences."""
    import torch
    from sublstm.agents.supervised import train_sequence
    from sublstm.envs.sequence import sequence_batch
    from sublstm.spiking.multiplicative import twin_policy
    from sublstm.spiking.timing import TwinTiming

    p, s = cell.params, cell.settings
    noisy = p["task"] == "seq2b"
    settings = dict(s["sequence"]) | {"p": SEQ_P, "noisy": noisy}
    timing = TwinTiming(**s["twin"])
    members, train_s = [], 0.0
    t0 = time.perf_counter()
    for seed in p["seeds"]:
        trained = train_sequence(**settings, core=p["core"], seed=seed)
        train_s += trained.wall_s
        network = trained.network.eval()
        inputs, targets = sequence_batch(s["test_sequences"], p=SEQ_P, noisy=noisy, rng=TEST_SEED + seed)
        x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
        with torch.no_grad():
            analog = network(x)[0].argmax(-1)
        members.append(
            {
                "seed": seed,
                "analog_success": float((analog[-1] == y[-1]).float().mean()),
                "updates": trained.updates,
                "twins": {
                    product: sequence_twin(twin_policy(network, product, timing), x, y, analog)
                    for product in products(p["core"])
                },
            }
        )
    return {"members": members, "train_wall_s": train_s, "eval_wall_s": time.perf_counter() - t0 - train_s}


def run_cell(cell: Cell) -> dict:
    """One stored run of the grid, whichever task (the task function an executor calls)."""
    return run_tmaze(cell) if cell.params["task"] == "tmaze" else run_sequence(cell)


# -- the grid ---------------------------------------------------------------------------------------------
def report(record: dict, k: int, n: int) -> None:
    members = record["result"]["members"]
    solved = sum(m["analog_success"] >= SOLVED for m in members)
    losses = {
        product: sum(
            m["analog_success"] - m["twins"][product]["spiking_success"] >= COLLAPSE for m in members
        )
        for product in members[0]["twins"]
    }
    print(
        f"[{k}/{n}] {record['name']}: analog solved {solved}/{len(members)}, twins collapsed "
        + ", ".join(f"{prod} {c}/{len(members)}" for prod, c in losses.items())
        + f" ({record['wall_s']:.0f} s)",
        flush=True,
    )


def run_grid(
    grid: GatingGrid = FULL,
    runs_dir: str | Path = "runs/gating",
    *,
    jobs: Jobs | None = 1,
    address: str | None = None,
    only: str | None = None,
) -> dict[str, dict]:
    """Run every block of ``grid`` not yet stored in ``runs_dir`` (with today's defaults); return
    every block's record by name.

    ``jobs`` blocks run side by side as Ray tasks (or ``jobs`` is an executor), on a local Ray or the
    cluster at ``address`` (:mod:`sublstm.experiments.runner`); ``only`` keeps the blocks whose name
    contains it. The grid's settings go to ``_config.json``.
    """
    grid.validate()
    executor = executor_for(jobs, address)
    cells = [c for c in grid.cells() if only is None or only in c.name]
    store = GatingStore(runs_dir)
    todo = [c for c in cells if store.get(c.name, c.settings) is None]
    print(f"{len(cells)} runs selected, {len(cells) - len(todo)} stored, {len(todo)} to run", flush=True)
    if todo:  # the resolved settings beside the runs they made
        write_json(store.root / "_config.json", to_dict(grid))
    return run_cells(store, cells, run_cell, executor, on_record=report)


def stored_runs(grid: GatingGrid, runs_dir: str | Path) -> dict[str, dict]:
    """The stored runs of ``runs_dir`` made with the grid's budget, rule and corridor under one set
    of package defaults per task kind: today's where runs were made with them, else the set with
    the most runs (so a doc can be rendered after the defaults moved on; it says which were used)."""
    budget = {k: v for k, v in package_defaults(grid.budget)["tmaze"].items() if k not in ("learn", "twin")}
    budget.pop("hyperparams")
    today = {k: _json(v) for k, v in package_defaults(grid.budget).items()}
    today["tmaze"] = today["tmaze"] | {"corridor": grid.corridor}
    groups: dict[tuple[str, str], dict[str, dict]] = {}
    for name, record in GatingStore(runs_dir).all().items():
        settings = record.get("settings") or {}
        if "members" not in record.get("result", {}):
            continue
        kind = "tmaze" if record.get("task") == "tmaze" else "sequence"
        # the rule (the budget's overrides) must match; only the package defaults may have moved on
        if settings.get("hyperparam_overrides", {}) != grid.budget.overrides(record.get("task", "tmaze")):
            continue
        if kind == "tmaze":
            learn = settings.get("learn", {})
            if settings.get("corridor") != grid.corridor or learn.get("total_timesteps") != (
                grid.budget.total_timesteps or learn.get("total_timesteps")
            ):
                continue
        if any(settings.get(k) != v for k, v in budget.items() if k in ("test_episodes", "test_sequences")):
            continue
        groups.setdefault((kind, json.dumps(settings, sort_keys=True)), {})[name] = record
    out = {}
    for kind in ("tmaze", "sequence"):
        mine = {key: runs for key, runs in groups.items() if key[0] == kind}
        if not mine:
            continue
        wanted = (kind, json.dumps(today[kind], sort_keys=True))
        out.update(mine.get(wanted) or max(mine.values(), key=len))
    return out


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))
