"""The asn-sublstm and asn-lstm recurrences of S stacked members over a whole batch of episodes,
as one autograd node: the population's training unroll (BPTT) without a dozen autograd nodes per step.

The member-stacked counterpart of :mod:`.sequence` (which runs one network's cells in numpy): here
every step is one batched product for all members (``baddbmm``) and a few elementwise operations
on (S, rows, ·) arrays written into preallocated buffers, forward and backward written out. On
these sizes (tens of thousands of numbers per operation) the arithmetic, not per-call overhead,
is what a step costs, so the loop stays in torch and keeps every operation in place.

Episodes are sorted longest first within each member; step t runs the first ``rows[t]`` rows of
every member (the largest count of any member; a member's shorter episodes run padding there,
which nobody reads). The arrays are packed: only the rows that run are stored, step after step.

Same values as the step-by-step cells of :mod:`.population_network` with the noise of noise-aware
training: the noise on h enters the head and the next step, the noise on c the next step's cell;
the returned gate and output-cell activations are noise-free.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .neuron import ASNParams
from .population_af import AFKernel, af_kernel

#: the cells that run here, and how their gates act on the memory cell
GATING = {"asn-sublstm": "subtractive", "asn-lstm": "multiplicative"}


def packed_positions(rows: list[int], batch: int, device=None) -> Tensor:
    """Where the packed layout's entries sit in the padded one: step t's rows 0 .. rows[t]-1, step
    after step, as flat indices t * batch + b into (T * batch) (N,) long, N = sum(rows)."""
    steps = torch.tensor(rows, dtype=torch.long, device=device)
    within = torch.arange(batch, device=device)
    flat = torch.arange(len(rows), device=device).unsqueeze(1) * batch + within
    return flat[within < steps.unsqueeze(1)]


def _offsets(rows: list[int]) -> list[int]:
    out, total = [], 0
    for r in rows:
        out.append(total)
        total += r
    return out


def _forward(pre, w_rec, rows, noise_h, noise_c, af: AFKernel, subtractive: bool, with_acts: bool, weights):
    """The time loop over pre (S, N, 3H), the packed input projections. Returns the outputs (hs,
    the cells after their last step, with ``with_acts`` the gates and AF(c), with ``weights`` their
    weighted sums (S, 4H): z, i, o, AF(c)) and, per step, what the backward pass reads: (gates,
    AF(c), dAF at the gates, dAF at the cell), (S, rows, ·) each (the first two only where the
    backward pass needs them)."""
    s, _, three_h = pre.shape
    n = three_h // 3
    batch = rows[0] if rows else 0
    w_t = w_rec.transpose(1, 2)  # (S, H, 3H)
    hs = pre.new_empty(s, pre.shape[1], n)
    if weights is not None:
        with_acts = False
        sum_g, sum_u = pre.new_zeros(s, 1, three_h), pre.new_zeros(s, 1, n)
    gates = pre.new_empty(pre.shape) if with_acts else None
    out_cell = pre.new_empty(hs.shape) if with_acts else None
    g_scratch, u_scratch = pre.new_empty(s, batch, three_h), pre.new_empty(s, batch, n)
    keep_acts = with_acts or not subtractive  # the multiplicative backward reads g and AF(c)
    c = pre.new_zeros(s, batch, n)
    kept = []
    previous = 0
    for r, o in zip(rows, _offsets(rows), strict=True):
        if r == 0:
            break
        here = slice(o, o + r)
        p = pre[:, here]
        p = torch.baddbmm(p, hs[:, previous : previous + r], w_t) if o else p.clone()
        if with_acts:
            g, u = gates[:, here], out_cell[:, here]
        elif keep_acts:
            g, u = torch.empty_like(p), p.new_empty(s, r, n)
        else:
            g, u = g_scratch[:, :r], u_scratch[:, :r]
        dg = af(p, g)
        z, i, og = g[..., :n], g[..., n : 2 * n], g[..., 2 * n :]
        cell = torch.add(c[:, :r], z).sub_(i) if subtractive else torch.addcmul(c[:, :r], z, i)
        if noise_c is not None:
            torch.add(cell, noise_c[:, here], out=c[:, :r])
        else:
            c[:, :r] = cell
        du = af(cell, u)
        h = hs[:, here]
        torch.sub(u, og, out=h) if subtractive else torch.mul(u, og, out=h)
        if noise_h is not None:
            h.add_(noise_h[:, here])
        kept.append((g, u, dg, du) if keep_acts else (None, None, dg, du))
        if weights is not None:  # sum_b w[s, t, b] act[s, t, b, :], one product per step
            row_weights = weights[:, here].unsqueeze(1)
            sum_g.baddbmm_(row_weights, g)
            sum_u.baddbmm_(row_weights, u)
        previous = o
    if weights is not None:
        return hs, c, torch.cat([sum_g, sum_u], dim=-1).view(s, 4 * n), None, kept
    return hs, c, gates, out_cell, kept


def _backward(d_hs, d_gates, d_out, kept, hs, w_rec, rows, subtractive, weights, d_sums):
    """Gradients of the packed input projections and of the recurrent weights from those of the
    outputs (hs, gates, out_cell or, with ``weights``, the weighted sums; all but hs may be None)."""
    s, _, n = hs.shape
    if d_sums is not None:  # d act[s, t, b, k] = d_sums[s, k] w[s, t, b]
        d_sums = d_sums.view(s, 1, 4 * n)
    d_pre = hs.new_empty(s, hs.shape[1], 3 * n)  # every entry is written
    d_w = hs.new_zeros(s, 3 * n, n)
    dc = hs.new_zeros(s, rows[0] if rows else 0, n)
    offsets = _offsets(rows)
    dp_next = None
    for t in range(len(kept) - 1, -1, -1):
        r, o = rows[t], offsets[t]
        here = slice(o, o + r)
        g, u, dg, du_cell = kept[t]
        h_grad = d_hs[:, here].clone()
        if dp_next is not None:  # h_t feeds step t+1's gates: d h_t += d pre_{t+1} W_rec
            h_grad[:, : dp_next.shape[1]].add_(torch.bmm(dp_next, w_rec))
        du = h_grad.clone() if subtractive else h_grad * g[..., 2 * n :]
        if d_out is not None:
            du.add_(d_out[:, here])
        if d_sums is not None:
            row_weights = weights[:, here].unsqueeze(-1)
            du.addcmul_(row_weights, d_sums[..., 3 * n :])
        dct = dc[:, :r]
        dct.add_(du.mul_(du_cell))  # the gradient of c_t, and (the cell integrates) of c_{t-1}
        dp = d_pre[:, here]
        if subtractive:
            dp[..., :n] = dct
            torch.neg(dct, out=dp[..., n : 2 * n])
            torch.neg(h_grad, out=dp[..., 2 * n :])
        else:
            torch.mul(dct, g[..., n : 2 * n], out=dp[..., :n])
            torch.mul(dct, g[..., :n], out=dp[..., n : 2 * n])
            torch.mul(h_grad, u, out=dp[..., 2 * n :])
        if d_gates is not None:
            dp.add_(d_gates[:, here])
        if d_sums is not None:
            dp.addcmul_(row_weights, d_sums[..., : 3 * n])
        dp.mul_(dg)
        if t > 0:  # pre_t = in_t + h_{t-1} W^T: dW += dpre_t^T h_{t-1}
            before = offsets[t - 1]
            d_w.baddbmm_(dp.transpose(1, 2), hs[:, before : before + r])
        dp_next = dp
    return d_pre, d_w


class _Cells(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre_in, w_rec, noise_h, noise_c, rows, asn, subtractive, with_acts, weights):
        w = w_rec.detach()
        kernel = af_kernel(asn)
        hs, c, gates, out_cell, kept = _forward(
            pre_in.detach(), w, rows, noise_h, noise_c, kernel, subtractive, with_acts, weights
        )
        ctx.kept, ctx.hs, ctx.weights = kept, hs, weights
        ctx.w_rec, ctx.rows, ctx.subtractive = w, rows, subtractive
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(c)
        if weights is not None:
            return hs, c, gates  # the sums
        return (hs, c, gates, out_cell) if with_acts else (hs, c)

    @staticmethod
    def backward(ctx, d_hs, _d_c, d_gates=None, d_out=None):
        hs, weights = ctx.hs, ctx.weights
        if d_hs is None:
            d_hs = torch.zeros_like(hs)
        d_sums = d_gates if weights is not None else None
        if weights is not None:
            d_gates = None
        d_pre, d_w = _backward(
            d_hs, d_gates, d_out, ctx.kept, hs, ctx.w_rec, ctx.rows, ctx.subtractive, weights, d_sums
        )
        return d_pre, d_w, None, None, None, None, None, None, None


def run_stacked_cells(
    core: str,
    pre_in: Tensor,
    w_rec: Tensor,
    rows: list[int],
    asn: ASNParams,
    noise_h: Tensor | None = None,
    noise_c: Tensor | None = None,
    with_acts: bool = True,
    weights: Tensor | None = None,
) -> tuple[Tensor, ...]:
    """The cells of ``core`` (a key of :data:`GATING`) of S members over episodes sorted longest
    first, from a zero state, on the CPU, in the packed layout: step t runs rows 0 .. rows[t]-1
    of every member, and its entries follow step t-1's (:func:`packed_positions`).

    ``pre_in`` (S, N, 3H): the input projections W_in x_t + b (rows z, i, o), N = sum(rows);
    ``w_rec`` (S, 3H, H); ``rows`` (T ints, non-increasing); ``noise_h`` and ``noise_c`` (S, N, H):
    additive noise on each step's h and c (None: none). Returns h (S, N, H) with its noise, each
    row's cell after its last step (S, rows[0], H), without gradient, and with ``with_acts`` the
    gate activations (S, N, 3H) and AF(c) (S, N, H). With ``weights`` (S, N) these two are
    replaced by their weighted sums over steps and rows, (S, 4H): z, i, o, AF(c) (what a rate
    penalty needs, without the arrays). Differentiable in ``pre_in`` and ``w_rec``.
    """
    if core not in GATING:
        raise ValueError(f"run_stacked_cells runs {sorted(GATING)}, not {core!r}")
    if pre_in.device.type != "cpu" or pre_in.dtype != torch.float32:
        found = f"{pre_in.dtype} on {pre_in.device}"
        raise ValueError(f"run_stacked_cells needs float32 CPU tensors, not {found}")
    if sum(rows) != pre_in.shape[1] or any(b > a for a, b in zip(rows, rows[1:], strict=False)):
        raise ValueError(f"rows must be non-increasing counts summing to {pre_in.shape[1]}, got {rows}")
    subtractive = GATING[core] == "subtractive"
    return _Cells.apply(pre_in, w_rec, noise_h, noise_c, list(rows), asn, subtractive, with_acts, weights)
