"""Validation experiments (sublstm.experiments.validation): presets resolve, a tiny experiment runs
from Python into a run store and a doc block, reruns resume, the doc keeps every other block, and
the command refuses bad input before anything is made."""

import argparse
import re
import shutil
from pathlib import Path

import pytest
from sublstm.experiments.cli import build_parser, main
from sublstm.experiments.commands import validate as command
from sublstm.experiments.config import ConfigError
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
