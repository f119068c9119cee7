"""What a user hands the agent: the env (id, wrapped Env, factory), observation spaces that SB3
flattens, envs without info["success"], and the arguments of predict."""

import threading
import warnings

import gymnasium as gym
import numpy as np
import pytest
import sublstm.envs  # noqa: F401  (registers the ids)
import torch
from gymnasium import spaces
from gymnasium.wrappers import TransformReward
from sublstm.agents import AdvantageAgent

ENV = "sublstm/TMaze-v0"
SMALL = dict(n_hidden=4, n_cells=3, n_envs=2, batch_episodes=4, learning_starts=4)
FROZEN = SMALL | {"learning_starts": 10_000}  # no update: same seed, same actions


def tmaze():
    return gym.make(ENV, corridor_length=2, max_steps=12)


def scaled_tmaze():
    return TransformReward(tmaze(), lambda r: 10.0 * r)


def training_returns(env, steps=200):
    returns = []
    agent = AdvantageAgent(env, seed=4, **FROZEN)
    agent.learn(
        steps, callback=lambda e: returns.append(e.get("return")), progress_bar=False, eval_interval=0
    )
    return agent, np.array([r for r in returns if r is not None])


# --- the env the user passes is the env trained on ------------------------------------------------
@pytest.mark.parametrize("wrapped", [scaled_tmaze(), scaled_tmaze], ids=["env", "factory"])
def test_the_users_reward_wrapper_is_kept_in_training_and_evaluation(wrapped):
    plain, plain_returns = training_returns(tmaze())
    agent, returns = training_returns(wrapped)
    assert len(returns) == len(plain_returns) > 3 and np.any(plain_returns != 0)
    assert np.allclose(returns, 10.0 * plain_returns)
    assert agent.evaluate(6, seed=1)["mean_return"] == pytest.approx(
        10.0 * plain.evaluate(6, seed=1)["mean_return"]
    )


def test_a_wrapped_env_is_not_recorded_as_an_id_and_loading_it_needs_the_env(tmp_path):
    plain = AdvantageAgent(tmaze(), seed=1, **SMALL)
    assert plain.env_is_plain_id and plain.config()["env_id"] == ENV
    agent = AdvantageAgent(scaled_tmaze(), seed=1, **SMALL)
    assert agent.env_id == ENV and not agent.env_is_plain_id
    assert agent.config()["env_id"] is None
    agent.save(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="env"):
        AdvantageAgent.load(tmp_path / "a.pt")
    loaded = AdvantageAgent.load(tmp_path / "a.pt", env=scaled_tmaze())
    assert loaded.evaluate(4, seed=0) == agent.evaluate(4, seed=0)


class Unpicklable(gym.Wrapper):
    def __init__(self, env):
        super().__init__(env)
        self.lock = threading.Lock()


def test_an_env_that_cannot_be_copied_asks_for_a_factory():
    with pytest.raises(ValueError, match="factory|function"):
        AdvantageAgent(Unpicklable(tmaze()), **SMALL)
    agent = AdvantageAgent(lambda: Unpicklable(tmaze()), **SMALL)
    agent.learn(20, progress_bar=False, eval_interval=0)
    assert agent.evaluate(2)["mean_length"] > 0


@pytest.mark.parametrize(
    "env, kwargs, match",
    [
        (lambda: 3, None, "factory"),
        (3, None, "env must be"),
        ("sublstm/TMaz-v0", None, "TMaze"),
        (ENV, {"corridor_lenght": 3}, "corridor_length"),
        (tmaze(), {"corridor_length": 3}, "env_kwargs"),
    ],
)
def test_bad_envs_are_refused_naming_what_is_wrong(env, kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdvantageAgent(env, env_kwargs=kwargs, **SMALL)


# --- observation spaces that SB3 flattens ----------------------------------------------------------
class CueEnv(gym.Env):
    """A cue shown at the first step must be recalled at the last; ``space`` sets how it is shown."""

    action_space = spaces.Discrete(2)

    def __init__(self, success=True):
        self.report_success = success

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.cue = 0, int(self.np_random.integers(2))
        return self.show(self.cue), {}

    def step(self, action):
        self.t += 1
        done = self.t >= 3
        reward = float(done and action == self.cue)
        info = {"success": reward > 0} if done and self.report_success else {}
        return self.show(2 if self.t < 3 else 0), reward, done, False, info


class DictCueEnv(CueEnv):
    observation_space = spaces.Dict({"cue": spaces.Discrete(3), "pos": spaces.Box(0, 1, (2,), np.float32)})

    def show(self, cue):
        return {"cue": cue, "pos": np.array([self.t / 3, 1.0], dtype=np.float32)}


class MultiDiscreteCueEnv(CueEnv):
    observation_space = spaces.MultiDiscrete([3, 4])

    def show(self, cue):
        return np.array([cue, self.t])


class TupleCueEnv(CueEnv):
    observation_space = spaces.Tuple((spaces.MultiBinary(2), spaces.Discrete(3)))

    def show(self, cue):
        return (np.array([cue == 0, cue == 1], dtype=np.int8), cue)


@pytest.mark.parametrize("env_cls, dim", [(DictCueEnv, 5), (MultiDiscreteCueEnv, 7), (TupleCueEnv, 5)])
def test_flattened_observation_spaces_learn_and_predict(env_cls, dim):
    agent = AdvantageAgent(env_cls(), **SMALL)
    assert agent.obs_dim == agent.encoder.dim == dim
    agent.learn(300, progress_bar=False, eval_interval=150, eval_episodes=4)
    assert agent.num_updates > 0 and len(agent.history) == 2
    env = env_cls()
    obs, _ = env.reset(seed=0)
    action, state = agent.predict(obs, episode_start=True)
    assert action in (0, 1) and state[0].shape == (3,)
    batch = [env.reset(seed=s)[0] for s in range(3)]
    if env_cls is DictCueEnv:  # SB3 vector envs give a dict of stacked arrays
        batch = {k: np.stack([o[k] for o in batch]) for k in batch[0]}
    actions, state = agent.predict(batch, episode_start=np.ones(3, dtype=bool))
    assert actions.shape == (3,) and state[0].shape == (3, 3)


# --- envs without info["success"] ----------------------------------------------------------------
class NoSuccessEnv(MultiDiscreteCueEnv):
    def __init__(self):
        super().__init__(success=False)


def test_without_success_the_return_rule_applies_with_one_warning():
    agent = AdvantageAgent(NoSuccessEnv(), **SMALL)
    with pytest.warns(UserWarning, match="stop_at_return") as caught:
        agent.learn(
            400,
            progress_bar=False,
            eval_interval=20,
            eval_episodes=4,
            stop_at_success=0.9,
            stop_at_return=-1.0,
        )
    assert len([w for w in caught if "success" in str(w.message)]) == 1
    assert "mean return >= -1" in str(caught[0].message)
    assert np.isnan(agent.history[-1]["success_rate"])
    assert agent.stop_reason == "mean return >= -1 in 1 evaluation" and len(agent.history) == 1


def test_without_success_and_return_rule_a_warning_says_training_runs_in_full():
    agent = AdvantageAgent(NoSuccessEnv(), **SMALL)
    with pytest.warns(UserWarning, match="full 60 timesteps") as caught:
        agent.learn(60, progress_bar=False, eval_interval=20, eval_episodes=2, stop_at_success=0.9)
    assert len(caught) == 1 and len(agent.history) == 3
    assert agent.num_timesteps == 60 and agent.stop_reason == "total_timesteps reached"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per agent
        agent.learn(20, progress_bar=False, eval_interval=20, eval_episodes=2, stop_at_success=0.9)


def test_a_stop_rule_without_evaluations_is_warned_about():
    agent = AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, **SMALL)
    with pytest.warns(UserWarning, match="eval_interval=0"):
        agent.learn(20, progress_bar=False, eval_interval=0, stop_at_success=0.9)


# --- predict's arguments ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def agent():
    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 3}, seed=0, n_hidden=6, n_cells=4, n_envs=2)


OBS4 = np.random.default_rng(0).random((4, 3)).astype(np.float32)


def test_predict_accepts_int_episode_starts_and_tensor_states(agent):
    actions, state = agent.predict(OBS4, episode_start=[1, 0, 0, 1])
    again, _ = agent.predict(
        OBS4, state=tuple(torch.from_numpy(s) for s in state), episode_start=np.zeros(4, int)
    )
    assert actions.shape == again.shape == (4,)


@pytest.mark.parametrize(
    "state, match",
    [
        ((np.zeros((3, 4), np.float32),) * 2, r"state\[0\] has shape \(3, 4\)"),  # another batch size
        ((np.zeros((4, 5), np.float32),) * 2, r"state\[0\] has shape"),
        ((np.zeros((2, 8), np.float32),) * 2, r"state\[0\] has shape"),  # the old code reshaped it
        ((np.zeros((4, 4), np.int64),) * 2, r"state\[0\] must hold floats"),
        (np.zeros((2, 4, 4), np.float32), "state must be the pair"),
        ((np.zeros((4, 4), np.float32),), "state must be the pair"),
        ((np.zeros((4, 4)), np.full((4, 4), np.nan)), r"state\[1\] must be finite"),
    ],
)
def test_predict_refuses_a_state_that_does_not_fit(agent, state, match):
    with pytest.raises(ValueError, match=match):
        agent.predict(OBS4, state=state)


@pytest.mark.parametrize(
    "starts",
    [
        ["a", "b", "c", "d"],
        [None] * 4,
        [True, None, False, True],
        [2, 0, 0, 1],
        [0.0, 1.0, 0.0, 1.0],
        [True] * 3,
    ],
)
def test_predict_refuses_bad_episode_starts(agent, starts):
    with pytest.raises(ValueError, match="episode_start"):
        agent.predict(OBS4, episode_start=starts)


@pytest.mark.parametrize(
    "obs",
    [
        np.where(np.eye(4, 3, dtype=bool), np.nan, OBS4),
        np.full((4, 3), np.inf, np.float32),
        np.zeros((4, 5), np.float32),
        np.zeros(5, np.float32),
    ],
)
def test_predict_refuses_bad_observations(agent, obs):
    with pytest.raises(ValueError, match="observation"):
        agent.predict(obs)
