"""The twin's acceptance run (sublstm.experiments.acceptance): a tiny run from Python trains, compares
and stores each seed, resumes, renders the block from stored records only, and the command refuses
bad input before anything is made."""

import argparse
import dataclasses
import re
import shutil
from pathlib import Path

import pytest
from sublstm.experiments.acceptance import AcceptanceSettings, cells, render, run_acceptance
from sublstm.experiments.cli import build_parser, main
from sublstm.experiments.commands import acceptance as command
from sublstm.experiments.comparing import CompareSettings
from sublstm.experiments.runner import sessions
from sublstm.experiments.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
TINY = AcceptanceSettings(
    seeds=(3,),
    train={
        "env": {"id": "sublstm/TMaze-v0", "kwargs": {"corridor_length": 2}},
        "learn": {"total_timesteps": 32},
    },
    timing={"step_ms": 30.0},  # a short decision time keeps the simulation of the sweep short
    compare=CompareSettings(episodes=3, sweep_step_ms=(10.0, 30.0), plots=False, wandb="disabled"),
)


def test_defaults_train_like_sublstm_train_and_compare_with_the_twin_defaults(tmp_path):
    from sublstm.experiments.training_config import TrainConfig

    todo = cells(AcceptanceSettings(), tmp_path / "runs")
    assert [c.name for c in todo] == ["s0", "s1", "s2", "s3", "s4"] and not (tmp_path / "runs").exists()
    train = todo[2].settings["train"]
    default = TrainConfig().to_dict()
    assert train["env"] == default["env"] and train["learn"] == default["learn"]
    assert train["agent"] == default["agent"] | {"seed": 2}
    assert todo[2].settings["compare"]["timing"] == {}  # the twin defaults, whatever they are
    assert AcceptanceSettings().compare.sweep_step_ms == (50.0, 100.0, 200.0, 300.0)


def test_a_tiny_acceptance_from_python_is_stored_resumed_and_rendered(tmp_path):
    doc = tmp_path / "results.md"
    shutil.copy(ROOT / "docs" / "results.md", doc)
    before = doc.read_text()
    records = run_acceptance(TINY, tmp_path / "runs", doc=doc)
    result = records["s3"]["result"]
    assert result["episodes"] == 3 and result["training"]["timesteps"] == 32
    assert [r["step_ms"] for r in result["sweep"]] == [10.0, 30.0] and result["timing"]["step_ms"] == 30.0
    assert 0 <= result["teacher_forced_agreement"] <= 1
    assert (tmp_path / "runs" / "s3" / "agent.pt").is_file() and (
        tmp_path / "runs" / "s3" / "compare.json"
    ).is_file()
    text = doc.read_text()
    block = text.split("<!-- block:acceptance -->")[1].split("<!-- /block:acceptance -->")[0]
    assert "| 3 | " in block and "3 closed-loop episodes" in block and "(at most 32 timesteps)" in block
    assert "**1 of 1**" in block or "**0 of 1**" in block
    assert text.split("<!-- block:acceptance -->")[0] == before.split("<!-- block:acceptance -->")[0]

    assert run_acceptance(TINY, tmp_path / "runs") == records  # resumed: nothing rerun
    assert len(sessions(RunStore(tmp_path / "runs"))) == 1
    other = AcceptanceSettings(seeds=(3,), train=TINY.train, compare=CompareSettings(episodes=4))
    with pytest.raises(ValueError, match="no acceptance runs stored"):  # other settings: not these runs
        render(tmp_path / "runs", doc, other)


def test_population_blocks_store_what_per_seed_training_stores(tmp_path, capsys):
    alone = run_acceptance(dataclasses.replace(TINY, block=0), tmp_path / "alone")["s3"]
    assert "training: one train_run per seed (block 0" in capsys.readouterr().out
    two = dataclasses.replace(TINY, seeds=(3, 4), block=16)
    records = run_acceptance(two, tmp_path / "pop")
    assert "training: populations of <= 16 seeds side by side" in capsys.readouterr().out
    pop = records["s3"]
    assert set(pop["result"]) == set(alone["result"]) and set(pop["result"]["training"]) == set(
        alone["result"]["training"]
    )
    assert pop["block"]["runs"] == ["s3", "s4"] and pop["settings"]["engine"] == "population"
    assert pop["result"]["training"]["timesteps"] == 32
    for seed in (3, 4):  # each member's checkpoint and comparison in its own run folder
        assert {"agent.pt", "compare.json", "summary.json"} <= {
            p.name for p in (tmp_path / "pop" / f"s{seed}").iterdir()
        }
    doc = tmp_path / "results.md"
    assert render(tmp_path / "pop", doc, two) == 2
    assert "trained in populations of up to 2 seeds side by side" in doc.read_text()
    # an env without a tensor version: one train_run per seed, stored without the population's mark
    pole = dataclasses.replace(TINY, train={"env": {"id": "CartPole-v1"}, "learn": {"stop_at_success": None}})
    (cell,) = cells(pole, tmp_path / "pole")
    assert cell.params["engine"] == "train_run" and "no tensor version" in cell.params["engine_note"]
    assert "engine" not in cell.settings


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["acceptance", *argv])


def test_command_options_and_config_resolve_into_settings(tmp_path):
    config = tmp_path / "acc.toml"
    config.write_text("[acceptance]\nseeds = [4, 5]\n[compare]\nepisodes = 50\n[timing]\nstep_ms = 200\n")
    args = parse("--config", str(config), "--sweep", "100,300", "train.learn.total_timesteps=1000")
    settings = command.settings_from(command.resolve(args, command.given(args, command.OPTIONS)))
    assert settings.seeds == (4, 5) and settings.compare.episodes == 50  # the file's, no option given
    assert settings.compare.sweep_step_ms == (100.0, 300.0) and settings.timing == {"step_ms": 200}
    assert settings.train == {"learn": {"total_timesteps": 1000}}
    args = parse("--config", str(config), "--episodes", "7")
    assert (
        command.settings_from(command.resolve(args, command.given(args, command.OPTIONS))).compare.episodes
        == 7
    )


#: what the error line says (a regular expression) -> the arguments that cause it
BAD_INPUT = {
    "--seeds .* must be comma-separated numbers": "--seeds 0,x",
    r"--episodes \(compare.episodes\) must be an integer >= 1": "--episodes 0",
    "jobs must be a positive integer": "--jobs 0",
    "timing: step_ms": "timing.step_ms=-5",
    "did you mean 'learning_rate'": "train.agent.learning_rte=0.1",
    "corridor_length": "train.env.kwargs.corridor_length=0",
    "did you mean 'train'": "trian.learn.total_timesteps=5",
    "sets only": "train.run.out=x",
    r"--block \(acceptance.block\) must be an integer >= 0": "--block -2",
    "no acceptance runs stored": "--render",
}


def test_bad_input_ends_in_one_error_line_before_anything_is_made(tmp_path, capsys):
    for message, argv in BAD_INPUT.items():
        code = main(
            [
                "acceptance",
                "--runs-dir",
                str(tmp_path / "runs"),
                "--doc",
                str(tmp_path / "r.md"),
                *argv.split(),
            ]
        )
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and re.search(message, err), (
            argv
        )
    assert not any(tmp_path.iterdir())  # neither the runs folder nor the doc
