"""sublstm.spiking.compare on a hand-set T-maze agent: closed loop, teacher-forced, sweep, shortest step."""

import json
import math
import sys

import gymnasium as gym
import pytest
import sublstm.envs  # noqa: F401  (registers the T-maze ids)
import torch
from sublstm.agents.agent import AdvantageAgent
from sublstm.spiking import Comparison, SpikingPolicy, TimingError, TwinTiming, compare
from sublstm.spiking.compare import (
    SweepRow,
    analog_run,
    closed_loop,
    final_decision_agreement,
    flips,
    shortest_step,
    spiking_record,
    teacher_forced_agreement,
)

# the package exports the function compare under the module's name, so reach the module this way
COMPARE_MODULE = sys.modules["sublstm.spiking.compare"]


@pytest.fixture(scope="module")
def handset_agent(set_tmaze_weights):
    agent = AdvantageAgent("sublstm/TMaze-v0", env_kwargs={"corridor_length": 2}, n_hidden=2, n_cells=1)
    set_tmaze_weights(agent.network)
    return agent


@pytest.fixture(scope="module")
def result(handset_agent):
    return compare(handset_agent, episodes=6, sweep_step_ms=[20, 200], sweep_delays=["step", "0"])


def test_agent_and_twin_agree_on_the_handset_solution(result):
    assert isinstance(result, Comparison)
    assert result.analog_success == result.spiking_success == 1.0
    assert result.teacher_forced_agreement == result.closed_loop_agreement == 1.0
    assert result.final_decision_agreement == 1.0 and result.decisive_agreement == 1.0
    assert result.timing == TwinTiming() and (result.episodes, result.seed) == (6, 0)
    assert set(result.rates_hz) == {*result.neurons, "overall"} and result.mean_rate_hz > 0
    assert result.synaptic_events_per_decision > result.spikes_per_decision > 0
    assert result.analog_macs_per_step == 3 * 2 + 3 * 3 + 3 * 1 + 3 * 4
    assert result.final_c_error < 0.2 * result.final_c_abs


def test_sweep_and_shortest_safe_step(result):
    by_key = {(r.recurrent_delay, r.step_ms): r for r in result.sweep}
    assert set(by_key) == {("step", 20.0), ("step", 200.0), (0.0, 20.0), (0.0, 200.0)}
    # 20 ms steps see the junction too late (a wall bump), 200 ms ones do not
    assert by_key[("step", 200.0)].closed_loop == 1.0
    assert by_key[("step", 20.0)].mean_length > by_key[("step", 200.0)].mean_length
    assert by_key[("step", 20.0)].readout_window_ms == 10.0
    assert result.shortest_step_ms == {"step": 200.0, "0.0": 200.0}
    assert result.shortest_step_ms_closed == {"step": 200.0, "0.0": 200.0}


def test_to_dict_is_json_and_round_trips(result):
    data = json.loads(json.dumps(result.to_dict()))
    assert data["timing"] == TwinTiming().to_dict() and data["sweep"][0]["step_ms"] == 20.0
    assert Comparison.from_dict(data) == result


def row(delay, step_ms, agreement):
    numbers = dict.fromkeys(
        ["teacher_forced_end", "teacher_forced_mean", "decisive", "final_decision", "closed_loop"], agreement
    )
    rest = dict.fromkeys(
        [
            "success_rate",
            "mean_length",
            "mean_rate_hz",
            "spikes_per_decision",
            "synops_per_decision",
            "wall_s",
        ],
        1.0,
    )
    return SweepRow(delay, step_ms, 10.0, teacher_forced=agreement, **numbers, **rest)


def test_shortest_step_needs_every_longer_step_safe():
    rows = [
        row("hold", 50.0, 0.99),
        row("hold", 100.0, 0.90),
        row("hold", 200.0, 0.99),
        row("step", 50.0, 0.5),
    ]
    assert shortest_step(rows, "hold") == 200.0  # 50 ms is above the level, but 100 ms is not
    assert shortest_step(rows, "hold", level=0.85) == 50.0
    assert shortest_step(rows, "step") is None
    assert shortest_step([row("hold", 300.0, math.nan)], "hold") is None


def test_final_decision_agreement_reads_each_episodes_last_step():
    actions = torch.tensor([[0, 1], [2, 1], [3, 3]])
    reference = torch.tensor([[0, 1], [2, 0], [0, 3]])
    assert final_decision_agreement(actions, reference, lengths=[2, 1]) == 1.0
    assert final_decision_agreement(actions, reference, lengths=[3, 2]) == 0.0
    assert final_decision_agreement(actions, reference) == 0.5  # the last row
    with pytest.raises(ValueError, match="shape"):
        final_decision_agreement(actions, reference[:2])


def test_lower_level_pieces_share_the_seeds(handset_agent):
    analog = analog_run(handset_agent, episodes=4, seed=3)
    assert analog.rollout.obs.shape[:2] == analog.q.shape[:2] == (3, 4) and analog.seed == 3
    policy = SpikingPolicy.from_agent(handset_agent, step_ms=20.0)
    tf = teacher_forced_agreement(policy, analog)
    assert tf.readout == "mean" and tf.final_decision == 0.0 < tf.agreement < 1.0
    loop = closed_loop(policy, handset_agent, episodes=4, seed=3)
    assert loop.agreement < 1.0 and loop.stats["decisions"] == int(loop.rollout.lengths.sum())
    record = spiking_record(policy)
    assert record["twin"] == {
        "step_ms": 20.0,
        "dt_ms": 1.0,
        "readout_window_ms": 10.0,
        "recurrent_delay": "0.5step",
        "gating": "subtractive",
    }
    assert record["mean_rate_hz"] == loop.stats["mean_rate_hz"]
    # the flips are the decisions teacher-forced agreement counts against the twin
    found = flips(policy, analog, min_rows=1)
    assert found.agreement == tf.agreement and found.flips
    live = int((torch.as_tensor(analog.rollout.actions) >= 0).sum())
    assert len(found.flips) == round((1 - tf.agreement) * live)
    for f in found.flips:
        assert f["twin_action"] != f["analog_action"] == int(analog.rollout.actions[f["step"], f["episode"]])
        assert f["gap"] == pytest.approx(float(analog.q[f["step"], f["episode"]].topk(2).values.diff().neg()))
        assert f["step"] < f["length"]
    assert [row["step"] for row in found.by_step] == list(range(analog.q.shape[0]))
    assert all(row["c_error"] >= 0 and row["q_error"] >= 0 for row in found.by_step)


def test_the_users_wrappers_are_kept(set_tmaze_weights):
    env = gym.wrappers.TransformReward(gym.make("sublstm/TMaze-v0", corridor_length=2), lambda r: 10.0 * r)
    agent = AdvantageAgent(env, n_hidden=2, n_cells=1)
    set_tmaze_weights(agent.network)
    result = compare(agent, episodes=2)
    assert result.analog_return == pytest.approx(10 * 4.0) == pytest.approx(result.spiking_return)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"episodes": 0}, ValueError, "episodes"),
        ({"seed": -1}, ValueError, "seed"),
        ({"level": 1.5}, ValueError, "level"),
        ({"sweep_step_ms": [100, 2.5]}, TimingError, "step_ms"),
        ({"sweep_step_ms": [100], "sweep_delays": ["soon"]}, TimingError, "recurrent_delay_ms"),
        ({"timing": TwinTiming(step_ms=-5.0)}, TimingError, "^step_ms"),
    ],
)
def test_bad_arguments_are_refused_before_running(handset_agent, monkeypatch, kwargs, error, match):
    monkeypatch.setattr(COMPARE_MODULE, "analog_run", lambda *a, **k: pytest.fail("ran before checking"))
    with pytest.raises(error, match=match):
        compare(handset_agent, **kwargs)


def test_rollout_is_the_one_rollout(handset_agent, monkeypatch):
    import sublstm.agents.rollout as rollout_module

    calls = []

    def spy(*args, **kwargs):
        calls.append(kwargs.get("record", False))
        return rollout_module.rollout(*args, **kwargs)

    monkeypatch.setattr(COMPARE_MODULE, "rollout", spy)
    compare(handset_agent, episodes=2)
    assert calls == [True, False]  # the analog run (recorded for teacher forcing), the closed loop
