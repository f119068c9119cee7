"""Interface checks shared by all registered envs: checkers, vectorisation, seeding, rendering, errors."""

import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
import sublstm.envs  # noqa: F401  (registers the ids)
from gymnasium.envs.registration import load_env_creator
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.vec_env import DummyVecEnv
from sublstm.envs import ENV_IDS

ALL_IDS = list(ENV_IDS)
# short T-maze episodes so that a few dozen random steps cross several episode ends
SHORT = {"sublstm/TMaze-v0": {"max_steps": 15}, "sublstm/NoisyTMaze-v0": {"max_steps": 15}}


def test_all_four_ids_registered_without_time_limit():
    assert set(ALL_IDS) == {
        "sublstm/TMaze-v0",
        "sublstm/NoisyTMaze-v0",
        "sublstm/SequencePrediction-v0",
        "sublstm/SaccadeAntisaccade-v0",
    }
    for env_id in ALL_IDS:
        spec = gym.spec(env_id)
        assert spec.max_episode_steps is None  # the envs end episodes themselves
        assert spec.entry_point.startswith("sublstm.envs.")


def test_make_works_in_fresh_interpreter_via_module_prefix():
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('sublstm.envs:sublstm/NoisyTMaze-v0')\n"
        "print(env.unwrapped.noise, env.reset(seed=0)[0].shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1.0", "(3,)"]


def test_reimport_does_not_reregister():
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gymnasium warns when an id is overridden
        importlib.reload(sublstm.envs)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_and_sb3_checkers_pass_without_warnings(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(gym.make(env_id).unwrapped, skip_render_check=True)
        sb3_check_env(gym.make(env_id).unwrapped, warn=True)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_vector_envs_run_across_episode_ends(env_id, mode):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode=mode, **SHORT.get(env_id, {}))
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (2, *envs.single_observation_space.shape)
        envs.action_space.seed(0)
        ends = 0
        for _ in range(60):
            obs, rew, term, trunc, info = envs.step(envs.action_space.sample())
            assert envs.single_observation_space.contains(obs[0].astype(np.float32))
            ends += int(np.sum(term | trunc))
        assert ends > 0  # autoreset was exercised
    finally:
        envs.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_dummy_vec_env_runs(env_id):
    venv = DummyVecEnv([lambda: gym.make(env_id, **SHORT.get(env_id, {}))] * 2)
    venv.seed(0)
    venv.reset()
    dones = 0
    for _ in range(60):
        _, _, done, infos = venv.step(np.array([venv.action_space.sample() for _ in range(2)]))
        dones += int(done.sum())
        assert all("success" in i for i in infos)
    assert dones > 0
    venv.close()


def _rollout(env, seed, n_steps=40):
    """Observations and rewards of a rollout from env seed ``seed`` under one fixed action sequence
    (the same for every seed, so any difference comes from the env), resetting on episode ends."""
    actions = np.random.default_rng(0).integers(env.action_space.n, size=n_steps)
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for action in actions:
        obs, rew, term, trunc, _ = env.step(int(action))
        trace += [obs, np.array([rew])]
        if term or trunc:
            obs, _ = env.reset()
            trace.append(obs)
    return np.concatenate([np.ravel(x) for x in trace])


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_trajectory(env_id):
    a = _rollout(gym.make(env_id), seed=7)
    b = _rollout(gym.make(env_id), seed=7)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_different_seeds_give_different_episodes(env_id):
    # over several episodes the drawn trial / goal / noise must differ between seeds
    a = _rollout(gym.make(env_id), seed=1, n_steps=200)
    b = _rollout(gym.make(env_id), seed=2, n_steps=200)
    assert a.shape != b.shape or not np.array_equal(a, b)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_render_modes(env_id):
    env = gym.make(env_id, render_mode="ansi")
    env.reset(seed=0)
    env.step(0)
    text = env.render()
    assert isinstance(text, str) and len(text.strip()) > 0
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    img = env.render()
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] > 1 and img.shape[1] > 1
    assert img.max() > img.min()  # something is drawn
    assert gym.make(env_id).unwrapped.render() is None
    env_class = load_env_creator(gym.spec(env_id).entry_point)
    with pytest.raises(ValueError, match="render_mode.*'human'"):
        env_class(render_mode="human")


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_step_before_reset_and_after_end_raise(env_id):
    env = gym.make(env_id).unwrapped
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    for _ in range(1000):
        *_, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            break
    assert term or trunc
    with pytest.raises(RuntimeError, match="ended"):
        env.step(0)
