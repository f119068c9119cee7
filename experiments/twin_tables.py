"""The spiking twin on every task (issue 11): one acceptance table per task, many seeds per row.

Rows: the T-maze (corridors 10 and 20 at noise 0, 0.5 and 1), sequence prediction 2a and 2b
(p = 10) and saccade/antisaccade. Every agent is trained with the package defaults (RL rows: a
:class:`~sublstm.agents.population.Population` of seeds side by side, each member taken out as an
ordinary agent; sequence rows: :func:`~sublstm.agents.supervised.train_sequence`), converted with
the :class:`~sublstm.spiking.timing.TwinTiming` defaults and compared on held-out episodes; a row
may change the training, the stop rule or the twin for itself (:class:`Row`). One
stored record per (row, block of seeds) in a :class:`~sublstm.experiments.store.RunStore`, so a
rerun resumes; the tables in the "Spiking twin" section of docs/results.md are rendered from the
stored records only.

    from sublstm.experiments.twin_tables import TwinTableSettings, run_twin_tables
    run_twin_tables(TwinTableSettings(rows=("tmaze-c10-n1",), seeds=4), "runs/twin-tables", doc=None)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .comparing import DOC_SECTION
from .config import to_dict
from .population_blocks import seed_blocks, train_population
from .reporting import command_line, fmt, machine_line, markdown_table, median, write_block
from .runner import Cell, Jobs, executor_for, run_cells
from .store import RunStore

RUNS = "runs/twin-tables"
BLOCK = "twin-tables"
TEST_SEED = 100_000  # evaluation episodes / sequences start here, never seen in training
SEQ_P = 10


@dataclass(frozen=True)
class Row:
    """One row of a table: a task and its env arguments, and the row's own changes."""

    name: str
    task: str  # "tmaze", "saccade", "seq2a" or "seq2b"
    env_id: str | None = None
    env_kwargs: dict = field(default_factory=dict)
    # the row's own changes to the RL defaults, on top of TwinTableSettings.hyperparams
    hyperparams: dict = field(default_factory=dict)
    # the row's own stop rule, evaluations in a row at the target (None: TwinTableSettings.stop_patience
    # for RL rows, train_sequence's own for sequence rows)
    stop_patience: int | None = None
    # RL rows: stop on the greedy evaluations' mean return instead of their success (None: success
    # >= 95 %), the same number of evaluations in a row
    stop_at_return: float | None = None
    # the row's own changes to the TwinTiming defaults (its twin's timing or input code)
    twin: dict = field(default_factory=dict)


# T-maze: the stop rule waits for 4 evaluations in a row at >= 95 %, training on past the first
# success to widen the action-value margins of the corridor moves (near ties are where a twin
# disagrees; the saccade row keeps the table's rule, under which its twins held better). Not much
# longer: trained on under the rate penalty, the cell input's rate falls until the sign reaches the
# twin's memory cell as a handful of spikes and some twins lose it.
TMAZE_PATIENCE = 4
# The saccade twin's input code runs at input_gain 0.7: its clean binary inputs otherwise drive the
# input layer far above the mean-rate target (docs/results.md, "Spiking twin").
INPUT_GAIN = 0.7
# T-maze: a lighter rate penalty than the default 2.0, which pushes the cell input and the hidden
# units down to activations where the ASN falls silent while the AF is still above 0 (the twin's
# largest error, so near-tie corridor moves flip); the saccade row trains at 1.0 for a like reason
TMAZE_RATE_PENALTY = 1.5
# T-maze twins per (corridor, noise), chosen on the saved agents of each row: the input code's gain
# (fewer and larger input spikes, so a lower input-layer rate: ~78 Hz at 0.7 on clean inputs, a third
# of the mean rate, which agents trained at TMAZE_RATE_PENALTY need lower to stay near 10 Hz; exact
# for binary observations, approximate for graded ones, where a small gain costs agreement: at noise
# 1 every gain < 1 did), and for the rows whose near-tie corridor moves still flipped, a longer
# decision (600 ms) read out over its last 100 ms, which averages more spikes per decision
LONG_STEP = {"step_ms": 600.0, "readout_window_ms": 100.0}
TMAZE_TWIN = {
    (10, 0.0): {"input_gain": 0.2},
    (10, 0.5): {"input_gain": 0.5},
    (20, 0.0): {"input_gain": 0.5},
    (20, 0.5): {"input_gain": INPUT_GAIN} | LONG_STEP,
    (20, 1.0): LONG_STEP,
}


# Noise 0: updates begin after learning_starts steps (and n_envs finished episodes), not episodes,
# as long corridors do (agents/population.py): the first episodes mostly time out, so counting
# episodes lets the epsilon schedule (counted in steps) run down before the first update. At noise
# 0.5 and 1 the twins held better under the default (docs/results.md, "Spiking twin")
TMAZE_HYPERPARAMS = {(c, 0.0): {"learning_starts_unit": "steps"} for c in (10, 20)}
# Noise 1: the analog network's input code (Hyperparams.input_gain; the twin follows it), the ASN's
# own trace of the graded inputs, where the closed-form AF is above the nearly silent ASN at low
# inputs (flips where both noisy inputs were low). Corridor 10 at gain 0.5: the input layer fires at
# ~34 Hz instead of ~62, which took the row's seeds above 10 Hz back under it (the twin's own code
# at a gain < 1, its analog trained on AF(obs), cost agreement); corridor 20 at gain 1. The rows at
# noise 0.5 met the criteria on as many seeds or more without it (docs/results.md)
TMAZE_NOISY_INPUT_GAIN = 0.5
TMAZE_HYPERPARAMS[(10, 1.0)] = {"input_gain": TMAZE_NOISY_INPUT_GAIN}
TMAZE_HYPERPARAMS[(20, 1.0)] = {"input_gain": 1.0}
# Corridor 10 at noise 1: stop on the greedy evaluations' mean return (>= 3.95 of at most 4: no
# wrong turns and hardly a bump into a wall) instead of their success, so that training goes on
# while the analog still hesitates between a move and a bump, the near-ties its twin flips
TMAZE_STOP_AT_RETURN = {(10, 1.0): 3.95}


def tmaze_row(corridor: int, noise: float) -> Row:
    """The T-maze row of a corridor length and an observation noise."""
    return Row(
        f"tmaze-c{corridor}-n{noise:g}",
        "tmaze",
        "sublstm/TMaze-v0",
        {"corridor_length": corridor, "noise": float(noise)},
        hyperparams={"rate_penalty": TMAZE_RATE_PENALTY}
        | TMAZE_HYPERPARAMS.get((corridor, float(noise)), {}),
        stop_patience=TMAZE_PATIENCE,
        stop_at_return=TMAZE_STOP_AT_RETURN.get((corridor, float(noise))),
        twin=dict(TMAZE_TWIN.get((corridor, float(noise)), {})),
    )


# The seeds on which the rows' own settings above (TMAZE_RATE_PENALTY, TMAZE_TWIN, TMAZE_HYPERPARAMS,
# LONG_STEP, INPUT_GAIN, SEQ2B_PATIENCE and the saccade row's) were chosen, by the seeds meeting each
# criterion. Seeds outside it ran afterwards with those settings unchanged: the doc counts them apart
# (held out), since counts on the seeds a setting was chosen on are biased in its favour.
SETTINGS_CHOSEN_ON = range(0, 16)

# Sequence 2b: the stop rule of train_sequence waits for 12 evaluations in a row at its target
# instead of 3; the twins of agents stopped at the first few lose the memory on some seeds (thin
# final-symbol margins), as the T-maze rows' corridor moves did (docs/results.md, "Spiking twin").
SEQ2B_PATIENCE = 12

ROWS = (
    *(tmaze_row(c, n) for c in (10, 20) for n in (0, 0.5, 1)),
    Row("seq2a", "seq2a"),
    Row("seq2b", "seq2b", stop_patience=SEQ2B_PATIENCE),
    # a lighter rate penalty than the default: the saccade task needs more activity to learn all four
    # trial types, and its twins still stay near the 10 Hz target; its twin decides over 600 ms, read
    # out over the last 100 (near-tie decisions flipped at 300 ms; docs/results.md, "Spiking twin")
    Row(
        "saccade",
        "saccade",
        "sublstm/SaccadeAntisaccade-v0",
        hyperparams={"rate_penalty": 1.0},
        twin={"input_gain": INPUT_GAIN} | LONG_STEP,
    ),
)
ROW_NAMES = tuple(r.name for r in ROWS)


@dataclass(frozen=True)
class TwinTableSettings:
    """What the tables train and measure.

    ``rows``: names from :data:`ROW_NAMES`; ``seeds``: seeds 0 .. seeds-1 per row, trained in
    blocks of ``block`` (one stored record each); ``total_timesteps``: per RL agent at most, with
    the stop rule of ``stop_patience`` evaluations in a row at >= 95 %; ``episodes``: evaluation
    episodes (sequences) per seed; ``sweep_step_ms``: decision times tried for the shortest one that
    keeps the teacher-forced agreement >= ``level``; ``hyperparams``: changes to the RL defaults.
    """

    rows: tuple[str, ...] = ROW_NAMES
    seeds: int = 16
    block: int = 8
    total_timesteps: int = 200_000
    stop_patience: int = 2
    episodes: int = 200
    sweep_step_ms: tuple[float, ...] = (100.0, 200.0)
    level: float = 0.995
    success_gap: float = 0.01
    hyperparams: dict = field(default_factory=dict)

    def validate(self) -> None:
        from sublstm.agents.settings import Hyperparams

        unknown = [r for r in self.rows if r not in ROW_NAMES]
        if unknown or not self.rows:
            raise ValueError(f"rows must be names from {list(ROW_NAMES)}, got {list(self.rows)}")
        for name in ("seeds", "block", "total_timesteps", "stop_patience", "episodes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if any(not isinstance(s, int | float) or s <= 0 for s in self.sweep_step_ms):
            raise ValueError(f"sweep_step_ms must be positive numbers of ms, got {list(self.sweep_step_ms)}")
        for name in ("level", "success_gap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
        Hyperparams(**self.hyperparams).validate()


def cells(settings: TwinTableSettings, runs_dir: str | Path | None = None) -> list[Cell]:
    """One cell per (row, block of seeds); with ``runs_dir``, RL agents are saved under its
    ``agents/<cell>/s<seed>.pt`` (to compare them again with other twins without retraining)."""
    from sublstm.spiking.timing import TwinTiming

    settings.validate()
    twin = TwinTiming().to_dict()
    if twin.get("input_gain") == 1.0:  # neutral: runs stored before the field existed still count
        del twin["input_gain"]
    common = to_dict(settings) | {"twin": twin}
    common.pop("rows")
    common.pop("seeds")
    out = []
    rows = {r.name: r for r in ROWS}
    for name in settings.rows:
        row = rows[name]
        stored = row_settings(row)
        # an RL row's settings hold every hyperparameter its agents train with (the package defaults
        # and the changes): a record counts only for the same learning rule, so runs made under
        # other defaults (e.g. learning_starts counted in steps before learning_starts_unit) do not
        agent = {} if row.task.startswith("seq") else {"agent": agent_hyperparams(common, stored)}
        for seeds in seed_blocks(range(settings.seeds), settings.block):
            params = {"row": stored, "seeds": seeds}
            cell_name = f"{name}-s{seeds[0]}-{seeds[-1]}"
            saved = {} if runs_dir is None else {"agents": str(Path(runs_dir) / "agents" / cell_name)}
            out.append(Cell(cell_name, common | agent | params, params | saved))
    return out


def row_settings(row: Row) -> dict:
    """The row as stored with its runs; a row's own fields left at "no change" are stored as before
    those fields existed, so that its stored runs still count."""
    out = to_dict(row)
    for name in ("hyperparams", "stop_patience", "stop_at_return", "twin"):
        if out[name] in ({}, None):
            del out[name]
    return out


def row_hyperparams(settings: dict, row: dict) -> dict:
    """The hyperparameter changes a row trains with: the table's, then the row's own."""
    return dict(settings["hyperparams"]) | dict(row.get("hyperparams", {}))


def agent_hyperparams(settings: dict, row: dict) -> dict:
    """Every hyperparameter an RL row's agents train with: the package defaults with the table's and
    the row's changes."""
    from sublstm.agents.settings import Hyperparams, hyperparams_record

    return hyperparams_record(Hyperparams(**row_hyperparams(settings, row)))


def row_patience(settings: dict, row: dict) -> int:
    """The stop rule's patience of an RL row: its own, else the table's."""
    return row.get("stop_patience") or settings["stop_patience"]


def determined_steps(p: int, noisy: bool):
    """Which of a sequence's ``p`` predictions have a right answer given the symbols seen so far,
    a bool tensor (p,): every one in 2a (its middle symbols are fixed), only the final one in 2b
    (its middle symbols are drawn afresh at every position, so predicting them is a guess)."""
    import torch

    mask = torch.full((p,), not noisy)
    mask[-1] = True
    return mask


def determined_agreement(member: dict) -> float:
    """A seed's teacher-forced agreement over the decisions that have a right answer (the
    acceptance figure). Records stored before the figure existed: their ``agreement``, which
    counts every decision (RL rows; 2a, whose steps are all decisive), or NaN (2b)."""
    if "determined_agreement" in member:
        return member["determined_agreement"]
    return member["agreement"] if member.get("decisive_fraction", 1.0) == 1.0 else math.nan


def row_timing(settings: dict, row: dict):
    """The twin timing of a row: the table's (stored with the runs), with the row's own changes."""
    from sublstm.spiking.timing import TwinTiming

    return TwinTiming(**settings["twin"]).replace(**row.get("twin", {}))


# -- one block of seeds ---------------------------------------------------------------------------------
def trial_types(obs) -> list[str]:
    """Saccade trial type of each recorded episode from its observations (T, n, 4):
    rule from the fixation mark, cue side from the cue lights."""
    from sublstm.envs.saccade import TRIAL_TYPES

    anti = (obs[..., 1] > 0.5).any(0)
    right = (obs[..., 3] > 0.5).any(0)
    return [TRIAL_TYPES[2 * int(a) + int(r)] for a, r in zip(anti, right, strict=True)]


def shortest_safe_step(agreements: dict[float, float], level: float) -> float | None:
    """Shortest step_ms from which every longer one keeps the agreement >= level."""
    best = None
    for step in sorted(agreements, reverse=True):
        if math.isnan(agreements[step]) or agreements[step] < level:
            break
        best = step
    return best


def rl_member(agent, settings: dict, task: str, timing) -> dict:
    """Compare one trained agent with its twin of ``timing`` on held-out episodes."""
    from sublstm.spiking import SpikingPolicy
    from sublstm.spiking.compare import analog_run, closed_loop, teacher_forced_agreement

    n = settings["episodes"]
    analog = analog_run(agent, n, TEST_SEED)
    policy = SpikingPolicy.from_agent(agent, timing)
    tf = teacher_forced_agreement(policy, analog)
    loop = closed_loop(policy, agent, n, TEST_SEED)
    agreements = {timing.step_ms: tf.agreement}
    for step in settings["sweep_step_ms"]:
        short = timing.replace(step_ms=float(step), readout_window_ms=min(timing.readout_window_ms, step))
        agreements[float(step)] = teacher_forced_agreement(
            SpikingPolicy.from_agent(agent, short), analog
        ).agreement
    stats = loop.stats
    record = {
        "analog_success": analog.rollout.success_rate,
        "twin_success": loop.rollout.success_rate,
        "agreement": tf.agreement,
        "determined_agreement": tf.agreement,  # every decision of an RL task has a right one
        "decisive_agreement": tf.decisive,
        "final_agreement": tf.final_decision,
        "rates_hz": stats["rate_hz"],
        "spikes_per_decision": stats["spikes_per_decision"],
        "synops_per_decision": stats["synops_per_decision"],
        "analog_macs_per_step": int(agent.network.macs_per_step()),
        "agreement_by_step": {f"{k:g}": v for k, v in agreements.items()},
        "shortest_step_ms": shortest_safe_step(agreements, settings["level"]),
    }
    if task == "saccade":
        types = trial_types(analog.rollout.obs)
        record["by_trial_type"] = {
            t: {
                "analog": float(analog.rollout.success[[k for k, x in enumerate(types) if x == t]].mean()),
                "twin": float(loop.rollout.success[[k for k, x in enumerate(types) if x == t]].mean()),
            }
            for t in sorted(set(types))
        }
    return record


TRAINED = "trained.json"  # beside a block's saved agents: what trained them, and their counts


def training_key(cell: Cell) -> dict:
    """Everything that decides how a block's RL agents were trained (not how their twins run)."""
    s, row = cell.settings, cell.params["row"]
    return {
        "env_id": row["env_id"], "env_kwargs": row["env_kwargs"], "seeds": list(cell.params["seeds"]),
        "hyperparams": s.get("agent") or row_hyperparams(s, row), "total_timesteps": s["total_timesteps"],
        **row_stop(row), "stop_patience": row_patience(s, row),
    }  # fmt: skip


def row_stop(row: dict) -> dict:
    """The stop rule's target of an RL row: success >= 95 %, or its own mean return."""
    if row.get("stop_at_return") is not None:
        return {"stop_at_success": None, "stop_at_return": row["stop_at_return"]}
    return {"stop_at_success": 0.95}


def saved_agents(cell: Cell) -> tuple[list, list[dict]] | None:
    """The block's agents saved by an earlier run with the same training (and their step counts),
    or None where there are none (then the block trains)."""
    from sublstm.agents.agent import AdvantageAgent

    from .reporting import read_json

    folder = cell.params.get("agents")
    if not folder or not (Path(folder) / TRAINED).is_file():
        return None
    trained = read_json(Path(folder) / TRAINED)
    paths = [Path(folder) / f"s{seed}.pt" for seed in cell.params["seeds"]]
    if trained.get("training") != json_roundtrip(training_key(cell)) or not all(p.is_file() for p in paths):
        return None
    return [AdvantageAgent.load(p) for p in paths], trained["members"]


def json_roundtrip(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (tuples as lists), to compare with a stored one."""
    return json.loads(json.dumps(obj))


def train_block(cell: Cell) -> tuple[list, list[dict], float]:
    """Train the block's seeds as one population; with ``agents`` in the params, save each member
    (the package's atomic checkpoint) and what trained them, so that other twins of the same agents
    are compared later without training again."""
    from .reporting import write_json

    s, row = cell.settings, cell.params["row"]
    t0 = time.perf_counter()
    pop = train_population(
        row["env_id"], cell.params["seeds"], env_kwargs=row["env_kwargs"],
        hyperparams=row_hyperparams(s, row),
        total_timesteps=s["total_timesteps"], stop_patience=row_patience(s, row), **row_stop(row),
    )  # fmt: skip
    train_s = time.perf_counter() - t0
    steps = pop.steps_to()
    agents = [pop.member(k) for k in range(len(cell.params["seeds"]))]
    counts = [
        {"seed": seed, "steps_to_95": steps[k], "timesteps": int(pop.timesteps[k])}
        for k, seed in enumerate(cell.params["seeds"])
    ]
    if cell.params.get("agents"):
        folder = Path(cell.params["agents"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TRAINED).unlink(missing_ok=True)  # the old agents no longer count while these replace them
        for agent, seed in zip(agents, cell.params["seeds"], strict=True):
            agent.save(folder / f"s{seed}.pt")
        write_json(
            folder / TRAINED, {"training": training_key(cell), "members": counts, "train_wall_s": train_s}
        )
    return agents, counts, train_s


def run_rl(cell: Cell) -> dict:
    """Train the block's seeds as one population (or load them where an earlier run with the same
    training saved them), then compare each member with its twin."""
    s, row = cell.settings, cell.params["row"]
    t0 = time.perf_counter()
    saved = saved_agents(cell)
    if saved is not None:
        (agents, counts), train_s, reused = saved, 0.0, True
    else:
        (agents, counts, train_s), reused = train_block(cell), False
    t1 = time.perf_counter()
    members = [
        count | rl_member(agent, s, row["task"], row_timing(s, row))
        for agent, count in zip(agents, counts, strict=True)
    ]
    return {
        "members": members, "train_wall_s": train_s, "eval_wall_s": time.perf_counter() - t1,
        "agents_reused": reused, "load_wall_s": t1 - t0 if reused else 0.0,
    }  # fmt: skip


def sequence_member(network, settings: dict, noisy: bool, seed: int, timing) -> dict:
    """The twin (of ``timing``) of a trained sequence net fed fresh test sequences (teacher-forced
    by nature)."""
    import torch
    from sublstm.envs.sequence import sequence_batch
    from sublstm.spiking import SpikingPolicy
    from sublstm.spiking.compare import GAP_MARGIN

    inputs, targets = sequence_batch(settings["episodes"], p=SEQ_P, noisy=noisy, rng=TEST_SEED + seed)
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
    with torch.no_grad():
        logits = network(x)[0]
    analog = logits.argmax(-1)
    top2 = logits.topk(2, dim=-1).values
    decisive = top2[..., 0] - top2[..., 1] >= GAP_MARGIN
    determined = determined_steps(SEQ_P, noisy)
    agreements: dict[float, float] = {}  # on the decisive steps
    on_determined: dict[float, float] = {}  # on the steps with a right answer
    record: dict[str, Any] = {}
    for step in (timing.step_ms, *settings["sweep_step_ms"]):
        t = timing.replace(step_ms=float(step), readout_window_ms=min(timing.readout_window_ms, step))
        policy = SpikingPolicy.from_network(network, t)
        twin = policy.teacher_forced(x)["actions"]
        agreements[float(step)] = float((twin == analog)[decisive].float().mean())
        on_determined[float(step)] = float((twin == analog)[determined].float().mean())
        if step == timing.step_ms:
            record = {
                "analog_success": float((analog[-1] == y[-1]).float().mean()),
                "twin_success": float((twin[-1] == y[-1]).float().mean()),
                "agreement": agreements[float(step)],
                "determined_agreement": on_determined[float(step)],
                "all_steps_agreement": float((twin == analog).float().mean()),
                "decisive_fraction": float(decisive.float().mean()),
                "final_agreement": float((twin[-1] == analog[-1]).float().mean()),
            }
            counted = SpikingPolicy.from_network(network, t)  # a pass that counts the spikes
            state = None
            for k in range(x.shape[0]):
                _, _, state = counted.act(x[k], state)
            stats = counted.stats()
            record |= {
                "rates_hz": stats["rate_hz"],
                "spikes_per_decision": stats["spikes_per_decision"],
                "synops_per_decision": stats["synops_per_decision"],
                "analog_macs_per_step": int(network.macs_per_step()),
            }
    record["agreement_by_step"] = {f"{k:g}": v for k, v in agreements.items()}
    record["determined_by_step"] = {f"{k:g}": v for k, v in on_determined.items()}
    record["shortest_step_ms"] = shortest_safe_step(on_determined, settings["level"])
    return record


def run_sequence(cell: Cell) -> dict:
    """Train each seed's sequence net with the defaults of train_sequence, then compare its twin."""
    from sublstm.agents.supervised import train_sequence

    s, row = cell.settings, cell.params["row"]
    noisy = row["task"] == "seq2b"
    members, train_s = [], 0.0
    t0 = time.perf_counter()
    own = {"stop_patience": row["stop_patience"]} if row.get("stop_patience") else {}
    for seed in cell.params["seeds"]:
        trained = train_sequence(p=SEQ_P, noisy=noisy, seed=seed, **own)
        train_s += trained.wall_s
        members.append(
            {"seed": seed, "updates": trained.updates}
            | sequence_member(trained.network.eval(), s, noisy, seed, row_timing(s, row))
        )
    return {"members": members, "train_wall_s": train_s, "eval_wall_s": time.perf_counter() - t0 - train_s}


def run_cell(cell: Cell) -> dict:
    """One block of seeds of one row (the task function an executor calls)."""
    from .runner import one_torch_thread

    one_torch_thread()
    return run_sequence(cell) if cell.params["row"]["task"].startswith("seq") else run_rl(cell)


def report(record: dict, k: int, n: int) -> None:
    members = record["result"]["members"]
    print(
        f"[{k}/{n}] {record['name']}: twin success "
        f"{fmt(median([m['twin_success'] for m in members]), '.3f')} "
        f"agreement min {fmt(min(m['agreement'] for m in members), '.4f')} rate median "
        f"{fmt(median([m['rates_hz']['overall'] for m in members]), '.1f')} Hz ({record['wall_s']:.0f} s)",
        flush=True,
    )


def run_twin_tables(
    settings: TwinTableSettings | None = None, runs_dir: str | Path = RUNS, *, doc=None, jobs: Jobs = 1
) -> dict[str, dict]:
    """Run every (row, block) not yet stored in ``runs_dir``; with ``doc``, write the tables there."""
    settings = settings or TwinTableSettings()
    executor = executor_for(jobs)
    records = run_cells(
        RunStore(runs_dir), cells(settings, runs_dir), run_cell, executor, report, {"command": command_line()}
    )
    if doc is not None:
        render(runs_dir, doc, settings)
    return records


# -- the doc ----------------------------------------------------------------------------------------------
POP_SHORT = {"input": "in", "hidden": "hid", "cell_input": "z", "input_gate": "i", "output_gate": "o",
             "output_cell": "out"}  # fmt: skip


def _span(values: Sequence[float], spec: str) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "-"
    return f"{fmt(median(values), spec)} [{fmt(min(values), spec)}, {fmt(max(values), spec)}]"


def shortest_text(steps: Sequence[float | None]) -> str:
    """The longest of the seeds' shortest safe steps, and how many seeds keep the agreement at none
    of the swept steps."""
    kept = [s for s in steps if s is not None]
    text = f"{max(kept):g}" if kept else "-"
    missing = len(steps) - len(kept)
    return text + (f" ({missing} seeds: none)" if missing else "")


RATE_TARGET_HZ = 10.0  # the issue's mean-rate criterion


def criteria(member: dict, settings: TwinTableSettings) -> tuple[bool, bool, bool]:
    """Whether a seed meets each criterion: twin success within ``success_gap`` of the analog,
    agreement on determined steps >= ``level``, mean rate <= RATE_TARGET_HZ."""
    return (
        abs(member["analog_success"] - member["twin_success"]) <= settings.success_gap + 1e-9,
        determined_agreement(member) >= settings.level,
        member["rates_hz"]["overall"] <= RATE_TARGET_HZ,
    )


def meeting(members: Sequence[dict], settings: TwinTableSettings) -> tuple[int, int, int]:
    """How many seeds meet each criterion (success, agreement, rate)."""
    met = [criteria(m, settings) for m in members]
    return tuple(sum(m[k] for m in met) for k in range(3))  # type: ignore[return-value]


def seed_ranges(seeds: Sequence[int]) -> str:
    """Seeds as runs of consecutive numbers: [0, 1, 2, 5, 7, 8] -> "0-2, 5, 7-8"."""
    runs: list[list[int]] = []
    for seed in sorted(seeds):
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)


def selection_split(members: Sequence[dict]) -> tuple[list[dict], list[dict]]:
    """The members whose seeds are in SETTINGS_CHOSEN_ON (the settings were chosen on them) and the
    others (held out)."""
    chosen = [m for m in members if m["seed"] in SETTINGS_CHOSEN_ON]
    return chosen, [m for m in members if m["seed"] not in SETTINGS_CHOSEN_ON]


def all_met(members: Sequence[dict], settings: TwinTableSettings) -> int:
    """How many seeds meet all three criteria."""
    return sum(all(criteria(m, settings)) for m in members)


def meeting_text(members: Sequence[dict], settings: TwinTableSettings) -> str:
    """ "seeds 16-31: 16 / 15 / 16 of 16 (all three: 15)" (seeds meeting success / agreement / rate)."""
    counts = " / ".join(str(n) for n in meeting(members, settings))
    seeds = seed_ranges([m["seed"] for m in members])
    return f"seeds {seeds}: {counts} of {len(members)} (all three: {all_met(members, settings)})"


HELD_OUT_HEADER = [
    "row", "settings chosen on: seeds meeting success / agreement / rate",
    "held out: seeds meeting success / agreement / rate",
]  # fmt: skip


def held_out_lines(
    names: Sequence[str], by_row: dict[str, list[dict]], settings: TwinTableSettings
) -> list[str]:
    """The rows with held-out seeds, each counted on the seeds its settings were chosen on and on
    the held-out ones; how many seeds meet all three criteria in each part, and the rows where a
    smaller share of the held-out seeds does ([] when no row has held-out seeds)."""
    table, worse = [], []
    totals = {"chosen": [0, 0], "held": [0, 0]}
    for name in names:
        chosen, held = selection_split(by_row[name])
        if not held:
            continue
        table.append([name, meeting_text(chosen, settings) if chosen else "-", meeting_text(held, settings)])
        for key, part in (("chosen", chosen), ("held", held)):
            totals[key][0] += all_met(part, settings)
            totals[key][1] += len(part)
        c, h = all_met(chosen, settings), all_met(held, settings)
        if chosen and h * len(chosen) < c * len(held):  # a smaller share, compared without rounding
            worse.append(f"{name} ({h} of {len(held)} against {c} of {len(chosen)})")
    if not table:
        return []
    (c_met, c_n), (h_met, h_n) = totals["chosen"], totals["held"]
    reading = (
        "Fewer held-out seeds meet all three (as a share of the row's seeds) on "
        + ", ".join(worse)
        + ". Where the two parts differ, the held-out count is the one free of the selection."
        if worse
        else "On no row does a smaller share of the held-out seeds meet all three."
    )
    return [
        "",
        f"Held out: each row's own settings (its line above) were chosen on seeds "
        f"{seed_ranges(SETTINGS_CHOSEN_ON)}, by the seeds meeting each criterion; the other seeds were "
        f"trained and compared afterwards with those settings unchanged, so only their counts are free "
        f"of that selection. All three criteria met: {h_met} of {h_n} held-out seeds, against {c_met} "
        f"of {c_n} seeds the settings were chosen on. {reading} Seeds meeting each criterion, the two "
        f"apart (the first table counts them together):",
        "",
        markdown_table(HELD_OUT_HEADER, table),
    ]


def row_cells(name: str, members: list[dict], settings: TwinTableSettings) -> list:
    """One table row: medians [min, max] over the seeds, and whether each criterion holds."""
    steps = [m["shortest_step_ms"] for m in members]
    determined = [determined_agreement(m) for m in members]
    kept, agree, low = meeting(members, settings)
    per_pop = " / ".join(fmt(median([m["rates_hz"][p] for m in members]), ".0f") for p in POP_SHORT)
    return [
        name,
        len(members),
        _span([m["analog_success"] for m in members], ".3f"),
        _span([m["twin_success"] for m in members], ".3f"),
        _span([m["agreement"] for m in members], ".4f"),
        _span(determined, ".4f"),
        _span([m["final_agreement"] for m in members], ".3f"),
        _span([m["rates_hz"]["overall"] for m in members], ".1f"),
        per_pop,
        f"{fmt(median([m['synops_per_decision'] for m in members]), '.0f')} / "
        f"{members[0]['analog_macs_per_step']}",
        shortest_text(steps),
        f"{kept} / {agree} / {low}",
    ]


HEADER = [
    "row", "seeds", "analog success", "twin success", "agreement (tf)", "agreement on determined steps (tf)",
    "final-decision agreement",
    "mean rate (Hz)", "rate " + " / ".join(POP_SHORT.values()) + " (Hz)",
    "synaptic events per decision / analog MACs per step", "shortest step_ms keeping the agreement",
    "seeds meeting: success / agreement / rate",
]  # fmt: skip

# What was tried on the T-maze rows before their settings were chosen (seeds meeting success /
# agreement / rate of 16; learning_starts counted in episodes): rendered under the T-maze table
TMAZE_LEVERS = """\
Levers tried on the T-maze rows ({chosen} of each row, on which the settings were chosen; seeds
meeting success / agreement / rate; all with `learning_starts` counted in episodes, as the tables):

- Training, on tmaze-c10-n1 (`sublstm twin-tables --rows tmaze-c10-n1 --seeds 16 --block 16
  --episodes 100 --hp KEY=VALUE --runs-dir <scratch>`, twin as the table's): the defaults
  (`rate_penalty` 2.0) 16/12/15; `kappa` 0.25 16/13/4 (median 11.9 Hz: wider action gaps, but
  more activity); `rate_penalty` 1.0 16/15/10; `train_noise` 0.2 with `train_cell_noise` 0.1
  16/14/7; `rate_penalty` 1.5 16/16/14, chosen for every T-maze row. Earlier, training on to 8
  evaluations in a row instead of 4 lost more twins (the cell input falls to 0.2-0.7 Hz).
- All six rows at the defaults (`rate_penalty` 2.0, twins at `input_gain` 0.7 at noise < 1),
  c10 n0 / n0.5 / n1, c20 n0 / n0.5 / n1: 16/15/14, 16/15/16, 16/12/15, 15/13/13, 14/12/14,
  16/9/15 (with `learning_starts` counted in steps, the table before: 16/16/13, 16/15/15,
  15/13/16, 16/15/16, 16/14/16, 15/13/16).
- At `rate_penalty` 1.5 with those twins: 16/16/6, 16/16/14, 16/16/14, 15/13/13, 15/12/16,
  15/11/16. Twin changes, measured on the saved agents of each row (no retraining): the input
  code's gain at noise 0 (c10: 0.5 16/16/10, 0.3 16/16/14, 0.2 16/16/15, 0.1 leaves seed 8 at
  10.9 Hz; c20: 0.5 15/13/16, 0.3 15/13/16, 0.2 15/10/16); at noise 0.5 (c10: 0.5 16/16/16, 0.3
  16/14/16; c20: 0.5 15/12/16); at noise 1 every gain < 1 cost agreement (c10 at
  `rate_penalty` 1.0: 0.5 16/12/13). A decision of 600 ms read out over its last 100 ms: c20 n1
  16/13/16 (900 ms over 150: the same), c20 n0.5 16/15/16, c20 n0 15/14/14 (at gain 0.5
  14/14/16), c10 n1 16/16/14 (unchanged); at `rate_penalty` 2.0 it had lifted c20 n1 from 9 to
  12 seeds on agreement.
- Updates from 64 steps on (`learning_starts_unit` "steps", as long corridors use) instead of 64
  episodes, at `rate_penalty` 1.5 with the rows' twins: c10 n0 16/16/16 against 16/16/15, c20 n0
  16/16/16 against 15/13/16 (both chosen); c10 n1 16/12/13 against 16/16/14; c20 n0.5 16/13/16
  against 16/15/16 (at gain 0.5 16/13/16); c20 n1 16/11/16 against 16/13/16 (at 300 ms over 10:
  16/12/16); those three count episodes.
- The analog network's input code (`Hyperparams.input_gain` g, the twin follows it; `--hp
  input_gain=G`, the rows otherwise as before it): c10 n1 without it 16/16/14, g = 1 16/14/14,
  0.5 16/15/16, 0.3 16/14/16 (median 8.9 / 8.8 / 7.1 / 6.1 Hz, input layer 62 / 62 / 34 / 20
  Hz); c20 n1 16/13/16, 16/14/16, 15/12/16, 16/11/16 (8.0 / 8.0 / 6.5 / 6.0 Hz); at noise 0.5,
  g = 0.5 in place of the twins' own input gains: c10 16/13/14 against 16/16/16, c20 16/14/16
  against 16/15/16. Chosen: g 0.5 for c10 n1, g 1 for c20 n1. Spending the rate it frees on
  wider margins did not pay, c10 n1 / c20 n1: at g 0.3 `kappa` 0.25 16/13/3 (12.4 Hz),
  16/14/11; `train_noise` 0.2 with `train_cell_noise` 0.1 15/12/9, 15/13/16; at g 0.5
  `rate_penalty` 1.0 (the rows' own value, TMAZE_RATE_PENALTY in experiments/twin_tables.py)
  16/14/10, 16/13/15; `eps_end` 0.2 16/12/16, 14/10/15. Training on until the greedy evaluations'
  mean return is >= 3.95 of at most 4 (4 in a row; no wrong turns and hardly a bump into a wall;
  a row's `stop_at_return`) instead of success >= 95 %: c10 n1 at g
  0.5 16/16/16 (median 5.9 Hz, 52,500 steps against 50,000), chosen; c20 n1 without an input
  code 13/12/16 (3 twins a point or more below their analog; 77,500 steps against 62,500), at g
  1 14/14/15 (95,000 steps; no better than g 1 alone); c10 n0 16/15/16 and c10 n0.5 16/13/16,
  against 16/16/16 each.
- Twin changes on the saved c20 n1 agents before the input code (seeds meeting the agreement, of
  16; `sublstm compare <agent.pt> --episodes 100 --seed 100000 --sweep '' twin.step_ms=600
  twin.readout_window_ms=100 twin.KEY=VALUE`): the memory cell integrating over [1/3, 1/2] of
  the step (the default) 13, [1/6, 1/2] 14, [1/3, 2/3] 11, [1/3, 5/6] 11; read out over the last
  200 or 250 ms 14; 900 ms over the last 300 13.
- What flips the c20 n1 decisions (`python scripts/twin_flips.py <agent.pt> step_ms=600
  readout_window_ms=100`: every flip with the analog gap, and the drift by step). Without the
  input code, seed 8's 18 flips all come at steps
  where both noisy inputs are low (~0.02-0.2, where the closed-form AF is above the nearly silent
  ASN), against analog gaps of 0.06-0.44; under every input code above, seeds 8 and 11 flip no
  more, but as many other seeds' nets do. What is left is in the agents, not the twins: near-tie
  decisions whose analog action values differ by less than the twin's error. At c20 n1 the
  twin's action values err by ~0.05 in the corridor and ~0.13 at the junction (its memory cell
  drifts by ~7 % over 20 noisy steps), while some analog nets are nearly indifferent between
  moves of clearly different worth: seed 26 between east and a bump into the north wall all along
  the corridor (gaps 0.0005-0.08, true advantage gap ~0.3; its greedy episodes take 21-33 steps
  where 21 would do), seed 18 between the correct turn and a bump into the east wall at the
  junction (gaps 0.005-0.12), seed 5 under g 0.5 between east and a bump into the south wall
  (gaps 0.0004-0.13; episodes of up to 32 steps). Besides: twins that lose the
  memory bit where the cell input fires < 1 Hz, and output cells at 20-70 Hz in a few seeds."""

TITLES = {
    "tmaze": "T-maze",
    "seq2a": "Sequence prediction",
    "seq2b": "Sequence prediction",
    "saccade": "Saccade/antisaccade",
}


def misses_text(members: list[dict], settings: TwinTableSettings) -> str:
    """Each seed that misses a criterion and by how much ("" when none does)."""
    out = []
    for m in sorted(members, key=lambda m: m["seed"]):
        parts = []
        success, agreement, rate = criteria(m, settings)
        if not success:
            parts.append(f"twin success {m['twin_success']:.2f} against {m['analog_success']:.2f}")
        if not agreement:
            agree = determined_agreement(m)
            parts.append(f"agreement {agree * 100:.2f} % ({(settings.level - agree) * 100:.2f} points short)")
        if not rate:
            parts.append(f"rate {m['rates_hz']['overall']:.1f} Hz")
        if parts:
            out.append(f"seed {m['seed']} " + " and ".join(parts))
    return ", ".join(out)


def own_changes(row: Row) -> str:
    """What a row changes for itself, as text ("" when nothing)."""
    parts = []
    if row.hyperparams:
        parts.append("trained with " + ", ".join(f"`{k}` = {v}" for k, v in sorted(row.hyperparams.items())))
    if row.stop_patience is not None or row.stop_at_return is not None:
        target = "`train_sequence`'s target" if row.task.startswith("seq") else ">= 95 %"
        if row.stop_at_return is not None:
            target = f"a mean return >= {row.stop_at_return:g} (instead of success >= 95 %)"
        patience = "the table's number of" if row.stop_patience is None else row.stop_patience
        parts.append(f"stopped after {patience} evaluations in a row at {target}")
    if row.twin:
        parts.append("twin with " + ", ".join(f"`{k}` = {v}" for k, v in sorted(row.twin.items())))
    return "; ".join(parts)


def learning_rule(records: Sequence[dict]) -> str:
    """When the RL rows' updates begin, from their stored hyperparameters ("" where none is stored;
    the package default first, other rules named as the rows' own)."""
    from sublstm.agents.settings import Hyperparams

    rules = {
        (a["learning_starts"], a["learning_starts_unit"])
        for r in records
        if (a := r["settings"].get("agent"))
    }
    default = Hyperparams()
    first = sorted(rules, key=lambda rule: rule != (default.learning_starts, default.learning_starts_unit))
    return "".join(
        f", updates from {n} {unit} on (`learning_starts`)" if k == 0 else f" (rows that say so: {n} {unit})"
        for k, (n, unit) in enumerate(first)
    )


def block(records: Sequence[dict], settings: TwinTableSettings) -> str:
    """The tables (one per task) from the stored records."""
    by_row: dict[str, list[dict]] = {}
    for rec in records:
        by_row.setdefault(rec["settings"]["row"]["name"], []).extend(rec["result"]["members"])
    first = records[0]
    twin = first["settings"]["twin"]
    commands = ", then ".join(f"`{c}`" for c in dict.fromkeys(r.get("command", "") for r in records))
    changes = ", ".join(f"{k} = {v}" for k, v in sorted(settings.hyperparams.items()))
    lines = [
        "### The twin on every task (issue 11)" + (f", trained with {changes}" if changes else ""),
        "",
        f"Command: {commands}  ",
        f"Machine: {machine_line(first['machine'])}.  ",
        f"Agents: the package defaults{' but ' + changes if changes else ''} (RL rows: a population per "
        f"block of seeds, at most "
        f"{settings.total_timesteps:,} timesteps each, stop after {settings.stop_patience} evaluations in a "
        f"row at >= 95 %{learning_rule(records)}; sequences: `train_sequence`). "
        f"Twins: the TwinTiming defaults ({twin}); the input neurons of a row trained with an input "
        f"code (`input_gain`) follow it. "
        f"{settings.episodes} held-out episodes (sequences) per seed from seed {TEST_SEED}. Figures are "
        f"medians [min, max] over the seeds. Agreement (tf): teacher-forced, every decision (sequence rows: "
        f"the steps whose analog top logit leads by >= 0.05). Agreement on determined steps (tf): "
        f"teacher-forced over the decisions that have a right answer: every decision of the RL rows and "
        f"of 2a, only the final (memory) symbol of 2b, whose middle symbols are drawn afresh at every "
        f"position, so that the analog's choice among them is arbitrary and the twin's need not match "
        f"it; the acceptance and the shortest step_ms count this one. Criteria per seed: twin success "
        f"within {settings.success_gap * 100:g} point of the analog, agreement on determined steps >= "
        f"{settings.level * 100:g} %, mean rate <= {RATE_TARGET_HZ:g} Hz.",
    ]
    rows = {r.name: r for r in ROWS}
    for task in ("tmaze", "seq", "saccade"):
        names = [n for n in ROW_NAMES if n in by_row and rows[n].task.startswith(task)]
        if not names:
            continue
        table = [row_cells(n, sorted(by_row[n], key=lambda m: m["seed"]), settings) for n in names]
        lines += ["", f"#### {TITLES[rows[names[0]].task]}", "", markdown_table(HEADER, table)]
        for n in names:
            if own := own_changes(rows[n]):
                lines += ["", f"Row {n}: {own} (its own changes to the table's settings)."]
        if misses := [f"{n}: {text}" for n in names if (text := misses_text(by_row[n], settings))]:
            lines += ["", "Seeds that miss a criterion, by how much: " + "; ".join(misses) + "."]
        lines += held_out_lines(names, by_row, settings)
        if task == "tmaze":
            chosen = f"seeds {seed_ranges(SETTINGS_CHOSEN_ON)}"
            lines += ["", TMAZE_LEVERS.format(chosen=chosen)]
        if task == "saccade":
            members = by_row[names[0]]
            types = sorted({t for m in members for t in m.get("by_trial_type", {})})
            per_type = [
                [t, *(_span([m["by_trial_type"][t][side] for m in members if t in m["by_trial_type"]], ".3f")
                      for side in ("analog", "twin"))]
                for t in types
            ]  # fmt: skip
            steps = [m["steps_to_95"] for m in members]
            reached = [s for s in steps if s is not None]
            lines += [
                "",
                f"Learned by RL: {len(reached)} of {len(steps)} seeds reached 95 % success, median "
                f"{fmt(median(reached) if reached else None, ',.0f')} timesteps. Success per trial type:",
                "",
                markdown_table(["trial type", "analog success", "twin success"], per_type),
            ]
    return "\n".join(lines)


def block_key(settings: TwinTableSettings) -> str:
    """``twin-tables``, with the changed hyperparameters appended where there are any (so that
    tables of other training settings get blocks of their own)."""
    changes = "-".join(f"{k}-{v}" for k, v in sorted(settings.hyperparams.items()))
    return BLOCK + (f"-{changes}" if changes else "")


def render(runs_dir: str | Path, doc, settings: TwinTableSettings | None = None) -> int:
    """Write the block ``twin-tables`` of ``doc`` from the records stored with ``settings``; returns
    the number of seeds tabulated (ValueError when none is stored)."""
    settings = settings or TwinTableSettings()
    store = RunStore(runs_dir)
    records = [r for c in cells(settings) if (r := store.get(c.name, c.settings))]
    if not records:
        raise ValueError(f"no twin-table runs stored in {runs_dir} with these settings; nothing to render")
    write_block(doc, block_key(settings), block(records, settings), DOC_SECTION)
    return sum(len(r["result"]["members"]) for r in records)
