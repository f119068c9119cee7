"""Compiled (numba) time loops of the asn-sublstm, asn-lstm and asn-lstm-bounded cells, forward and
backward, for S networks at once: the cells of the population's training pass (:mod:`.population_cells`, S
members) and of the single agent's numpy update (:mod:`.fast_update`, S = 1).

At the project's sizes (8 cells, a few dozen episodes of tens to a hundred steps) one step of the
cells is a few hundred multiply-adds and a few dozen exponentials per episode: array libraries
spend more time dispatching each operation than computing it. Here every step of every episode of
every network is one pass over its numbers in one compiled call.

Layout (float32, C-contiguous): episodes are packed step after step, longest first. Step t runs
rows 0 .. rows[t]-1 (``rows`` non-increasing); its entries start at offset rows[0] + ... +
rows[t-1] of the N = sum(rows) rows of each network, and row b's previous step is row b of step
t-1. ``pre`` (S, N, 3H) holds the input projections W_in x_t + b of the gates z, i, o; ``w_rec``
(S, 3H, H) the recurrent weights. The cell starts from zero; the noise of noise-aware training
(``noise_h``, ``noise_c`` (S, N, H) or empty (S, 0, H)) is added to each step's h (it enters the
head and the next step) and to the cell (the next step's).

AF and its derivative are the closed form of :func:`~sublstm.agents.neuron.af_with_grad` in
float32 with an exp of its own (Cephes' expf, about 1 ulp, which vectorises; torch's is another
such polynomial), so values agree with torch's to float32 rounding: AF(S) = max(0, h / (exp(a +
b / den) - 1) + offset) with den = max(S, 0) + d; dAF/dS = (1/b + y / (h b)) y v^2 with
v = b / den and y = h / (exp(a + v) - 1), zero where S <= 0 or AF = 0.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .gates import GATE_CEILING
from .neuron import ASNParams, _af_coefficients

#: the cells that run here, and how their gates act on the memory cell ("multiplicative-bounded":
#: input and output gates min(AF, 1), :mod:`.gates`)
GATING = {
    "asn-sublstm": "subtractive",
    "asn-lstm": "multiplicative",
    "asn-lstm-bounded": "multiplicative-bounded",
}


def gating_flags(core: str) -> tuple[bool, bool]:
    """(subtractive, bounded) of a core of :data:`GATING`: the kernels' two switches."""
    return GATING[core] == "subtractive", GATING[core] == "multiplicative-bounded"


# positions in the constants array of the kernels (float32, so the arithmetic stays float32)
A, B, D, H, OFFSET, INV_B, INV_HB = range(7)
#: Cephes' expf: exp(x) = 2^n exp(r), x = n ln 2 + r (ln 2 in two parts), exp(r) a degree-7 polynomial
_LN2_HI, _LN2_LO, _LOG2E = 0.693359375, -2.12194440e-4, 1.44269504088896341
_EXP_POLY = (
    1.9875691500e-4,
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1,
)


@lru_cache(maxsize=16)
def af_constants(asn: ASNParams) -> np.ndarray:
    """The AF closed form's constants of ``asn`` as the kernels read them (float32, read-only)."""
    a, b, d, h, offset = _af_coefficients(asn)
    out = np.array([a, b, d, h, offset, 1.0 / b, 1.0 / (h * b)], dtype=np.float32)
    out.flags.writeable = False
    return out


@intrinsic
def _pow2(typingctx, n):
    """2.0 ** n as float32 for an int32 n in [-126, 127]: n + 127 in the exponent bits."""

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        bits = builder.shl(builder.add(args[0], ir.Constant(i32, 127)), ir.Constant(i32, 23))
        return builder.bitcast(bits, ir.FloatType())

    return types.float32(types.int32), codegen


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _exp(x):  # pragma: no cover - compiled
    """exp of a float32 within 1 ulp or so (libm's expf is a call that stops LLVM from
    vectorising a loop; this is arithmetic, so AF runs 8 values per instruction)."""
    f = np.float32
    x = f(-87.0) if x < f(-87.0) else (f(88.0) if x > f(88.0) else x)  # NaN stays NaN
    n = np.floor(x * f(_LOG2E) + f(0.5))
    r = x - n * f(_LN2_HI) - n * f(_LN2_LO)
    c0, c1, c2, c3, c4, c5 = _EXP_POLY
    y = ((((f(c0) * r + f(c1)) * r + f(c2)) * r + f(c3)) * r + f(c4)) * r + f(c5)
    return (y * (r * r) + r + f(1.0)) * _pow2(np.int32(n))


@njit(cache=True, nogil=True, error_model="numpy")
def af_block(x, out, grad, k):  # pragma: no cover - compiled
    """AF of every entry of the 1-d ``x`` into ``out``, dAF/dS into ``grad`` (three distinct arrays).
    A NaN stays NaN, as in torch (the comparisons are written so that NaN fails them)."""
    a, b, d, h, offset, inv_b, inv_hb = k[A], k[B], k[D], k[H], k[OFFSET], k[INV_B], k[INV_HB]
    zero, one = np.float32(0.0), np.float32(1.0)
    for m in range(x.shape[0]):
        s = x[m]
        v = b / ((zero if s <= zero else s) + d)
        y = h / (_exp(v + a) - one)
        value = y + offset
        slope = (inv_b + y * inv_hb) * y * (v * v)
        out[m] = zero if value <= zero else value
        grad[m] = zero if (value <= zero) | (s <= zero) else slope


def af_into(x: np.ndarray, out: np.ndarray, grad: np.ndarray, asn: ASNParams) -> None:
    """AF(x) into ``out`` and dAF/dS into ``grad``: 1-d float32 arrays of one length, three distinct
    ones."""
    if not x.shape == out.shape == grad.shape or x.ndim != 1:
        raise ValueError(
            f"af_into needs three 1-d arrays of one length, got {x.shape}, {out.shape}, {grad.shape}"
        )
    af_block(x, out, grad, af_constants(asn))


@njit(cache=True, nogil=True, error_model="numpy")
def forward_kernel(
    pre, w_rec, rows, noise_h, noise_c, weights, k, subtractive, bounded, saved, c, sums
):  # pragma: no cover - compiled; tests compare it with autograd through the step-by-step cells
    """The cells' forward time loop (layout in the module docstring). Writes into ``saved`` =
    (hs, gates, d_gates, out_cell, d_out): h with its noise (S, N, H), the gate activations z, i,
    o and their derivatives (S, N, 3H) each (AF's; with ``bounded``, i and o are min(AF, 1), whose
    derivative is 0 where AF > 1, so that the backward loop needs no switch of its own), AF(c)
    and its derivative (S, N, H) each; into
    ``c`` (S, rows[0], H) each row's cell after its last step and, with ``weights`` (S, N) (else
    (S, 0)), into ``sums`` (S, 4H) the weighted sums over rows of z, i, o and AF(c).

    A step's rows are one contiguous block of every array: each stage runs over the whole block
    (AF over r * 3H and r * H numbers), so that its loops are long enough to vectorise.
    """
    hs, gates, d_gates, out_cell, d_out = saved
    s_len, _, three_h = pre.shape
    n = three_h // 3
    use_nh, use_nc, use_w = noise_h.shape[1] > 0, noise_c.shape[1] > 0, weights.shape[1] > 0
    zero, ceiling = np.float32(0.0), np.float32(GATE_CEILING)
    # the pre-activations of a step's gates and cells (AF reads them here and writes the outputs:
    # in place, LLVM's overlap check would fail and the loop run unvectorised)
    scratch = (
        np.empty(max(rows[0], 1) * three_h, dtype=pre.dtype) if rows.shape[0] else np.empty(0, pre.dtype)
    )
    for s in range(s_len):
        w_t = np.ascontiguousarray(w_rec[s].T)  # (H, 3H): the product below runs along 3H
        cs, sum_g, sum_u = c[s], sums[s, :three_h], sums[s, three_h:]
        cs[:, :] = zero
        prev = off = 0
        for t in range(rows.shape[0]):
            r = rows[t]
            g, dg = gates[s, off : off + r], d_gates[s, off : off + r]
            u, du, h = out_cell[s, off : off + r], d_out[s, off : off + r], hs[s, off : off + r]
            # W_rec h_{t-1}, then plus the input projection (the order of the cores' sum); 2-d
            # indexing: a view per row costs a reference count
            p = scratch[: r * three_h].reshape((r, three_h))
            p[:, :] = zero
            if t > 0:
                h_prev = hs[s, prev : prev + r]
                for j in range(n):
                    for b in range(r):
                        h_bj = h_prev[b, j]
                        for m in range(three_h):
                            p[b, m] += h_bj * w_t[j, m]
            p_flat, pre_flat = p.reshape(-1), pre[s, off : off + r].reshape(-1)
            for m in range(p_flat.shape[0]):
                p_flat[m] += pre_flat[m]
            af_block(p_flat, g.reshape(-1), dg.reshape(-1), k)
            if bounded:
                for b in range(r):
                    for m in range(n, three_h):
                        if g[b, m] > ceiling:
                            g[b, m] = ceiling
                            dg[b, m] = zero
            cells = scratch[: r * n].reshape((r, n))
            nc = noise_c[s, off : off + r] if use_nc else noise_c[s]
            for b in range(r):  # the cell and (with its noise) the next step's
                for j in range(n):
                    cell = (
                        cs[b, j] + g[b, j] - g[b, n + j] if subtractive else cs[b, j] + g[b, j] * g[b, n + j]
                    )
                    cells[b, j] = cell
                    cs[b, j] = cell + nc[b, j] if use_nc else cell
            af_block(cells.reshape(-1), u.reshape(-1), du.reshape(-1), k)
            nh = noise_h[s, off : off + r] if use_nh else noise_h[s]
            for b in range(r):
                for j in range(n):
                    h_bj = u[b, j] - g[b, 2 * n + j] if subtractive else u[b, j] * g[b, 2 * n + j]
                    h[b, j] = h_bj + nh[b, j] if use_nh else h_bj
            if use_w:
                w_s = weights[s, off : off + r]
                for b in range(r):
                    for m in range(three_h):
                        sum_g[m] += w_s[b] * g[b, m]
                    for j in range(n):
                        sum_u[j] += w_s[b] * u[b, j]
            prev = off
            off += r


@njit(cache=True, nogil=True, error_model="numpy")
def backward_kernel(
    d_hs, d_gates_in, d_out_in, d_sums, weights, w_rec, rows, subtractive, saved, d_pre
):  # pragma: no cover - compiled
    """The cells' backward time loop: from the gradients of the outputs (``d_hs`` (S, N, H),
    ``d_gates_in`` (S, N, 3H) and ``d_out_in`` (S, N, H) of the gate activations and AF(c), or
    empty (S, 0, ·); ``d_sums`` (S, 4H) of the weighted sums, with ``weights`` (S, N), or empty)
    and what :func:`forward_kernel` wrote into ``saved``, the gradient of ``pre`` (``d_pre``
    (S, N, 3H)).

    Per step, with s = (1, -1, -1) (subtractive) or (i, z, AF(c)) (multiplicative) and f = 1 or o:
    dh_t = d_hs_t + dpre_{t+1} W_rec; dc_t = dc_{t+1} + (dh_t f + d_out_t) AF'(c_t) (the cell
    integrates, so dc_t is also the gradient of c_{t-1}); dpre_t = ([dc_t s_z, dc_t s_i,
    dh_t s_o] + d_gates_t) AF'(pre_t). (The gradient of W_rec, sum_t dpre_t h_{t-1}^T, is one
    matrix product over all rows: :func:`previous_rows`.)
    """
    _, gates, d_gates, out_cell, d_out = saved
    s_len, _, three_h = d_pre.shape
    n = three_h // 3
    t_len = rows.shape[0]
    use_dg, use_du, use_w = d_gates_in.shape[1] > 0, d_out_in.shape[1] > 0, d_sums.shape[1] > 0
    offsets = np.zeros(t_len + 1, dtype=np.int64)
    for t in range(t_len):
        offsets[t + 1] = offsets[t] + rows[t]
    zero = np.float32(0.0)
    batch = rows[0] if t_len else 0
    dc = np.empty((batch, n), dtype=d_pre.dtype)
    dh = np.empty((batch, n), dtype=d_pre.dtype)
    for s in range(s_len):
        w = w_rec[s]
        dc[:, :] = zero
        for t in range(t_len - 1, -1, -1):
            r, off = rows[t], offsets[t]
            g, dg, u, du = (
                gates[s, off : off + r],
                d_gates[s, off : off + r],
                out_cell[s, off : off + r],
                d_out[s, off : off + r],
            )
            dp = d_pre[s, off : off + r]
            dh[:r] = d_hs[s, off : off + r]
            if t + 1 < t_len:  # h_t feeds step t+1's gates (its first rows[t+1] rows)
                r_next = rows[t + 1]
                dp_next = d_pre[s, offsets[t + 1] : offsets[t + 1] + r_next]
                for b in range(r_next):
                    for m in range(three_h):
                        dpm = dp_next[b, m]
                        for j in range(n):
                            dh[b, j] += dpm * w[m, j]
            d_o = d_out_in[s, off : off + r] if use_du else d_out_in[s]
            for b in range(r):
                wr = weights[s, off + b] if use_w else zero
                for j in range(n):
                    d_u = dh[b, j] if subtractive else dh[b, j] * g[b, 2 * n + j]
                    if use_du:
                        d_u += d_o[b, j]
                    if use_w:
                        d_u += wr * d_sums[s, three_h + j]
                    dct = dc[b, j] + d_u * du[b, j]
                    dc[b, j] = dct
                    if subtractive:
                        dp[b, j], dp[b, n + j], dp[b, 2 * n + j] = dct, -dct, -dh[b, j]
                    else:
                        dp[b, j], dp[b, n + j], dp[b, 2 * n + j] = (
                            dct * g[b, n + j],
                            dct * g[b, j],
                            dh[b, j] * u[b, j],
                        )
            if use_dg:
                dp_flat, dgi_flat = dp.reshape(-1), d_gates_in[s, off : off + r].reshape(-1)
                for m in range(dp_flat.shape[0]):
                    dp_flat[m] += dgi_flat[m]
            if use_w:
                for b in range(r):
                    wr = weights[s, off + b]
                    for m in range(three_h):
                        dp[b, m] += wr * d_sums[s, m]
            dp_flat, dg_flat = dp.reshape(-1), dg.reshape(-1)
            for m in range(dp_flat.shape[0]):
                dp_flat[m] *= dg_flat[m]


class Forward(NamedTuple):
    """What :func:`cells_forward` computed (numpy, float32): the outputs and what
    :func:`cells_backward` reads."""

    hs: np.ndarray  # (S, N, H) with the noise on h
    c: np.ndarray  # (S, rows[0], H): each row's cell after its last step
    gates: np.ndarray  # (S, N, 3H): z, i, o
    out_cell: np.ndarray  # (S, N, H): AF(c), noise-free
    sums: np.ndarray  # (S, 4H) weighted sums of z, i, o, AF(c) (zeros without weights)
    d_gates: np.ndarray  # AF's derivative at the gates' pre-activations
    d_out: np.ndarray  # and at the cell
    rows: np.ndarray  # (T,) int64
    subtractive: bool

    @property
    def saved(self) -> tuple[np.ndarray, ...]:
        """What the kernels write and read, in their order: hs, gates, d_gates, out_cell, d_out."""
        return self.hs, self.gates, self.d_gates, self.out_cell, self.d_out


def _empty(s: int, width: int) -> np.ndarray:
    return np.empty((s, 0, width), dtype=np.float32)


def _check(name: str, x: np.ndarray | None, shape: tuple[int, ...]) -> None:
    if x is None:
        return
    if x.dtype != np.float32 or not x.flags.c_contiguous or x.shape != shape:
        raise ValueError(
            f"{name} must be a C-contiguous float32 array of shape {shape}, got {x.dtype} {x.shape}"
        )


def check_rows(rows, n_rows: int) -> np.ndarray:
    """``rows`` as an int64 array, if they are non-increasing counts summing to ``n_rows``."""
    out = np.asarray(rows, dtype=np.int64).reshape(-1)
    if int(out.sum()) != n_rows or (out < 0).any() or (np.diff(out) > 0).any():
        raise ValueError(f"rows must be non-increasing counts summing to {n_rows}, got {list(rows)}")
    return out


def cells_forward(
    pre: np.ndarray,
    w_rec: np.ndarray,
    rows,
    asn: ASNParams,
    subtractive: bool,
    noise_h: np.ndarray | None = None,
    noise_c: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    bounded: bool = False,
) -> Forward:
    """Run the cells over ``pre`` (S, N, 3H) (layout in the module docstring) with recurrent
    weights ``w_rec`` (S, 3H, H); ``weights`` (S, N): also sum z, i, o and AF(c) over the rows
    weighted by them (what a rate penalty needs); ``bounded``: multiplicative gates i, o =
    min(AF, 1) (asn-lstm-bounded)."""
    s, n_rows, three_h = pre.shape
    n = three_h // 3
    rows = check_rows(rows, n_rows)
    _check("pre", pre, (s, n_rows, three_h))
    _check("w_rec", w_rec, (s, three_h, n))
    for name, x in (("noise_h", noise_h), ("noise_c", noise_c)):
        _check(name, x, (s, n_rows, n))
    _check("weights", weights, (s, n_rows))
    f32 = np.float32
    hs, out_cell, d_out = (np.empty((s, n_rows, n), f32) for _ in range(3))
    gates, d_gates = np.empty_like(pre), np.empty_like(pre)
    c = np.empty((s, int(rows[0]) if rows.size else 0, n), f32)
    sums = np.zeros((s, 4 * n), f32)
    noise = [_empty(s, n) if x is None else x for x in (noise_h, noise_c)]
    row_weights = np.empty((s, 0), f32) if weights is None else weights
    fwd = Forward(hs, c, gates, out_cell, sums, d_gates, d_out, rows, subtractive)
    if subtractive and bounded:
        raise ValueError("bounded gates are multiplicative: subtractive and bounded exclude each other")
    k = af_constants(asn)
    forward_kernel(pre, w_rec, rows, *noise, row_weights, k, subtractive, bounded, fwd.saved, c, sums)
    return fwd


def cells_backward(
    fwd: Forward,
    w_rec: np.ndarray,
    d_hs: np.ndarray | None,
    d_gates: np.ndarray | None = None,
    d_out: np.ndarray | None = None,
    d_sums: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """The gradient of ``pre`` (S, N, 3H) from those of the outputs of :func:`cells_forward`: h
    (``d_hs``), the gates and AF(c) (``d_gates``, ``d_out``) and the weighted sums (``d_sums``
    (S, 4H), with the ``weights`` of the forward pass); None: zero. That of ``w_rec`` follows
    from it in one product (:func:`previous_rows`): a batched matrix product (torch's) does it in a
    third of the time of a compiled loop."""
    s, n_rows, three_h = fwd.gates.shape
    n = three_h // 3
    f32 = np.float32
    _check("d_hs", d_hs, (s, n_rows, n))
    _check("d_gates", d_gates, (s, n_rows, three_h))
    _check("d_out", d_out, (s, n_rows, n))
    _check("d_sums", d_sums, (s, 4 * n))
    _check("weights", weights, (s, n_rows))
    if (d_sums is None) != (weights is None):
        raise ValueError("d_sums and weights go together")
    d_pre = np.empty_like(fwd.gates)
    outputs = (
        np.zeros((s, n_rows, n), f32) if d_hs is None else d_hs,
        _empty(s, three_h) if d_gates is None else d_gates,
        _empty(s, n) if d_out is None else d_out,
        np.empty((s, 0), f32) if d_sums is None else d_sums,
        np.empty((s, 0), f32) if weights is None else weights,
    )
    backward_kernel(*outputs, w_rec, fwd.rows, fwd.subtractive, fwd.saved, d_pre)
    return d_pre


def previous_rows(rows: np.ndarray) -> np.ndarray:
    """For the rows of steps 1, 2, ... (rows[0] .. N-1 of the packed layout), the row of the step
    before in the same episode, whose h their gates read: pre_t = in_t + W_rec h_{t-1}, so the
    gradient of W_rec is d_pre[:, rows[0]:]^T h[:, previous_rows(rows)], one batched product."""
    return np.arange(rows[0] if rows.size else 0, int(rows.sum())) - np.repeat(rows[:-1], rows[1:])
