"""The pro/anti-saccade task: trial types, phase structure, the correct policy, failures, arguments."""

import re
from collections import Counter

import numpy as np
import pytest
from sublstm.envs import FIXATE, LEFT, RIGHT, SaccadeAntisaccadeEnv
from sublstm.envs.saccade import FIXATION_REWARD, SACCADE_REWARD, TRIAL_TYPES


def _correct_from_memory(first_obs_seen):
    """The saccade a perfect memory would choose from the rule mark and the cue it saw."""
    anti = any(o[1] for o in first_obs_seen)
    cue_right = any(o[3] for o in first_obs_seen)
    return RIGHT if cue_right != anti else LEFT


def _play(env, seed, saccade_at=None, saccade=None):
    """Fixate until the go phase (or until step ``saccade_at``), then saccade; the default saccade is
    the one computed from what was observed, never from info."""
    obs, info = env.reset(seed=seed)
    seen, ret, length = [obs], 0.0, 0
    while True:
        go = not seen[-1].any() if saccade_at is None else length == saccade_at
        action = FIXATE
        if go:
            action = saccade if saccade is not None else _correct_from_memory(seen)
        obs, rew, term, trunc, info = env.step(action)
        seen.append(obs)
        ret += rew
        length += 1
        if term or trunc:
            return seen, ret, length, term, trunc, info


def test_four_trial_types_equally_likely():
    env = SaccadeAntisaccadeEnv()
    counts = Counter(env.reset(seed=s)[1]["trial_type"] for s in range(800))
    assert set(counts) == set(TRIAL_TYPES)
    assert all(150 < c < 250 for c in counts.values())


@pytest.mark.parametrize("durations", [(1, 1, 2, 3), (0, 1, 0, 1), (3, 2, 5, 2)])
def test_correct_policy_from_memory_always_succeeds(durations):
    fix, cue, delay, go = durations
    env = SaccadeAntisaccadeEnv(fix, cue, delay, go)
    for seed in range(16):
        _, ret, length, term, trunc, info = _play(env, seed)
        assert term and not trunc and info["success"] and info["phase"] == "end"
        assert length == fix + cue + delay + 1
        assert ret == pytest.approx(FIXATION_REWARD + SACCADE_REWARD)


def test_observations_follow_the_phases():
    env = SaccadeAntisaccadeEnv(fixation_steps=2, cue_steps=1, delay_steps=3, go_steps=2)
    for seed in range(8):
        obs, info = env.reset(seed=seed)
        mark = [1, 0] if info["rule"] == "pro" else [0, 1]
        cue = [1, 0] if info["cue"] == "left" else [0, 1]
        observations, phases = [obs], [info["phase"]]
        for _ in range(8):
            obs, *_, info = env.step(FIXATE)
            observations.append(obs)
            phases.append(info["phase"])
        assert phases == ["fixation"] * 2 + ["cue"] + ["delay"] * 3 + ["go"] * 2 + ["end"]
        expected = [mark + [0, 0]] * 2 + [mark + cue] + [mark + [0, 0]] * 3 + [[0, 0, 0, 0]] * 3
        np.testing.assert_array_equal(np.array(observations), np.array(expected, dtype=np.float32))


def test_correct_action_is_toward_cue_for_pro_away_for_anti():
    env = SaccadeAntisaccadeEnv()
    expected = {"pro-left": LEFT, "pro-right": RIGHT, "anti-left": RIGHT, "anti-right": LEFT}
    for seed in range(20):
        _, info = env.reset(seed=seed)
        assert info["correct_action"] == expected[info["trial_type"]]


@pytest.mark.parametrize("break_at", [0, 1, 2, 3])  # fixation, cue, delay, delay
def test_breaking_fixation_early_fails_without_reward(break_at):
    env = SaccadeAntisaccadeEnv(fixation_steps=1, cue_steps=1, delay_steps=2, go_steps=3)
    for seed in range(4):
        for saccade in (LEFT, RIGHT):
            _, ret, length, term, _, info = _play(env, seed, saccade_at=break_at, saccade=saccade)
            assert term and length == break_at + 1
            assert ret == 0.0 and info["success"] is False


def test_wrong_saccade_fails_after_fixation_reward():
    env = SaccadeAntisaccadeEnv()
    for seed in range(8):
        _, info = env.reset(seed=seed)
        wrong = LEFT if info["correct_action"] == RIGHT else RIGHT
        _, ret, length, term, _, info = _play(env, seed, saccade=wrong)
        assert term and info["success"] is False and ret == pytest.approx(FIXATION_REWARD)


def test_no_saccade_in_go_phase_ends_trial_without_success():
    env = SaccadeAntisaccadeEnv(1, 1, 2, go_steps=3)
    env.reset(seed=0)
    rewards = []
    for _ in range(7):
        _, rew, term, trunc, info = env.step(FIXATE)
        rewards.append(rew)
    assert term and not trunc and info["success"] is False
    assert rewards == [0.0, 0.0, 0.0, FIXATION_REWARD, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"fixation_steps": -1}, "fixation_steps"),
        ({"cue_steps": 0}, "cue_steps"),
        ({"cue_steps": -2}, "cue_steps"),
        ({"delay_steps": -1}, "delay_steps"),
        ({"delay_steps": 1.5}, "delay_steps"),
        ({"go_steps": 0}, "go_steps"),
        ({"go_steps": True}, "go_steps"),
    ],
)
def test_bad_durations_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"{name}.*{re.escape(repr(kwargs[name]))}"):
        SaccadeAntisaccadeEnv(**kwargs)


def test_ansi_shows_rule_cue_and_gaze():
    env = SaccadeAntisaccadeEnv(fixation_steps=0, render_mode="ansi")
    for seed in range(8):
        _, info = env.reset(seed=seed)
        left, mark, right = env.render().splitlines()[0].split()
        assert mark == ("P" if info["rule"] == "pro" else "A")
        assert (left, right) == (("*", "o") if info["cue"] == "left" else ("o", "*"))
        env.step(LEFT)  # breaks fixation; the drawing shows the gaze on the left
        gaze_line = env.render().splitlines()[1]
        assert gaze_line.startswith("^^")
