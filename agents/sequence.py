"""The asn-sublstm and asn-lstm recurrences over a whole batch of episodes as one autograd node.

Training unrolls the memory cells over whole episodes (BPTT). One step of a cell is a few dozen
elementwise operations on a tiny array (episodes x cells), so what a step costs is per-operation
overhead, not arithmetic: autograd records a dozen nodes per step and torch spends microseconds on
each call. Here the time loop runs in numpy (the cheapest calls on these sizes), forward and
backward written out; the forward loop computes AF's values only, and AF's derivative is taken for
every step at once in the backward pass (it depends on the stored pre-activations only).

Episodes are sorted longest first and step t runs the first ``rows[t]`` rows only: rows of
episodes that have ended drop out, and their outputs are zero.

Same values as the step-by-step cells of :mod:`.cores` with the noise of noise-aware training
(:meth:`AdvantageNetwork.forward <sublstm.agents.network.AdvantageNetwork.forward>`): the noise
on h enters the head and the next step, the noise on c the next step's cell; the returned gate
and output-cell activations are noise-free.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .neuron import ASNParams, _af_coefficients, af_with_grad

#: the cells that run here, and how their gates act on the memory cell
GATING = {"asn-sublstm": "subtractive", "asn-lstm": "multiplicative"}


def _af_values(s: np.ndarray, out: np.ndarray, tmp: np.ndarray, k: tuple[np.float32, ...]) -> None:
    """out = AF(s), with the formula of :func:`~sublstm.agents.neuron.af_with_grad`; tmp is scratch."""
    a, b, d, h, offset = k
    np.maximum(s, 0.0, out=tmp)
    tmp += d
    np.divide(b, tmp, out=tmp)
    tmp += a
    np.exp(tmp, out=tmp)
    tmp -= 1.0
    np.divide(h, tmp, out=out)
    out += offset
    np.maximum(out, 0.0, out=out)


def _cells_forward(pre, w_rec, rows, noise_h, noise_c, k, subtractive):
    """The time loop. pre (T, B, 3H) input projections, updated in place to the pre-activations."""
    t_len, batch, three_h = pre.shape
    n = three_h // 3
    w_t = np.ascontiguousarray(w_rec.T)  # (H, 3H)
    gates = np.zeros_like(pre)
    cell = np.zeros((t_len, batch, n), dtype=pre.dtype)  # c before the cell noise, AF's argument
    out_cell = np.zeros_like(cell)
    hs = np.zeros_like(cell)
    c = np.zeros((batch, n), dtype=pre.dtype)
    mm = np.empty((batch, three_h), dtype=pre.dtype)
    tmp3, tmp1 = np.empty_like(mm), np.empty_like(c)
    for t in range(t_len):
        r = rows[t]
        if r == 0:
            break
        p = pre[t, :r]
        if t > 0:
            np.matmul(hs[t - 1, :r], w_t, out=mm[:r])
            p += mm[:r]
        g = gates[t, :r]
        _af_values(p, g, tmp3[:r], k)
        z, i, o = g[:, :n], g[:, n : 2 * n], g[:, 2 * n :]
        ct = cell[t, :r]
        if subtractive:
            np.subtract(z, i, out=ct)
        else:
            np.multiply(z, i, out=ct)
        ct += c[:r]
        u = out_cell[t, :r]
        _af_values(ct, u, tmp1[:r], k)
        h = hs[t, :r]
        if subtractive:
            np.subtract(u, o, out=h)
        else:
            np.multiply(u, o, out=h)
        if noise_h is not None:
            h += noise_h[t, :r]
        if noise_c is not None:
            np.add(ct, noise_c[t, :r], out=c[:r])
        else:
            c[:r] = ct
    return gates, cell, out_cell, hs


def _cells_backward(d_hs, d_gates, d_out, saved, w_rec, rows, subtractive):
    """Gradients of the inputs (pre-activations' input part, recurrent weight) from those of the
    outputs (hs, gates, out_cell; the last two may be None)."""
    pre, gates, cell, out_cell, hs, asn = saved
    t_len, batch, three_h = pre.shape
    n = three_h // 3
    # AF's derivative at every step at once, from the stored arguments
    dg_all = af_with_grad(torch.from_numpy(pre), asn)[1].numpy()
    du_all = af_with_grad(torch.from_numpy(cell), asn)[1].numpy()
    d_pre = np.zeros_like(pre)
    dc = np.zeros((batch, n), dtype=pre.dtype)
    dh = np.empty_like(dc)
    tmp = np.empty_like(dc)
    mm = np.empty_like(dc)
    for t in range(t_len - 1, -1, -1):
        r = rows[t]
        if r == 0:
            continue
        h_grad = dh[:r]
        np.copyto(h_grad, d_hs[t, :r])
        rn = rows[t + 1] if t + 1 < t_len else 0
        if rn:
            np.matmul(d_pre[t + 1, :rn], w_rec, out=mm[:rn])
            h_grad[:rn] += mm[:rn]
        g = gates[t, :r]
        du = tmp[:r]
        if subtractive:
            np.copyto(du, h_grad)
        else:
            np.multiply(h_grad, g[:, 2 * n :], out=du)
        if d_out is not None:
            du += d_out[t, :r]
        du *= du_all[t, :r]
        dct = dc[:r]
        dct += du  # dc~_t = dc_t + du * AF'(c~_t); also the gradient of c_{t-1}
        dp = d_pre[t, :r]
        if subtractive:
            dp[:, :n] = dct
            np.negative(dct, out=dp[:, n : 2 * n])
            np.negative(h_grad, out=dp[:, 2 * n :])
        else:
            np.multiply(dct, g[:, n : 2 * n], out=dp[:, :n])
            np.multiply(dct, g[:, :n], out=dp[:, n : 2 * n])
            np.multiply(h_grad, out_cell[t, :r], out=dp[:, 2 * n :])
        if d_gates is not None:
            dp += d_gates[t, :r]
        dp *= dg_all[t, :r]
    # pre_t = in_t + h_{t-1} W^T: dW = sum_t dpre_t^T h_{t-1} (padded rows are zero on both sides)
    d_w = d_pre[1:].reshape(-1, three_h).T @ hs[:-1].reshape(-1, n)
    return d_pre, d_w


class _Cells(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre_in, w_rec, noise_h, noise_c, rows, asn, subtractive):
        k = tuple(np.float32(v) for v in _af_coefficients(asn))
        pre = pre_in.detach().numpy().copy()
        w = w_rec.detach().numpy()
        nh = None if noise_h is None else noise_h.numpy()
        nc = None if noise_c is None else noise_c.numpy()
        gates, cell, out_cell, hs = _cells_forward(pre, w, rows, nh, nc, k, subtractive)
        ctx.saved = (pre, gates, cell, out_cell, hs, asn)
        ctx.w_rec, ctx.rows, ctx.subtractive = w, rows, subtractive
        ctx.set_materialize_grads(False)
        return torch.from_numpy(hs), torch.from_numpy(gates), torch.from_numpy(out_cell)

    @staticmethod
    def backward(ctx, d_hs, d_gates, d_out):
        t_len, batch, three_h = ctx.saved[0].shape
        if d_hs is None:
            d_hs = torch.zeros(t_len, batch, three_h // 3)
        numpy_or_none = (None if x is None else x.contiguous().numpy() for x in (d_gates, d_out))
        d_pre, d_w = _cells_backward(
            d_hs.contiguous().numpy(), *numpy_or_none, ctx.saved, ctx.w_rec, ctx.rows, ctx.subtractive
        )
        return torch.from_numpy(d_pre), torch.from_numpy(d_w), None, None, None, None, None


def run_cells(
    core: str,
    pre_in: Tensor,
    w_rec: Tensor,
    rows: list[int],
    asn: ASNParams,
    noise_h: Tensor | None = None,
    noise_c: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """The cells of ``core`` (a key of :data:`GATING`) over episodes sorted longest first, from a
    zero state, on the CPU.

    ``pre_in`` (T, B, 3H): the input projections W_in x_t + b of every step (rows z, i, o);
    ``w_rec`` (3H, H); ``rows`` (T ints, non-increasing): the rows that step t runs; ``noise_h``
    and ``noise_c`` (T, B, H): additive noise on each step's h and c (None: none). Returns h
    (T, B, H) with its noise, the gate activations (T, B, 3H) and AF(c) (T, B, H), zero where a
    row has ended. Differentiable in ``pre_in`` and ``w_rec``.
    """
    if core not in GATING:
        raise ValueError(f"run_cells runs {sorted(GATING)}, not {core!r}")
    if pre_in.device.type != "cpu" or pre_in.dtype != torch.float32:
        raise ValueError(f"run_cells needs float32 CPU tensors, got {pre_in.dtype} on {pre_in.device}")
    if len(rows) != pre_in.shape[0] or any(b > a for a, b in zip(rows, rows[1:], strict=False)):
        raise ValueError(f"rows must be {pre_in.shape[0]} non-increasing counts, got {rows}")
    subtractive = GATING[core] == "subtractive"
    return _Cells.apply(pre_in, w_rec, noise_h, noise_c, list(rows), asn, subtractive)
