"""The sequence-prediction task: batch generator (2a/2b structure, shapes, seeding) and the env."""

import re

import numpy as np
import pytest
from sublstm.envs import SequencePredictionEnv, sequence_batch
from sublstm.envs.sequence import FINAL_REWARD, STEP_REWARD, X, Y


@pytest.mark.parametrize("p", [2, 5, 10])
@pytest.mark.parametrize("noisy", [False, True])
def test_batch_shapes_dtypes_and_one_hot(p, noisy):
    inputs, targets = sequence_batch(7, p=p, noisy=noisy, rng=0)
    assert inputs.shape == (p, 7, p + 1) and inputs.dtype == np.float32
    assert targets.shape == (p, 7) and targets.dtype == np.int64
    np.testing.assert_array_equal(inputs.sum(-1), 1.0)
    assert set(np.unique(inputs)) == {0.0, 1.0}
    symbols = inputs.argmax(-1)
    # the targets are the inputs shifted by one step
    np.testing.assert_array_equal(symbols[1:], targets[:-1])
    # first symbol is x or y, and the last symbol (the memory target) repeats it
    assert set(np.unique(symbols[0])) <= {X, Y}
    np.testing.assert_array_equal(targets[-1], symbols[0])


def test_2a_middle_is_fixed_a1_to_ap_minus_1():
    p = 8
    inputs, targets = sequence_batch(50, p=p, rng=1)
    middle = targets[:-1]  # symbols 1 .. p-1
    np.testing.assert_array_equal(middle, np.tile(np.arange(2, p + 1)[:, None], (1, 50)))


def test_2b_middle_is_random_uniform_over_a_symbols():
    p = 6
    _, targets = sequence_batch(2000, p=p, noisy=True, rng=2)
    middle = targets[:-1]
    assert middle.min() == 2 and middle.max() == p  # only a_1 .. a_{p-1}
    counts = np.bincount(middle.ravel(), minlength=p + 1)[2:]
    np.testing.assert_allclose(counts / counts.sum(), 1 / (p - 1), atol=0.02)
    # fresh at every position: neighbours agree only by chance
    assert np.mean(middle[1:] == middle[:-1]) == pytest.approx(1 / (p - 1), abs=0.03)


def test_x_and_y_equally_likely():
    inputs, _ = sequence_batch(2000, p=3, rng=3)
    assert np.mean(inputs[0].argmax(-1) == X) == pytest.approx(0.5, abs=0.04)


def test_batch_seeding():
    a, b, c = (sequence_batch(64, noisy=True, rng=seed) for seed in (5, 5, 6))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    gen = np.random.default_rng(0)
    first, second = sequence_batch(64, rng=gen), sequence_batch(64, rng=gen)
    assert not np.array_equal(first[1], second[1])  # a Generator is advanced, not re-seeded
    np.testing.assert_array_equal(first[1], sequence_batch(64, rng=np.random.default_rng(0))[1])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"batch_size": 4, "p": 1}, "p"),
        ({"batch_size": 4, "p": 3.5}, "p"),
        ({"batch_size": 4, "p": True}, "p"),
        ({"batch_size": 4, "noisy": "yes"}, "noisy"),
        ({"batch_size": 4, "rng": "seed"}, "rng"),
        ({"batch_size": 4, "rng": 1.5}, "rng"),
    ],
)
def test_batch_bad_arguments(kwargs, name):
    value = kwargs[name]
    with pytest.raises(ValueError, match=f"{name}.*{re.escape(repr(value))}"):
        sequence_batch(**kwargs)


@pytest.mark.parametrize("kwargs, name", [({"p": 1}, "p"), ({"p": "10"}, "p"), ({"noisy": 1}, "noisy")])
def test_env_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=f"{name}.*{re.escape(repr(kwargs[name]))}"):
        SequencePredictionEnv(**kwargs)


def _play(env, seed, policy):
    obs, info = env.reset(seed=seed)
    observed, ret, length = [int(obs.argmax())], 0.0, 0
    while True:
        obs, rew, term, trunc, info = env.step(policy(observed))
        observed.append(int(obs.argmax()))
        ret += rew
        length += 1
        if term or trunc:
            return observed, ret, length, term, trunc, info


def _oracle_2a(p):
    # knows the task: after a_{k} comes a_{k+1}; after the last a comes the first symbol again
    return lambda seen: seen[0] if len(seen) == p else len(seen) + 1


@pytest.mark.parametrize("p", [2, 4, 10])
def test_env_scripted_policy_succeeds_with_full_return(p):
    env = SequencePredictionEnv(p=p)
    firsts = set()
    for seed in range(10):
        observed, ret, length, term, trunc, info = _play(env, seed, _oracle_2a(p))
        firsts.add(observed[0])
        assert observed == [observed[0], *range(2, p + 1), observed[0]]
        assert length == p and term and not trunc and info["success"]
        assert ret == pytest.approx(STEP_REWARD * (p - 1) + FINAL_REWARD)
    assert firsts == {X, Y}


def test_env_2b_memory_policy_succeeds_and_middle_varies():
    p = 6
    env = SequencePredictionEnv(p=p, noisy=True)
    middles = set()
    for seed in range(10):
        observed, ret, length, term, _, info = _play(env, seed, _oracle_2a(p))
        middles.add(tuple(observed[1:-1]))
        assert observed[-1] == observed[0] and length == p and term and info["success"]
        assert ret >= FINAL_REWARD
        assert all(2 <= s <= p for s in observed[1:-1])
    assert len(middles) > 5


def test_env_wrong_final_prediction_fails():
    p = 4
    env = SequencePredictionEnv(p=p)
    wrong = _oracle_2a(p)
    policy = lambda seen: (1 - seen[0]) if len(seen) == p else wrong(seen)  # noqa: E731
    _, ret, length, term, _, info = _play(env, 0, policy)
    assert length == p and term and info["success"] is False and not info["correct"]
    assert ret == pytest.approx(STEP_REWARD * (p - 1))


def test_env_rewards_per_step():
    env = SequencePredictionEnv(p=3)
    obs, info = env.reset(seed=0)
    assert info["success"] is False and info["step"] == 0
    _, rew, term, _, info = env.step(2)  # correct: a1
    assert rew == STEP_REWARD and not term and info["correct"] and info["target"] == 2
    _, rew, term, _, info = env.step(0 if info["first"] == "y" else 1)  # wrong: should be a2
    assert rew == 0.0 and not term and not info["correct"] and info["success"] is False
