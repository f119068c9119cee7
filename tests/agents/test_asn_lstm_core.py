"""The asn-lstm core: AF units with multiplicative gates and no forget gate (the control of the
paper's claim), checked against its equations on hand-set weights and beside asn-sublstm."""

import os

import numpy as np
import pytest
import torch
from sublstm.agents.agent import AdvantageAgent
from sublstm.agents.cores import ASNLSTM, ASNSubLSTM, make_core
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.neuron import af

os.environ.setdefault("WANDB_MODE", "disabled")


def handset(core_name: str):
    """One cell reading a 2-vector: z from x0, i from x1, o from a bias only; no recurrence."""
    core = make_core(core_name, 2, 1)
    with torch.no_grad():
        core.w_in.weight[:] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
        core.w_in.bias[:] = torch.tensor([0.0, 0.0, 0.3])
        core.w_rec.weight.zero_()
    return core


def test_gating_attributes_and_conversion_flags():
    assert ASNLSTM.gating == "multiplicative" and ASNSubLSTM.gating == "subtractive"
    assert ASNLSTM.spiking_convertible and ASNSubLSTM.spiking_convertible
    assert isinstance(make_core("asn-lstm", 3, 2), ASNLSTM)
    assert make_core("lstm", 3, 2).gating is None and make_core("sublstm", 3, 2).gating is None


def test_multiplicative_equations_on_handset_weights():
    core = handset("asn-lstm")
    xs = torch.tensor([[[0.5, 2.0]], [[1.0, 0.2]], [[0.0, 3.0]]])  # (T=3, B=1, 2)
    hs, (h, c), acts = core(xs)
    z, i, o = af(xs[..., 0]), af(xs[..., 1]), af(torch.tensor(0.3))
    expected_c = torch.cumsum(z * i, 0)  # c_t = c_{t-1} + z_t i_t, no forget gate
    assert torch.allclose(acts["cell_input"][..., 0], z)
    assert torch.allclose(acts["input_gate"][..., 0], i)
    assert torch.allclose(acts["output_gate"][..., 0], o.expand(3, 1))
    assert torch.allclose(acts["output_cell"][..., 0], af(expected_c))
    assert torch.allclose(hs[..., 0], af(expected_c) * o)  # h_t = AF(c_t) o_t
    assert torch.allclose(c[:, 0], expected_c[-1]) and torch.equal(h, hs[-1])
    # z = 0 at step 3 keeps c: the input gate scales, it does not subtract
    assert expected_c[2] == pytest.approx(expected_c[1].item())


def test_same_weights_differ_from_subtractive_gating():
    mult, sub = handset("asn-lstm"), handset("asn-sublstm")
    sub.load_state_dict(mult.state_dict())  # the same parameter layout
    xs = torch.tensor([[[0.5, 2.0]], [[1.0, 0.2]]])
    h_mult, (_, c_mult), _ = mult(xs)
    h_sub, (_, c_sub), _ = sub(xs)
    z, i = af(xs[..., 0]), af(xs[..., 1])
    assert torch.allclose(c_sub[:, 0], (z - i).sum(0)) and torch.allclose(c_mult[:, 0], (z * i).sum(0))
    assert not torch.allclose(h_mult, h_sub)


def test_recurrence_uses_previous_h():
    core = handset("asn-lstm")
    with torch.no_grad():
        core.w_rec.weight[:] = torch.tensor([[0.0], [0.0], [2.0]])  # h_{t-1} drives the output gate
    xs = torch.tensor([[[1.0, 1.0]], [[1.0, 1.0]]])
    with torch.no_grad():
        hs, _, acts = core(xs)
    o0 = af(torch.tensor(0.3))
    assert acts["output_gate"][0, 0, 0] == pytest.approx(o0.item())
    assert acts["output_gate"][1, 0, 0] == pytest.approx(af(0.3 + 2.0 * hs[0, 0]).item())


def test_reset_and_state_carry_in_a_network():
    torch.manual_seed(3)
    net = AdvantageNetwork(3, 4, core="asn-lstm", n_hidden=5, n_cells=4)
    with torch.no_grad():  # open gates, so that the state matters
        net.core.w_in.bias.add_(0.5)
    obs = torch.rand(6, 2, 3)
    resets = torch.zeros(6, 2, dtype=torch.bool)
    resets[2, 1] = True
    q, _, _ = net(obs, None, resets)
    fresh, _, _ = net(obs[2:, 1:])
    assert torch.allclose(q[2:, 1], fresh[:, 0], atol=1e-6)
    whole, _, _ = net(obs)
    assert not torch.allclose(q[2:, 1], whole[2:, 1])
    first, state, _ = net(obs[:3])
    second, _, _ = net(obs[3:], state)
    assert torch.allclose(torch.cat([first, second]), whole, atol=1e-6)


def test_advantage_agent_trains_and_predicts_with_asn_lstm():
    agent = AdvantageAgent(
        "sublstm/TMaze-v0",
        core="asn-lstm",
        seed=0,
        env_kwargs={"corridor_length": 2, "noise": 0.5},
        n_envs=4,
        batch_episodes=4,
        learning_starts=4,
    )
    before = [p.detach().clone() for p in agent.network.core.parameters()]
    agent.learn(200, progress_bar=False, eval_interval=0)
    assert agent.num_updates > 0
    assert any(not torch.equal(b, p) for b, p in zip(before, agent.network.core.parameters(), strict=True))
    obs = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]], dtype=np.float32)
    actions, state = agent.predict(obs, episode_start=np.array([True, True]))
    assert actions.shape == (2,) and state[1].shape == (2, agent.hp.n_cells)
