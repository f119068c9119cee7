"""AdvantageAgent: SB3-shaped predict, input validation, and a learning smoke test."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from sublstm.agents import AdvantageAgent

ENV = "sublstm/TMaze-v0"


@pytest.fixture(scope="module")
def agent():
    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 3}, seed=0, n_hidden=6, n_cells=4, n_envs=2)


def test_predict_single_and_batch_agree(agent):
    rng = np.random.default_rng(1)
    obs = rng.random((9, 4, 3)).astype(np.float32)
    starts = np.zeros((9, 4), dtype=bool)
    starts[0] = True
    starts[5, 2] = True  # env 2 starts a new episode mid-way
    batch_state, single_states = None, [None] * 4
    for t in range(9):
        actions, batch_state = agent.predict(obs[t], state=batch_state, episode_start=starts[t])
        assert actions.shape == (4,)
        for k in range(4):
            a, single_states[k] = agent.predict(obs[t, k], state=single_states[k], episode_start=starts[t, k])
            assert isinstance(a, int) and a == actions[k]
            assert np.allclose(single_states[k][0], batch_state[0][k], atol=1e-6)


def test_episode_start_resets_the_state(agent):
    obs = np.random.default_rng(2).random((3,)).astype(np.float32)
    _, s = agent.predict(obs)
    _, s2 = agent.predict(obs, state=s, episode_start=True)
    _, fresh = agent.predict(obs)
    assert np.allclose(s2[1], fresh[1]) and np.allclose(s2[0], fresh[0])


def test_sb3_evaluate_policy_runs_unchanged(agent):
    from stable_baselines3.common.evaluation import evaluate_policy

    env = gym.make("sublstm/TMaze-v0", corridor_length=3, max_steps=20)
    mean, std = evaluate_policy(agent, env, n_eval_episodes=3, warn=False)
    assert np.isfinite(mean) and np.isfinite(std)


class DiscreteObsEnv(gym.Env):
    """Observation = a counter (Discrete); reward 1 for action 1."""

    observation_space = spaces.Discrete(5)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        return self.t % 5, float(action == 1), self.t >= 4, False, {"success": True}


def test_discrete_observations_are_one_hot():
    agent = AdvantageAgent(DiscreteObsEnv(), n_hidden=4, n_cells=3, n_envs=2)
    assert agent.obs_dim == 5 and agent.env_id is None
    a, _ = agent.predict(3)
    batch, _ = agent.predict(np.array([3, 0]))
    assert isinstance(a, int) and batch.shape == (2,) and a == batch[0]
    agent.learn(200, progress_bar=False, eval_interval=0)  # deep-copied env instances
    assert agent.num_episodes > 0


class TextObsEnv(DiscreteObsEnv):
    observation_space = spaces.Text(5)


class ContinuousActionEnv(DiscreteObsEnv):
    action_space = spaces.Box(-1, 1, (1,))


def test_bad_spaces_are_refused():
    with pytest.raises(ValueError, match=r"observation space Text"):
        AdvantageAgent(TextObsEnv())
    with pytest.raises(ValueError, match=r"action space Box"):
        AdvantageAgent(ContinuousActionEnv())


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"kappa": 0.0}, "kappa"),
        ({"gamma": 1.5}, "gamma"),
        ({"lam": -0.1}, "lam"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"n_envs": 0}, "n_envs"),
        ({"batch_episodes": 10, "buffer_episodes": 5}, "batch_episodes"),
        ({"rate_penalty": -1.0}, "rate_penalty"),
        ({"not_a_param": 1}, "unknown hyperparameters"),
        ({"core": "gru"}, "unknown core"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdvantageAgent(ENV, **kwargs)


def test_bad_learn_arguments_are_refused(agent):
    with pytest.raises(ValueError, match="total_timesteps"):
        agent.learn(0)
    with pytest.raises(ValueError, match="stop_at_success"):
        agent.learn(10, stop_at_success=2.0)
    with pytest.raises(ValueError, match="stop_patience"):
        agent.learn(10, stop_at_success=0.9, stop_patience=0)


@pytest.mark.parametrize("patience, evals_run", [(1, 1), (2, 4), (3, 5)])
def test_stop_patience_counts_consecutive_evaluations(monkeypatch, patience, evals_run):
    """Training stops after ``patience`` evaluations in a row at the target, not after a lucky one."""
    agent = AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, seed=0, n_envs=2, learning_starts=10_000)
    scores = iter([0.96, 0.50, 0.97, 0.99, 1.0, 1.0])
    monkeypatch.setattr(agent, "evaluate", lambda n: {"success_rate": next(scores)})
    agent.learn(1000, progress_bar=False, eval_interval=10, stop_at_success=0.95, stop_patience=patience)
    assert len(agent.history) == evals_run


def test_learning_smoke_short_corridor():
    """A short noise-free T-maze is learnt in a few thousand steps; fails if learning is broken."""
    agent = AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, seed=0)
    agent.learn(8000, progress_bar=False, eval_interval=500, eval_episodes=50, stop_at_success=1.0)
    result = agent.evaluate(100, seed=123)
    assert result["success_rate"] >= 0.95, (result, agent.history)
    assert agent.history and agent.history[-1]["success_rate"] >= 1.0
