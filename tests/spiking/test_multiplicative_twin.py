"""The spiking twin of an asn-lstm network: gates scale post-synaptic traces at the synapse.

CEC: dc/dt = trace_z * trace_i / T; downstream of the cell (recurrent gates, readout) the signal is
trace_oc * trace_og. Everything else is the asn-sublstm twin, so these tests mirror
test_spiking_twin.py and check that the twin follows the multiplicative, not the subtractive,
equations.
"""

import numpy as np
import pytest
import torch
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.neuron import af
from sublstm.spiking.network import SpikingNetwork
from sublstm.spiking.policy import SpikingPolicy

CORRIDOR = [1.0, 0.0, 1.0]
NORTH = [1.0, 1.0, 0.0]


def handset(core: str = "asn-lstm") -> AdvantageNetwork:
    """One memory cell: z reads x0 (bias -0.5), i reads x1 (bias +0.5), o is a bias of 1.

    Under the north sign [1,1,0] held: z = AF(0.5), i = AF(1.5), so c grows by z*i = 0.75 per
    step with multiplicative gates and by z - i = -0.77 with subtractive ones.
    """
    net = AdvantageNetwork(3, 4, core=core, n_hidden=2, n_cells=1)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.hidden.weight[:] = torch.tensor([[-1.0, 1.0, -1.0], [1.0, 0.0, 1.0]])
        net.hidden.bias[:] = torch.tensor([-0.5, -0.5])
        net.core.w_in.weight[:] = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]])
        net.core.w_in.bias[:] = torch.tensor([-0.5, 0.5, 1.0])
        net.head.weight[:] = torch.tensor([[1.0, 0, 2], [0, 2, 0], [1, 0, -2], [0, 0, 0]])
        net.head.bias[:] = torch.tensor([-0.6, 0, 0.6, -1])
    return net


def random_network(seed: int) -> AdvantageNetwork:
    torch.manual_seed(seed)
    net = AdvantageNetwork(3, 4, core="asn-lstm", n_hidden=6, n_cells=3)
    with torch.no_grad():
        net.core.w_in.bias.add_(0.5)  # open gates: products far from zero, the cells move
    return net


def test_conversion_dispatches_on_the_core_gating():
    twin = SpikingNetwork.from_analog(handset("asn-lstm"))
    assert twin.gating == "multiplicative"
    assert SpikingNetwork.from_analog(handset("asn-sublstm")).gating == "subtractive"
    with pytest.raises(ValueError, match="gating"):
        SpikingNetwork.from_analog(handset("asn-lstm"), gating="subtractive")
    net = handset()
    with pytest.raises(ValueError, match="gating"):
        SpikingNetwork(
            net.hidden.weight, net.hidden.bias, net.core.w_in.weight, net.core.w_in.bias,
            net.core.w_rec.weight, net.head.weight, net.head.bias, gating="divisive",
        )  # fmt: skip


def test_cec_integrates_one_z_times_i_per_step():
    obs = torch.tensor([NORTH]).expand(8, 1, 3)
    z, i = af(torch.tensor(0.5)).item(), af(torch.tensor(1.5)).item()
    for step_ms in (50.0, 200.0):
        out = SpikingPolicy.from_network(handset(), step_ms=step_ms).teacher_forced(obs)
        slope = (out["c"][-1, 0, 0] - out["c"][3, 0, 0]).item() / 4
        assert slope == pytest.approx(z * i, rel=0.05), step_ms
    # the same weights converted as asn-sublstm integrate z - i (negative here)
    sub = SpikingPolicy.from_network(handset("asn-sublstm"), step_ms=200.0).teacher_forced(obs)
    assert (sub["c"][-1, 0, 0] - sub["c"][3, 0, 0]).item() / 4 == pytest.approx(z - i, rel=0.05)


def test_readout_and_recurrence_use_the_product_of_traces():
    net = handset()
    with torch.no_grad():
        net.core.w_rec.weight[2, 0] = -0.3  # h_{t-1} inhibits the output gate: the loop matters
    obs = torch.tensor([NORTH, CORRIDOR, CORRIDOR, [0.0, 1.0, 0.0]]).unsqueeze(1)
    q_analog = net(obs)[0].detach()[:, 0]
    kwargs = {"step_ms": 500.0, "readout_window_ms": 100.0}
    out = SpikingPolicy.from_network(net, **kwargs).teacher_forced(obs)
    err = (out["q_mean"][:, 0] - q_analog).abs().max().item()
    assert err < 0.1 * q_analog.abs().max().item(), (out["q_mean"][:, 0], q_analog)
    # a twin that gated subtractively would read h = AF(c) - o, far from AF(c) * o here
    twin = SpikingNetwork.from_analog(net, **kwargs)
    trace = torch.zeros(1, twin.n_neurons)
    trace[0, twin.slices["output_cell"]] = 2.0
    trace[0, twin.slices["output_gate"]] = 0.5
    assert twin.cell_output(trace).item() == pytest.approx(1.0)
    expected = twin.b_head + net.head.weight[:, 2].detach() * 1.0
    assert torch.allclose(twin.readout_values(trace)[0], expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_constant_input_readout_converges_to_analog(seed):
    net = random_network(seed)
    obs = torch.rand(1, 1, 3, generator=torch.Generator().manual_seed(seed)).expand(5, 1, 3)
    q_analog, _, _ = net(obs)
    q_analog = q_analog.detach()
    errors, last = {}, {}
    for step_ms in (20.0, 500.0):
        policy = SpikingPolicy.from_network(net, step_ms=step_ms, readout_window_ms=step_ms / 5)
        out = policy.teacher_forced(obs)
        errors[step_ms] = (out["q_mean"] - q_analog).abs().max().item()
        last[step_ms] = (out["q_mean"][-1] - q_analog[-1]).abs().max().item()
    # longer decisions: the traces settle and the spiking readout approaches the analog one
    # (the first step keeps a transient: the CEC ramps up during a step instead of jumping)
    assert last[500.0] < 0.05 and errors[500.0] < 0.12, (errors, last)
    assert errors[500.0] < errors[20.0], errors


def test_state_resets_only_at_episode_start():
    policy = SpikingPolicy.from_network(random_network(1), step_ms=30.0)
    obs = np.array([CORRIDOR, [0.0, 1.0, 0.0]], dtype=np.float32)
    _, state = policy.predict(obs)
    _, state = policy.predict(obs, state, np.array([False, False]))
    assert state.neurons.trace.abs().sum(-1).min() > 0 and state.c.abs().min() > 0
    _, fresh = policy.predict(obs, policy.network.initial_state(2))
    _, after_reset = policy.predict(obs, state, np.array([True, False]))
    assert torch.equal(after_reset.neurons.trace[0], fresh.neurons.trace[0])
    assert torch.equal(after_reset.c[0], fresh.c[0])
    assert torch.equal(after_reset.h_delay[0], fresh.h_delay[0])
    assert not torch.equal(after_reset.c[1], fresh.c[1])


def test_predict_single_and_batch_agree():
    policy = SpikingPolicy.from_network(handset(), step_ms=50.0)
    single, _ = policy.predict(np.array(NORTH, dtype=np.float32))
    assert np.ndim(single) == 0
    batch, state = policy.predict(np.array([NORTH] * 3, dtype=np.float32))
    assert batch.shape == (3,) and np.all(batch == single)
    assert state.c.shape == (3, 1)


def test_statistics_match_the_subtractive_twin_layout():
    """Same neurons and synapses as the subtractive twin: rates and synaptic events per decision
    are counted the same way (only the arithmetic at the cell differs)."""
    mult = SpikingPolicy.from_network(handset("asn-lstm"), step_ms=100.0)
    sub = SpikingPolicy.from_network(handset("asn-sublstm"), step_ms=100.0)
    assert torch.equal(mult.network.fan_out, sub.network.fan_out)
    mult.predict(np.array([NORTH, CORRIDOR], dtype=np.float32))
    stats = mult.stats()
    assert stats["decisions"] == 2
    assert stats["spikes_per_decision"] == pytest.approx(float(mult._spikes.sum()) / 2)
    synops = float(mult._spikes @ mult.network.fan_out.double())
    assert stats["synops_per_decision"] == pytest.approx(synops / 2)
    assert stats["rate_hz"]["output_gate"] > 0  # o = AF(1) = 1: ~160 Hz
