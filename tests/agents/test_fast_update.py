"""The numpy update (agents/fast_update.py): its loss and gradients equal autograd's through the
step-by-step network (learner.update_loss, the path of every other core and device)."""

import numpy as np
import pytest
import torch
from sublstm.agents import fast_update
from sublstm.agents.fast_update import PARAMETERS, loss_and_grads, supported
from sublstm.agents.learner import gradient_step, make_optimizer, update_loss
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.replay import Episode, pad_episodes
from sublstm.agents.settings import Hyperparams

CPU = torch.device("cpu")


def padded_loss(network, episodes, hp, generator, target=None):
    """The reference: learner.update_loss, all episodes padded to the longest and unrolled step by
    step through AdvantageNetwork.forward, gradients by autograd."""
    return update_loss(network, target, episodes, hp, CPU, generator)[0]


def random_episodes(n, n_actions=4, seed=0, max_len=30):
    rng = np.random.default_rng(seed)
    episodes = []
    for _ in range(n):
        length = int(rng.integers(1, max_len))
        episodes.append(
            Episode(
                rng.random((length + 1, 3)),
                rng.integers(n_actions, size=length),
                rng.normal(size=length),
                bool(rng.random() < 0.7),
                None,
            )
        )
    return episodes


def grads(network, loss):
    network.zero_grad(set_to_none=True)
    loss.backward()
    return {name: p.grad.clone() for name, p in network.named_parameters()}


CASES = [
    {},  # the defaults: rate penalty and noise-aware training on
    {"train_noise": 0.0, "train_cell_noise": 0.0, "rate_penalty": 0.0, "huber_delta": 1.0},
    {"train_noise": 0.0, "train_cell_noise": 0.05, "gate_rate_penalty": 0.5, "kappa": 1.0},
    {"train_noise": 0.1, "train_cell_noise": 0.0, "huber_delta": 0.3, "gamma": 0.9, "lam": 0.5},
    {"input_gain": 0.3},  # the ASN input code (agents.neuron.input_code)
]


@pytest.mark.parametrize("core", ["asn-sublstm", "asn-lstm", "asn-lstm-bounded"])
@pytest.mark.parametrize("extra", CASES)
def test_numpy_update_equals_autograd(core, extra):
    # 32 episodes of 8 cells: one draw of every step's noise gives the numbers of one draw per step
    hp = Hyperparams(**extra)
    torch.manual_seed(3)
    net = AdvantageNetwork(3, 4, core, hp.n_hidden, hp.n_cells, input_gain=hp.input_gain)
    episodes = random_episodes(32)
    ref_loss = padded_loss(net, episodes, hp, torch.Generator().manual_seed(7))
    ref = grads(net, ref_loss)
    batch = pad_episodes(episodes, CPU)
    _, total, mine = loss_and_grads(net, None, batch, hp, torch.Generator().manual_seed(7), with_total=True)
    assert total == pytest.approx(float(ref_loss.detach()), rel=1e-5, abs=1e-6)
    assert set(mine) == set(PARAMETERS) == set(ref)
    for name in ref:
        torch.testing.assert_close(torch.from_numpy(mine[name]), ref[name], atol=1e-5, rtol=1e-4, msg=name)


def test_numpy_update_with_a_target_network():
    hp = Hyperparams(target_update_interval=10)
    torch.manual_seed(4)
    net, target = AdvantageNetwork(3, 4), AdvantageNetwork(3, 4)
    episodes = random_episodes(32, seed=1)
    ref_loss = padded_loss(net, episodes, hp, torch.Generator().manual_seed(2), target=target)
    ref = grads(net, ref_loss)
    _, total, mine = loss_and_grads(
        net, target, pad_episodes(episodes, CPU), hp, torch.Generator().manual_seed(2), with_total=True
    )
    assert total == pytest.approx(float(ref_loss.detach()), rel=1e-5)
    for name in ref:
        torch.testing.assert_close(torch.from_numpy(mine[name]), ref[name], atol=1e-5, rtol=1e-4, msg=name)


def test_only_the_asn_cells_on_the_cpu_run_in_numpy():
    assert supported(AdvantageNetwork(3, 4)) and supported(AdvantageNetwork(3, 4, core="asn-lstm"))
    assert not supported(AdvantageNetwork(3, 4, core="lstm"))
    assert not supported(AdvantageNetwork(3, 4).double())


def test_gradient_step_takes_either_path_alike(monkeypatch):
    hp = Hyperparams()
    episodes = random_episodes(32, seed=2)

    def one_step():
        torch.manual_seed(5)
        net = AdvantageNetwork(3, 4)
        opt = make_optimizer(net, hp.learning_rate)
        out = gradient_step(net, None, opt, episodes, hp, CPU, torch.Generator().manual_seed(1))
        return net.state_dict(), out

    fast_weights, fast = one_step()
    monkeypatch.setattr(fast_update, "supported", lambda network: False)  # the autograd path
    slow_weights, slow = one_step()
    assert fast["loss"] == pytest.approx(slow["loss"], rel=1e-5)
    assert fast["grad_norm"] == pytest.approx(slow["grad_norm"], rel=1e-4)
    # Adam's first step is about lr * sign(gradient): a gradient that cancels to ~1e-7 may differ
    for name in fast_weights:
        torch.testing.assert_close(fast_weights[name], slow_weights[name], atol=5e-4, rtol=0, msg=name)


@pytest.mark.parametrize("input_gain", [None, 0.3])
@pytest.mark.parametrize("core", ["asn-sublstm", "asn-lstm", "asn-lstm-bounded"])
def test_numpy_acting_step_equals_the_network(core, input_gain):
    torch.manual_seed(6)
    net = AdvantageNetwork(3, 4, core=core, input_gain=input_gain)
    obs = torch.rand(1, 5, 3)
    state = (torch.rand(5, 8), torch.rand(5, 8))
    resets = torch.tensor([[True, False, False, True, False]])
    with torch.no_grad():
        ref_q, ref_state, ref_acts = net(obs, state, resets)
    q, new_state, acts = fast_update.forward_step(net, obs, state, resets)
    torch.testing.assert_close(q, ref_q, atol=1e-6, rtol=1e-5)
    for mine, ref in zip(new_state, ref_state, strict=True):
        torch.testing.assert_close(mine, ref, atol=1e-6, rtol=1e-5)
    assert set(acts) == set(ref_acts)
    for name in acts:
        torch.testing.assert_close(acts[name], ref_acts[name], atol=1e-6, rtol=1e-5, msg=name)
