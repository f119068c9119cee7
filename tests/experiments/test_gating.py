"""The gating grid (sublstm.experiments.gating): blocks of seeds per condition, today's defaults
stored with every run, resuming, the doc rendered from stored runs, the command, its statistics
(sublstm.experiments.gating_stats), and tiny real grids (serial and through Ray in local mode).

Most tests replace training by fakes (a real run takes minutes); two run a tiny grid for real.
"""

import dataclasses
import math
import re

import pytest
from sublstm.experiments import gating
from sublstm.experiments.cli import main
from sublstm.experiments.gating import FULL, QUICK, GatingBudget, GatingGrid, run_grid, stored_runs
from sublstm.experiments.gating_report import render
from sublstm.experiments.gating_stats import (
    bootstrap_difference,
    bootstrap_mean,
    bootstrap_slope,
    detectable_difference,
    newcombe,
    power_two_proportions,
    runs_for_power,
    wilson,
)

TINY = GatingBudget(total_timesteps=64, test_episodes=2, test_sequences=4, population=2)


@pytest.fixture()
def fake(monkeypatch):
    """Training and measuring replaced by a fake: asn-lstm's exact twin collapses on odd seeds, the
    seed-3 nets never solve the task."""
    calls = []

    def run(cell):
        p = cell.params
        calls.append(cell.name)
        members = []
        for seed in p["seeds"]:
            analog = 0.5 if seed == 3 else 1.0
            twins = {}
            for product in gating.products(p["core"]):
                lost = 0.5 if p["core"] == "asn-lstm" and product == "exact" and seed % 2 else 0.0
                twins[product] = {
                    "spiking_success": analog - lost,
                    "agreement": 1.0 - lost / 5,
                    "agreement_final": 1.0 - lost,
                    "mean_rate_hz": 40.0,
                }
            members.append({"seed": seed, "analog_success": analog, "timesteps": 100, "twins": twins})
        return {"members": members, "train_wall_s": 1.0, "eval_wall_s": 1.0}

    monkeypatch.setattr(gating, "run_tmaze", run)
    monkeypatch.setattr(gating, "run_sequence", run)
    return calls


def test_full_grid_has_every_condition_in_blocks_of_seeds():
    cells = FULL.cells()
    blocks = len(FULL.blocks())
    assert blocks == 4 and all(len(b) == 16 for b in FULL.blocks())  # 64 seeds
    assert len(cells) == blocks * (5 * 3 + 2 * 3)
    assert len({c.name for c in cells}) == len(cells)
    # blocks outermost: an interrupted grid has every condition at the same number of seeds
    assert {c.params["seeds"][0] for c in cells[:21]} == {0}
    tmaze = cells[0]
    # the package's defaults of the day travel with the run: a run under other defaults is redone
    assert {"learn", "hyperparams", "twin", "corridor"} <= set(tmaze.settings)
    assert gating.products("asn-sublstm") == ("exact",) and gating.products("asn-lstm-bounded")[1] == "spikes"


def test_runs_are_stored_resumed_and_rendered_with_unsolved_nets_apart(fake, tmp_path):
    grid = GatingGrid(noises=(0.0, 1.0), seeds=4, tasks=("tmaze",), budget=TINY)
    run_grid(grid, tmp_path / "runs")
    assert len(fake) == 2 * 3 * 2  # noises x cells x blocks
    run_grid(grid, tmp_path / "runs")
    assert len(fake) == 12  # resumed: nothing to do
    doc = render(grid, tmp_path / "runs", tmp_path / "gating.md")
    text = doc.read_text()
    assert (tmp_path / "gating.png").stat().st_size > 10_000
    # asn-lstm's exact twin: seeds 1 (collapse) of the solved 0, 1, 2 at each noise -> 1/3
    row = next(line for line in text.splitlines() if line.startswith("| 0 | asn-lstm |"))
    assert "3 / 4" in row and "(1/3)" in row and "+0.167" in row
    assert "| tmaze | 0 | asn-sublstm | 1 / 4 | 0.50 |" in text  # seed 3, reported apart
    assert "asn-lstm-bounded+spikes" in text and "Power of this grid" in text
    assert "60 seeds per condition missing" in text and "seq2a: not run yet" in text
    # the fake's blocks: 1 s training and 1 s converting and testing each, 2 blocks per cell
    assert "asn-lstm 0 min training, 0 min converting and testing (50%)" in text


def test_hand_written_reading_survives_a_rerender(fake, tmp_path):
    grid = GatingGrid(noises=(1.0,), seeds=2, tasks=("seq2a",), budget=TINY)
    run_grid(grid, tmp_path / "runs")
    doc = render(grid, tmp_path / "runs", tmp_path / "gating.md")
    doc.write_text(doc.read_text().replace("(not written yet)", "My reading."))
    render(grid, tmp_path / "runs", doc)
    assert "My reading." in doc.read_text()


def test_command_runs_the_quick_grid_with_overrides_then_renders(fake, tmp_path, capsys):
    runs, doc = tmp_path / "runs", tmp_path / "gating.md"
    argv = ["gating", "--quick", "--runs-dir", str(runs), "--doc", str(doc), "budget.total_timesteps=64"]
    assert main(argv) == 0
    assert len(fake) == len(QUICK.cells())
    assert "wrote" in capsys.readouterr().out and doc.is_file()
    assert main(["gating", "--quick", "--render", "--runs-dir", str(runs), "--doc", str(doc)]) == 0
    assert not fake[len(QUICK.cells()) :]  # --render runs nothing
    assert (
        main(["gating", "--quick", "--render", "--runs-dir", str(tmp_path / "none"), "--doc", str(doc)]) == 2
    )
    assert "no runs stored" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["grid.cores=['gru']"], "gru"),
        (["grid.seeds=0"], "seeds must be a positive integer"),
        (["budget.population=0"], "population"),
        (["grid.noises=[2]"], "noises must be numbers in"),
        (["--jobs", "0"], "jobs must be a positive integer"),
    ],
)
def test_bad_input_is_refused_before_anything_is_made(fake, tmp_path, capsys, argv, message):
    assert main(["gating", "--quick", "--runs-dir", str(tmp_path / "r"), *argv]) == 2
    assert message in capsys.readouterr().err and not fake and not (tmp_path / "r").exists()


# -- statistics ---------------------------------------------------------------------------------------
def test_wilson_and_newcombe_intervals_match_known_values():
    w = wilson(3, 25)  # Newcombe (1998) method 3 for 3/25: 0.0417 - 0.2996
    assert (round(w.low, 4), round(w.high, 4)) == (0.0417, 0.2996)
    assert wilson(0, 10).low == pytest.approx(0.0) and wilson(10, 10).high == pytest.approx(1.0)
    d = newcombe(7, 25, 3, 25)
    assert d.low < 0 < d.value < d.high  # 7/25 vs 3/25: not told apart
    assert newcombe(20, 25, 2, 25).excludes_zero()
    with pytest.raises(ValueError, match="successes"):
        wilson(5, 3)


def test_bootstrap_intervals_cover_the_estimate_and_shrink_with_n():
    small, large = bootstrap_mean([0, 1] * 5), bootstrap_mean([0, 1] * 500)
    assert small.low < 0.5 < small.high and (large.high - large.low) < (small.high - small.low) / 5
    assert math.isnan(bootstrap_mean([None, float("nan")]).value)
    diff = bootstrap_difference([1.0] * 20, [0.0] * 20)
    assert diff.value == diff.low == diff.high == 1.0
    xs = [0.0] * 30 + [1.0] * 30
    assert bootstrap_slope(xs, [0.0] * 30 + [0.5] * 30).value == pytest.approx(0.5)


def test_power_reproduces_the_issue_figures():
    # 3/25 against 7/25 collapses: power about 0.29; about 100 runs per cell for 80 %
    assert power_two_proportions(0.28, 0.12, 25, 25) == pytest.approx(0.29, abs=0.02)
    assert 90 <= runs_for_power(0.28, 0.12) <= 110
    assert detectable_difference(0.12, 64, 64) < detectable_difference(0.12, 16, 16)


# -- real runs --------------------------------------------------------------------------------------------
def test_a_tiny_real_grid_from_python(tmp_path):
    grid = GatingGrid(
        noises=(1.0,), seeds=1, cores=("asn-lstm-bounded",), tasks=("tmaze", "seq2a"), budget=TINY
    )
    records = run_grid(grid, tmp_path / "runs")
    assert len(records) == 2
    for record in records.values():
        member = record["result"]["members"][0]
        assert set(member["twins"]) == {"exact", "spikes"}
        assert 0 <= member["twins"]["spikes"]["spiking_success"] <= 1
    assert len(stored_runs(grid, tmp_path / "runs")) == 2
    assert re.search(r"trained nets: 2", render(grid, tmp_path / "runs", tmp_path / "g.md").read_text())


def test_a_tiny_grid_runs_as_ray_tasks_in_local_mode(tmp_path):
    pytest.importorskip("ray")
    grid = GatingGrid(noises=(0.0, 1.0), seeds=1, cores=("asn-sublstm",), tasks=("tmaze",), budget=TINY)
    records = run_grid(grid, tmp_path / "runs", jobs=2)
    assert len(records) == 2 and all(r["result"]["members"] for r in records.values())
    assert gating.RunStore(tmp_path / "runs").get(next(iter(records))) is not None
    session = gating.RunStore(tmp_path / "runs").root / "_sessions.json"
    assert '"executor": "ray"' in session.read_text()


# -- a training rule for every cell -------------------------------------------------------------------
def test_hyperparameter_overrides_reach_every_cell_and_keep_their_runs_apart(fake, tmp_path):
    budget = dataclasses.replace(TINY, hyperparams={"rate_penalty": 0.5})
    rule = GatingGrid(noises=(1.0,), seeds=2, tasks=("tmaze",), budget=budget)
    cells = rule.cells()
    assert all("-rate_penalty=0.5-" in c.name for c in cells)
    assert all(c.settings["hyperparams"]["rate_penalty"] == 0.5 for c in cells)
    assert all(c.settings["hyperparam_overrides"] == {"rate_penalty": 0.5} for c in cells)
    plain = GatingGrid(noises=(1.0,), seeds=2, tasks=("tmaze",), budget=TINY)
    assert "hyperparam_overrides" not in plain.cells()[0].settings  # runs made before the option still match
    run_grid(plain, tmp_path / "runs")
    run_grid(rule, tmp_path / "runs")
    assert len(fake) == 6 and len(list((tmp_path / "runs").glob("tmaze-*.json"))) == 6  # nothing overwritten
    assert set(stored_runs(rule, tmp_path / "runs")) == {c.name for c in cells}
    text = render(rule, tmp_path / "runs", tmp_path / "gating.md").read_text()
    assert "`rate_penalty=0.5` applied to every cell" in text
    assert (
        "## Runs under other settings (not pooled)" in text
        and "`hyperparams.rate_penalty` 2.0 (here 0.5)" in text
    )
    assert "budget.hyperparams.rate_penalty=0.5" in text  # the command that completes this grid


def test_the_population_is_built_with_the_rule(monkeypatch, tmp_path):
    from sublstm.agents import population

    seen = []
    real = population.Population

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(population, "Population", spy)
    budget = GatingBudget(
        total_timesteps=32, test_episodes=1, population=1, hyperparams={"rate_penalty": 0.25}
    )
    grid = GatingGrid(noises=(1.0,), seeds=1, cores=("asn-lstm",), tasks=("tmaze",), budget=budget)
    run_grid(grid, tmp_path / "runs")
    assert seen and seen[0]["rate_penalty"] == 0.25 and seen[0]["train_noise"] == 0.1


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("budget.hyperparams.rate_penalti=1", "unknown hyperparams ['rate_penalti']"),
        ("budget.hyperparams.rate_penalty=-1", "rate_penalty must be a finite number >= 0"),
        ("budget.hyperparams=3", "budget.hyperparams must be of type dict"),
    ],
)
def test_a_bad_rule_is_refused_before_anything_is_made(fake, tmp_path, capsys, override, message):
    assert main(["gating", "--quick", "--runs-dir", str(tmp_path / "r"), override]) == 2
    assert message in capsys.readouterr().err and not fake and not (tmp_path / "r").exists()


def test_a_pooled_comparison_uses_the_reference_at_the_same_noise_levels_only(fake, tmp_path):
    both = GatingGrid(noises=(0.0, 1.0), seeds=2, cores=("asn-sublstm",), tasks=("tmaze",), budget=TINY)
    one = GatingGrid(noises=(1.0,), seeds=2, cores=("asn-lstm",), tasks=("tmaze",), budget=TINY)
    run_grid(both, tmp_path / "runs")
    run_grid(one, tmp_path / "runs")
    text = render(both, tmp_path / "runs", tmp_path / "gating.md").read_text()
    pooled = next(line for line in text.splitlines() if line.startswith("| asn-lstm | pooled |"))
    assert "| 2, 2 |" in pooled  # asn-sublstm's two nets at noise 1, not its four at noises 0 and 1
