"""Population blocks (sublstm.experiments.population_blocks / population_runs): seeds split into
blocks, an executor that hands grouped cells to its inner executor as blocks and stores one record
per cell, and training runs done as population members with the run folders train_run writes."""

import json

import pytest
from sublstm.experiments.population_blocks import BLOCK_GROUP, BlockExecutor, seed_blocks
from sublstm.experiments.population_runs import population_refusal, train_population_runs
from sublstm.experiments.runner import Cell, run_cells, serial
from sublstm.experiments.store import RunStore
from sublstm.experiments.training import train_run
from sublstm.experiments.training_config import TrainConfig


def grouped(names, group="g"):
    return [Cell(n, {"x": 1}, {BLOCK_GROUP: group}) for n in names]


def block_task(cells):
    return {c.name: {"members": [m.name for m in cells]} for c in cells}


def test_seed_blocks_keep_order_and_size():
    assert seed_blocks(range(5), 2) == [[0, 1], [2, 3], [4]]
    assert seed_blocks([7], 16) == [[7]]


def test_units_are_even_blocks_per_group_and_cells_alone():
    cells = [*grouped(["a0", "a1", "a2", "a3", "a4"]), Cell("x", {}), *grouped(["b0", "b1"], "h")]
    units = BlockExecutor(serial, 2, block_task).units(cells)
    assert [[c.name for c in u.cells] for u in units[:4]] == [
        ["a0", "a1"],
        ["a2", "a3"],
        ["a4"],
        ["b0", "b1"],
    ]
    assert units[4] is cells[5]
    # 20 seeds in blocks of <= 16: two blocks of 10, not 16 + 4
    assert [len(u.cells) for u in BlockExecutor(serial, 16, block_task).units(grouped(range(20)))] == [10, 10]


class Recording:
    """An executor that says it runs ``jobs`` units at a time (and runs them one by one), keeping
    the units it was given."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs

    def __call__(self, work, cells, done):
        self.units = list(cells)
        serial(work, cells, done)


def test_blocks_are_split_to_keep_every_job_busy():
    inner = Recording(4)
    units = BlockExecutor(inner, 16, block_task).units(grouped(["s0", "s1", "s2", "s3", "s4", "s5"]))
    assert [len(u.cells) for u in units] == [2, 2, 2]  # ceil(6 / 4) seeds per block, 3 blocks
    assert [len(u.cells) for u in BlockExecutor(inner, 16, block_task).units(grouped(["s0"]))] == [1]


def test_run_cells_through_blocks_stores_one_record_per_cell_and_skips_stored_blocks(tmp_path):
    store, inner = RunStore(tmp_path), Recording(1)
    executor = BlockExecutor(inner, 2, block_task)
    first = run_cells(store, grouped(["s0", "s1"]), block_task, executor)
    assert first["s1"]["result"] == {"members": ["s0", "s1"]}
    assert first["s1"]["block"]["runs"] == ["s0", "s1"] and first["s1"]["wall_s"] >= 0
    again = run_cells(store, grouped(["s0", "s1", "s2", "s3", "s4"]), block_task, executor)
    assert [u.name for u in inner.units] == ["s2..s3", "s4..s4"]  # the stored block is not rerun
    assert again["s0"] == first["s0"] and again["s4"]["result"] == {"members": ["s4"]}
    sessions = json.loads((tmp_path / "_sessions.json").read_text())
    assert sessions[-1]["runs"] == 3 and "population blocks of <= 2" in sessions[-1]["executor"]
    with pytest.raises(ValueError, match="size must be a positive integer"):
        BlockExecutor(serial, 0, block_task)


def tiny_config(tmp_path, seed, env="sublstm/TMaze-v0", **run):
    return TrainConfig.from_dict(
        {
            "env": {"id": env, "kwargs": {"corridor_length": 2} if env.startswith("sublstm") else {}},
            "agent": {"seed": seed},
            "learn": {"total_timesteps": 48, "eval_interval": 16, "eval_episodes": 3},
            "run": {"out": str(tmp_path / f"s{seed}"), "wandb": "disabled", "verbose": 0, **run},
        }
    )


def test_population_runs_write_the_folders_and_summaries_train_run_writes(tmp_path):
    single = train_run(tiny_config(tmp_path / "single", 0, progress=False))
    results = train_population_runs([tiny_config(tmp_path / "pop", s) for s in (0, 1)])
    assert [r.out.name for r in results] == ["s0", "s1"]
    summary = json.loads((results[1].out / "summary.json").read_text())
    assert set(single.summary) <= set(summary) and summary["engine"] == "population"
    assert summary["seed"] == 1 and summary["timesteps"] == 48 and summary["population_seeds"] == [0, 1]
    assert 0 <= summary["success_rate"] <= 1 and summary["eval_episodes"] == 3
    for name in ("agent.pt", "config.json", "learning_curve.csv", "learning_curve.png"):
        assert (results[1].out / name).is_file()
    rows = (results[1].out / "learning_curve.csv").read_text().splitlines()
    assert rows[0] == (single.out / "learning_curve.csv").read_text().splitlines()[0] and len(rows) == 4
    from sublstm.agents import AdvantageAgent

    loaded = AdvantageAgent.load(results[1].out / "agent.pt")
    assert loaded.seed == 1 and loaded.num_timesteps == 48


def test_population_refusals_and_mismatched_runs(tmp_path):
    assert population_refusal(tiny_config(tmp_path, 0)) is None
    assert "no tensor version" in population_refusal(tiny_config(tmp_path, 0, "CartPole-v1"))
    assert "wandb" in population_refusal(tiny_config(tmp_path, 0, wandb="offline"))
    other = TrainConfig.from_dict({**tiny_config(tmp_path, 1).to_dict(), "agent": {"seed": 1, "gamma": 0.5}})
    with pytest.raises(ValueError, match="differ in more than seed and folder"):
        train_population_runs([tiny_config(tmp_path, 0), other])
    with pytest.raises(ValueError, match="no tensor version"):
        train_population_runs([tiny_config(tmp_path, 0, "CartPole-v1")])
    assert not any(tmp_path.iterdir())  # refused before any folder was made
