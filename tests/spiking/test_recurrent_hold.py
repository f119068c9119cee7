"""The "hold" recurrent synapse: the gates see the previous step's settled memory output."""

import pytest
import torch
from sublstm.agents.network import AdvantageNetwork
from sublstm.spiking import SpikingPolicy, TwinTiming


def drifting_network(seed: int) -> AdvantageNetwork:
    """Random weights with a strong recurrent path from h to the cell input: the memory cell
    drifts and h changes from step to step, so the time course of h within a step matters."""
    torch.manual_seed(seed)
    net = AdvantageNetwork(3, 4, n_hidden=6, n_cells=3)
    with torch.no_grad():
        net.core.w_rec.weight.mul_(4.0)
        net.core.w_in.bias[:3] += 0.5  # cell inputs active
    return net


@torch.no_grad()
def cell_error(net, obs, delay) -> float:
    # the whole-step integration both were measured with (not the all-spiking default's window)
    kwargs = {"step_ms": 200.0, "readout_window_ms": 10.0, "recurrent_delay_ms": delay}
    kwargs |= {"output_gate_delay_ms": None, "cec_from": 0.0, "cec_to": 1.0}
    out = SpikingPolicy.from_network(net, **kwargs).teacher_forced(obs)
    analog_c = torch.stack([net(obs[: t + 1])[1][1] for t in range(obs.shape[0])])
    return float((out["c"] - analog_c).abs().mean())


@pytest.mark.parametrize("seed", [0, 1])
def test_hold_tracks_the_analog_memory_cell_better_than_a_delay_line(seed):
    net = drifting_network(seed)
    obs = torch.rand(6, 8, 3, generator=torch.Generator().manual_seed(seed))
    err_hold, err_step = cell_error(net, obs, "hold"), cell_error(net, obs, "step")
    assert err_hold < 0.6 * err_step, (err_hold, err_step)


def test_hold_keeps_one_slot():
    net = drifting_network(0)
    policy = SpikingPolicy.from_network(net, step_ms=20.0, recurrent_delay_ms="hold")
    state = policy.initial_state(5)
    assert state.h_delay.shape == (5, 1, 3)
    _, result, state = policy.act(torch.rand(5, 3), state)
    assert state.h_delay.shape == (5, 1, 3) and state.h_delay.abs().sum() > 0
    with pytest.raises(ValueError, match="hold"):
        policy.network.set_timing(TwinTiming(step_ms=20.0, recurrent_delay_ms="later"))
