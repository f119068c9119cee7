"""The asn-sublstm and asn-lstm recurrences over a whole batch of sequences, forward and backward,
in numpy (the time loops of :mod:`.fast_update`, the CPU training update).

One step of a cell is a few dozen elementwise operations on a tiny array (cells x episodes), so
what a step costs is per-call overhead, not arithmetic (torch spends microseconds per call and
autograd records a dozen nodes per step; a numpy ufunc call costs under one). The loops here are
batch-minor, so that every array a step touches is one contiguous block, and keep the calls per
step to a minimum: the forward loop computes AF's values only, keeping two intermediate arrays from
which the backward pass takes AF's derivative for every step at once, and everything in the
backward pass that does not depend on the recursion is computed for all steps at once too. The
whole batch runs at every step: with a call's overhead dominating, leaving out the rows of episodes
that have ended (a slice per operand) cost more than it saved.

Same values as the step-by-step cells of :mod:`.cores` with the noise of noise-aware training
(:meth:`AdvantageNetwork.forward <sublstm.agents.network.AdvantageNetwork.forward>`): the noise
on h enters the head and the next step, the noise on c the next step's cell.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .neuron import ASNParams, _af_coefficients

#: the cells that run here, and how their gates act on the memory cell
GATING = {"asn-sublstm": "subtractive", "asn-lstm": "multiplicative"}


class AFCoefficients:
    """AF(S) = max(0, k / (exp(b / den) - ea) + offset) with den = max(S, 0) + d (ea = exp(-a),
    k = h ea; the closed form of :func:`~sublstm.agents.neuron.af_with_grad` with one operation
    fewer), as float32 0-d arrays (the cheapest scalar operands of a ufunc)."""

    def __init__(self, asn: ASNParams) -> None:
        a, b, d, h, offset = _af_coefficients(asn)
        ea = np.exp(-a)
        f = np.float32
        self.b, self.d, self.offset = np.array(b, f), np.array(d, f), np.array(offset, f)
        self.ea, self.k, self.dk = np.array(ea, f), np.array(h * ea, f), np.array(h * b * ea, f)
        self.zero = np.array(0.0, f)
        self.tiny = np.array(1e-30, f)

    def values(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """AF(s) for a whole array, with what :meth:`derivative` needs: (AF, den, q)."""
        den = np.maximum(s, self.zero)
        den += self.d
        q = np.divide(self.b, den)
        np.exp(q, out=q)
        q -= self.ea
        out = np.divide(self.k, q)
        out += self.offset
        np.maximum(out, self.zero, out=out)
        return out, den, q

    def derivative(self, den: np.ndarray, q: np.ndarray, out: np.ndarray) -> np.ndarray:
        """dAF/dS from what the forward loop kept (den, q = exp(b / den) - ea, out = AF):
        h b e / ((e - 1) den)^2 with e = exp(a + b / den), zero where S <= 0 or AF = 0 and in rows
        that never ran (which hold q = 1 and a den that is finite but may be 0: the tiny floor
        keeps their garbage finite, so that the mask zeroes it; it changes no real value)."""
        t = q * den
        t *= t
        np.maximum(t, self.tiny, out=t)
        grad = q + self.ea
        grad /= t
        grad *= self.dk
        grad *= (den > self.d) & (out > 0.0)
        return grad


@lru_cache(maxsize=16)
def coefficients(asn: ASNParams) -> AFCoefficients:
    """The (cached) :class:`AFCoefficients` of ``asn``."""
    return AFCoefficients(asn)


def batch_minor(x: np.ndarray) -> np.ndarray:
    """(T, B, k) -> a contiguous (T, k, B) copy."""
    return np.ascontiguousarray(x.transpose(0, 2, 1))


def cells_forward(pre, w_rec, noise_h, noise_c, k: AFCoefficients, subtractive):
    """The time loop, batch-minor: pre (T, 3H, B) the input projections plus d (becomes den of
    the gates), w_rec (3H, H), noise (T, H, B) or None.

    Every array a step touches is a contiguous block, and each AF is seven ufunc calls written out
    (a call costs about as much as its arithmetic on these sizes, so the loop avoids every other
    call, slice and attribute lookup: the per-step views are taken in lists beforehand).
    """
    t_len, three_h, batch = pre.shape
    n = three_h // 3
    gates = np.empty_like(pre)
    q_gates = np.empty_like(pre)
    den_cell = np.empty((t_len, n, batch), dtype=pre.dtype)
    q_cell = np.empty_like(den_cell)
    out_cell = np.empty_like(den_cell)
    hs = np.empty_like(den_cell)
    c = np.full((n, batch), k.d, dtype=pre.dtype)  # the cell plus d: den's argument without an add
    c_new = np.empty_like(c)
    mm = np.empty((three_h, batch), dtype=pre.dtype)
    g4 = gates.reshape(t_len, 3, n, batch)
    steps = zip(
        pre, gates, q_gates, g4[:, 0], g4[:, 1], g4[:, 2], den_cell, q_cell, out_cell, hs, strict=True
    )
    noise_h = [None] * t_len if noise_h is None else list(noise_h)
    noise_c = [None] * t_len if noise_c is None else list(noise_c)
    b, d, ea, kk, offset, zero = k.b, k.d, k.ea, k.k, k.offset, k.zero
    maximum, divide, exp, subtract, add, multiply, dot = (
        np.maximum,
        np.divide,
        np.exp,
        np.subtract,
        np.add,
        np.multiply,
        np.dot,
    )
    combine = subtract if subtractive else multiply
    h_prev = None
    for (p, g, q, z, i, o, den, qc, u, h), nh, nc in zip(steps, noise_h, noise_c, strict=True):
        if h_prev is not None:
            dot(w_rec, h_prev, mm)
            add(p, mm, p)
        maximum(p, d, out=p)
        divide(b, p, q)
        exp(q, q)
        subtract(q, ea, q)
        divide(kk, q, g)
        add(g, offset, g)
        maximum(g, zero, out=g)
        combine(z, i, c_new)
        add(c_new, c, c_new)
        maximum(c_new, d, out=den)
        divide(b, den, qc)
        exp(qc, qc)
        subtract(qc, ea, qc)
        divide(kk, qc, u)
        add(u, offset, u)
        maximum(u, zero, out=u)
        combine(u, o, h)
        if nh is not None:
            add(h, nh, h)
        if nc is not None:
            add(c_new, nc, c)
        else:
            c, c_new = c_new, c
        h_prev = h
    return gates, (pre, q_gates, den_cell, q_cell), out_cell, hs


def cells_backward(d_hs, d_gates, d_out, saved, w_rec, subtractive):
    """Gradients of the inputs (the input projections, the recurrent weight) from those of the
    outputs (hs, gates, out_cell, batch-minor like everything here; the last two may be None).

    With g the gates (z, i, o), u = AF(c~), dg and du AF's derivatives, the gradient of step t's
    pre-activations is [dc~ s_z, dc~ s_i, dh s_o] dg + d_gates dg, where s = (1, -1, -1)
    (subtractive) or (i, z, u) (multiplicative), and dc~_t = dc~_{t+1} + (dh f + d_out) du with
    f = 1 or o. Everything but the recursion through dh and dc~ is computed for all steps at once.
    """
    gates, (den_gates, q_gates, den_cell, q_cell), out_cell, hs, k = saved
    t_len, three_h, batch = gates.shape
    n = three_h // 3
    dg = k.derivative(den_gates, q_gates, gates)
    du_all = k.derivative(den_cell, q_cell, out_cell)
    direct = None if d_gates is None else d_gates * dg  # the gates' own gradient through AF
    scale = dg.reshape(t_len, 3, n, batch)  # becomes s dg
    g4 = gates.reshape(t_len, 3, n, batch)
    if subtractive:
        scale[:, 1:] *= -1.0
        f = du_all
    else:
        scale[:, 0] *= g4[:, 1]
        scale[:, 1] *= g4[:, 0]
        scale[:, 2] *= out_cell
        f = g4[:, 2] * du_all
    from_out = [None] * t_len if d_out is None else list(d_out * du_all)
    # what reaches h_t from outside the recursion: the head, and the next step's direct term
    h_in = np.array(d_hs, dtype=gates.dtype, copy=True)
    if direct is not None and t_len > 1:  # one matrix product (a batched one costs a call per step)
        rows = batch_minor(direct[1:]).reshape(-1, three_h) @ w_rec
        h_in[:-1] += rows.reshape(t_len - 1, batch, n).transpose(0, 2, 1)
    core = np.empty_like(gates)  # d_pre without the direct term
    c4 = core.reshape(t_len, 3, n, batch)
    w_t = np.ascontiguousarray(w_rec.T)
    dc = np.zeros((n, batch), dtype=gates.dtype)
    dh = np.empty_like(dc)
    x = np.empty_like(dc)
    add, multiply, dot = np.add, np.multiply, np.dot
    nxt = None
    steps = zip(
        h_in,
        f,
        from_out,
        scale[:, 0],
        scale[:, 1],
        scale[:, 2],
        c4[:, 0],
        c4[:, 1],
        c4[:, 2],
        core,
        strict=True,
    )
    for hi, ft, fo, sz, si, so, cz, ci, co, cur in reversed(list(steps)):
        if nxt is None:
            h_grad = hi
        else:
            dot(w_t, nxt, dh)
            add(hi, dh, dh)
            h_grad = dh
        multiply(h_grad, ft, x)
        add(dc, x, dc)  # dc~_t; also the gradient of c_{t-1}
        if fo is not None:
            add(dc, fo, dc)
        multiply(dc, sz, cz)
        multiply(dc, si, ci)
        multiply(h_grad, so, co)
        nxt = cur
    if direct is not None:
        core += direct
    # pre_t = in_t + W h_{t-1}: dW = sum_t dpre_t h_{t-1}^T
    d_w = np.tensordot(core[1:], hs[:-1], axes=([0, 2], [0, 2]))
    return core, d_w
