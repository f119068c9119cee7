"""Behaviour of the T-maze: optimal play, rewards and ends, observations and noise, arguments."""

import math
import re

import numpy as np
import pytest
from sublstm.envs import EAST, NORTH, SOUTH, WEST, TMazeEnv

SIGN_NORTH, SIGN_SOUTH = [1, 1, 0], [0, 1, 1]


def _optimal_episode(env, seed):
    obs, info = env.reset(seed=seed)
    goal_action = NORTH if list(obs) == SIGN_NORTH else SOUTH
    assert goal_action == (NORTH if info["goal"] == "north" else SOUTH)
    ret, length = 0.0, 0
    while True:
        action = goal_action if info["at_junction"] else EAST
        obs, rew, term, trunc, info = env.step(action)
        ret += rew
        length += 1
        if term or trunc:
            return ret, length, term, trunc, info


@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_scripted_optimal_policy_always_succeeds(n, noise):
    env = TMazeEnv(corridor_length=n, noise=noise)
    for seed in range(12):
        ret, length, term, trunc, info = _optimal_episode(env, seed)
        assert ret == 4.0 and length == n + 1
        assert term and not trunc and info["success"]


def test_optimal_episode_at_exact_time_limit_terminates_not_truncates():
    ret, length, term, trunc, info = _optimal_episode(TMazeEnv(3, max_steps=4), seed=0)
    assert (ret, length, term, trunc, info["success"]) == (4.0, 4, True, False, True)


def test_both_goals_drawn_about_equally():
    env = TMazeEnv()
    north = sum(env.reset(seed=s)[1]["goal"] == "north" for s in range(400))
    assert 160 < north < 240


def test_reset_shows_sign_of_goal_once_then_corridor():
    env = TMazeEnv(corridor_length=3)
    for seed in range(10):
        obs, info = env.reset(seed=seed)
        assert obs.dtype == np.float32
        assert list(obs) == (SIGN_NORTH if info["goal"] == "north" else SIGN_SOUTH)
        assert info["goal_index"] == (0 if info["goal"] == "north" else 1)
        obs, *_ = env.step(WEST)  # bump at position 0: still at the start, but no sign any more
        assert list(obs) == [1, 0, 1]


def _walk_to_junction(env, seed=0):
    obs, info = env.reset(seed=seed)
    for _ in range(env.corridor_length):
        obs, rew, term, trunc, info = env.step(EAST)
        assert rew == 0.0 and not term and not trunc
    return obs, info


def test_wrong_turn_costs_and_ends_without_success():
    env = TMazeEnv(corridor_length=4)
    for seed in range(6):
        _, info = _walk_to_junction(env, seed)
        wrong = SOUTH if info["goal"] == "north" else NORTH
        _, rew, term, trunc, info = env.step(wrong)
        assert rew == pytest.approx(-0.1) and term and not trunc and info["success"] is False


@pytest.mark.parametrize(
    "where, action", [(0, NORTH), (0, SOUTH), (0, WEST), (2, NORTH), (2, SOUTH), (4, EAST)]
)
def test_wall_bumps_cost_and_leave_position(where, action):
    env = TMazeEnv(corridor_length=4)
    env.reset(seed=0)
    for _ in range(where):
        env.step(EAST)
    _, rew, term, trunc, info = env.step(action)
    assert rew == pytest.approx(-0.1) and not term and not trunc
    assert info["position"] == where and info["success"] is False


def test_free_moves_cost_nothing_and_move():
    env = TMazeEnv(corridor_length=4)
    env.reset(seed=0)
    positions, rewards = [], []
    for action in (EAST, EAST, WEST, EAST, EAST, EAST, WEST):
        _, rew, *_, info = env.step(action)
        positions.append(info["position"])
        rewards.append(rew)
    assert positions == [1, 2, 1, 2, 3, 4, 3] and rewards == [0.0] * 7


def test_time_out_truncates_without_success():
    env = TMazeEnv(corridor_length=3, max_steps=5)
    env.reset(seed=0)
    for step in range(1, 6):
        _, rew, term, trunc, info = env.step(WEST)
        assert rew == pytest.approx(-0.1) and not term and info["step"] == step
        assert trunc == (step == 5)
    assert info["success"] is False


def test_default_time_limit_and_random_explorer_reaches_goals():
    env = TMazeEnv()
    assert env.max_steps == 110
    rng = np.random.default_rng(0)
    at_goal, reached_junction, n_episodes = 0, 0, 300
    for seed in range(n_episodes):
        env.reset(seed=seed)
        seen_junction = False
        while True:
            _, _, term, trunc, info = env.step(int(rng.integers(4)))
            seen_junction |= info["at_junction"]
            if term or trunc:
                break
        at_goal += term
        reached_junction += seen_junction
    # the docstring says ~28 % of random episodes end at a goal (exact Markov-chain value 0.277)
    assert 0.2 < at_goal / n_episodes < 0.36
    assert reached_junction > at_goal


def test_junction_observation_is_never_noisy():
    env = TMazeEnv(corridor_length=2, noise=1.0)
    obs, _ = _walk_to_junction(env)
    assert list(obs) == [0, 1, 0]
    obs, *_ = env.step(EAST)  # bump at the junction
    assert list(obs) == [0, 1, 0]


def _corridor_observations(noise, n_steps=300, seed=0):
    env = TMazeEnv(corridor_length=5, noise=noise, max_steps=10_000)
    env.reset(seed=seed)
    # walking W/E between positions 0 and 1 keeps the agent in the corridor
    return np.array([env.step(EAST if i % 2 == 0 else WEST)[0] for i in range(n_steps)])


def test_noise_free_corridor_is_exactly_101():
    np.testing.assert_array_equal(_corridor_observations(0.0), np.tile([1.0, 0.0, 1.0], (300, 1)))


@pytest.mark.parametrize("noise", [0.2, 0.5, 1.0])
def test_noisy_corridor_within_bounds_and_fresh_each_step(noise):
    obs = _corridor_observations(noise)
    outer = obs[:, [0, 2]]
    assert obs.dtype == np.float32
    assert np.all(obs[:, 1] == 0.0)
    assert outer.min() >= 1.0 - noise - 1e-6 and outer.max() <= 1.0
    # uniform on [1-noise, 1]: spread ~ noise / sqrt(12), components independent and fresh
    assert outer.std() == pytest.approx(noise / math.sqrt(12), rel=0.2)
    assert outer.min() < 1.0 - 0.8 * noise and outer.max() > 1.0 - 0.2 * noise
    assert abs(np.corrcoef(outer[:, 0], outer[:, 1])[0, 1]) < 0.2
    assert len(np.unique(outer)) > 0.9 * outer.size


def test_different_seeds_different_noise_same_seed_same_noise():
    a, b, c = (_corridor_observations(1.0, 20, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_info_keys_every_step():
    env = TMazeEnv(corridor_length=2)
    _, info = env.reset(seed=0)
    keys = {"position", "goal", "goal_index", "step", "at_junction", "success"}
    assert set(info) == keys and info["step"] == 0 and info["position"] == 0
    _, *_, info = env.step(EAST)
    assert set(info) == keys and info["step"] == 1 and info["success"] is False


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"corridor_length": 0}, "corridor_length"),
        ({"corridor_length": 2.5}, "corridor_length"),
        ({"corridor_length": True}, "corridor_length"),
        ({"corridor_length": "10"}, "corridor_length"),
        ({"noise": -0.1}, "noise"),
        ({"noise": 1.5}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"noise": float("inf")}, "noise"),
        ({"noise": True}, "noise"),
        ({"noise": "0.5"}, "noise"),
        ({"max_steps": 0}, "max_steps"),
        ({"max_steps": 3.0}, "max_steps"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    (value,) = kwargs.values()
    with pytest.raises(ValueError, match=f"{name}.*{re.escape(repr(value))}"):
        TMazeEnv(**kwargs)


def test_numpy_arguments_accepted():
    env = TMazeEnv(corridor_length=np.int64(3), noise=np.float32(0.5), max_steps=np.int32(9))
    assert (env.corridor_length, env.noise, env.max_steps) == (3, 0.5, 9)


def test_ansi_drawing_shows_agent_and_sign():
    env = TMazeEnv(corridor_length=3, render_mode="ansi")
    env.reset(seed=0)
    *_, info = env.step(EAST)
    lines = env.render().splitlines()
    assert lines[1].split() == [".", "A", ".", "+"]
    assert "sign: " + info["goal"] in lines[3]


def test_rgb_drawing_size_and_agent_moves():
    env = TMazeEnv(corridor_length=4, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (3 * 8, 5 * 8, 3) and first.dtype == np.uint8
    env.step(EAST)
    assert not np.array_equal(first, env.render())
