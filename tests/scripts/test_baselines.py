"""scripts/baselines.py: argument checks, the evaluation loop, and one tiny end-to-end run per path."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "baselines.py"


def _load():
    spec = importlib.util.spec_from_file_location("baselines_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bl = _load()


def _args(*extra: str, out: str = "unused") -> list[str]:
    return ["--algo", "ppo", "--out", out, "--wandb", "disabled", *extra]


def _config(*extra: str):
    return bl.config_from_args(bl.build_parser().parse_args(_args(*extra)))


# -- arguments ----------------------------------------------------------------------------------------
def test_parse_kwargs_reads_python_literals_and_keeps_strings():
    got = bl.parse_kwargs(["corridor_length=10", "noise=0.5", "max_steps=None", "name=abc"])
    assert got == {"corridor_length": 10, "noise": 0.5, "max_steps": None, "name": "abc"}
    assert isinstance(got["corridor_length"], int)


@pytest.mark.parametrize("item", ["corridor_length", "=3", "1x=2"])
def test_parse_kwargs_rejects_malformed_items(item):
    with pytest.raises(ValueError, match="key=value"):
        bl.parse_kwargs([item])


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (("--total-timesteps", "0"), "total_timesteps"),
        (("--eval-interval", "-5"), "eval_interval"),
        (("--eval-episodes", "0"), "eval_episodes"),
        (("--seed", "-1"), "seed"),
        (("--stop-at-success", "1.5"), "stop_at_success"),
        (("--stop-at-success", "0"), "stop_at_success"),
        (("--hp", "batch_size=4096", "n_steps=128", "n_envs=16"), "batch_size"),
        (("--hp", "n_envs=0"), "n_envs"),
    ],
)
def test_bad_numbers_raise_value_error_naming_the_argument(extra, match):
    with pytest.raises(ValueError, match=match):
        bl.check_config(_config(*extra))


def test_unknown_hyperparameter_and_misplaced_n_stack_are_refused():
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        _config("--hp", "lerning_rate=1e-3")
    with pytest.raises(ValueError, match="n-stack"):
        _config("--n-stack", "4")  # algo is ppo, not ppo-framestack


def test_unknown_algo_is_refused_everywhere():
    with pytest.raises(ValueError, match="algo"):
        bl.default_hyperparameters("dqn")
    with pytest.raises(SystemExit):
        bl.build_parser().parse_args(["--algo", "dqn", "--out", "x"])


def test_bad_env_id_and_env_kwargs_raise_value_error():
    with pytest.raises(ValueError, match="not registered"):
        bl.make_venv("sublstm/NoSuchMaze-v0", {}, 1, 0)
    with pytest.raises(ValueError, match="env_kwargs"):
        bl.make_venv("sublstm/TMaze-v0", {"corridor_lenght": 3}, 1, 0)
    with pytest.raises(ValueError, match="corridor_length"):
        bl.make_venv("sublstm/TMaze-v0", {"corridor_length": 0}, 1, 0)


def test_cli_reports_bad_arguments_with_status_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *_args("--total-timesteps", "-3", out=str(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "total_timesteps" in proc.stderr
    assert not (tmp_path / "summary.json").exists()


# -- evaluation ---------------------------------------------------------------------------------------
class _Oracle:
    """Knows the T-maze layout: remembers the sign through predict's state, as a recurrent policy must."""

    def __init__(self, forget: bool = False) -> None:
        self.forget = forget
        self.calls_with_reset = 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        n = len(obs)
        state = np.zeros(n, dtype=int) if state is None else state.copy()
        for i in range(n):
            if episode_start[i]:
                self.calls_with_reset += 1
                state[i] = 0 if obs[i][0] == 1.0 and obs[i][1] == 1.0 else 2  # north: 0, south: 2
        junction = (obs[:, 1] == 1.0) & (obs[:, 0] == 0.0) & (obs[:, 2] == 0.0)
        actions = np.where(junction, 0 if self.forget else state, 1)  # east until the junction
        return actions, state


def test_evaluate_counts_exactly_n_episodes_and_passes_episode_start():
    venv = bl.make_venv("sublstm/TMaze-v0", {"corridor_length": 3}, 4, 0)
    oracle = _Oracle()
    got = bl.evaluate(oracle, venv, n_episodes=10, seed=1)
    assert got["success_rate"] == 1.0
    assert got["mean_return"] == pytest.approx(4.0)
    assert got["mean_length"] == pytest.approx(4.0)  # 3 steps east, one turn
    assert oracle.calls_with_reset >= 10  # every new episode was announced to the policy


def test_evaluate_scores_a_memoryless_policy_near_chance():
    venv = bl.make_venv("sublstm/TMaze-v0", {"corridor_length": 3}, 8, 0)
    got = bl.evaluate(_Oracle(forget=True), venv, n_episodes=200, seed=3)
    assert 0.35 < got["success_rate"] < 0.65  # always north: right about half the time


# -- end to end (tiny budgets) ------------------------------------------------------------------------
def _tiny(tmp_path, algo: str, *extra: str):
    argv = [
        "--algo", algo, "--env", "sublstm/TMaze-v0", "--env-kwargs", "corridor_length=2",
        "--total-timesteps", "512", "--eval-interval", "256", "--eval-episodes", "10",
        "--out", str(tmp_path), "--wandb", "disabled", "--quiet",
        "--hp", "n_envs=4", "n_steps=64", "batch_size=128", "n_epochs=1", *extra,
    ]  # fmt: skip
    assert bl.main(argv) == 0
    return json.loads((tmp_path / "summary.json").read_text())


def test_memoryless_ppo_run_writes_summary_curve_and_plot(tmp_path):
    summary = _tiny(tmp_path, "ppo")
    for key in ("success_rate", "timesteps", "wall_s", "timesteps_to_95", "wall_s_to_95", "hyperparameters"):
        assert key in summary
    assert summary["algo"] == "ppo" and summary["env_kwargs"] == {"corridor_length": 2}
    assert summary["timesteps"] >= 512 and 0.0 <= summary["success_rate"] <= 1.0
    curve = (tmp_path / "learning_curve.csv").read_text().splitlines()
    assert curve[0] == "timesteps,success_rate,mean_return,mean_length,wall_s"
    assert [int(line.split(",")[0]) for line in curve[1:]] == [256, 512]
    assert (tmp_path / "learning_curve.png").stat().st_size > 1000


def test_recurrent_ppo_run_writes_summary(tmp_path):
    summary = _tiny(tmp_path, "recurrent-ppo")
    assert summary["algo"] == "recurrent-ppo" and summary["stopped_early"] is False
    assert summary["hyperparameters"]["policy_kwargs"]["lstm_hidden_size"] == 32
    assert summary["timesteps"] >= 512


def test_periodic_eval_runs_on_schedule_and_stops_at_success():
    scores = iter([0.2, 0.96, 0.5])
    seen = []
    cb = bl._eval_callback(
        lambda: {"success_rate": next(scores), "mean_return": 0.0}, 100, 0.95, 0.0, seen.append
    )
    verdicts = []
    for t in (64, 128, 192, 320):  # a vector of 64 envs: evaluations fall due at 100, 200, 300
        cb.num_timesteps = t
        verdicts.append(cb._on_step())
    assert [r["timesteps"] for r in cb.rows] == [128, 320] and seen == cb.rows
    assert verdicts == [True, True, True, False]  # 192 < 200: no evaluation; 0.96 >= 0.95 stops
    assert bl.first_reaching(cb.rows, 0.95) == 320


def test_framestack_run_uses_the_requested_window(tmp_path):
    summary = _tiny(tmp_path, "ppo-framestack", "--n-stack", "3")
    assert summary["hyperparameters"]["n_stack"] == 3
