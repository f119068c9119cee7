"""scripts/train.py end to end with a tiny budget, wandb disabled; and the supervised path."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sublstm.agents.supervised import train_sequence

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "WANDB_MODE": "disabled", "WANDB_SILENT": "true"}


def run_train(*args):
    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), "--wandb", "disabled", "--no-progress", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def test_train_script_rl_writes_outputs_and_resumes(tmp_path):
    out = tmp_path / "run"
    common = [
        "--env-kwargs",
        "corridor_length=2",
        "--eval-interval",
        "500",
        "--eval-episodes",
        "20",
        "--out",
        str(out),
    ]
    proc = run_train("--total-timesteps", "600", *common, "--hp", "n_envs=4", "learning_starts=8")
    assert proc.returncode == 0, proc.stderr
    for name in ("agent.pt", "config.json", "metrics.csv", "learning_curve.png", "learning_curve.csv"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert 0.0 <= summary["success_rate"] <= 1.0 and summary["eval_episodes"] == 20
    assert summary["timesteps"] >= 600 and summary["wall_s"] > 0
    assert summary["predicted_mean_rate_hz"] > 0
    assert json.loads((out / "config.json").read_text())["env_kwargs"] == {"corridor_length": 2}

    proc = run_train("--total-timesteps", "1000", "--stop-at-success", "-1", *common, "--resume")
    assert proc.returncode == 0, proc.stderr
    assert "resuming" in proc.stdout
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["timesteps"] >= 1000 and resumed["updates"] > summary["updates"]


def test_train_script_reports_bad_input(tmp_path):
    proc = run_train("--total-timesteps", "10", "--hp", "kappa=3", "--out", str(tmp_path / "bad"))
    assert proc.returncode == 2 and "kappa" in proc.stderr
    proc = run_train("--resume", "--out", str(tmp_path / "empty"))
    assert proc.returncode != 0 and "does not exist" in proc.stderr


@pytest.mark.parametrize("noisy", [False, True])
def test_supervised_sequence_learns_final_symbol(noisy):
    result = train_sequence(p=5, noisy=noisy, seed=0, max_updates=400, eval_every=50, eval_sequences=200)
    assert result.final_accuracy >= 0.99, result.history
    assert result.rate_hz["overall"] > 0


def test_supervised_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        train_sequence(batch_size=0)
