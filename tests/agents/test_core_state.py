"""Every core: shapes, activations by population, and resets zeroing the state."""

import pytest
import torch
from sublstm.agents.cores import CORES, make_core
from sublstm.agents.network import AdvantageNetwork, predicted_mean_rate_hz


@pytest.mark.parametrize("name", sorted(CORES))
def test_core_shapes_and_populations(name):
    torch.manual_seed(0)
    core = make_core(name, 3, 5)
    xs = torch.rand(7, 4, 3)
    hs, (h, c), acts = core(xs)
    assert hs.shape == (7, 4, 5)
    assert h.shape == c.shape == (4, 5)
    assert set(acts) == set(core.populations)
    for a in acts.values():
        assert a.shape == (7, 4, 5)


@pytest.mark.parametrize("name", sorted(CORES))
def test_reset_zeroes_state_for_that_sequence_only(name):
    torch.manual_seed(1)
    core = make_core(name, 3, 5)
    with torch.no_grad():  # positive weights keep every AF unit alive, so the state matters
        for p in core.parameters():
            p.uniform_(0.05, 0.3)
    xs = torch.rand(6, 2, 3)
    resets = torch.zeros(6, 2, dtype=torch.bool)
    resets[3, 0] = True  # sequence 0 restarts at t = 3
    hs, _, _ = core(xs, None, resets)
    fresh, _, _ = core(xs[3:, :1])  # the same inputs from a zero state
    assert torch.allclose(hs[3:, 0], fresh[:, 0], atol=1e-6)
    no_reset, _, _ = core(xs)
    assert torch.allclose(hs[:, 1], no_reset[:, 1])  # the other sequence is untouched
    assert not torch.allclose(hs[3:, 0], no_reset[3:, 0])  # the reset did change something


@pytest.mark.parametrize("name", sorted(CORES))
def test_state_carries_across_calls(name):
    torch.manual_seed(2)
    core = make_core(name, 3, 4)
    xs = torch.rand(8, 3, 3)
    whole, _, _ = core(xs)
    first, state, _ = core(xs[:5])
    second, _, _ = core(xs[5:], state)
    assert torch.allclose(torch.cat([first, second]), whole, atol=1e-6)


def test_network_outputs_and_rates():
    net = AdvantageNetwork(3, 4, core="asn-sublstm", n_hidden=6, n_cells=5)
    q, state, acts = net(torch.rand(5, 2, 3))
    assert q.shape == (5, 2, 4)
    rates = predicted_mean_rate_hz(acts)
    assert rates["overall"] > 0 and set(rates) >= {"input", "hidden", "cell_input", "overall"}


def test_unknown_core_is_refused():
    with pytest.raises(ValueError, match="unknown core"):
        make_core("gru", 3, 4)
