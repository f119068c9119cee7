"""Absurd sizes, non-integer actions and bad make arguments are refused with the argument named."""

import re
import sys

import gymnasium as gym
import numpy as np
import pytest
from sublstm.envs import ENV_IDS, SaccadeAntisaccadeEnv, SequencePredictionEnv, TMazeEnv, check_make_args
from sublstm.envs.saccade import MAX_PHASE_STEPS
from sublstm.envs.sequence import MAX_P, sequence_batch
from sublstm.envs.tmaze import MAX_CORRIDOR_LENGTH, MAX_STEPS

HUGE = 10**12


@pytest.mark.parametrize(
    "make, name, maximum",
    [
        (lambda v: TMazeEnv(corridor_length=v), "corridor_length", MAX_CORRIDOR_LENGTH),
        (lambda v: TMazeEnv(max_steps=v), "max_steps", MAX_STEPS),
        (lambda v: SaccadeAntisaccadeEnv(fixation_steps=v), "fixation_steps", MAX_PHASE_STEPS),
        (lambda v: SaccadeAntisaccadeEnv(cue_steps=v), "cue_steps", MAX_PHASE_STEPS),
        (lambda v: SaccadeAntisaccadeEnv(delay_steps=v), "delay_steps", MAX_PHASE_STEPS),
        (lambda v: SaccadeAntisaccadeEnv(go_steps=v), "go_steps", MAX_PHASE_STEPS),
        (lambda v: SequencePredictionEnv(p=v), "p", MAX_P),
        (lambda v: sequence_batch(2, p=v), "p", MAX_P),
    ],
)
def test_sizes_above_the_documented_maximum_are_refused(make, name, maximum):
    make(maximum)  # the maximum itself is allowed
    for value in (maximum + 1, HUGE, 10**6, np.int64(HUGE)):
        if value <= maximum:
            continue
        with pytest.raises(
            ValueError, match=f"{name} must be .*<= {maximum:_}, got {re.escape(repr(value))}"
        ):
            make(value)


def test_maxima_are_documented_in_the_docstrings():
    assert f"{MAX_CORRIDOR_LENGTH:_}" in TMazeEnv.__doc__ and f"{MAX_STEPS:_}" in TMazeEnv.__doc__
    assert f"{MAX_PHASE_STEPS:_}" in SaccadeAntisaccadeEnv.__doc__
    assert f"{MAX_P}" in SequencePredictionEnv.__doc__ and f"{MAX_P}" in sequence_batch.__doc__


def test_sequence_batch_too_large_names_batch_size():
    with pytest.raises(ValueError, match="batch_size must be <= 268"):
        sequence_batch(10**6, p=MAX_P)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("bad", [-1, 99, 1.5, "east", None, True, False, np.bool_(True)])
def test_actions_out_of_space_or_not_integers_are_refused_naming_them(env_id, bad):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match=f"action {re.escape(repr(bad))}.*integers"):
        env.step(bad)


@pytest.mark.parametrize("env_id", ENV_IDS)
@pytest.mark.parametrize("action", [1, np.int64(0), np.int64(1), np.int32(1), np.uint8(1), np.array(1)])
def test_integer_actions_of_any_kind_are_taken(env_id, action):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    env.step(action)


def test_check_make_args_accepts_registered_ids_and_their_keywords():
    check_make_args("sublstm/NoisyTMaze-v0", {"corridor_length": 5, "noise": 0.5, "max_steps": 9})
    check_make_args("sublstm/SequencePrediction-v0", {"p": 20, "noisy": True})
    check_make_args("sublstm/SaccadeAntisaccade-v0", None)
    check_make_args("CartPole-v1", {"render_mode": "rgb_array", "max_episode_steps": 20})


@pytest.mark.parametrize(
    "env_id, hint",
    [("sublstm/NoisyTmaze-v0", "sublstm/NoisyTMaze-v0"), ("sublstm/TMaze-v1", "sublstm/TMaze-v0")],
)
def test_unknown_id_names_a_near_match(env_id, hint):
    with pytest.raises(ValueError, match=f"unknown env id '{env_id}'.*did you mean '{hint}'"):
        check_make_args(env_id)


@pytest.mark.parametrize("env_id", [None, 3, "", ["sublstm/TMaze-v0"]])
def test_non_string_id_is_refused(env_id):
    with pytest.raises(ValueError, match="env id must be a non-empty string"):
        check_make_args(env_id)


def test_unknown_kwarg_names_a_near_match():
    with pytest.raises(
        ValueError, match="takes no argument 'corridor_lenght'.*did you mean 'corridor_length'"
    ):
        check_make_args("sublstm/TMaze-v0", {"corridor_lenght": 5})
    with pytest.raises(ValueError, match="takes no argument 'noise'"):
        check_make_args("sublstm/SequencePrediction-v0", {"noise": 1.0})
    with pytest.raises(ValueError, match="mapping"):
        check_make_args("sublstm/TMaze-v0", ["corridor_length"])


def test_module_part_is_refused_without_importing_it(tmp_path, monkeypatch):
    (tmp_path / "planted_env_module.py").write_text("import sys\nsys.planted_ran = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="names a module to import.*'planted_env_module'"):
        check_make_args("planted_env_module:sublstm/TMaze-v0")
    assert "planted_env_module" not in sys.modules and not hasattr(sys, "planted_ran")
    # explicitly allowed: the module is imported (as gymnasium.make would) and the id looked up
    check_make_args("planted_env_module:sublstm/TMaze-v0", {"corridor_length": 3}, allow_module=True)
    assert sys.planted_ran
    del sys.planted_ran, sys.modules["planted_env_module"]
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        check_make_args("no_such_module_xyz:sublstm/TMaze-v0", allow_module=True)


def test_entry_point_without_signature_falls_back_to_spec_kwargs(monkeypatch):
    from gymnasium.envs.registration import register, registry

    class Opaque:
        __signature__ = property(lambda self: (_ for _ in ()).throw(ValueError("no signature")))

        def __call__(self, **kwargs):
            return TMazeEnv(**kwargs)

    register(id="sublstm-test/Opaque-v0", entry_point=Opaque(), kwargs={"noise": 0.5})
    try:
        check_make_args("sublstm-test/Opaque-v0", {"noise": 0.2})
        with pytest.raises(ValueError, match="takes no argument 'corridor_length'"):
            check_make_args("sublstm-test/Opaque-v0", {"corridor_length": 3})
    finally:
        del registry["sublstm-test/Opaque-v0"]
