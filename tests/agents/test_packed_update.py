"""The training update runs episodes sorted longest first, the asn cells as one autograd node
(agents/sequence.py): its loss and gradients equal the padded step-by-step formulation's."""

import numpy as np
import pytest
import torch
from sublstm.agents.advantage import advantage_loss, advantage_targets, bootstrap_values, lambda_returns
from sublstm.agents.learner import _mean_activation, update_loss
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.replay import Episode, pad_episodes
from sublstm.agents.sequence import run_cells
from sublstm.agents.settings import Hyperparams

CPU = torch.device("cpu")


def padded_loss(network, episodes, hp, generator):
    """The update's loss as it was first written: all episodes padded to the longest and unrolled
    step by step through AdvantageNetwork.forward, in the order given."""
    batch = pad_episodes(episodes, CPU)
    q, _, acts = network(
        batch["obs"], noise_std=hp.train_noise, cell_noise_std=hp.train_cell_noise, generator=generator
    )
    with torch.no_grad():
        values = q.max(-1).values
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


@pytest.mark.parametrize("core", ["asn-sublstm", "asn-lstm", "sublstm", "lstm", "asn-lstm-bounded"])
@pytest.mark.parametrize(
    "extra",
    [
        {},  # the defaults: rate penalty and noise-aware training on
        {"train_noise": 0.0, "train_cell_noise": 0.0, "rate_penalty": 0.0, "huber_delta": 1.0},
        {"train_noise": 0.0, "train_cell_noise": 0.05, "gate_rate_penalty": 0.5},
        {"train_noise": 0.1, "train_cell_noise": 0.0},
    ],
)
def test_packed_update_equals_the_padded_one(core, extra):
    # 32 episodes of 8 cells: the per-step noise draws fill whole blocks of 16, so one draw for all
    # steps gives exactly the numbers of one draw per step
    hp = Hyperparams(**extra)
    torch.manual_seed(3)
    net = AdvantageNetwork(3, 4, core=core, n_hidden=hp.n_hidden, n_cells=hp.n_cells)
    episodes = random_episodes(32)
    ref_loss = padded_loss(net, episodes, hp, torch.Generator().manual_seed(7))
    ref = grads(net, ref_loss)
    loss, td = update_loss(net, None, episodes, hp, CPU, torch.Generator().manual_seed(7))
    mine = grads(net, loss)
    torch.testing.assert_close(loss, ref_loss, atol=1e-6, rtol=1e-5)
    for name in ref:
        torch.testing.assert_close(mine[name], ref[name], atol=1e-5, rtol=1e-4, msg=name)


def test_run_cells_gradients_match_autograd_through_the_step_by_step_cells():
    torch.manual_seed(0)
    net = AdvantageNetwork(3, 4, n_cells=5)
    t_len, b = 9, 6
    rows = [6, 6, 5, 5, 3, 2, 2, 1, 0]
    pre_in = torch.randn(t_len, b, 15, requires_grad=True)
    w = net.core.w_rec.weight
    nh, nc = 0.1 * torch.randn(t_len, b, 5), 0.1 * torch.randn(t_len, b, 5)
    hs, gates, out = run_cells("asn-sublstm", pre_in, w, rows, net.asn, nh, nc)
    weights = [torch.randn_like(x) for x in (hs, gates, out)]
    loss = sum((x * wt).sum() for x, wt in zip((hs, gates, out), weights, strict=True))
    g_pre, g_w = torch.autograd.grad(loss, [pre_in, w])
    # reference: the core's step, row by row, with the same noise
    ref_outs = []
    h, c = torch.zeros(b, 5), torch.zeros(b, 5)
    ref_loss = 0.0
    for t in range(t_len):
        r = rows[t]
        if r == 0:
            break
        pre = pre_in[t, :r] + h[:r] @ w.T
        from sublstm.agents.neuron import af

        z, i, o = af(pre, net.asn).chunk(3, dim=-1)
        c_new = c[:r] + z - i
        u = af(c_new, net.asn)
        h = u - o + nh[t, :r]
        c = c_new + nc[t, :r]
        ref_loss = (
            ref_loss + (h * weights[0][t, :r]).sum() + (torch.cat([z, i, o], -1) * weights[1][t, :r]).sum()
        )
        ref_loss = ref_loss + (u * weights[2][t, :r]).sum()
        ref_outs.append(h)
    r_pre, r_w = torch.autograd.grad(ref_loss, [pre_in, w])
    torch.testing.assert_close(g_pre, r_pre, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(g_w, r_w, atol=1e-5, rtol=1e-4)
    assert (hs[8] == 0).all() and (hs[4, 3:] == 0).all()  # rows that ended give zeros


def test_run_cells_refuses_what_it_cannot_run():
    pre = torch.zeros(3, 2, 6)
    w = torch.zeros(6, 2)
    with pytest.raises(ValueError, match="lstm"):
        run_cells("lstm", pre, w, [2, 2, 1], None)
    with pytest.raises(ValueError, match="non-increasing"):
        run_cells("asn-sublstm", pre, w, [1, 2, 2], None)
