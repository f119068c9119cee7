"""The numpy update (agents/fast_update.py): its loss and gradients equal autograd's through the
step-by-step network (the padded formulation of learner.update_loss)."""

import numpy as np
import pytest
import torch
from sublstm.agents.advantage import advantage_loss, advantage_targets, bootstrap_values, lambda_returns
from sublstm.agents.fast_update import PARAMETERS, loss_and_grads, supported
from sublstm.agents.learner import _mean_activation
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.replay import Episode, pad_episodes
from sublstm.agents.settings import Hyperparams

CPU = torch.device("cpu")


def padded_loss(network, episodes, hp, generator, target=None):
    """The update's loss as it was first written: all episodes padded to the longest and unrolled
    step by step through AdvantageNetwork.forward, in the order given."""
    batch = pad_episodes(episodes, CPU)
    q, _, acts = network(
        batch["obs"], noise_std=hp.train_noise, cell_noise_std=hp.train_cell_noise, generator=generator
    )
    with torch.no_grad():
        values = (q if target is None else target(batch["obs"])[0]).max(-1).values
        next_values = bootstrap_values(values, batch["terminated"])
        returns = lambda_returns(batch["rewards"], next_values, batch["continues"], hp.gamma, hp.lam)
        targets = advantage_targets(values[:-1], returns, hp.kappa)
    loss = advantage_loss(q[:-1], batch["actions"], targets, batch["mask"], hp.huber_delta or None)
    m = batch["mask"].to(q.dtype).unsqueeze(-1)
    if hp.rate_penalty:
        loss = loss + hp.rate_penalty * _mean_activation(list(acts.values()), m)
    zi = [acts[k] for k in ("cell_input", "input_gate") if k in acts]
    if hp.gate_rate_penalty and zi:
        loss = loss + hp.gate_rate_penalty * _mean_activation(zi, m)
    return loss


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
]


@pytest.mark.parametrize("core", ["asn-sublstm", "asn-lstm"])
@pytest.mark.parametrize("extra", CASES)
def test_numpy_update_equals_autograd(core, extra):
    # 32 episodes of 8 cells: one draw of every step's noise gives the numbers of one draw per step
    hp = Hyperparams(**extra)
    torch.manual_seed(3)
    net = AdvantageNetwork(3, 4, core=core, n_hidden=hp.n_hidden, n_cells=hp.n_cells)
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
