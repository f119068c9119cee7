"""The rate penalties' warm-up (rate_penalty_after, rate_penalty_ramp): when they apply, how they
rise, which evaluations a stop rule may count, and that the single agent trains by it."""

from __future__ import annotations

import math

import pytest
import torch
from sublstm.agents import AdvantageAgent
from sublstm.agents.settings import (
    Hyperparams,
    hyperparams_record,
    penalised,
    penalty_on_at,
    penalty_scale,
    stop_history,
)

HISTORY = [
    {"event": "eval", "timesteps": 1000, "success_rate": 0.4},
    {"event": "eval", "timesteps": 2000, "success_rate": 0.96},
    {"event": "eval", "timesteps": 3000, "success_rate": 0.97},
    {"event": "eval", "timesteps": 4000, "success_rate": 0.99},
    {"event": "eval", "timesteps": 5000, "success_rate": 0.98},
]


def test_without_a_switch_the_penalty_applies_from_the_start():
    hp = Hyperparams()
    assert penalty_on_at(hp, []) == 0.0 and penalty_scale(hp, [], 0) == 1.0
    assert stop_history(hp, HISTORY) == HISTORY
    assert penalised(hp, 1.0) is hp


def test_the_penalty_switches_on_at_the_first_success_and_ramps():
    hp = Hyperparams(rate_penalty=2.0, gate_rate_penalty=0.5, rate_penalty_after=0.95, rate_penalty_ramp=2000)
    assert penalty_on_at(hp, HISTORY[:1]) == math.inf and penalty_scale(hp, HISTORY[:1], 10**6) == 0.0
    assert penalty_on_at(hp, HISTORY) == 2000
    assert [penalty_scale(hp, HISTORY, t) for t in (1999, 2000, 3000, 4000, 9000)] == [0, 0, 0.5, 1, 1]
    half = penalised(hp, 0.5)
    assert (half.rate_penalty, half.gate_rate_penalty, hp.rate_penalty) == (1.0, 0.25, 2.0)
    # the stop rule counts evaluations of nets trained at full weight only: from 4000 on
    assert [r["timesteps"] for r in stop_history(hp, HISTORY)] == [4000, 5000]
    step = Hyperparams(rate_penalty_after=0.95)  # no ramp: full weight at once, after the switch
    assert [r["timesteps"] for r in stop_history(step, HISTORY)] == [3000, 4000, 5000]
    nan = [{"event": "eval", "timesteps": 1000, "success_rate": float("nan")}]
    assert penalty_on_at(step, nan) == math.inf  # an env without success info never switches


@pytest.mark.parametrize(
    ("field", "value"), [("rate_penalty_after", 0.0), ("rate_penalty_after", 1.5), ("rate_penalty_ramp", -1)]
)
def test_bad_schedule_values_are_named(field, value):
    with pytest.raises(ValueError, match=rf"{field}.*{value}"):
        Hyperparams(**{field: value}).validate()


def test_stored_hyperparams_omit_the_schedule_at_its_defaults():
    """Runs stored before the schedule existed name the same rule as runs stored at its defaults."""
    assert "rate_penalty_after" not in hyperparams_record(Hyperparams())
    record = hyperparams_record(Hyperparams(rate_penalty_after=0.9))
    assert record["rate_penalty_after"] == 0.9 and "rate_penalty_ramp" not in record


SMALL = dict(
    n_envs=4, batch_episodes=8, learning_starts=20, learning_starts_unit="steps", eps_decay_steps=400
)


def _agent(**hp):
    return AdvantageAgent(
        "sublstm/NoisyTMaze-v0", env_kwargs={"corridor_length": 3}, seed=3, **{**SMALL, **hp}
    )


def test_agent_trains_without_the_penalty_until_it_switches_on():
    """No evaluation has reached rate_penalty_after: the agent trains as one without a penalty."""
    waiting = _agent(rate_penalty=2.0, rate_penalty_after=1.0)
    plain = _agent(rate_penalty=0.0)
    always = _agent(rate_penalty=2.0)
    for agent in (waiting, plain, always):
        agent.learn(300, eval_interval=0, stop_at_success=None)
        assert agent.num_updates > 0
    for name, a in waiting.network.state_dict().items():
        torch.testing.assert_close(a, plain.network.state_dict()[name], msg=name)
    assert any(
        not torch.allclose(a, always.network.state_dict()[n]) for n, a in plain.network.state_dict().items()
    )


def test_agent_stops_only_after_the_ramp(monkeypatch):
    """Every evaluation at the target: without a schedule the agent stops at the first; with one,
    at the first evaluation taken at full weight (switch at 200 + ramp 400)."""
    perfect = {"success_rate": 1.0, "mean_return": 1.0, "mean_length": 4.0}
    stops = []
    for extra in ({}, {"rate_penalty_after": 0.9, "rate_penalty_ramp": 400}):
        agent = _agent(**extra)
        monkeypatch.setattr(agent, "evaluate", lambda *a, **k: dict(perfect))
        agent.learn(2000, eval_interval=200, stop_at_success=0.95, stop_patience=1)
        stops.append(agent.num_timesteps)
    assert stops == [200, 600]


def test_the_schedule_is_saved_and_loaded(tmp_path):
    agent = _agent(rate_penalty_after=0.9, rate_penalty_ramp=100)
    agent.save(tmp_path / "a.pt")
    loaded = AdvantageAgent.load(tmp_path / "a.pt")
    assert (loaded.hp.rate_penalty_after, loaded.hp.rate_penalty_ramp) == (0.9, 100)
