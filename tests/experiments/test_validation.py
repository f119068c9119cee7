"""Validation experiments (sublstm.experiments.validation): presets resolve, a tiny experiment runs
from Python into a run store and a doc block, reruns resume, the doc keeps every other block, and
the command refuses bad input before anything is made."""

import argparse
import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from sublstm.experiments.cli import build_parser, main
from sublstm.experiments.commands import validate as command
from sublstm.experiments.config import ConfigError
from sublstm.experiments.population_blocks import BLOCK_GROUP
from sublstm.experiments.reporting import machine_info
from sublstm.experiments.runner import sessions
from sublstm.experiments.store import RunStore
from sublstm.experiments.validation import (
    CLEAN,
    EXPERIMENTS,
    Experiment,
    ValidationSettings,
    cells,
    render,
    run_validation,
    tmaze,
)

ROOT = Path(__file__).resolve().parents[2]
TINY = ValidationSettings(
    seeds=(0, 1),
    overrides={
        "learn": {"total_timesteps": 64, "eval_interval": 32, "eval_episodes": 4},
        "sequence": {"max_updates": 20},
    },
)
TINY_EXPERIMENTS = {
    "maze2": Experiment("T-maze, corridor 2", config=tmaze(CLEAN, 2)),
    "seq4": Experiment("Sequences, p = 4", "sequence", {"sequence": {"p": 4}}),
}


def test_every_preset_resolves_to_a_valid_training_config(tmp_path):
    todo = cells(EXPERIMENTS, ValidationSettings(), tmp_path / "runs")
    assert len(todo) == 5 * len(EXPERIMENTS) and not (tmp_path / "runs").exists()
    by_name = {c.name: c for c in todo}
    assert by_name["noisy20-s3"].settings["env"]["kwargs"] == {"corridor_length": 20}
    assert by_name["noisy20-s3"].settings["agent"]["seed"] == 3
    assert by_name["noisy10-rate-s0"].settings["agent"]["rate_penalty"] == 0.1
    assert (
        by_name["seq2b-s1"].settings["sequence"] | {"noisy": True} == by_name["seq2b-s1"].settings["sequence"]
    )
    assert by_name["noisy10-s0"].params["run"]["out"] == str(tmp_path / "runs" / "noisy10-s0")


def test_a_tiny_validation_from_python_is_stored_resumed_and_rendered(tmp_path):
    doc = tmp_path / "results.md"
    records = run_validation(TINY_EXPERIMENTS, TINY, tmp_path / "runs", doc=doc)
    assert sorted(records) == ["maze2-s0", "maze2-s1", "seq4-s0", "seq4-s1"]
    maze = records["maze2-s1"]["result"]
    assert maze["timesteps"] == 64 and maze["timesteps_to_95"] is None and 0 <= maze["success_rate"] <= 1
    assert records["seq4-s0"]["result"]["updates"] == 20
    assert (tmp_path / "runs" / "maze2-s1" / "agent.pt").is_file()  # the training run's own folder
    text = doc.read_text()
    assert "## Analog agent" in text and "### T-maze, corridor 2" in text and "### Sequences, p = 4" in text
    assert "| 1 | " in text and "median wall-clock to 95 %: **not reached**" in text
    assert "Learn settings that differ from today's defaults: `total_timesteps=64`" in text

    again = run_validation(TINY_EXPERIMENTS, TINY, tmp_path / "runs")
    assert again == records and len(sessions(RunStore(tmp_path / "runs"))) == 1  # nothing rerun


def test_population_blocks_store_the_records_per_seed_runs_store_and_resume_by_block(tmp_path, capsys):
    maze = {"maze2": TINY_EXPERIMENTS["maze2"]}
    alone = run_validation(maze, dataclasses.replace(TINY, block=0), tmp_path / "alone")
    assert "maze2: one train_run per seed (block 0" in capsys.readouterr().out
    pop = run_validation(maze, dataclasses.replace(TINY, block=2), tmp_path / "pop")
    assert "maze2: populations of <= 2 seeds side by side" in capsys.readouterr().out
    for name in ("maze2-s0", "maze2-s1"):
        assert set(pop[name]["result"]) == set(alone[name]["result"])
        assert set(alone[name]) - {"engine_note"} <= set(pop[name]) and pop[name]["engine"] == "population"
        assert pop[name]["result"]["timesteps"] == 64 and pop[name]["block"]["runs"] == [
            "maze2-s0",
            "maze2-s1",
        ]
        assert pop[name]["settings"]["engine"] == "population" and "engine" not in alone[name]["settings"]
        out = tmp_path / "pop" / name
        assert {"agent.pt", "config.json", "summary.json", "learning_curve.csv"} <= {
            f.name for f in out.iterdir()
        }
    # two more seeds: the stored block is skipped, the new seeds train as one block of their own
    more = run_validation(maze, dataclasses.replace(TINY, seeds=(0, 1, 2, 3), block=2), tmp_path / "pop")
    assert more["maze2-s0"] == pop["maze2-s0"] and more["maze2-s3"]["block"]["runs"] == [
        "maze2-s2",
        "maze2-s3",
    ]
    assert [s["runs"] for s in sessions(RunStore(tmp_path / "pop"))] == [2, 2]
    doc = tmp_path / "results.md"
    render(tmp_path / "pop", doc)
    assert "Every seed was trained in a population of up to 2 seeds side by side" in doc.read_text()
    render(tmp_path / "alone", doc)
    assert "trained in a population" not in doc.read_text()


def test_an_env_without_a_tensor_version_falls_back_to_one_train_run_per_seed(tmp_path, capsys):
    config = {"env": {"id": "CartPole-v1"}, "learn": {"stop_at_success": None}}  # it reports no success
    cartpole = {"pole": Experiment("CartPole", config=config)}
    settings = dataclasses.replace(TINY, seeds=(0,))
    (cell,) = cells(cartpole, settings, tmp_path / "runs")
    assert cell.params["engine"] == "train_run" and "no tensor version" in cell.params["engine_note"]
    assert "engine" not in cell.settings and BLOCK_GROUP not in cell.params
    records = run_validation(cartpole, settings, tmp_path / "runs")
    assert (
        "pole: one train_run per seed (no tensor version of env id 'CartPole-v1'" in capsys.readouterr().out
    )
    assert set(records["pole-s0"]["result"]) == {
        "success_rate", "timesteps", "wall_s", "timesteps_to_95", "wall_s_to_95", "stop_reason", "rate_hz"
    }  # fmt: skip
    assert "block" not in records["pole-s0"] and (tmp_path / "runs" / "pole-s0" / "metrics.csv").is_file()


def fake_record(name: str, seed: int, wall: float | None) -> dict:
    return {
        "name": f"{name}-s{seed}",
        "experiment": name,
        "title": EXPERIMENTS[name].title,
        "task": "rl",
        "seed": seed,
        "settings": {"agent": {"core": "asn-sublstm"}, "learn": {}},
        "result": {
            "success_rate": 1.0 if wall else 0.5,
            "timesteps_to_95": 10_000 if wall else None,
            "wall_s_to_95": wall,
            "timesteps": 10_000,
            "rate_hz": 60.0 + seed,
        },
        "machine": machine_info(),
        "command": "sublstm validate --experiment clean20",
    }


def test_render_replaces_only_its_own_blocks_of_the_results_doc(tmp_path):
    doc = tmp_path / "results.md"
    shutil.copy(ROOT / "docs" / "results.md", doc)
    before = doc.read_text()
    store = RunStore(tmp_path / "runs")
    for seed, wall in enumerate((30.0, None, 50.0)):  # a seed that never got there counts as infinite
        store.put(f"clean20-s{seed}", fake_record("clean20", seed, wall))
    assert render(tmp_path / "runs", doc) == ["clean20"]
    after = doc.read_text()
    assert "Seeds at ≥ 95 % success: **2 of 3**; median wall-clock to 95 %: **50 s**" in after
    assert "`sublstm validate --experiment clean20`" in after
    old_clean20 = before.split("<!-- block:validate-clean20 -->")[1].split(
        "<!-- /block:validate-clean20 -->"
    )[0]
    assert old_clean20 not in after
    for kept in ("<!-- block:validate-noisy10 -->", "## Spiking twin"):  # everything else stays
        assert before.split(kept)[1][:2000] == after.split(kept)[1][:2000]


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["validate", *argv])


def test_command_config_applies_shared_overrides_and_new_experiments(tmp_path):
    values = {
        "learn": {"total_timesteps": 1000},
        "experiments": {"noisy10": {"config": {"agent": {"core": "lstm"}}}, "mine": {"title": "Mine"}},
    }
    settings, experiments = command.settings_from(values, [7])
    assert settings.seeds == (7,) and settings.overrides == {"learn": {"total_timesteps": 1000}}
    assert experiments["noisy10"].config["agent"]["core"] == "lstm"
    assert experiments["noisy10"].config["env"]["kwargs"]["corridor_length"] == 10  # merged, not replaced
    assert experiments["mine"].title == "Mine" and experiments["mine"].task == "rl"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--experiment", "noisy1O"], "did you mean 'noisy10'"),
        (["--experiment", "clean10", "--jobs", "0"], "jobs must be a positive integer"),
        (["--experiment", "clean10", "--seeds", "0,-1"], "seeds must be non-negative"),
        (["--experiment", "clean10", "agent.learning_rte=0.1"], "did you mean 'learning_rate'"),
        (["--experiment", "clean10", "lern.total_timesteps=5"], "did you mean 'learn'"),
        (["--experiment", "clean10", "experiments.clean10.task=sl"], "task must be one of"),
        (["--experiment", "seq2a", "experiments.seq2a.config.env.id=x"], "sets only"),
        (["--experiment", "new", "experiments.new.config.learn.total_timesteps=5"], "with a title"),
        ([], "give --experiment"),
        (["--render"], "no validation runs of any experiment stored"),
        (["--experiment", "clean10", "--seeds", "0 1"], "--seeds must be comma-separated numbers"),
        (["--experiment", "clean10", "--block", "-1"], "block must be an integer >= 0"),
    ],
)
def test_bad_input_is_refused_before_anything_is_made(tmp_path, capsys, argv, message):
    runs = tmp_path / "runs"
    assert main(["validate", "--runs-dir", str(runs), "--doc", str(tmp_path / "r.md"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and re.search(message, err)
    assert not runs.exists() and not (tmp_path / "r.md").exists()


def test_bad_settings_raise_config_errors():
    with pytest.raises(ConfigError, match="experiment maze2: .*corridor_length"):
        cells({"maze2": Experiment("x", config=tmaze(CLEAN, -2))}, TINY, "unused")
