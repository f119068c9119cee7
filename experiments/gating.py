"""The paper's central experiment: subtractive against multiplicative gating under spiking conversion.

Grid: the T-maze (``sublstm/TMaze-v0``, corridor 10, ``noise`` in {0, 0.25, 0.5, 0.75, 1}) and
sequence prediction 2a / 2b (p = 10), for the cells ``asn-sublstm`` (subtractive gates) and
``asn-lstm`` (multiplicative gates, otherwise identical), 5 seeds each. Every run trains the analog
network (AdvantageAgent, or the supervised path for sequences) under the same budget and stop rule
for both cells, converts it to spikes and measures on the same test episodes: analog and spiking
success, teacher-forced decision agreement and the twin's firing rates.

From Python::

    from sublstm.experiments.gating import GatingGrid, GatingBudget, run_grid
    grid = GatingGrid(noises=(1.0,), seeds=(0,), budget=GatingBudget(rl_cap_timesteps=5_000))
    records = run_grid(grid, "runs/my-grid")          # resumable; jobs=2 runs two at a time

Each run is stored as one JSON file the moment it finishes (:mod:`sublstm.experiments.runner`);
:mod:`sublstm.experiments.gating_report` renders the doc from the stored runs only.
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

CORES = ("asn-sublstm", "asn-lstm")
TASKS = ("tmaze", "seq2a", "seq2b")
SEQ_P = 10  # sequence length of tasks 2a / 2b
TEST_SEED = 100_000  # test episodes / sequences use seeds from here on, never seen in training

#: What the grid measures is pinned here, so that later changes of the package defaults cannot
#: change what it reproduces (the stored runs were made with exactly these settings): the analog
#: nets are trained without noise-aware training, and the twin's recurrent synapses are a one-step
#: spike delay line ("step") rather than the default "hold" of the averaged h. Both defaults make
#: any twin more robust and would blur the difference the grid is after, which is the gating alone.
TRAIN_OVERRIDES = {"train_noise": 0.0, "train_cell_noise": 0.0}
TWIN_DELAY = "step"


@dataclass(frozen=True)
class GatingBudget:
    """Per-run budget and measurement settings, the same for both cells; stored with every run."""

    rl_cap_timesteps: int = 40_000  # T-maze training stops here at the latest ...
    rl_eval_interval: int = 5_000  # ... or at the first deterministic evaluation (every this many steps)
    rl_eval_episodes: int = 100  # ... on this many episodes
    rl_stop_at_success: float = 0.95  # ... reaching this success rate
    test_episodes: int = 100  # T-maze test episodes, the same for analog and spiking
    # a fixed number of updates, no early stop: a net stopped at its first perfect evaluation can
    # keep final-symbol margins too thin for any conversion
    seq_updates: int = 2_000
    test_sequences: int = 200

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "rl_stop_at_success":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                    raise ValueError(f"rl_stop_at_success must be in (0, 1], got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{f.name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class GatingGrid:
    """Which runs make the grid: every task x noise (T-maze) x cell x seed, under one budget."""

    noises: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)  # T-maze corridor noise levels
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    cores: tuple[str, ...] = CORES
    tasks: tuple[str, ...] = TASKS
    corridor: int = 10  # T-maze corridor length
    budget: GatingBudget = field(default_factory=GatingBudget)

    def validate(self) -> None:
        from sublstm.agents.cores import CORES as KNOWN_CORES

        for name, values, allowed in (("cores", self.cores, KNOWN_CORES), ("tasks", self.tasks, TASKS)):
            if not values:
                raise ValueError(f"{name} must not be empty")
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValueError(f"unknown {name} {bad}; known: {list(allowed)}")
        if "tmaze" in self.tasks and not self.noises:
            raise ValueError("noises must not be empty when the grid has the T-maze")
        bad = [
            x
            for x in self.noises
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1
        ]
        if bad:
            raise ValueError(f"noises must be numbers in [0, 1], got {bad}")
        if not self.seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in self.seeds):
            raise ValueError(f"seeds must be non-negative integers, got {list(self.seeds)}")
        if isinstance(self.corridor, bool) or not isinstance(self.corridor, int) or self.corridor < 1:
            raise ValueError(f"corridor must be a positive integer, got {self.corridor!r}")
        self.budget.validate()

    def cells(self) -> list[Cell]:
        """Every run of the grid; T-maze first (the long runs), cells interleaved."""
        budget = dataclasses.asdict(self.budget)
        runs = [
            {"task": "tmaze", "noise": float(noise), "core": core, "seed": seed}
            for seed in (self.seeds if "tmaze" in self.tasks else ())
            for noise in self.noises
            for core in self.cores
        ]
        runs += [
            {"task": task, "noise": 1.0 if task == "seq2b" else 0.0, "core": core, "seed": seed}
            for task in self.tasks
            if task != "tmaze"
            for seed in self.seeds
            for core in self.cores
        ]
        return [
            Cell(run_name(p), budget | ({"corridor": self.corridor} if p["task"] == "tmaze" else {}), p)
            for p in runs
        ]


FULL = GatingGrid()
QUICK = GatingGrid(
    noises=(0.0, 1.0),
    seeds=(0,),
    budget=GatingBudget(
        rl_cap_timesteps=15_000, rl_eval_episodes=50, test_episodes=50, seq_updates=500, test_sequences=100
    ),
)


def run_name(params: Mapping[str, Any]) -> str:
    noise = f"-n{params['noise']:.2f}" if params["task"] == "tmaze" else ""
    return f"{params['task']}{noise}-{params['core']}-s{params['seed']}"


class GridStore(RunStore):
    """The grid's run store; it also reads the first runs, which kept their settings as ``budget``
    (a T-maze run then always had corridor 10)."""

    def get(self, name: str, settings: Mapping[str, Any] | None = None) -> dict | None:
        record = super().get(name)
        if record is None:
            return None
        if "settings" not in record and "budget" in record:
            implied = {"corridor": 10} if record.get("task") == "tmaze" else {}
            record = {**record, "settings": record["budget"] | implied}
        if settings is not None and record.get("settings") != json.loads(json.dumps(dict(settings))):
            return None
        return record


# -- one run --------------------------------------------------------------------------------------------
def twin_fields(timing, gating: str) -> dict:
    """The twin's timing and gating as every run stores them."""
    return {
        "step_ms": timing.step_ms,
        "dt_ms": timing.dt,
        "readout_window_ms": timing.readout_window_ms,
        "recurrent_delay": timing.recurrent_delay_ms,
        "gating": gating,
    }


def run_tmaze(cell: Cell) -> dict:
    """Train an analog T-maze agent, convert it, measure both on the same test episodes."""
    from sublstm.agents import AdvantageAgent
    from sublstm.spiking.compare import compare
    from sublstm.spiking.timing import TwinTiming

    p, s = cell.params, cell.settings
    env_kwargs = {"corridor_length": s["corridor"], "noise": p["noise"]}
    agent = AdvantageAgent(
        "sublstm/TMaze-v0", core=p["core"], seed=p["seed"], env_kwargs=env_kwargs, **TRAIN_OVERRIDES
    )
    agent.learn(
        s["rl_cap_timesteps"],
        progress_bar=False,
        eval_interval=s["rl_eval_interval"],
        eval_episodes=s["rl_eval_episodes"],
        stop_at_success=s["rl_stop_at_success"],
        stop_patience=1,
    )
    t0 = time.perf_counter()
    timing = TwinTiming(recurrent_delay_ms=TWIN_DELAY)
    c = compare(agent, episodes=s["test_episodes"], seed=TEST_SEED, timing=timing, sweep_step_ms=None)
    return {
        "timesteps": agent.num_timesteps,
        "timesteps_to_stop": first_reaching(agent.history, threshold=s["rl_stop_at_success"]),
        "train_wall_s": agent.train_wall_s,
        "analog_success": c.analog_success,
        "spiking_success": c.spiking_success,
        "agreement": c.teacher_forced_agreement,
        "agreement_decisive": c.decisive_agreement,
        "agreement_final": c.final_decision_agreement,
        "agreement_closed_loop": c.closed_loop_agreement,
        "final_c_error": c.final_c_error,
        "final_c_abs": c.final_c_abs,
        "mean_rate_hz": c.rates_hz["overall"],
        "rate_hz": c.rates_hz,
        "spikes_per_decision": c.spikes_per_decision,
        "synops_per_decision": c.synaptic_events_per_decision,
        "twin": twin_fields(timing, agent.network.core.gating),
        "eval_wall_s": time.perf_counter() - t0,
    }


def run_sequence(cell: Cell) -> dict:
    """Train on next-symbol prediction, convert, compare final-symbol accuracy on fresh sequences.

    The twin is fed each sequence's one-hot symbols step by step (``step_ms`` each, one continuous
    run per sequence); its prediction is the argmax of the readout, as for the analog logits.
    """
    import torch
    from sublstm.agents.supervised import train_sequence
    from sublstm.envs.sequence import sequence_batch
    from sublstm.spiking.compare import spiking_record
    from sublstm.spiking.policy import SpikingPolicy
    from sublstm.spiking.timing import TwinTiming

    p, s = cell.params, cell.settings
    noisy = p["task"] == "seq2b"
    updates = s["seq_updates"]
    trained = train_sequence(
        p=SEQ_P,
        noisy=noisy,
        core=p["core"],
        seed=p["seed"],
        max_updates=updates,
        eval_every=updates,
        stop_at_accuracy=None,
    )
    network = trained.network.eval()
    t0 = time.perf_counter()
    inputs, targets = sequence_batch(s["test_sequences"], p=SEQ_P, noisy=noisy, rng=TEST_SEED + p["seed"])
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
    with torch.no_grad():
        analog = network(x)[0].argmax(-1)
    policy = SpikingPolicy.from_network(network, TwinTiming(recurrent_delay_ms=TWIN_DELAY))
    state, preds = None, []
    for t in range(x.shape[0]):
        q, _, state = policy.act(x[t], state)
        preds.append(q.argmax(-1).cpu())
    spiking = torch.stack(preds)

    def share(mask) -> float:
        return float(mask.float().mean())

    return {
        "updates": trained.updates,
        "train_wall_s": trained.wall_s,
        "analog_success": share(analog[-1] == y[-1]),
        "spiking_success": share(spiking[-1] == y[-1]),
        "agreement": share(spiking == analog),
        "agreement_final": share(spiking[-1] == analog[-1]),
        # X = 0 and Y = 1: how often the final prediction is one of the two memory symbols at all
        # (2b has no end marker: a net must count steps to know the sequence ends)
        "analog_final_xy": share(analog[-1] <= 1),
        "spiking_final_xy": share(spiking[-1] <= 1),
        "analog_all_accuracy": share(analog == y),
        "spiking_all_accuracy": share(spiking == y),
        **spiking_record(policy),
        "eval_wall_s": time.perf_counter() - t0,
    }


def run_cell(cell: Cell) -> dict:
    """One run of the grid, whichever task (the task function an executor calls)."""
    return run_tmaze(cell) if cell.params["task"] == "tmaze" else run_sequence(cell)


# -- the grid ---------------------------------------------------------------------------------------------
def report(record: dict, k: int, n: int) -> None:
    r = record["result"]
    print(
        f"[{k}/{n}] {record['name']}: analog {r['analog_success']:.2f} spiking {r['spiking_success']:.2f} "
        f"agreement {r['agreement']:.3f} rate {r['mean_rate_hz']:.0f} Hz ({record['wall_s']:.0f} s)",
        flush=True,
    )


def run_grid(
    grid: GatingGrid = FULL, runs_dir: str | Path = "runs/gating", *, jobs: Jobs = 1, only: str | None = None
) -> dict[str, dict]:
    """Run every cell of ``grid`` not yet stored in ``runs_dir``; return every cell's record by name.

    ``jobs`` processes run side by side (one torch thread each), or ``jobs`` is an executor
    (:mod:`sublstm.experiments.runner`); ``only`` keeps the cells whose name contains it. The grid's
    settings go to ``_config.json``.
    """
    grid.validate()
    executor = executor_for(jobs)
    cells = [c for c in grid.cells() if only is None or only in c.name]
    store = GridStore(runs_dir)
    todo = [c for c in cells if store.get(c.name, c.settings) is None]
    print(f"{len(cells)} runs selected, {len(cells) - len(todo)} stored, {len(todo)} to run", flush=True)
    if todo:  # the resolved settings beside the runs they made
        write_json(store.root / "_config.json", to_dict(grid))
    return run_cells(store, cells, run_cell, executor, on_record=report)


def stored_runs(grid: GatingGrid, runs_dir: str | Path) -> dict[str, dict]:
    """The stored runs of ``runs_dir`` made with the grid's budget (any task, noise, cell or seed)."""
    store = GridStore(runs_dir)
    budget = dataclasses.asdict(grid.budget)
    out = {}
    for name, record in store.all().items():
        settings = dict(record["settings"])
        corridor = settings.pop("corridor", None)
        if settings == budget and corridor in (None, grid.corridor):
            out[name] = record
    return out
