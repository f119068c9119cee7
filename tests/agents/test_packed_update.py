"""The training update runs the asn cells as one autograd node with a numpy time loop
(agents/sequence.py): its loss and gradients equal the step-by-step formulation's."""

import numpy as np
import pytest
import torch
from sublstm.agents.advantage import advantage_loss, advantage_targets, bootstrap_values, lambda_returns
from sublstm.agents.learner import _mean_activation, update_loss
from sublstm.agents.network import AdvantageNetwork
from sublstm.agents.neuron import af
from sublstm.agents.replay import Episode, pad_episodes
from sublstm.agents.sequence import run_cells
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


@pytest.mark.parametrize("core", ["asn-sublstm", "asn-lstm"])
def test_run_cells_values_and_gradients_match_autograd_step_by_step(core):
    torch.manual_seed(0)
    asn = AdvantageNetwork(3, 4).asn
    t_len, b, n = 9, 6, 5
    pre_in = torch.randn(t_len, b, 3 * n, requires_grad=True)
    w = (0.5 * torch.randn(3 * n, n)).requires_grad_()
    nh, nc = 0.1 * torch.randn(t_len, b, n), 0.1 * torch.randn(t_len, b, n)
    outs = run_cells(core, pre_in, w, asn, nh, nc)
    weights = [torch.randn_like(x) for x in outs]
    loss = sum((x * wt).sum() for x, wt in zip(outs, weights, strict=True))
    grads_mine = torch.autograd.grad(loss, [pre_in, w])
    # reference: SCIENCE.md section 4 under float64 autograd (float32 rounding drifts by ~1e-5 as
    # the cell integrates), noise added where AdvantageNetwork.forward adds it
    pre64, w64 = pre_in.detach().double().requires_grad_(), w.detach().double().requires_grad_()
    h, c = torch.zeros(b, n, dtype=torch.float64), torch.zeros(b, n, dtype=torch.float64)
    ref_loss = 0.0
    for t in range(t_len):
        gates = af(pre64[t] + h @ w64.T, asn)
        z, i, o = gates.chunk(3, dim=-1)
        c = c + z - i if core == "asn-sublstm" else c + z * i
        u = af(c, asn)
        h = (u - o if core == "asn-sublstm" else u * o) + nh[t]
        c = c + nc[t]
        for out, ref in zip(outs, (h, gates, u), strict=True):
            torch.testing.assert_close(out[t].double(), ref, atol=5e-5, rtol=1e-4)
        ref_loss = ref_loss + sum((x * wt[t]).sum() for x, wt in zip((h, gates, u), weights, strict=True))
    grads_ref = torch.autograd.grad(ref_loss, [pre64, w64])
    for mine, ref in zip(grads_mine, grads_ref, strict=True):
        torch.testing.assert_close(mine.double(), ref, atol=1e-4, rtol=1e-4)


def test_run_cells_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="lstm"):
        run_cells("lstm", torch.zeros(3, 2, 6), torch.zeros(6, 2), None)
    with pytest.raises(ValueError, match="float32"):
        run_cells("asn-sublstm", torch.zeros(3, 2, 6, dtype=torch.float64), torch.zeros(6, 2), None)
