"""Training runs from Python (sublstm.experiments.training): run folder, resume, refusals, signals."""

import csv
import json
import os
import re
import signal

import pytest
from sublstm.agents import AdvantageAgent
from sublstm.experiments.config import ConfigError
from sublstm.experiments.signals import StopOnSignals
from sublstm.experiments.training import SequenceConfig, TrainConfig, summary_line, train, train_sequence_run
from sublstm.experiments.training_config import resolve_config

# a run of a few seconds: corridor 2, four envs, updates from the eighth episode
TINY = dict(
    env_kwargs={"corridor_length": 2},
    eval_interval=300,
    eval_episodes=10,
    n_envs=4,
    learning_starts=8,
    progress=False,
    verbose=0,
)
OUTPUTS = (
    "agent.pt",
    "config.json",
    "metrics.csv",
    "learning_curve.csv",
    "learning_curve.png",
    "summary.json",
)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_train_from_python_writes_the_run_folder(tmp_path):
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    result = train(tmp_path / "run", total_timesteps=600, wandb="disabled", stop_at_success=None, **TINY)
    out = result.out
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary == result.summary
    assert summary["timesteps"] >= 600 and summary["episodes"] > 0 and summary["updates"] > 0
    assert 0.0 <= summary["success_rate"] <= 1.0 and summary["eval_episodes"] == 10
    assert summary["interrupted"] is False and summary["stop_reason"] == "total_timesteps reached"
    assert summary["predicted_mean_rate_hz"] > 0
    # the resolved config reads back as the same config
    stored = json.loads((out / "config.json").read_text())
    assert stored["env"]["kwargs"] == {"corridor_length": 2} and stored["agent"]["n_envs"] == 4
    assert TrainConfig.from_dict(stored).to_dict() == stored
    # the checkpoint loads; one evaluation row per 300 steps
    assert AdvantageAgent.load(out / "agent.pt").num_timesteps == summary["timesteps"]
    assert [int(r["timesteps"]) for r in rows(out / "learning_curve.csv")] == [300, 600]
    # library use leaves no signal handler behind
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers


def test_resume_keeps_integer_columns_one_wandb_run_and_rates(tmp_path):
    out = tmp_path / "run"
    first = train(out, total_timesteps=600, wandb="offline", stop_at_success=None, **TINY)
    run_id = (out / "wandb_run_id.txt").read_text()
    second = train(out, total_timesteps=1200, wandb="offline", stop_at_success=None, resume=True, **TINY)
    assert second.summary["timesteps"] >= 1200 and second.summary["updates"] > first.summary["updates"]
    assert (out / "wandb_run_id.txt").read_text() == run_id
    run_folders = [p.name for p in (out / "wandb").iterdir() if p.name.startswith(("offline-run-", "run-"))]
    # wandb names a second folder of the same run started within the same second "<...>-<id>-1"
    assert len(run_folders) == 2 and all(f"-{run_id.strip()}" in name for name in run_folders)
    metrics = rows(out / "metrics.csv")
    assert len(metrics) == second.summary["episodes"]
    for name in ("episode", "timesteps", "length"):
        assert all(re.fullmatch(r"\d+", r[name]) for r in metrics), name
    assert [int(r["episode"]) for r in metrics] == list(range(1, len(metrics) + 1))
    assert {r["success"] for r in metrics} <= {"0", "1", ""}
    assert all(r["rate_hz"] not in ("", "nan") for r in metrics[1:])
    curve = rows(out / "learning_curve.csv")
    assert [r["timesteps"] for r in curve] == ["300", "600", "900", "1200"]


def test_a_finished_run_is_refused_unless_resumed_or_overwritten(tmp_path):
    out = tmp_path / "run"
    train(out, total_timesteps=300, wandb="disabled", **TINY)
    (out / "compare.json").write_text("{}")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="already holds a run.*--resume.*--overwrite"):
        train(out, total_timesteps=300, wandb="disabled", **TINY)
    train(out, total_timesteps=300, wandb="disabled", overwrite=True, **TINY)
    assert not (out / "compare.json").exists() and (out / "notes.txt").read_text() == "mine"
    assert (out / "summary.json").is_file()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"env": "sublstm/NoisyTMase-v0"}, "did you mean 'sublstm/NoisyTMaze-v0'"),
        ({"env_kwargs": {"corridor_lenght": 3}}, "did you mean 'corridor_length'"),
        ({"kappa": 3.0}, "kappa"),
        ({"learning_rat": 1e-3}, "did you mean 'learning_rate'"),
        ({"device": "cdua"}, "device"),
        ({"threads": 0}, "threads"),
        ({"eval_episodes": 0}, "eval_episodes"),
        ({"wandb": "onlin"}, "wandb"),
        ({"core": "asn-sublstn"}, "did you mean 'asn-sublstm'"),
    ],
)
def test_bad_settings_are_refused_before_any_folder_is_made(tmp_path, kwargs, match):
    out = tmp_path / "never" / "run"
    settings = {**TINY, **kwargs}
    with pytest.raises(ValueError, match=match):
        train(out, total_timesteps=300, wandb=settings.pop("wandb", "disabled"), **settings)
    assert not (tmp_path / "never").exists()


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        train(tmp_path / "file", total_timesteps=300, wandb="disabled", **TINY)
    with pytest.raises(ValueError, match="is a file"):
        train(tmp_path / "file" / "run", total_timesteps=300, wandb="disabled", **TINY)
    with pytest.raises(ValueError, match="does not exist"):
        train(tmp_path / "none", total_timesteps=300, wandb="disabled", resume=True, **TINY)


def test_summary_line_rounds_figures_and_says_why_training_stopped():
    summary = {
        "task": "rl",
        "success_rate": 0.9666666666666667,
        "timesteps": 12000,
        "wall_s": 70.12345678901,
        "timesteps_to_95": 10000,
        "wall_s_to_95": 63.20964685300004,
        "stop_reason": "success >= 0.95 in 2 evaluations in a row",
    }
    line = summary_line(summary)
    assert "wall_s_to_95=63.2;" in line and "success_rate=0.97" in line and "wall_s=70.1 " in line
    assert line.endswith("stopped: success >= 0.95 in 2 evaluations in a row")
    assert "not reached" in summary_line({**summary, "timesteps_to_95": None, "wall_s_to_95": None})


def test_stop_on_signals_stops_then_defers_and_restores_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignals() as stop:
        assert stop.keep_going()
        os.kill(os.getpid(), signal.SIGTERM)
        assert not stop.keep_going() and stop.name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):  # a second signal while training stops it at once
            os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # during the save: only recorded
        assert stop.deferred == [signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is before


def test_config_resolution_overrides_and_resume_base(tmp_path):
    config = resolve_config(
        {"agent": {"core": "asn-lstm"}}, {"agent.learning_rate": 1e-3, "learn.total_timesteps": 1e5}
    )
    assert config.agent.core == "asn-lstm" and config.agent.hyperparams.learning_rate == 1e-3
    assert config.learn.total_timesteps == 100_000 and isinstance(config.learn.total_timesteps, int)
    assert config.env.kwargs == {"corridor_length": 10}
    assert resolve_config(overrides={"env.id": "sublstm/TMaze-v0"}).env.kwargs == {}
    with pytest.raises(ConfigError, match=r"--threads \(agent.threads\)"):
        resolve_config(overrides={"agent.threads": 0})
    with pytest.raises(ConfigError, match="did you mean 'learn'"):
        resolve_config({"lern": {}})
    # --resume starts from the run's stored config
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    resumed = resolve_config(overrides={"run.out": str(tmp_path), "run.resume": True})
    assert resumed.agent.core == "asn-lstm" and resumed.learn.total_timesteps == 100_000


def test_sequence_run_plots_final_symbol_accuracy_per_evaluation(tmp_path, monkeypatch):
    import sublstm.experiments.training as training

    plotted = {}
    real = training.learning_curve

    def record(path, evals, *args, **kwargs):
        plotted.update(evals=list(evals), **kwargs)
        return real(path, evals, *args, **kwargs)

    monkeypatch.setattr(training, "learning_curve", record)
    config = SequenceConfig.from_dict(
        {
            "sequence": {"p": 4, "max_updates": 60, "eval_every": 10, "eval_sequences": 100},
            "run": {"out": str(tmp_path / "seq"), "wandb": "disabled", "verbose": 0},
        }
    )
    result = train_sequence_run(config)
    assert plotted["metric"] == "final_accuracy" and plotted["ylabel"] == "final-symbol accuracy"
    assert plotted["x"] == "update" and len(plotted["evals"]) >= 2
    curve = rows(result.out / "learning_curve.csv")
    assert [int(r["update"]) for r in curve] == [e["update"] for e in plotted["evals"]]
    for name in ("model.pt", "config.json", "metrics.csv", "learning_curve.png", "summary.json"):
        assert (result.out / name).is_file(), name
    assert result.summary["task"] == "sequence" and 0.0 <= result.summary["final_accuracy"] <= 1.0
    assert result.summary["stop_reason"]
