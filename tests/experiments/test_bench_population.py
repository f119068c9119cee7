"""The population benchmark: its settings refuse bad values, it measures and renders."""

from __future__ import annotations

import pytest
from sublstm.experiments.bench_population import (
    PopulationSettings,
    equivalence_verdict,
    measure_population,
    render_equivalence,
    render_population,
    render_target,
    separate_vs_population,
)

TINY = {"n_envs": 2, "batch_episodes": 2, "learning_starts": 1}


def test_measure_and_render_a_tiny_run():
    s = PopulationSettings(sizes=(1, 2), steps_per_member=16, repeats=1, corridor=2, hyperparams=TINY)
    result = measure_population(s)
    assert set(result["rates"]) == {"agent", "1", "2"}
    assert all(r > 0 for clocks in result["rates"].values() for rates in clocks.values() for r in rates)
    text = render_population(result)
    assert "population of 2" in text and "corridor 2" in text


def test_target_table_counts_the_seeds_that_reached_it():
    result = {
        "settings": {
            "n_agents": 3,
            "corridor": 10,
            "target": 0.95,
            "patience": 2,
            "eval_interval": 5000,
            "eval_episodes": 100,
            "max_steps_per_agent": 300_000,
        },
        "summary": {
            "steps_to_target": [10_000, None, 30_000],
            "wall_s_to_target": [20.0, None, 40.0],
            "reached": 2,
        },
        "wall_s": 55.0,
        "machine": "test machine",
    }
    text = render_target(result)
    assert "2/3" in text and "20,000 (10,000 - 30,000)" in text and "| 55 |" in text


@pytest.mark.parametrize("bad", [{"sizes": ()}, {"sizes": (0,)}, {"steps_per_member": 0}, {"repeats": 0}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValueError):
        PopulationSettings(**bad).validate()


@pytest.mark.parametrize("bad", [{"parts": ()}, {"parts": ("speed",)}, {"n_agents": 0}, {"target": 1.5}])
def test_bad_section_settings_are_refused_naming_the_key(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        PopulationSettings(**bad).validate()


def test_quick_population_and_tensor_env_sections_write_their_blocks(tmp_path, run_cli):
    runs = tmp_path / "runs"
    code, _, err = run_cli("bench", "--quick", "--only", "population", "tensor-envs", "--runs", runs)
    assert code == 0, err
    doc = (runs / "benchmarks.md").read_text()
    assert "## Population engine" in doc and "## Tensor-native environment throughput" in doc
    assert "<!-- block:throughput -->" in doc and "<!-- block:target -->" in doc
    assert "| population of 4 |" in doc and "| seeds reaching the target | " in doc
    assert "Measured for 4: " in doc and "seeds in " in doc
    assert "the issue's single-agent rate of 318 steps/s" in doc
    assert "| `sublstm/NoisyTMaze-v0` | 16 |" in doc and doc.count("QUICK MODE") == 3
    assert (runs / "population" / "throughput.json").is_file() and (
        runs / "population" / "target.json"
    ).is_file()


def test_equivalence_runs_both_ways_and_renders():
    s = PopulationSettings(
        n_agents=2, corridor=2, max_steps_per_agent=64, eval_interval=32, eval_episodes=4, target=0.0,
        hyperparams=TINY,
    )  # fmt: skip
    result = separate_vs_population(s)
    assert result["separate"] == [32, 32] and result["population"] == [32, 32]
    assert result["share_difference"]["value"] == 0 and result["steps_difference"]["value"] == 0
    text = render_equivalence(result)
    assert "one population | 2/2" in text and "share reaching the target +0.00" in text
    assert "contain 0 (no difference detected)" in equivalence_verdict(result)
    result["steps_difference"] = {"value": 5000.0, "low": 1000.0, "high": 9000.0}
    assert "do not both contain 0" in equivalence_verdict(result)
