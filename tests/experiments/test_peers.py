"""The peers' runner (sublstm.experiments.peers) and the ``sublstm baselines`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sublstm.experiments.commands import baselines
from sublstm.experiments.config import ConfigError
from sublstm.experiments.peers import (
    PeerConfig,
    _training_callback,
    default_hyperparameters,
    evaluate_peer,
    make_eval_envs,
    make_venv,
    run_peer,
)

pytest.importorskip("sb3_contrib", reason="the peers need the baselines extra")

TINY = [
    "--env", "sublstm/TMaze-v0", "--env-kwargs", "corridor_length=2", "--total-timesteps", "512",
    "--eval-interval", "256", "--eval-episodes", "10", "--wandb", "disabled", "--quiet",
    "--n-envs", "4", "--hp", "n_steps=64", "batch_size=128", "n_epochs=1",
]  # fmt: skip


# -- configuration ---------------------------------------------------------------------------------------
def test_every_option_has_help_text_and_shows_its_default(check_option_help):
    check_option_help(baselines)


def test_options_config_file_and_overrides_resolve_in_order(tmp_path, command_parser):
    path = tmp_path / "peer.toml"
    path.write_text('[peer]\nalgo = "ppo"\nseed = 4\n[learn]\ntotal_timesteps = 1000\n')
    argv = [
        "--config",
        str(path),
        "--seed",
        "7",
        "learn.total_timesteps=2000",
        "peer.hyperparameters.ent_coef=0.02",
    ]
    config = baselines.build_config(command_parser(baselines).parse_args(argv))
    assert config.peer.algo == "ppo"  # from the file
    assert config.peer.seed == 7  # the option wins over the file
    assert config.learn.total_timesteps == 2000  # the override wins over everything
    assert config.peer.resolved_hyperparameters()["ent_coef"] == 0.02
    assert config.out.as_posix() == "runs/ppo-seed7"
    assert PeerConfig.from_dict(config.to_dict()).to_dict() == config.to_dict()  # config.json reads back


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"peer": {"algo": "dqn"}}, "algo"),
        ({"peer": {"algo": "recurent-ppo"}}, "did you mean 'recurrent-ppo'"),
        ({"peer": {"n_stack": 4}}, "n_stack only applies"),
        ({"peer": {"algo": "ppo-framestack", "n_stack": 0}}, "n_stack"),
        ({"peer": {"n_envs": 2, "hyperparameters": {"n_steps": 64, "batch_size": 256}}}, "batch_size"),
        ({"peer": {"hyperparameters": {"lerning_rate": 1e-3}}}, "did you mean 'learning_rate'"),
        ({"peer": {"seed": -1}}, "seed"),
        ({"learn": {"total_timesteps": 0}}, "total_timesteps"),
        ({"learn": {"stop_at_success": 1.5}}, "stop_at_success"),
        ({"env": {"id": "sublstm/NoSuchMaze-v0"}}, "NoSuchMaze"),
        ({"env": {"id": "sublstm/TMaze-v0", "kwargs": {"corridor_lenght": 3}}}, "corridor_lenght"),
        ({"run": {"wandb": "sometimes"}}, "wandb"),
        ({"run": {"resume": True}}, "cannot be resumed"),
        ({"agent": {}}, "unknown section"),
    ],
)
def test_bad_settings_raise_config_errors_naming_them(values, match):
    with pytest.raises(ConfigError, match=match):
        PeerConfig.from_dict(values)


def test_unknown_algo_is_refused_by_the_hyperparameters_too():
    with pytest.raises(ValueError, match="algo"):
        default_hyperparameters("dqn")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("--total-timesteps", "-3"), "total_timesteps"),
        (("--env-kwargs", "corridor_length"), "key=value"),
        (("--n-stack", "4"), "n_stack"),
        (("learn.eval_episodes=0",), "eval_episodes"),
        (("--config", "missing.toml"), "missing.toml"),
    ],
)
def test_command_errors_are_one_line_with_status_2_and_create_nothing(tmp_path, run_cli, argv, match):
    out = tmp_path / "run"
    code, _, err = run_cli("baselines", "--algo", "ppo", "--out", str(out), *argv)
    assert code == 2 and err.startswith("error: ") and match in err and err.count("\n") == 1
    assert not out.exists()


# -- evaluation through the shared rollout -------------------------------------------------------------------
class Oracle:
    """Knows the T-maze: remembers the sign through predict's state, as a recurrent policy must."""

    def __init__(self, space, forget: bool = False) -> None:
        self.observation_space = space
        self.forget = forget
        self.resets = 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        n = len(obs)
        state = np.zeros(n, dtype=int) if state is None else state.copy()
        for i in range(n):
            if episode_start[i]:
                self.resets += 1
                state[i] = 0 if obs[i][0] == 1.0 and obs[i][1] == 1.0 else 2  # north: 0, south: 2
        junction = (obs[:, 1] == 1.0) & (obs[:, 0] == 0.0) & (obs[:, 2] == 0.0)
        return np.where(junction, 0 if self.forget else state, 1), state  # east until the junction


def tmaze(n: int, corridor: int = 3):
    return make_eval_envs(
        PeerConfig.from_dict(
            {"env": {"id": "sublstm/TMaze-v0", "kwargs": {"corridor_length": corridor}}}
        ).env,
        n,
    )


def test_evaluation_of_a_recurrent_oracle_gives_the_old_numbers():
    envs = tmaze(10)
    oracle = Oracle(envs[0].observation_space)
    got = evaluate_peer(oracle, envs, seeds=range(10))
    # scripts/baselines.py's own loop gave success 1.0, return 4.0, length 4.0 on this case
    assert got.success_rate == 1.0
    assert got.mean_return == pytest.approx(4.0) and got.mean_length == pytest.approx(4.0)
    assert oracle.resets == 10  # every episode's start was announced through episode_start


def test_evaluation_of_a_memoryless_policy_is_near_chance():
    envs = tmaze(200)
    got = evaluate_peer(Oracle(envs[0].observation_space, forget=True), envs, seeds=range(200))
    assert 0.35 < got.success_rate < 0.65  # always north: right about half the time


class Recorder:
    """Records what predict is given; always goes east."""

    def __init__(self, space) -> None:
        self.observation_space = space
        self.seen: list[np.ndarray] = []

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        self.seen.append(np.array(obs, dtype=np.float32))
        return np.ones(len(obs), dtype=int), state


def test_frames_are_stacked_as_vec_frame_stack_stacks_them():
    env = PeerConfig.from_dict({"env": {"id": "sublstm/TMaze-v0", "kwargs": {"corridor_length": 5}}}).env
    venv = make_venv(env, 1, seed=0, n_stack=3)
    reference = [venv.reset()]
    for _ in range(4):
        reference.append(venv.step(np.ones(1, dtype=int))[0])
    recorder = Recorder(venv.observation_space)
    envs = make_eval_envs(env, 1)
    # the same episode: make_vec_env seeds env 0 with the seed itself
    evaluate_peer(recorder, envs, seeds=[0], n_stack=3)
    assert len(recorder.seen) >= 5
    for mine, theirs in zip(recorder.seen[:5], reference, strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_periodic_evaluation_runs_on_schedule_and_stops_after_patience():
    learn = PeerConfig.from_dict({"learn": {"eval_interval": 100, "stop_patience": 2}}).learn
    scores = iter([0.2, 0.96, 0.97, 0.5])
    seen = []
    cb = _training_callback(
        lambda: {"success_rate": next(scores), "mean_return": 0.0}, learn, 0.0, seen.append, print
    )
    cb.locals = {"infos": []}
    verdicts = []
    for t in (64, 128, 192, 256, 320):  # a vector of 64 envs: evaluations fall due at 100, 200, 300
        cb.num_timesteps = t
        verdicts.append(cb._on_step())
    assert [r["timesteps"] for r in cb.rows] == [128, 256, 320] and seen == cb.rows
    assert verdicts == [True, True, True, True, False]  # 0.96 then 0.97: two in a row stop it
    assert cb.stop_reason.startswith("success >= 0.95 in 2")


# -- whole runs (tiny budgets) -------------------------------------------------------------------------------
def test_ppo_run_writes_what_a_training_run_writes(tmp_path, run_cli):
    out = tmp_path / "run"
    code, stdout, err = run_cli("baselines", "--algo", "ppo", *TINY, "--out", str(out))
    assert code == 0, err
    for name in (
        "config.json",
        "metrics.csv",
        "learning_curve.csv",
        "learning_curve.png",
        "summary.json",
        "model.zip",
    ):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("success_rate", "timesteps", "wall_s", "timesteps_to_95", "wall_s_to_95", "stop_reason"):
        assert key in summary
    assert summary["algo"] == "ppo" and summary["env_kwargs"] == {"corridor_length": 2}
    assert summary["timesteps"] >= 512 and summary["stop_reason"] == "total_timesteps reached"
    from sublstm.experiments.run_logging import EPISODE_COLUMNS, EVAL_COLUMNS

    curve = (out / "learning_curve.csv").read_text().splitlines()
    assert curve[0].split(",") == list(EVAL_COLUMNS)  # the columns of our agent's runs
    assert [int(line.split(",")[0]) for line in curve[1:]] == [256, 512]
    assert (out / "metrics.csv").read_text().splitlines()[0].split(",") == list(EPISODE_COLUMNS)
    assert "stopped: total_timesteps reached" in stdout and "wall_s=" in stdout
    stored = json.loads((out / "config.json").read_text())
    assert stored["peer"]["n_envs"] == 4 and stored["run"]["out"] == str(out)
    # a finished run is refused (before anything is touched) unless --overwrite
    before = (out / "summary.json").read_text()
    code, _, err = run_cli("baselines", "--algo", "ppo", *TINY, "--out", str(out))
    assert code == 2 and "overwrite" in err and (out / "summary.json").read_text() == before


def test_recurrent_ppo_and_framestack_runs(tmp_path, command_parser):
    parser = command_parser(baselines)
    for algo, extra in (("recurrent-ppo", {}), ("ppo-framestack", {"n_stack": 3})):
        config = baselines.build_config(
            parser.parse_args(["--algo", algo, *TINY, "--out", str(tmp_path / algo)])
        )
        config.peer.n_stack = extra.get("n_stack")
        result = run_peer(config)
        assert result.summary["timesteps"] >= 512 and len(result.history) == 2
        if algo == "recurrent-ppo":
            assert result.summary["hyperparameters"]["policy_kwargs"]["lstm_hidden_size"] == 32
        else:
            assert result.summary["hyperparameters"]["n_stack"] == 3
            assert result.model.observation_space.shape == (9,)
