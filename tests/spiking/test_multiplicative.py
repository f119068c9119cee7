"""The bounded gate (agents.gates), the asn-lstm-bounded cell and the multiplicative twins
(spiking.multiplicative): exact products at the synapse and products made by the gates' spikes."""

import pytest
import torch
from sublstm.agents.cores import make_core
from sublstm.agents.gates import bounded_gate
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.neuron import af
from sublstm.spiking.multiplicative import MultiplicativeTwin, ProductState, multiplicative_twin, twin_policy
from sublstm.spiking.network import SpikingNetwork


def test_bounded_gate_is_the_asn_activation_saturated_at_one():
    s = torch.linspace(-1, 3, 81)
    g = bounded_gate(s)
    assert float(g.min()) == 0.0 and float(g.max()) == pytest.approx(1.0)
    assert torch.all(g[1:] >= g[:-1])  # monotone
    assert torch.allclose(g, af(s.clamp(max=1.0)), atol=1e-6)  # min(AF(S), 1) = AF(min(S, 1))
    x = torch.tensor([0.5, 2.0], requires_grad=True)
    bounded_gate(x).sum().backward()
    assert x.grad[0] > 0 and x.grad[1] == 0  # flat where saturated


def test_bounded_cell_keeps_its_gates_in_the_unit_interval():
    torch.manual_seed(0)
    core = make_core("asn-lstm-bounded", 3, 4)
    with torch.no_grad():
        core.w_in.weight.mul_(20)  # drive far beyond S = 1
    with torch.no_grad():
        _, _, acts = core(torch.randn(5, 2, 3))
    for gate in ("input_gate", "output_gate"):
        assert float(acts[gate].max()) <= 1.0 and float(acts[gate].min()) >= 0.0
    assert float(acts["cell_input"].max()) > 1.0  # the cell input is an ordinary AF unit


def network(core: str, seed: int = 0) -> AdvantageNetwork:
    torch.manual_seed(seed)
    return AdvantageNetwork(4, 3, core)


@pytest.mark.parametrize("core", ["asn-lstm", "asn-lstm-bounded"])
def test_spike_made_products_track_the_exact_ones(core):
    net = network(core)
    obs = torch.rand(6, 4)
    exact, spikes = (multiplicative_twin(net, product) for product in ("exact", "spikes"))
    assert isinstance(spikes, MultiplicativeTwin) and spikes.bounded == (core == "asn-lstm-bounded")
    s_exact, s_spikes = exact.initial_state(6), spikes.initial_state(6)
    assert isinstance(s_spikes, ProductState) and s_spikes.p.shape == (6, 2, net.core.n_cells)
    for _ in range(4):
        r_exact, s_exact = exact.step(obs, s_exact)
        r_spikes, s_spikes = spikes.step(obs, s_spikes)
    # same neurons and inputs: the memory cells differ only by how the products were made
    assert torch.allclose(r_spikes.c, r_exact.c, atol=0.15 * float(r_exact.c.abs().max()) + 0.02)
    assert float(s_spikes.p.abs().sum()) > 0
    reset = spikes.reset(s_spikes, torch.tensor([True, False, False, False, False, False]))
    assert float(reset.p[0].abs().sum()) == 0 and torch.equal(reset.p[1:], s_spikes.p[1:])


def test_exact_twin_of_asn_lstm_is_the_package_twin():
    net = network("asn-lstm")
    obs = torch.rand(3, 4)
    ours, theirs = multiplicative_twin(net, "exact"), SpikingNetwork.from_analog(net)
    a, _ = ours.step(obs, ours.initial_state(3))
    b, _ = theirs.step(obs, theirs.initial_state(3))
    assert torch.equal(a.q_mean, b.q_mean)


def test_twin_policy_refuses_what_does_not_exist():
    with pytest.raises(ValueError, match="makes no products"):
        twin_policy(network("asn-sublstm"), "spikes")
    with pytest.raises(ValueError, match="product must be one of"):
        twin_policy(network("asn-lstm"), "shunting")
    with pytest.raises(ValueError, match="has no multiplicative twin"):
        multiplicative_twin(network("asn-sublstm"))
    policy = twin_policy(network("asn-lstm-bounded"), "spikes")
    q, _, state = policy.act(torch.rand(2, 4), None)
    assert q.shape == (2, 3) and isinstance(state, ProductState)


def test_the_package_converter_builds_the_bounded_cells_exact_twin():
    twin = SpikingNetwork.from_analog(network("asn-lstm-bounded"))
    assert isinstance(twin, MultiplicativeTwin) and twin.variant == "bounded-exact"
