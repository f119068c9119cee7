"""Tensor envs against the gymnasium envs they mirror: rules, rewards, noise, auto-reset, seeding, errors."""

from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
import torch
from sublstm.envs import FIXATE, LEFT, RIGHT, SaccadeAntisaccadeEnv, SequencePredictionEnv, TMazeEnv
from sublstm.envs.saccade import FIXATION_REWARD, SACCADE_REWARD, TRIAL_TYPES
from sublstm.envs.sequence import X, Y
from sublstm.envs.tensor import (
    TENSOR_ENV_IDS,
    compare_rates,
    make_tensor_env,
    measure_gym_vector_rate,
    measure_tensor_env_rate,
)
from sublstm.envs.tmaze import EAST, NORTH, SOUTH, WEST

SIGN_NORTH, SIGN_SOUTH, CORRIDOR, JUNCTION = [1, 1, 0], [0, 1, 1], [1, 0, 1], [0, 1, 0]


def _full(env, action):
    return torch.full((env.num_envs,), action, dtype=torch.long, device=env.device)


# -- lockstep against the gymnasium envs -------------------------------------------------------------
# Each case: the gymnasium env, the tensor env's id and kwargs, how the episode's hidden draw (goal,
# trial type, first symbol) is read from gymnasium's info and read / written in the tensor env.
def _set_start(env, i, start):
    env.state[i] = env.start_states[start]  # start index = goal index / trial index


def _set_first_symbol(env, i, value):
    env.sequences[i, 0] = env.sequences[i, -1] = value


CASES = {
    "tmaze": (
        lambda: TMazeEnv(corridor_length=3, max_steps=8),
        ("sublstm/TMaze-v0", {"corridor_length": 3, "max_steps": 8}),
        lambda info: info["goal_index"],
        lambda env, i: int(env.goal[i]),
        _set_start,
    ),
    "noisy-tmaze": (
        lambda: TMazeEnv(corridor_length=3, noise=1.0, max_steps=8),
        ("sublstm/NoisyTMaze-v0", {"corridor_length": 3, "max_steps": 8}),
        lambda info: info["goal_index"],
        lambda env, i: int(env.goal[i]),
        _set_start,
    ),
    "saccade": (
        lambda: SaccadeAntisaccadeEnv(fixation_steps=1, cue_steps=1, delay_steps=2, go_steps=3),
        ("sublstm/SaccadeAntisaccade-v0", {}),
        lambda info: info["trial_index"],
        lambda env, i: int(env.trial[i]),
        _set_start,
    ),
    "sequence-2a": (
        lambda: SequencePredictionEnv(p=4),
        ("sublstm/SequencePrediction-v0", {"p": 4}),
        lambda info: X if info["first"] == "x" else Y,
        lambda env, i: int(env.sequences[i, 0]),
        _set_first_symbol,
    ),
}
# action probabilities of the random policy: saccade trials need fixation to reach the go phase
ACTION_PROBS = {"saccade": [0.85, 0.075, 0.075]}


def _same_obs(case, tensor_obs, gym_obs):
    if case != "noisy-tmaze" or list(gym_obs) == JUNCTION:
        return list(tensor_obs) == list(gym_obs)
    # a noisy corridor cell: components 0 and 2 in [0, 1], the middle one exactly 0
    return tensor_obs[1] == 0 and all(0 <= tensor_obs[k] <= 1 for k in (0, 2))


@pytest.mark.parametrize("case", list(CASES))
def test_lockstep_with_gymnasium_under_random_actions(case):
    make_gym, (env_id, kwargs), gym_key, get_key, set_key = CASES[case]
    n, steps = 6, 300
    gyms = [make_gym() for _ in range(n)]
    # the first observation of each hidden draw, as the gymnasium env shows it
    first_obs = {}
    for seed in range(40):
        obs, info = gyms[0].reset(seed=seed)
        first_obs[gym_key(info)] = list(obs)
    env = make_tensor_env(env_id, n, seed=1, **kwargs)
    obs = env.reset()

    def start(i, seed):
        assert list(obs[i].tolist()) == first_obs[get_key(env, i)]  # the tensor env's own draw
        _, info = gyms[i].reset(seed=seed)
        set_key(env, i, gym_key(info))  # from here on both play the same episode
        return 0.0

    returns = [start(i, i) for i in range(n)]
    rng = np.random.default_rng(0)
    outcomes = Counter()
    for step in range(steps):
        actions = rng.choice(env.n_actions, size=n, p=ACTION_PROBS.get(case))
        obs, reward, term, trunc, info = env.step(torch.as_tensor(actions))
        for i, g in enumerate(gyms):
            g_obs, g_rew, g_term, g_trunc, g_info = g.step(int(actions[i]))
            returns[i] += g_rew
            assert reward[i].item() == pytest.approx(g_rew, abs=1e-6)
            assert (bool(term[i]), bool(trunc[i])) == (g_term, g_trunc)
            assert bool(info["success"][i]) == g_info["success"]
            assert _same_obs(case, info["final_obs"][i].tolist(), g_obs)
            outcomes[(round(g_rew, 2), g_term, g_trunc, g_info["success"])] += 1
            if g_term or g_trunc:
                assert bool(info["done"][i])
                assert info["episode_return"][i].item() == pytest.approx(returns[i], abs=1e-5)
                assert int(info["episode_length"][i]) == g_info["step"]
                returns[i] = start(i, 1000 * step + i)
            else:
                assert not info["done"][i] and _same_obs(case, obs[i].tolist(), g_obs)
    # every kind of outcome of the task turned up
    expected = {
        "tmaze": {(4.0, True, False, True), (-0.1, True, False, False), (-0.1, False, False, False),
                  (0.0, False, False, False), (0.0, False, True, False)},
        "saccade": {(1.5, True, False, True), (0.0, True, False, False), (0.2, False, False, False),
                    (0.0, False, False, False)},
        "sequence-2a": {(0.1, False, False, False), (0.0, False, False, False), (1.0, True, False, True),
                        (0.0, True, False, False)},
    }  # fmt: skip
    expected["noisy-tmaze"] = expected["tmaze"]
    assert expected[case] <= set(outcomes)


# -- T-maze -------------------------------------------------------------------------------------------
def _optimal_tmaze(env):
    """Read the sign, walk east, turn to the sign's side: returns per step of the whole batch."""
    obs = env.reset()
    turn = torch.where(obs[:, 0] == 1, NORTH, SOUTH)
    assert ((obs[:, 0] == 1) != (obs[:, 2] == 1)).all()  # a road sign, never a corridor cell
    outs = []
    for k in range(env.corridor_length + 1):
        outs.append(env.step(turn if k == env.corridor_length else _full(env, EAST)))
    return outs


@pytest.mark.parametrize("noise_id", ["sublstm/TMaze-v0", "sublstm/NoisyTMaze-v0"])
@pytest.mark.parametrize("n", [1, 3, 10])
def test_optimal_policy_returns_four_in_n_plus_one_steps(noise_id, n):
    env = make_tensor_env(noise_id, 64, seed=n, corridor_length=n)
    outs = _optimal_tmaze(env)
    for _, reward, term, trunc, info in outs[:-1]:
        assert (reward == 0).all() and not term.any() and not trunc.any() and not info["done"].any()
    obs, reward, term, trunc, info = outs[-1]
    assert (reward == 4.0).all() and term.all() and not trunc.any() and info["success"].all()
    assert (info["episode_return"] == 4.0).all() and (info["episode_length"] == n + 1).all()
    assert (info["final_obs"] == torch.tensor(JUNCTION, dtype=torch.float32)).all()
    # the reference agrees
    g = gym.make(noise_id, corridor_length=n)
    g_obs, _ = g.reset(seed=0)
    ret = sum(g.step(EAST)[1] for _ in range(n)) + g.step(NORTH if g_obs[0] == 1 else SOUTH)[1]
    assert ret == 4.0


def test_optimal_episode_at_exact_time_limit_terminates_not_truncates():
    env = make_tensor_env("sublstm/TMaze-v0", 8, seed=0, corridor_length=3, max_steps=4)
    obs, reward, term, trunc, info = _optimal_tmaze(env)[-1]
    assert term.all() and not trunc.any() and info["success"].all() and (reward == 4.0).all()


def test_wrong_turn_walls_and_time_out():
    env = make_tensor_env("sublstm/TMaze-v0", 32, seed=3, corridor_length=2, max_steps=6)
    obs = env.reset()
    wrong = torch.where(obs[:, 0] == 1, SOUTH, NORTH)
    wall = np.float32(-0.1)
    # west at the start, north and south in the corridor: walls, nothing moves, no end
    for action in (WEST, NORTH, SOUTH):
        obs, reward, term, trunc, info = env.step(_full(env, action))
        assert (reward == wall).all() and not info["done"].any() and (env.position == 0).all()
        assert (obs == torch.tensor(CORRIDOR, dtype=torch.float32)).all()
    env.step(_full(env, EAST))
    obs, reward, term, trunc, info = env.step(_full(env, EAST))  # step 5: at the junction
    assert (reward == 0).all() and (obs == torch.tensor(JUNCTION, dtype=torch.float32)).all()
    obs, reward, term, trunc, info = env.step(wrong)  # step 6 = max_steps, but a turn terminates
    assert (reward == wall).all() and term.all() and not trunc.any() and not info["success"].any()
    assert torch.allclose(info["episode_return"], torch.tensor(-0.4)) and (info["episode_length"] == 6).all()
    # a new episode: east at the junction is a wall; the time limit truncates without success
    for k in range(6):
        obs, reward, term, trunc, info = env.step(_full(env, EAST))
        assert (reward == (wall if k >= 2 else 0)).all()
    assert trunc.all() and not term.any() and not info["success"].any()
    assert (info["episode_length"] == 6).all() and (env.position == 0).all() and (env.steps == 0).all()


@pytest.mark.parametrize("noise", [1.0, 0.5])
def test_corridor_noise_statistics_match_the_reference(noise):
    env = make_tensor_env("sublstm/TMaze-v0", 1024, seed=0, noise=noise)
    env.reset()
    samples = torch.cat([env.step(_full(env, WEST))[0] for _ in range(40)])  # bumping at the start
    g = TMazeEnv(noise=noise, max_steps=1000)
    g.reset(seed=0)
    g_samples = np.array([g.step(WEST)[0] for _ in range(600)])
    mean, var = 1 - noise / 2, noise**2 / 12  # (1 - noise) + noise * U[0, 1]
    assert (samples[:, 1] == 0).all() and (g_samples[:, 1] == 0).all()
    for k in (0, 2):
        assert samples[:, k].mean().item() == pytest.approx(mean, abs=0.005)
        assert samples[:, k].var().item() == pytest.approx(var, rel=0.03)
        assert samples[:, k].min() >= 1 - noise and samples[:, k].max() <= 1
        assert g_samples[:, k].mean() == pytest.approx(mean, abs=0.05)
        assert g_samples[:, k].var() == pytest.approx(var, rel=0.25)
    assert abs(np.corrcoef(samples[:, 0].numpy(), samples[:, 2].numpy())[0, 1]) < 0.02


def test_road_signs_balanced_at_reset_and_auto_reset():
    env = make_tensor_env("sublstm/TMaze-v0", 2000, seed=0, corridor_length=1)
    obs = env.reset()
    is_sign = ((obs == torch.tensor(SIGN_NORTH)).all(1)) | ((obs == torch.tensor(SIGN_SOUTH)).all(1))
    assert is_sign.all() and 900 < (obs[:, 0] == 1).sum() < 1100
    env.step(_full(env, EAST))
    obs, *_ = env.step(_full(env, NORTH))  # every episode ends: all new signs
    assert 900 < (obs[:, 0] == 1).sum() < 1100
    assert (obs[:, 0] == 1).eq(env.goal == 0).all()


def test_auto_reset_bookkeeping_per_env():
    env = make_tensor_env("sublstm/TMaze-v0", 3, seed=0, corridor_length=2)
    obs = env.reset()
    turn0 = NORTH if obs[0, 0] == 1 else SOUTH
    # env 0 solves in 3 steps; env 1 bumps into the west wall; env 2 turns the wrong way at step 3
    turn2 = SOUTH if obs[2, 0] == 1 else NORTH
    plan = [[EAST, WEST, EAST], [EAST, WEST, EAST], [turn0, WEST, turn2]]
    for actions in plan:
        obs, reward, term, trunc, info = env.step(torch.tensor(actions))
    assert info["done"].tolist() == [True, False, True]
    assert info["success"].tolist() == [True, False, False]
    assert info["episode_return"][[0, 2]].tolist() == pytest.approx([4.0, -0.1])
    assert info["episode_length"].tolist() == [3, 3, 3]
    assert info["final_obs"][0].tolist() == JUNCTION and info["final_obs"][2].tolist() == JUNCTION
    for i in (0, 2):  # the new episode's road sign, position and clock
        assert obs[i].tolist() == (SIGN_NORTH if env.goal[i] == 0 else SIGN_SOUTH)
    assert env.position.tolist() == [0, 0, 0] and env.steps.tolist() == [0, 3, 0]
    assert torch.equal(obs[1], info["final_obs"][1])
    obs, reward, term, trunc, info = env.step(torch.tensor([WEST, WEST, EAST]))
    assert info["episode_return"].tolist() == pytest.approx([-0.1, -0.4, 0.0])  # fresh totals where ended
    assert info["episode_length"].tolist() == [1, 4, 1]


# -- sequence prediction ------------------------------------------------------------------------------
@pytest.mark.parametrize("noisy", [False, True])
def test_sequence_structure_and_memory_policy(noisy):
    p, n = 6, 3000
    env = make_tensor_env("sublstm/SequencePrediction-v0", n, seed=0, p=p, noisy=noisy)
    obs = env.reset()
    first = obs.argmax(1)
    assert ((first == X) | (first == Y)).all() and abs((first == X).float().mean().item() - 0.5) < 0.03
    seen = [first]
    total = torch.zeros(n)
    for t in range(1, p + 1):
        # predict the true next symbol in the middle (read from the env) and the first at the end
        pred = first if t == p else env.sequences[:, t]
        obs, reward, term, trunc, info = env.step(pred)
        total += reward
        seen.append(info["final_obs"].argmax(1))
        assert term.all() == (t == p) and not trunc.any()
    assert info["success"].all() and torch.equal(seen[-1], first)  # the last symbol repeats the first
    assert torch.allclose(total, torch.tensor(0.1 * (p - 1) + 1)) and (info["episode_length"] == p).all()
    middle = torch.stack(seen[1:-1], 1)
    if noisy:
        counts = torch.bincount(middle.flatten(), minlength=p + 1)
        assert counts[:2].sum() == 0
        assert torch.allclose(counts[2:] / counts.sum(), torch.tensor(1 / (p - 1)), atol=0.015)
    else:
        assert torch.equal(middle, torch.arange(2, p + 1).expand(n, -1))
    # a new sequence begins at once; the reference's best return is the same
    assert ((obs.argmax(1) == X) | (obs.argmax(1) == Y)).all() and env.t == 0
    g = SequencePredictionEnv(p=p)  # 2a: the middle is known in advance
    g_first = g.reset(seed=0)[0].argmax()
    ret = sum(g.step(t + 1 if t < p else g_first)[1] for t in range(1, p + 1))
    assert ret == pytest.approx(total[0].item())


def test_sequence_wrong_final_prediction_fails():
    env = make_tensor_env("sublstm/SequencePrediction-v0", 50, seed=0, p=2)
    first = env.reset().argmax(1)
    env.step(env.sequences[:, 1])
    obs, reward, term, trunc, info = env.step(1 - first)
    assert term.all() and (reward == 0).all() and not info["success"].any()
    assert torch.allclose(info["episode_return"], torch.tensor(0.1))


# -- saccade / antisaccade ----------------------------------------------------------------------------
def _correct(anti_mark, cue_right):
    return torch.where(cue_right != anti_mark, RIGHT, LEFT)


def test_saccade_four_trial_types_and_their_rewards():
    env = make_tensor_env("sublstm/SaccadeAntisaccade-v0", 400, seed=0, delay_steps=3)
    obs = env.reset()
    trial = env.trial.clone()
    assert set(Counter(trial.tolist())) == set(range(len(TRIAL_TYPES)))
    assert all(70 < c < 130 for c in Counter(trial.tolist()).values())
    anti = obs[:, 1] == 1
    assert torch.equal(anti, trial >= 2) and torch.equal(obs[:, 0] == 1, trial < 2)
    obs, reward, *_ = env.step(_full(env, FIXATE))  # the cue
    cue_right = obs[:, 3] == 1
    assert torch.equal(cue_right, trial % 2 == 1) and torch.equal(obs[:, 2] == 1, ~cue_right)
    for _ in range(3):  # the delay: only the rule's mark
        obs, reward, term, _, info = env.step(_full(env, FIXATE))
        assert torch.equal(obs[:, 2:], torch.zeros(400, 2)) and torch.equal(obs[:, 1] == 1, anti)
    obs, reward, term, _, info = env.step(_full(env, FIXATE))  # into the go phase: all off
    assert (obs == 0).all() and (reward == np.float32(FIXATION_REWARD)).all() and not term.any()
    # half of the envs saccade correctly, the other half to the wrong side
    correct = _correct(anti, cue_right)
    half = torch.arange(400) % 2 == 0
    obs, reward, term, trunc, info = env.step(torch.where(half, correct, LEFT + RIGHT - correct))
    assert term.all() and not trunc.any() and torch.equal(info["success"], half)
    assert torch.equal(reward, torch.where(half, SACCADE_REWARD, 0.0))
    assert torch.allclose(info["episode_return"][half], torch.tensor(1.7))
    assert (info["episode_length"] == 6).all() and (info["final_obs"] == 0).all()
    assert (env.t == 0).all() and torch.equal(obs[:, 0] == 1, env.trial < 2)  # a new trial's rule mark
    assert torch.equal(obs[:, 1] == 1, env.trial >= 2) and (obs[:, 2:] == 0).all()


def test_saccade_early_break_and_no_saccade():
    env = make_tensor_env("sublstm/SaccadeAntisaccade-v0", 16, seed=0, go_steps=2)
    env.reset()
    obs, reward, term, trunc, info = env.step(_full(env, LEFT))  # breaks fixation at once
    assert term.all() and (reward == 0).all() and not info["success"].any()
    for _ in range(5):  # fixation 1 + cue 1 + delay 2 + go 2: fixating throughout ends the trial
        obs, reward, term, trunc, info = env.step(_full(env, FIXATE))
        assert not term.any()
    obs, reward, term, trunc, info = env.step(_full(env, FIXATE))
    assert term.all() and not info["success"].any()
    assert torch.allclose(info["episode_return"], torch.tensor(FIXATION_REWARD))


# -- seeding, devices, spaces -------------------------------------------------------------------------
def _trajectory(env, seed, steps=30):
    obs = [env.reset(seed=seed)]
    gen = torch.Generator().manual_seed(7)
    for _ in range(steps):
        actions = torch.randint(env.n_actions, (env.num_envs,), generator=gen).to(env.device)
        obs.append(env.step(actions)[0])
    return torch.stack(obs).cpu()


@pytest.mark.parametrize("env_id", TENSOR_ENV_IDS)
def test_seeded_runs_repeat_and_reset_reseeds(env_id):
    kwargs = {"noisy": True} if "Sequence" in env_id else {}
    a = make_tensor_env(env_id, 8, seed=5, **kwargs)
    b = make_tensor_env(env_id, 8, seed=5, **kwargs)
    assert torch.equal(_trajectory(a, None), _trajectory(b, None))
    assert torch.equal(_trajectory(a, 11), _trajectory(b, 11))
    assert not torch.equal(_trajectory(a, 11), _trajectory(a, 12))


@pytest.mark.parametrize("env_id", TENSOR_ENV_IDS)
def test_spaces_and_kwargs_match_the_reference(env_id):
    env = make_tensor_env(env_id, 2)
    ref = gym.make(env.env_id, **env.env_kwargs).unwrapped
    assert env.single_observation_space == ref.observation_space
    assert env.single_action_space == ref.action_space
    assert env.obs_dim == ref.observation_space.shape[0] and env.n_actions == ref.action_space.n
    obs = env.reset()
    assert obs.shape == (2, env.obs_dim) and obs.dtype == torch.float32
    assert make_tensor_env("sublstm.envs:" + env_id, 1).env_id == env_id
    if env_id == "sublstm/NoisyTMaze-v0":
        assert env.noise == 1.0 and make_tensor_env(env_id, 1, noise=0.5).noise == 0.5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    env = make_tensor_env("sublstm/NoisyTMaze-v0", 256, device="cuda", seed=0, corridor_length=5)
    obs, reward, term, trunc, info = _optimal_tmaze(env)[-1]
    assert obs.device.type == "cuda" and reward.device.type == "cuda"
    assert (reward == 4.0).all() and info["success"].all()
    assert torch.equal(_trajectory(env, 3), _trajectory(env, 3))


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env_id", "kwargs", "match"),
    [
        ("sublstm/TMaze-v1", {}, r"'sublstm/TMaze-v1'.*did you mean 'sublstm/TMaze-v0'"),
        ("CartPole-v1", {}, r"no tensor version of env id 'CartPole-v1'.*sublstm/TMaze-v0"),
        ("sublstm/TMaze-v0", {"corridor_lenght": 5}, r"'corridor_lenght'.*did you mean 'corridor_length'"),
        ("sublstm/TMaze-v0", {"corridor_length": 0}, r"corridor_length must be an integer >= 1"),
        ("sublstm/NoisyTMaze-v0", {"noise": 2.0}, r"noise must be"),
        ("sublstm/SequencePrediction-v0", {"p": 1}, r"p must be an integer >= 2"),
        ("sublstm/SaccadeAntisaccade-v0", {"go_steps": 0}, r"go_steps must be an integer >= 1"),
        ("sublstm/TMaze-v0", {"render_mode": "ansi"}, r"render_mode"),
    ],
)
def test_bad_ids_and_kwargs_raise_value_error(env_id, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_tensor_env(env_id, 4, **kwargs)


@pytest.mark.parametrize(
    ("args", "match"),
    [((0,), r"num_envs must be an integer >= 1, got 0"), ((2, "nodevice"), r"device 'nodevice'"),
     ((2, "cpu", "7"), r"seed must be an int or None, got '7'")],
)  # fmt: skip
def test_bad_num_envs_device_seed(args, match):
    with pytest.raises(ValueError, match=match):
        make_tensor_env("sublstm/TMaze-v0", *args)


def test_bad_actions_and_step_before_reset():
    env = make_tensor_env("sublstm/TMaze-v0", 3, seed=0)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(torch.zeros(3, dtype=torch.long))
    env.reset()
    with pytest.raises(ValueError, match=r"shape \(3,\), got torch.int64 of shape \(2,\)"):
        env.step(torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="integer tensor"):
        env.step(torch.zeros(3))
    with pytest.raises(ValueError, match=r"0 \.\. 3, got values 0 \.\. 4"):
        env.step(torch.tensor([0, 4, 1]))
    env.step([EAST, EAST, EAST])  # a list is taken too
    assert env.position.tolist() == [1, 1, 1]


def test_rates_measured_side_by_side():
    assert measure_tensor_env_rate("sublstm/TMaze-v0", 4, 5, corridor_length=2) > 0
    assert measure_gym_vector_rate("sublstm/TMaze-v0", 2, 5, corridor_length=2) > 0
    rows = compare_rates("sublstm/SaccadeAntisaccade-v0", batches=(1, 8), steps=5, gym_env_steps=5, repeats=1)
    assert [row["batch"] for row in rows] == [1, 8]
    assert all(row["speedup"] == pytest.approx(row["tensor"] / row["gym_sync"]) for row in rows)


def test_keep_rows_continues_the_kept_episodes():
    """The kept envs go on from where they were (noise-free T-maze: no draws inside an episode)."""
    full = make_tensor_env("sublstm/TMaze-v0", 4, seed=0, corridor_length=8)
    part = make_tensor_env("sublstm/TMaze-v0", 4, seed=0, corridor_length=8)
    full.reset(), part.reset()
    east = torch.full((4,), EAST, dtype=torch.long)  # along the corridor: no episode ends
    for _ in range(3):
        full.step(east), part.step(east)
    part.keep_rows([3, 1])
    assert part.num_envs == 2 and part.state.tolist() == full.state[[3, 1]].tolist()
    for _ in range(2):
        obs, reward, *_ = full.step(east)
        obs_part, reward_part, _, _, info = part.step(east[:2])
    assert torch.equal(obs_part, obs[[3, 1]]) and torch.equal(reward_part, reward[[3, 1]])
    assert info["episode_length"].tolist() == [5, 5]
    for bad in ([], [0, 0], [4]):
        with pytest.raises(ValueError, match="keep_rows"):
            part.keep_rows(bad)
