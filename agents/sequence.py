"""The asn-sublstm and asn-lstm recurrences over a whole batch of episodes as one autograd node.

Training unrolls the memory cells over whole episodes (BPTT). One step of a cell is a few dozen
elementwise operations on a tiny array (episodes x cells), so what a step costs is per-operation
overhead, not arithmetic: autograd records a dozen nodes per step and torch spends microseconds on
each call. Here the time loop runs in numpy (the cheapest calls on these sizes), forward and
backward written out; the forward loop computes AF's values only, keeping two intermediate arrays
from which the backward pass takes AF's derivative for every step at once.

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

from .neuron import ASNParams, _af_coefficients

#: the cells that run here, and how their gates act on the memory cell
GATING = {"asn-sublstm": "subtractive", "asn-lstm": "multiplicative"}


class _Coefficients:
    """AF(S) = max(0, k / (exp(b / den) - ea) + offset) with den = max(S, 0) + d (ea = exp(-a),
    k = h ea; the closed form of :func:`~sublstm.agents.neuron.af_with_grad` with one operation
    fewer), as float32 numpy scalars."""

    def __init__(self, asn: ASNParams) -> None:
        a, b, d, h, offset = _af_coefficients(asn)
        f = np.float32
        self.b, self.d, self.offset = f(b), f(d), f(offset)
        self.ea, self.k = f(np.exp(-a)), f(h * np.exp(-a))
        self.dk = f(h * b * np.exp(-a))

    def values(self, den: np.ndarray, q: np.ndarray, out: np.ndarray) -> None:
        """``den`` holds S + d and becomes den; q = exp(b / den) - ea (kept for the derivative)."""
        np.maximum(den, self.d, out=den)
        np.divide(self.b, den, out=q)
        np.exp(q, out=q)
        q -= self.ea
        np.divide(self.k, q, out=out)
        out += self.offset
        np.maximum(out, 0.0, out=out)

    def derivative(self, den: np.ndarray, q: np.ndarray, out: np.ndarray) -> np.ndarray:
        """dAF/dS from what :meth:`values` kept: h b e / ((e - 1) den)^2 with e = exp(a + b / den),
        zero where S <= 0 or AF = 0 (rows never run hold garbage that nobody reads)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            t = q * den
            t *= t
            grad = q + self.ea
            grad /= t
            grad *= self.dk
            grad *= (den > self.d) & (out > 0.0)
        return grad


_COEFFICIENTS: dict[ASNParams, _Coefficients] = {}


def _coefficients(asn: ASNParams) -> _Coefficients:
    if asn not in _COEFFICIENTS:
        _COEFFICIENTS[asn] = _Coefficients(asn)
    return _COEFFICIENTS[asn]


def _cells_forward(pre, w_rec, rows, noise_h, noise_c, k: _Coefficients, subtractive):
    """The time loop. pre (T, B, 3H): the input projections plus d; becomes den of the gates."""
    t_len, batch, three_h = pre.shape
    n = three_h // 3
    w_t = np.ascontiguousarray(w_rec.T)  # (H, 3H)
    gates = np.zeros_like(pre)
    q_gates = np.ones_like(pre)
    den_cell = np.zeros((t_len, batch, n), dtype=pre.dtype)
    q_cell = np.ones_like(den_cell)
    out_cell = np.zeros_like(den_cell)
    hs = np.zeros_like(den_cell)
    c = np.full((batch, n), k.d, dtype=pre.dtype)  # the cell plus d: den's argument without an add
    ct = np.empty_like(c)
    mm = np.empty((batch, three_h), dtype=pre.dtype)
    for t in range(t_len):
        r = rows[t]
        if r == 0:
            break
        p = pre[t, :r]
        if t > 0:
            np.matmul(hs[t - 1, :r], w_t, out=mm[:r])
            p += mm[:r]
        g = gates[t, :r]
        k.values(p, q_gates[t, :r], g)
        z, i, o = g[:, :n], g[:, n : 2 * n], g[:, 2 * n :]
        c_new = ct[:r]
        if subtractive:
            np.subtract(z, i, out=c_new)
        else:
            np.multiply(z, i, out=c_new)
        c_new += c[:r]
        den = den_cell[t, :r]
        np.copyto(den, c_new)
        u = out_cell[t, :r]
        k.values(den, q_cell[t, :r], u)
        h = hs[t, :r]
        if subtractive:
            np.subtract(u, o, out=h)
        else:
            np.multiply(u, o, out=h)
        if noise_h is not None:
            h += noise_h[t, :r]
        if noise_c is not None:
            np.add(c_new, noise_c[t, :r], out=c[:r])
        else:
            c[:r] = c_new
    return gates, (pre, q_gates, den_cell, q_cell), out_cell, hs


def _cells_backward(d_hs, d_gates, d_out, saved, w_rec, rows, subtractive):
    """Gradients of the inputs (pre-activations' input part, recurrent weight) from those of the
    outputs (hs, gates, out_cell; the last two may be None)."""
    gates, (den_gates, q_gates, den_cell, q_cell), out_cell, hs, k = saved
    t_len, batch, three_h = gates.shape
    n = three_h // 3
    # AF's derivative at every step at once, from what the forward pass kept
    dg_all = k.derivative(den_gates, q_gates, gates)
    du_all = k.derivative(den_cell, q_cell, out_cell)
    d_pre = np.zeros_like(gates)
    dc = np.zeros((batch, n), dtype=gates.dtype)
    dh = np.empty_like(dc)
    du_buf = np.empty_like(dc)
    mm = np.empty_like(dc)
    for t in range(t_len - 1, -1, -1):
        r = rows[t]
        if r == 0:
            continue
        h_grad = dh[:r]
        rn = rows[t + 1] if t + 1 < t_len else 0
        if rn:
            np.matmul(d_pre[t + 1, :rn], w_rec, out=mm[:rn])
            np.add(d_hs[t, :rn], mm[:rn], out=h_grad[:rn])
            if rn < r:
                np.copyto(h_grad[rn:], d_hs[t, rn:r])
        else:
            np.copyto(h_grad, d_hs[t, :r])
        g = gates[t, :r]
        du = du_buf[:r]
        if subtractive:
            if d_out is not None:
                np.add(h_grad, d_out[t, :r], out=du)
            else:
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
        k = _coefficients(asn)
        pre = pre_in.detach().numpy() + k.d
        w = w_rec.detach().numpy()
        nh = None if noise_h is None else noise_h.numpy()
        nc = None if noise_c is None else noise_c.numpy()
        gates, kept, out_cell, hs = _cells_forward(pre, w, rows, nh, nc, k, subtractive)
        ctx.saved = (gates, kept, out_cell, hs, k)
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
