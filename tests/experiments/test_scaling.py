"""The long-corridor settings (sublstm.experiments.long_memory) and the scaling section's parts:
populations stored per corridor and reused, the table row, the goal verdict."""

from __future__ import annotations

import dataclasses

import pytest
from sublstm.agents.population import Population
from sublstm.experiments import bench
from sublstm.experiments.bench_scaling import (
    FULL,
    QUICK,
    ScalingGrid,
    corridor_row,
    goal_verdict,
    run_settings,
)
from sublstm.experiments.grid_runs import train_populations
from sublstm.experiments.long_memory import long_corridor_hyperparams, long_corridor_settings


def test_short_corridors_keep_the_defaults_and_long_ones_scale_with_the_length():
    assert long_corridor_hyperparams(10) == {} and long_corridor_settings(10).bptt_steps is None
    assert long_corridor_settings(10).env_kwargs == {"corridor_length": 10, "noise": 1.0}
    s50, s100 = long_corridor_settings(50), long_corridor_settings(100)
    assert s100.env_kwargs["max_steps"] == 303 and s100.bptt_steps == 110
    assert s100.bptt_steps > 100  # the turn at the junction lies inside the cut
    assert s100.hyperparams["rate_penalty"] == 0.0
    assert s100.hyperparams["train_noise"] < s50.hyperparams["train_noise"] < 0.1
    assert s100.hyperparams["train_cell_noise"] < s50.hyperparams["train_cell_noise"]
    # the replay holds the first round of time-outs of every env, as the population requires
    assert s100.replay_steps >= 16 * (s100.env_kwargs["max_steps"] + 1)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "50"])
def test_a_bad_corridor_is_refused_naming_it(bad):
    with pytest.raises(ValueError, match="corridor"):
        long_corridor_settings(bad)


def test_the_settings_build_a_population_that_steps():
    pop = Population("sublstm/NoisyTMaze-v0", 2, **long_corridor_settings(30).population_kwargs())
    assert pop.envs.max_steps == 93 and pop.bptt_steps == 40
    pop.learn(64, eval_interval=0)
    assert pop.timesteps.tolist() == [64, 64]


def test_populations_are_stored_per_corridor_and_reused_with_the_same_settings(tmp_path, capsys):
    ctx, _, _ = bench.prepare(bench=bench.QUICK, runs=tmp_path)
    calls = []

    def run_corridor(n):
        calls.append(n)
        if n == 30:
            raise RuntimeError("boom")
        return {"n": n}

    first = train_populations(ctx, "scaling", (10, 20, 30), run_corridor, lambda n: {"n": n})
    assert (
        first == {10: {"n": 10}, 20: {"n": 20}, 30: None} and "FAILED corridor 30" in capsys.readouterr().out
    )
    again = train_populations(ctx, "scaling", (10, 20, 30), run_corridor, lambda n: {"n": n})
    assert again == first and calls == [10, 20, 30, 30]  # only the failed corridor ran again
    train_populations(ctx, "scaling", (10,), run_corridor, lambda n: {"n": n, "other": 1})
    assert calls[-1] == 10  # other settings: trained again


def result(steps, walls, analog=(1.0, 1.0, 1.0, 1.0, 0.5), twin=(1.0, 0.98, 1.0, 1.0, 0.5)):
    return {
        "steps_to_95": list(steps),
        "wall_s_to_95": list(walls),
        "train_wall_s": 800.0,
        "train_cpu_s": 500.0,
        "wall_limited": False,
        "members": [
            {"analog_success": a, "twin_success": t, "agreement": 0.99}
            for a, t in zip(analog, twin, strict=True)
        ],
        "spiking_episode_s": 0.101,
        "timesteps": [s + 5000 if s else 500_000 for s in steps],
        "curves": [[(1, 0.5), (2, 1.0), (3, 1.0)] if s else [(1, 1.0), (2, 0.5)] for s in steps],
    }


def test_the_row_and_the_goal_verdict():
    r = result([100_000, 200_000, 300_000, 600_000, None], [100.0, 200.0, 300.0, 950.0, None])
    row = corridor_row(100, r, FULL)
    assert row[1] == "4/5 (4 held)" and row[2] == "250,000 (100,000 - 600,000)" and row[4] == "800 / 500"
    assert row[5] == "1.00 (0.50)" and row[8] == "101 (1.0)"
    assert "3 of 5: NOT met" in goal_verdict({100: r}, FULL)  # one beyond the steps and time
    met = result([100_000] * 4 + [None], [100.0] * 4 + [None])
    assert "4 of 5: met. Of these, 4 held" in goal_verdict({100: met}, FULL)
    assert "Not measured" in goal_verdict({}, FULL)
    assert corridor_row(50, None, FULL)[1] == "failed"


def test_shared_bench_settings_reach_the_grid_and_its_stored_settings():
    shared = bench.BenchSettings(corridors=(50,), seeds=3, budgets={50: 1000})
    grid = FULL.with_shared(shared)
    assert isinstance(grid, ScalingGrid) and grid.seeds == 3 and grid.budgets == {50: 1000}
    assert grid.twin_episodes == FULL.twin_episodes
    settings = run_settings(50, grid, shared)
    assert settings["population"]["bptt_steps"] == 60 and settings["budget"] == 1000
    assert run_settings(50, grid, shared)["max_run_s"] == shared.max_run_s
    capped = dataclasses.replace(grid, max_run_s={50: 60})
    assert capped.cap(50, shared) == 60.0 and run_settings(50, capped, shared)["max_run_s"] == 60.0
    QUICK.validate()
    with pytest.raises(ValueError, match="max_run_s"):
        dataclasses.replace(capped, max_run_s={50: -1}).validate()
    with pytest.raises(ValueError, match="twin_episodes"):
        ScalingGrid((10,), 1, {10: 100}, twin_episodes=0).validate()


def test_a_tiny_corridor_run_gives_every_field_the_tables_read():
    from sublstm.experiments.bench_scaling import seed_table, train_corridor

    grid = ScalingGrid((12,), seeds=1, budgets={12: 128}, twin_episodes=1)
    shared = bench.BenchSettings(eval_interval=64, eval_episodes=2)
    r = train_corridor(12, grid, shared)
    assert r["timesteps"] == [128] and len(r["curves"][0]) == 2 and not r["wall_limited"]
    assert r["train_cpu_s"] > 0 and r["spiking_episode_s"] > 0
    assert set(r["members"][0]) == {"seed", "analog_success", "twin_success", "agreement", "rate_hz"}
    assert len(corridor_row(12, r, grid)) == 9 and "| 12 | 0 |" in seed_table({12: r}, grid)
