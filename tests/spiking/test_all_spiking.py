"""The all-spiking default twin: spike delay lines only (no held graded value), the memory cell
integrating during a window of each step, and its rate accounting."""

import pytest
import torch
from sublstm.spiking import SpikingPolicy, TwinTiming
from sublstm.spiking.timing import TimingError

from .test_recurrent_hold import drifting_network


def test_the_default_twin_has_no_hold():
    timing = TwinTiming()
    assert "hold" not in (timing.recurrent_delay_ms, timing.output_gate_delay_ms)
    net = SpikingPolicy.from_network(drifting_network(0), step_ms=20.0).network
    assert not net.hold
    # delay lines of spikes: half a step onto z and i, a whole step onto o; the ring buffer holds
    # the memory output of every dt of the longest one
    assert net.delays == {"zi": 10, "o": 20} and net.delay_steps == 20
    assert net.cec_steps == (7, 10)  # [1/3, 1/2] of 20 dt steps
    state = net.initial_state(2)
    assert state.h_delay.shape == (2, 20, 3)


@torch.no_grad()
def cell_error(net, obs, **timing) -> float:
    out = SpikingPolicy.from_network(net, step_ms=200.0, **timing).teacher_forced(obs)
    analog_c = torch.stack([net(obs[: t + 1])[1][1] for t in range(obs.shape[0])])
    return float((out["c"] - analog_c).abs().mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_default_tracks_the_memory_cell_like_hold_and_far_better_than_a_step_delay(seed):
    net = drifting_network(seed)
    obs = torch.rand(6, 8, 3, generator=torch.Generator().manual_seed(seed))
    whole = {"cec_from": 0.0, "cec_to": 1.0}
    default = cell_error(net, obs)
    step = cell_error(net, obs, recurrent_delay_ms="step", output_gate_delay_ms=None, **whole)
    hold = cell_error(net, obs, recurrent_delay_ms="hold", **whole)
    assert default < 0.5 * step and default < 1.2 * hold, (default, step, hold)


def test_the_cell_integrates_only_in_its_window_and_adds_z_minus_i_per_step(tmaze_network):
    policy = SpikingPolicy.from_network(tmaze_network(), step_ms=30.0, cec_from=0.5, cec_to=1.0)
    values = []
    policy.network.step(
        torch.tensor([[1.0, 1.0, 0.0]]),
        policy.initial_state(1),
        on_dt=lambda s, st: values.append(st.c.item()),
    )
    assert all(v == 0.0 for v in values[:15]) and values[-1] > 0.3  # the north sign charged the cell


def test_step_fractions_and_bad_windows():
    t = TwinTiming(step_ms=100.0, recurrent_delay_ms="0.25step", output_gate_delay_ms=30)
    assert (t.delay_steps(), t.delay_steps("output_gate_delay_ms")) == (25, 30)
    assert TwinTiming().replace(recurrent_delay_ms=" 0.5step ").recurrent_delay_ms == "0.5step"
    for bad, field in (
        ({"recurrent_delay_ms": "2step"}, "recurrent_delay_ms"),
        ({"output_gate_delay_ms": "hold"}, "output_gate_delay_ms"),
        ({"cec_from": 0.5, "cec_to": 0.5}, "cec_to"),
        ({"cec_from": -0.1}, "cec_from"),
    ):
        with pytest.raises(TimingError) as info:
            TwinTiming(**bad).validate()
        assert info.value.field == field


def test_rates_count_every_spike_per_neuron_and_second(tmaze_network):
    policy = SpikingPolicy.from_network(tmaze_network(), step_ms=50.0)
    obs = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])
    _, result, _ = policy.act(obs)
    stats = policy.stats()
    seconds = 2 * 0.05  # two episodes, one 50 ms decision each
    assert stats["rate_hz"]["overall"] == pytest.approx(
        float(result.spikes.sum()) / (policy.network.n_neurons * seconds)
    )
    assert stats["rate_hz"]["input"] == pytest.approx(float(result.spikes[:, :3].sum()) / (3 * seconds))
    assert stats["synops_per_decision"] == pytest.approx(
        float(result.spikes.sum(0) @ policy.network.fan_out) / 2
    )


def test_a_handset_agent_keeps_its_memory_over_a_long_corridor_with_the_defaults(set_tmaze_weights):
    from sublstm.agents.agent import AdvantageAgent
    from sublstm.spiking import compare

    agent = AdvantageAgent("sublstm/TMaze-v0", env_kwargs={"corridor_length": 8}, n_hidden=2, n_cells=1)
    set_tmaze_weights(agent.network)
    result = compare(agent, episodes=4)
    assert result.timing == TwinTiming() and result.analog_success == result.spiking_success == 1.0
    assert result.teacher_forced_agreement == result.final_decision_agreement == 1.0
    assert result.final_c_error < 0.1  # the spiking memory cell ends where the analog one does


def test_input_gain_cuts_input_spikes_and_keeps_the_mean_input_drive(tmaze_network):
    obs = torch.tensor([[1.0, 0.0, 1.0]])
    full = SpikingPolicy.from_network(tmaze_network(), step_ms=1000.0)
    coded = SpikingPolicy.from_network(tmaze_network(), step_ms=1000.0, input_gain=0.25)
    r_full, r_coded = (
        full.network.step(obs, full.initial_state(1))[0],
        coded.network.step(obs, coded.initial_state(1))[0],
    )
    inputs = full.network.slices["input"]
    assert r_coded.spikes[0, inputs].sum() < 0.4 * r_full.spikes[0, inputs].sum()
    # the hidden layer sees about the same input drive: its spike counts stay close
    hidden = full.network.slices["hidden"]
    change = (r_coded.spikes[0, hidden] - r_full.spikes[0, hidden]).abs().max()
    assert change <= 0.15 * r_full.spikes[0, hidden].max()
    with pytest.raises(TimingError):
        TwinTiming(input_gain=0.0).validate()
