"""The ``sublstm train`` and ``sublstm demo`` commands: options, one-line errors, signals."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sublstm.agents import AdvantageAgent
from sublstm.experiments.commands import demo
from sublstm.experiments.commands import train as train_command
from sublstm.experiments.training import train

ENV = {**os.environ, "WANDB_MODE": "disabled", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1"}
# a run of a few seconds: corridor 2, four envs, updates from the eighth episode
TINY = [
    "--env-kwargs",
    "corridor_length=2",
    "--eval-interval",
    "300",
    "--eval-episodes",
    "10",
    "--wandb",
    "disabled",
    "--no-progress",
    "--hp",
    "n_envs=4",
    "learning_starts=8",
]


@pytest.mark.parametrize("module", [train_command, demo])
def test_every_option_has_help_text_and_shows_its_default(module, check_option_help):
    check_option_help(module)


def test_train_writes_outputs_prints_rounded_figures_and_why_it_stopped(tmp_path, run_cli):
    out = tmp_path / "run"
    code, stdout, stderr = run_cli("train", *TINY, "--total-timesteps", "600", "--out", str(out))
    assert code == 0, stderr
    for name in ("agent.pt", "config.json", "metrics.csv", "learning_curve.csv", "learning_curve.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["timesteps"] >= 600 and summary["stop_reason"]
    lines = stdout.strip().splitlines()
    assert sum(line.startswith("eval at") for line in lines) == 2  # one line per evaluation
    assert f"stopped: {summary['stop_reason']}" in lines[-1]
    for number in __import__("re").findall(r"=(\d+\.\d+)", lines[-1]):
        assert len(number.split(".")[1]) <= 2, lines[-1]


def test_train_refuses_a_finished_run_and_overwrite_replaces_it(tmp_path, run_cli):
    out = tmp_path / "run"
    args = ("train", *TINY, "--total-timesteps", "300", "--out", str(out))
    assert run_cli(*args)[0] == 0
    (out / "compare.json").write_text("{}")
    code, _, stderr = run_cli(*args)
    assert code == 2 and stderr.count("\n") == 1 and stderr.startswith("error: ")
    assert "already holds a run" in stderr and (out / "compare.json").exists()
    assert run_cli(*args, "--overwrite")[0] == 0
    assert not (out / "compare.json").exists()


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--env", "sublstm/NoisyTmaze-v0"], "--env"),
        (["--env-kwargs", "corridor_lenght=3"], "corridor_length"),
        (["--hp", "kappa=3"], "kappa"),
        (["--hp", "n_hiden=3"], "n_hidden"),
        (["--device", "cdua"], "--device"),
        (["--threads", "0"], "--threads"),
        (["--eval-episodes", "0"], "--eval-episodes"),
        (["--total-timesteps", "ten"], "--total-timesteps"),
        (["--wandb", "onlin"], "--wandb"),
        (["--p", "5"], "--p"),
        (["--task", "sequense"], "--task"),
        (["agent.learning_rat=1e-3"], "learning_rate"),
        (["--config", "missing.toml"], "--config"),
    ],
)
def test_bad_input_is_one_line_naming_the_option_and_makes_no_folder(tmp_path, run_cli, argv, named):
    out = tmp_path / "never"
    code, stdout, stderr = run_cli("train", "--out", str(out), "--wandb", "disabled", *argv)
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1 and named in stderr, stderr
    assert not out.exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path, run_cli):
    (tmp_path / "file").write_text("")
    code, _, stderr = run_cli("train", "--out", str(tmp_path / "file"))
    assert code == 2 and "--out" in stderr and "is a file" in stderr


def test_config_file_options_and_overrides_resolve_in_order(tmp_path, run_cli):
    config = tmp_path / "run.toml"
    config.write_text("[learn]\ntotal_timesteps = 300\neval_interval = 100\n[agent]\nseed = 5\nn_envs = 4\n")
    out = tmp_path / "run"
    # TINY ends with --hp KEY=VALUE items: a dotted item right after them is an override all the same
    argv = [*TINY, "learn.eval_interval=150", "--config", str(config), "--out", str(out)]
    code, _, stderr = run_cli("train", *argv)
    assert code == 0, stderr
    stored = json.loads((out / "config.json").read_text())
    assert stored["agent"]["seed"] == 5 and stored["learn"]["total_timesteps"] == 300  # from the file
    assert stored["learn"]["eval_interval"] == 150  # the option said 300, the override wins
    assert stored["agent"]["learning_starts"] == 8


def test_train_sequence_task(tmp_path, run_cli):
    out = tmp_path / "seq"
    argv = ["--p", "4", "--total-timesteps", "40", "--eval-interval", "10", "--eval-episodes", "50"]
    code, stdout, stderr = run_cli(
        "train", "--task", "sequence", *argv, "--wandb", "disabled", "--out", str(out)
    )
    assert code == 0, stderr
    assert "final_accuracy=" in stdout and "stopped:" in stdout
    assert json.loads((out / "config.json").read_text())["sequence"]["p"] == 4
    code, _, stderr = run_cli("train", "--task", "sequence", "--env", "x", "--out", str(tmp_path / "n"))
    assert code == 2 and "--env applies to --task rl only" in stderr


def start_training(out, *extra):
    """``python -m sublstm.experiments train`` in a subprocess once it trains, and the lines it printed."""
    cmd = [sys.executable, "-m", "sublstm.experiments", "train", *TINY, "--total-timesteps", "1000000"]
    cmd += ["--stop-at-success", "none", "--out", str(out), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("training "):
            break
    else:
        pytest.fail(f"no training line: {proc.stderr.read()}")
    time.sleep(1.0)  # well inside learn()
    return proc, "".join(seen)


def assert_saved_after_interrupt(proc, out, name):
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and name in summary["stop_reason"]
    assert "stopped:" in stdout
    agent = AdvantageAgent.load(out / "agent.pt")
    assert agent.num_timesteps == summary["timesteps"] > 0
    assert not list(out.glob(".*.tmp"))


def test_sigterm_saves_the_agent_and_writes_the_summary(tmp_path):
    out = tmp_path / "run"
    proc, _ = start_training(out)
    proc.send_signal(signal.SIGTERM)
    assert_saved_after_interrupt(proc, out, "SIGTERM")


def test_two_quick_ctrl_c_still_save_and_summarise(tmp_path):
    out = tmp_path / "run"
    proc, _ = start_training(out)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert_saved_after_interrupt(proc, out, "SIGINT")
    # and the saved run resumes from where it stopped
    stopped_at = json.loads((out / "summary.json").read_text())["timesteps"]
    resumed = train(
        out, total_timesteps=stopped_at + 200, wandb="disabled", resume=True, progress=False, verbose=0
    )
    assert resumed.summary["timesteps"] >= stopped_at + 200 and not resumed.summary["interrupted"]


@pytest.mark.slow
def test_demo_trains_then_compares_in_one_folder(tmp_path, run_cli):
    out = tmp_path / "demo"
    argv = ["--out", str(out), "--total-timesteps", "320", "--episodes", "4", "--wandb", "disabled"]
    argv += ["--no-progress", "env.kwargs.corridor_length=2", "env.kwargs.max_steps=8"]
    argv += ["agent.n_envs=4", "agent.learning_starts=8", "learn.eval_interval=160", "learn.eval_episodes=10"]
    code, stdout, stderr = run_cli("demo", *argv)
    assert code == 0, stderr
    for name in ("agent.pt", "summary.json", "compare.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "compare.json").read_text())["episodes"] == 4
    assert "stopped:" in stdout and f"Everything is in {out}/" in stdout
    # a second demo into the same folder is refused in one line, before anything runs
    code, _, stderr = run_cli("demo", *argv)
    assert code == 2 and "already holds a run" in stderr and stderr.count("\n") == 1
