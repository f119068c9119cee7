"""The gating grid's one training rule across tasks and across the package's change of defaults:
the T-maze populations pin ``learning_starts_unit="steps"`` (stored runs made before the option read
as "steps" and are reused), and the budget's overrides reach the sequence nets.

Training is replaced by a fake (a real run takes minutes) except in the last test, which trains one
tiny sequence net for real.
"""

import functools
import json

import pytest
from sublstm.experiments import gating
from sublstm.experiments.gating import GatingBudget, GatingGrid, run_grid, stored_runs
from sublstm.experiments.gating_report import render

RULE = GatingBudget(
    total_timesteps=64, test_episodes=2, test_sequences=4, population=2, hyperparams={"rate_penalty": 0.0}
)


@pytest.fixture()
def fake(monkeypatch):
    """Every block trained and measured by a fake: all nets solve, no twin loses anything."""
    calls = []

    def run(cell):
        calls.append(cell.name)
        twin = {"spiking_success": 1.0, "agreement": 1.0, "agreement_final": 1.0, "mean_rate_hz": 90.0}
        members = [
            {
                "seed": s,
                "analog_success": 1.0,
                "twins": dict.fromkeys(gating.products(cell.params["core"]), twin),
            }
            for s in cell.params["seeds"]
        ]
        return {"members": members, "train_wall_s": 1.0, "eval_wall_s": 1.0}

    monkeypatch.setattr(gating, "run_tmaze", run)
    monkeypatch.setattr(gating, "run_sequence", run)
    return calls


def drop_start_unit(path):
    """Rewrite a stored run as it was stored before ``learning_starts_unit`` existed."""
    record = json.loads(path.read_text())
    del record["settings"]["hyperparams"]["learning_starts_unit"]
    path.write_text(json.dumps(record))


def test_tmaze_populations_count_steps_unless_the_rule_says_otherwise():
    grid = GatingGrid(noises=(1.0,), seeds=2, tasks=("tmaze",), budget=RULE)
    cells = grid.cells()
    assert all(c.settings["hyperparams"]["learning_starts_unit"] == "steps" for c in cells)
    # the pin is the grid's, not an override: the names of runs stored before it are unchanged
    assert cells[0].name == "tmaze-c10-n1.00-asn-sublstm-rate_penalty=0-s0-1"
    assert cells[0].settings["hyperparam_overrides"] == {"rate_penalty": 0.0}
    episodes = GatingBudget(**{**vars(RULE), "hyperparams": {"learning_starts_unit": "episodes"}})
    other = GatingGrid(noises=(1.0,), seeds=2, tasks=("tmaze",), budget=episodes).cells()[0]
    assert other.settings["hyperparams"]["learning_starts_unit"] == "episodes"
    assert other.name == "tmaze-c10-n1.00-asn-sublstm-learning_starts_unit=episodes-s0-1"


def test_runs_stored_without_the_start_unit_are_reused_and_pooled_as_steps(fake, tmp_path):
    runs = tmp_path / "runs"
    old = GatingGrid(noises=(1.0,), seeds=2, cores=("asn-sublstm", "asn-lstm"), tasks=("tmaze",), budget=RULE)
    run_grid(old, runs)
    for path in runs.glob("tmaze-*.json"):
        drop_start_unit(path)
    assert "learning_starts_unit" not in path.read_text()
    more = GatingGrid(noises=(1.0,), seeds=4, cores=old.cores, tasks=("tmaze",), budget=RULE)
    run_grid(more, runs)
    assert len(fake) == 4 and all(name.endswith("-s2-3") for name in fake[2:])  # old blocks resumed
    assert len(stored_runs(more, runs)) == 4  # one rule: old and new blocks pool
    text = render(more, runs, tmp_path / "gating.md").read_text()
    assert "| 1 | asn-lstm | 4 / 4 |" in text and "Runs under other settings" not in text
    assert 'read as "steps"' in text
    # a run made under the other unit is another rule: run again, never pooled
    record = json.loads(path.read_text())
    record["settings"]["hyperparams"]["learning_starts_unit"] = "episodes"
    path.write_text(json.dumps(record))
    run_grid(more, runs)
    assert fake[-1] == path.stem and len(fake) == 5


def test_the_rule_reaches_the_sequence_nets_and_names_their_runs():
    budget = GatingBudget(**{**vars(RULE), "hyperparams": {"rate_penalty": 0.0, "gamma": 0.9}})
    cells = {c.params["task"]: c for c in GatingGrid(seeds=1, cores=("asn-sublstm",), budget=budget).cells()}
    seq = cells["seq2b"]
    assert seq.name == "seq2b-asn-sublstm-rate_penalty=0-s0-0"  # gamma is no train_sequence argument
    assert seq.settings["sequence"]["rate_penalty"] == 0.0
    assert seq.settings["hyperparam_overrides"] == {"rate_penalty": 0.0}
    assert seq.settings["sequence"]["stop_at_rate_hz"] is None  # stops on accuracy alone
    assert "-gamma=0.9-rate_penalty=0-" in cells["tmaze"].name
    plain = GatingGrid(seeds=1, tasks=("seq2a",), budget=GatingBudget()).cells()[0]
    assert plain.settings["sequence"]["rate_penalty"] == 2.0 and "hyperparam_overrides" not in plain.settings


def test_a_sequence_net_is_trained_under_the_rule(monkeypatch, tmp_path):
    from sublstm.agents import supervised

    seen, real = [], supervised.train_sequence

    @functools.wraps(real)  # the grid reads train_sequence's arguments from its signature
    def spy(**kwargs):
        seen.append(kwargs)
        return real(**{**kwargs, "max_updates": 2})

    monkeypatch.setattr(supervised, "train_sequence", spy)
    grid = GatingGrid(seeds=1, cores=("asn-lstm",), tasks=("seq2b",), budget=RULE)
    records = run_grid(grid, tmp_path / "runs")
    assert seen[0]["rate_penalty"] == 0.0 and seen[0]["noisy"] and seen[0]["stop_at_rate_hz"] is None
    assert seen[0]["train_noise"] == 0.1 and seen[0]["core"] == "asn-lstm"
    (record,) = records.values()
    assert record["name"] == "seq2b-asn-lstm-rate_penalty=0-s0-0"
    assert set(record["result"]["members"][0]["twins"]) == {"exact", "spikes"}


def test_sequence_sections_are_rendered_with_the_rule(fake, tmp_path):
    grid = GatingGrid(seeds=2, tasks=("seq2a", "seq2b"), budget=RULE)
    run_grid(grid, tmp_path / "runs")
    text = render(grid, tmp_path / "runs", tmp_path / "gating.md").read_text()
    assert "## Sequence prediction 2b (p = 10)" in text and "1: the middle symbols are random" in text
    assert (
        "`sublstm train --task sequence` and the overrides `rate_penalty=0.0` applied to every cell" in text
    )
    assert "on accuracy alone" in text and "seq2b: 2 seeds per condition" in text
    assert text.startswith(
        "# Subtractive vs multiplicative gating under spiking conversion (rule: `rate_penalty=0.0`)"
    )


def test_a_warm_up_rule_reaches_each_task_in_its_own_units():
    """rate_penalty_after reaches both tasks; the ramp is given per task (timesteps for the T-maze
    agents, updates for the sequence nets), each only where it is an argument; the sequence
    settings of a rule without a warm-up stay as they were stored before the arguments existed."""
    rule = {"rate_penalty_after": 0.95, "rate_penalty_ramp": 10000, "rate_penalty_ramp_updates": 500}
    budget = GatingBudget(**{**vars(RULE), "hyperparams": rule})
    cells = {c.params["task"]: c for c in GatingGrid(seeds=1, cores=("asn-lstm",), budget=budget).cells()}
    hp = cells["tmaze"].settings["hyperparams"]
    assert (hp["rate_penalty_after"], hp["rate_penalty_ramp"]) == (0.95, 10000)
    assert "rate_penalty_ramp_updates" not in hp
    seq = cells["seq2a"].settings["sequence"]
    assert (seq["rate_penalty_after"], seq["rate_penalty_ramp_updates"]) == (0.95, 500)
    assert "rate_penalty_ramp" not in seq
    assert cells["seq2a"].name == "seq2a-asn-lstm-rate_penalty_after=0.95-rate_penalty_ramp_updates=500-s0-0"
    plain = GatingGrid(seeds=1, tasks=("seq2a",), budget=RULE).cells()[0].settings["sequence"]
    assert "rate_penalty_after" not in plain and "rate_penalty_ramp_updates" not in plain


def test_a_page_shows_the_runs_of_its_own_rule_only(fake, tmp_path):
    """Sequence nets stored under one rule never fill the sequence sections of another rule's page."""
    run_grid(GatingGrid(seeds=2, tasks=("tmaze", "seq2a"), noises=(0.0,), budget=RULE), tmp_path / "runs")
    other = GatingBudget(**{**vars(RULE), "hyperparams": {"rate_penalty": 0.5}})
    grid = GatingGrid(seeds=2, tasks=("tmaze",), noises=(0.0,), budget=other)
    run_grid(grid, tmp_path / "runs")
    text = render(grid, tmp_path / "runs", tmp_path / "gating.md").read_text()
    assert "## T-maze" in text and "## Sequence prediction" not in text
    both = GatingGrid(seeds=2, tasks=("tmaze", "seq2a"), noises=(0.0,), budget=RULE)
    assert "## Sequence prediction 2a" in render(both, tmp_path / "runs", tmp_path / "rule.md").read_text()
