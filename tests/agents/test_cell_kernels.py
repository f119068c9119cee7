"""The compiled cells (agents/cell_kernels.py through population_cells.run_stacked_cells): values and
gradients equal autograd's through the cores of agents/cores.py stepped one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sublstm.agents.cell_kernels import cells_forward
from sublstm.agents.cores import ASNLSTM, ASNSubLSTM, BoundedASNLSTM
from sublstm.agents.neuron import ASNParams, af
from sublstm.agents.population_af import af_train
from sublstm.agents.population_cells import packed_positions, run_stacked_cells
from torch.nn.functional import pad

CORES = {"asn-sublstm": ASNSubLSTM, "asn-lstm": ASNLSTM, "asn-lstm-bounded": BoundedASNLSTM}
ROWS = [5, 5, 4, 4, 2, 1, 1]  # episodes of 7, 5, 4, 4 and 2 steps, longest first
N_IN, H, S = 3, 8, 3


def packed(rows, t):
    """(S, T, B, ·) -> the packed (S, N, ·) of ``rows``."""
    s, t_len, b = t.shape[:3]
    return t.reshape(s, t_len * b, *t.shape[3:]).index_select(1, packed_positions(rows, b))


def reference(cores, x, rows, noise_h, noise_c):
    """Every member's core stepped one by one (step t on its first rows[t] rows), with the noise
    added to h and c between steps as noise-aware training adds it: h (S, T, B, H) with its noise,
    the activations (S, T, B, ·) (zeros where a step did not run) and the final cells (S, B, H)."""
    b = x.shape[2]
    hs, acts, cells = [], [], []
    for k, core in enumerate(cores):
        h, c = core.initial_state(b)
        final = torch.zeros(b, H)
        h_steps, act_steps = [], []
        for t, r in enumerate(rows):
            h_t, (_, c), a = core.step(x[k, t, :r], (h[:r], c[:r]))
            h = h_t if noise_h is None else h_t + noise_h[k, t, :r]
            c = c if noise_c is None else c + noise_c[k, t, :r]
            final = torch.cat([c, final[r:]])  # rows whose episode ended keep their cell
            h_steps.append(pad(h, (0, 0, 0, b - r)))
            act_steps.append({n: pad(v, (0, 0, 0, b - r)) for n, v in a.items()})
        hs.append(torch.stack(h_steps))
        acts.append({n: torch.stack([a[n] for a in act_steps]) for n in act_steps[0]})
        cells.append(final)
    stacked = {n: torch.stack([a[n] for a in acts]) for n in acts[0]}
    return torch.stack(hs), stacked, torch.stack(cells)


def make_case(core, noisy, seed=0):
    torch.manual_seed(seed)
    cores = [CORES[core](N_IN, H) for _ in range(S)]
    for c in cores:  # a larger recurrent weight than the default init: gradients that travel
        with torch.no_grad():
            c.w_rec.weight.mul_(3.0)
    t_len, b = len(ROWS), ROWS[0]
    x = torch.randn(S, t_len, b, N_IN)
    noise_h = 0.1 * torch.randn(S, t_len, b, H) if noisy else None
    noise_c = 0.05 * torch.randn(S, t_len, b, H) if noisy else None
    return cores, x, noise_h, noise_c


def kernel_run(core, cores, x, noise_h, noise_c, with_acts, weights=None):
    """run_stacked_cells on the packed layout, its input projections built from the cores'
    parameters (so that the gradients reach them)."""
    w_in = torch.stack([c.w_in.weight for c in cores])
    b_in = torch.stack([c.w_in.bias for c in cores])
    w_rec = torch.stack([c.w_rec.weight for c in cores])
    pre = torch.baddbmm(b_in.unsqueeze(1), packed(ROWS, x), w_in.transpose(1, 2))
    noise = [None if v is None else packed(ROWS, v) for v in (noise_h, noise_c)]
    return run_stacked_cells(core, pre, w_rec, ROWS, ASNParams(), *noise, with_acts, weights)


def grads_of(cores, loss):
    params = [p for c in cores for p in c.parameters()]
    for p in params:
        p.grad = None
    loss.backward()
    return [p.grad.clone() for p in params]


def close(mine, ref):
    """Equal to float32 rounding: 1e-5 relative to each entry or to the array's largest entry
    (sums over steps and rows round differently in a different order)."""
    torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-5 * float(ref.detach().abs().max()))


@pytest.mark.parametrize("noisy", [False, True])
@pytest.mark.parametrize("core", sorted(CORES))
def test_values_and_gradients_equal_the_stepped_cores(core, noisy):
    cores, x, noise_h, noise_c = make_case(core, noisy)
    ref_h, ref_acts, ref_c = reference(cores, x, ROWS, noise_h, noise_c)
    hs, c, gates, out_cell = kernel_run(core, cores, x, noise_h, noise_c, True)
    close(hs, packed(ROWS, ref_h))
    close(c, ref_c.detach())
    gate_ref = torch.cat([ref_acts[n] for n in ("cell_input", "input_gate", "output_gate")], -1)
    close(gates, packed(ROWS, gate_ref))
    close(out_cell, packed(ROWS, ref_acts["output_cell"]))

    # a loss on h and on every activation: the gradients of all three weights
    torch.manual_seed(1)
    coef_h, coef_g, coef_u = torch.randn(hs.shape), torch.randn(gates.shape), torch.randn(out_cell.shape)
    mine = grads_of(cores, (hs * coef_h).sum() + (gates * coef_g).sum() + (out_cell * coef_u).sum())
    ref_loss = (
        (packed(ROWS, ref_h) * coef_h).sum()
        + (packed(ROWS, gate_ref) * coef_g).sum()
        + (packed(ROWS, ref_acts["output_cell"]) * coef_u).sum()
    )
    for m, r in zip(mine, grads_of(cores, ref_loss), strict=True):
        assert r.abs().max() > 1e-3  # the case reaches every weight
        close(m, r)


@pytest.mark.parametrize("core", sorted(CORES))
def test_weighted_sums_equal_the_stepped_cores(core):
    """The rate-penalty variant: (S, 4H) sums of z, i, o, AF(c) weighted per row, and their gradients."""
    cores, x, noise_h, noise_c = make_case(core, True, seed=3)
    ref_h, ref_acts, _ = reference(cores, x, ROWS, noise_h, noise_c)
    weights = torch.rand(S, len(ROWS), ROWS[0])
    hs, _, sums = kernel_run(core, cores, x, noise_h, noise_c, True, packed(ROWS, weights))
    names = ("cell_input", "input_gate", "output_gate", "output_cell")
    ref_sums = torch.cat([(ref_acts[n] * weights.unsqueeze(-1)).sum((1, 2)) for n in names], -1)
    assert sums.shape == (S, 4 * H)
    close(sums, ref_sums)
    torch.manual_seed(2)
    coef_h, coef_s = torch.randn(hs.shape), torch.randn(sums.shape)
    mine = grads_of(cores, (hs * coef_h).sum() + (sums * coef_s).sum())
    ref = grads_of(cores, (packed(ROWS, ref_h) * coef_h).sum() + (ref_sums * coef_s).sum())
    for m, r in zip(mine, ref, strict=True):
        close(m, r)


@pytest.mark.parametrize("core", sorted(CORES))
def test_h_alone_has_the_same_gradients(core):
    """Without the activations (with_acts False) the gradient of h is the same."""
    cores, x, noise_h, noise_c = make_case(core, True, seed=4)
    hs_only = kernel_run(core, cores, x, noise_h, noise_c, False)
    assert len(hs_only) == 2
    coef = torch.randn(hs_only[0].shape)
    mine = grads_of(cores, (hs_only[0] * coef).sum())
    hs = kernel_run(core, cores, x, noise_h, noise_c, True)[0]
    for m, r in zip(mine, grads_of(cores, (hs * coef).sum()), strict=True):
        torch.testing.assert_close(m, r, rtol=0, atol=0)


def test_bad_layouts_are_refused():
    pre, w = torch.zeros(1, 5, 24), torch.zeros(1, 24, 8)
    with pytest.raises(ValueError, match="non-increasing"):
        run_stacked_cells("asn-sublstm", pre, w, [2, 3], ASNParams())
    with pytest.raises(ValueError, match="summing to 5"):
        run_stacked_cells("asn-sublstm", pre, w, [2, 2], ASNParams())
    with pytest.raises(ValueError, match="lstm"):
        run_stacked_cells("lstm", pre, w, [3, 2], ASNParams())
    with pytest.raises(ValueError, match="float32"):
        run_stacked_cells("asn-sublstm", pre.double(), w.double(), [3, 2], ASNParams())
    with pytest.raises(ValueError, match="w_rec"):
        cells_forward(pre.numpy(), np.zeros((1, 24, 7), np.float32), [3, 2], ASNParams(), True)


@pytest.mark.parametrize(
    "asn", [ASNParams(), ASNParams(m_f=0.3, tau_gamma=40.0, tau_eta=20.0, tau_beta=20.0)]
)
def test_af_train_equals_af(asn):
    """The compiled AF (its own exp) gives AF's values and derivative, on both sides of 0 and far out."""
    s = torch.cat([torch.linspace(-3, 3, 2001), torch.tensor([0.0, 1e-6, 30.0, 1e4, -1e4])]).requires_grad_()
    mine = af_train(s, asn)
    ref = af(s, asn)
    torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-7)
    coef = torch.rand(s.shape)
    (d_mine,) = torch.autograd.grad((mine * coef).sum(), s)
    (d_ref,) = torch.autograd.grad((ref * coef).sum(), s)
    torch.testing.assert_close(d_mine, d_ref, rtol=1e-5, atol=1e-7)
    assert (d_mine[s <= 0] == 0).all() and (d_mine[s > 0.1] > 0).all()
    assert af_train(torch.tensor([float("nan"), 1.0]), asn)[0].isnan()  # as af: NaN is not hidden
