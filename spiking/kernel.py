"""Compiled engine of :class:`~sublstm.spiking.network.SpikingNetwork`: one whole decision (every dt
of one ``step``, every batch row) in one numba call on one CPU thread.

The torch engine forms every synaptic current as a matrix product of traces at each dt. Here the
current into each target is a state instead: every outgoing trace decays by d_beta per dt and
jumps by h on a spike, so ``W @ trace`` decays by d_beta and jumps by ``h * W[:, j]`` when
presynaptic neuron j spikes (the same sum; only the rounding differs). The recurrent synapses see
the memory output ``h = trace_oc - trace_og`` some dt late (a delay line): their current jumps by
``W_rec[:, j] * delta_j`` with ``delta_j = h_j(s) - d_beta * h_j(s - 1)``, which is non-zero (one
spike height) only where output cell or output gate j spiked. A dt therefore costs O(neurons) plus
O(spikes x fan-out) instead of O(synapses).

Small networks (few synapses per neuron, see LANE_SYNAPSES_PER_NEURON) at batches of
LANE_MIN_BATCH rows or more go another way, :func:`simulate_lanes`: a block of rows side by side,
every value a vector over the rows and every current a dense sum as in the torch engine. Finding
and adding spikes row by row costs more there than the dense sums, which vectorise whole.

The engine reads and writes the torch engine's :class:`SpikingState` (the delay line is the same
ring buffer of h), so the two can be mixed and compared decision by decision; the currents are
rebuilt from the state by one dense product at the start of each decision. It covers subtractive
gating (a product of traces is no trace) with every :class:`TwinTiming`.
"""

from __future__ import annotations

import math
import mmap
import platform
import threading
import weakref
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

# positions in the ``ints`` array of simulate_decision
(
    T0,
    N_STEPS,
    FIRST_WINDOW,
    CEC_FROM,
    CEC_TO,
    TGT_LO,
    TGT_HI,
    Z0,
    I0,
    OG0,
    OC0,
    DELAYED,
    LERP_SMALL,
    N_GROUPS,
    USE_LANES,
) = range(15)
# positions in the ``consts`` array (the twin's dtype, so float32 arithmetic stays float32)
(W_PHI, ONE_MINUS_W, D_BETA, D_ETA, D_GAMMA, SPIKE_H, THETA0, M_F, HALF, ZERO, CEC_GAIN, EVENT, TINY) = range(
    13
)
#: recurrent groups (targets with one delay each) the kernel handles: z and i, and o
MAX_GROUPS = 2
#: most batch rows simulate_lanes simulates side by side (one block; its vectors run over the rows)
LANES = 128
#: networks with at most this many dense synaptic multiply-adds per neuron and dt are simulated
#: by simulate_lanes (a dense sum over LANES rows costs less than finding and bumping by spikes)
LANE_SYNAPSES_PER_NEURON = 12
#: ... and batches of at least this many rows (fewer leave the vectors short)
LANE_MIN_BATCH = 32
#: simulate_lanes is given a multiple of this many rows (whole vectors of float32 and float64)
LANE_VECTOR = 32
#: rows per pass of a delay-line copy between the two layouts
TILE = 8
#: recurrent groups of at least this many targets add eight weight rows per pass, narrower ones four
EIGHT_ROWS_MIN_WIDTH = 128
#: byte offsets into a 4 KiB page at which simulate_decision places its carried currents and its
#: copy of the recurrent weights (see _page_placed)
CUR_PAGE_OFFSET = 0
WEIGHTS_PAGE_OFFSET = 1536
#: x86: the kernel runs with the CPU flushing subnormal results (and inputs) to zero (MXCSR FTZ and
#: DAZ, restored on return): arithmetic on subnormal numbers is some 30 times slower, and they are
#: far below any threshold. Elsewhere every stored value below the smallest normal number is set
#: to 0 instead (about a fifth of the work of an ASN update).
FLUSH_BY_CPU = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")
_FTZ_DAZ = np.uint32(0x8040)


def _mxcsr_call(builder, name: str, slot) -> None:
    fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
    fn = cgutils.get_or_insert_function(builder.module, fnty, name)
    builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])


@intrinsic
def _get_mxcsr(typingctx):
    """The x86 SSE control and status register (0 elsewhere)."""

    def codegen(context, builder, signature, args):
        if not FLUSH_BY_CPU:
            return ir.Constant(ir.IntType(32), 0)
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def _set_mxcsr(typingctx, value):
    """Load the x86 SSE control and status register (nothing elsewhere)."""

    def codegen(context, builder, signature, args):
        if FLUSH_BY_CPU:
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(args[0], slot)
            _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.none(types.uint32), codegen


#: results of at least this many bytes are written into reused buffers (see Buffers)
REUSE_BYTES = 1 << 20
#: ... at most this many of each shape (a step needs two: the state it reads and the one it writes)
REUSE_COUNT = 3


def _fresh(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A new array of plain pages from the system (an anonymous mapping, unmapped when the array is
    gone). numpy asks for transparent huge pages for large arrays, and where memory is fragmented
    the system then compacts memory at the first touch: at 771 neurons and batch 1024 that made a
    new delay line cost 0.4 s of system time against 0.06 s in 4 KiB pages."""
    count = math.prod(shape)
    pages = mmap.mmap(-1, max(count * dtype.itemsize, 1))
    return np.frombuffer(pages, dtype=dtype, count=count).reshape(shape)


def _gone() -> None:
    """What a weak reference to an object that is gone returns (for an array not handed out yet)."""
    return None


class Buffers:
    """The arrays earlier decisions wrote their results into, handed out again once nothing refers
    to them: a fresh large array costs a page fault per 4 KiB page first written (numpy and torch
    take arrays this large straight from the system and give them back when freed), at 771
    neurons and batch 1024 a third of a decision's time for its 157 MB delay line.

    Each hand-out is a new view of a kept array; the tensor made of it by ``torch.from_numpy``
    (and every view of that tensor) holds the view while it lives, so the array is free again
    once the view is gone (a weak reference tells). At most REUSE_COUNT arrays of a shape are kept,
    and only of the shapes asked for last (free ones of other shapes are dropped when a new array
    is made), so what stays allocated beyond what the caller holds is bounded."""

    def __init__(self) -> None:
        self._kept: list[tuple[np.ndarray, Callable[[], object]]] = []
        self._lock = threading.Lock()

    def empty(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A view of an array of ``shape`` and ``dtype`` (its values undefined): of a free earlier
        one, else of a new one."""
        if math.prod(shape) * dtype.itemsize < REUSE_BYTES:
            return np.empty(shape, dtype=dtype)
        with self._lock:
            match = [k for k, (a, _) in enumerate(self._kept) if a.shape == shape and a.dtype == dtype]
            free = [k for k in match if self._kept[k][1]() is None]
            if not free:  # a new one; the free ones of other shapes are dropped
                if len(match) >= REUSE_COUNT:
                    return _fresh(shape, dtype)
                self._kept = [x for k, x in enumerate(self._kept) if k in match or x[1]() is not None]
                self._kept.append((_fresh(shape, dtype), _gone))
                free = [len(self._kept) - 1]
            array = self._kept[free[0]][0]
            view = array.view()
            self._kept[free[0]] = (array, weakref.ref(view))
            return view


class KernelPlan(NamedTuple):
    """A twin's weights and constants laid out for :func:`simulate_decision` (numpy, one dtype).

    imm_src / imm_dense / imm_w: the presynaptic neurons whose traces reach the targets (hidden and
    gates) without delay, their weights onto the targets, and those weights times h and the trace
    scale (the jump of the current per spike). rec_w (MAX_GROUPS, H, width), rec_lo, rec_delay:
    per recurrent group, the weights from h onto ``width`` targets from target ``rec_lo`` on, and
    the group's delay in dt. out_src / out_w: the neurons the readout reads and their head weights.
    """

    bias: np.ndarray
    scale: np.ndarray
    imm_src: np.ndarray
    imm_dense: np.ndarray
    imm_w: np.ndarray
    rec_w: np.ndarray
    rec_lo: np.ndarray
    rec_width: np.ndarray
    rec_delay: np.ndarray
    out_src: np.ndarray
    out_w: np.ndarray
    b_head: np.ndarray
    consts: np.ndarray
    ints: np.ndarray
    buffers: Buffers


#: the plan's first fields: its weight arrays, which the kernels take (then consts and ints)
WEIGHT_FIELDS = 12


def nonzero_span(matrix: np.ndarray) -> tuple[int, int]:
    """First and one-past-last column of ``matrix`` with a non-zero entry ((0, 0) when none)."""
    cols = np.flatnonzero(np.any(matrix != 0, axis=0))
    return (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 0)


# Loops index arrays from 0, through views where needed: an index that might be negative is
# wrapped around by numba, which keeps LLVM from vectorising the loop.


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _page_placed(count, offset, like):  # pragma: no cover - compiled
    """``count`` values (undefined) of ``like``'s dtype starting ``offset`` bytes into a 4 KiB
    page. Left to the allocator, where the carried currents and the recurrent weight rows lie
    relative to each other varies from process to process, and some placements made a decision
    of 771 neurons ~15 % slower (likely loads of one and stores of the other sharing their low 12
    address bits, which the CPU then takes for dependent); the fixed placements gave the fast case
    in every process measured."""
    pad = (4096 + offset) // like.itemsize + 1
    buf = np.empty(count + pad, dtype=like.dtype)
    at = ((-buf.ctypes.data) % 4096 + offset) // buf.itemsize
    return buf[at : at + count]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _add_rows(cur_g, w_g, ring_b, slot, h_last_g):  # pragma: no cover - compiled
    """The current of a recurrent group from the h in ``ring_b[slot]`` (a dense product, at a
    decision's first dt)."""
    for j in range(h_last_g.shape[0]):
        v = ring_b[slot, j]
        h_last_g[j] = v
        if v != 0:
            for r in range(cur_g.shape[0]):
                cur_g[r] += v * w_g[j, r]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _arrivals(cur_g, w_g, h_now, h_last_g, d_beta, threshold, found, jumps):  # pragma: no cover
    """Add to a recurrent group's current what changed in h (``h_now`` now, ``h_last_g`` one dt
    before) beyond its decay: a spike of an output cell or gate. The jumps are formed first (one
    vector loop), the cells that jumped listed (without branches), then their weight rows added,
    eight (in wide groups) or four rows per pass over the current: each sum is still formed in the
    order of the cells, so the result is that of adding one row after the other, with an eighth or
    a quarter of the loads and stores of the current (the pass is bound by memory operations)."""
    n_cells = h_last_g.shape[0]
    for j in range(n_cells):
        v = h_now[j]
        jumps[j] = v - d_beta * h_last_g[j]
        h_last_g[j] = v
    n_found = 0
    for j in range(n_cells):
        found[n_found] = j
        n_found += 1 if abs(jumps[j]) > threshold else 0
    width = cur_g.shape[0]
    e = 0
    while width >= EIGHT_ROWS_MIN_WIDTH and e + 8 <= n_found:  # eight rows per pass, then four, then one
        a, b, c, d = found[e], found[e + 1], found[e + 2], found[e + 3]
        a2, b2, c2, d2 = found[e + 4], found[e + 5], found[e + 6], found[e + 7]
        w_a, w_b, w_c, w_d = w_g[a], w_g[b], w_g[c], w_g[d]
        w_a2, w_b2, w_c2, w_d2 = w_g[a2], w_g[b2], w_g[c2], w_g[d2]
        j_a, j_b, j_c, j_d = jumps[a], jumps[b], jumps[c], jumps[d]
        j_a2, j_b2, j_c2, j_d2 = jumps[a2], jumps[b2], jumps[c2], jumps[d2]
        for r in range(width):
            x = (((cur_g[r] + j_a * w_a[r]) + j_b * w_b[r]) + j_c * w_c[r]) + j_d * w_d[r]
            cur_g[r] = (((x + j_a2 * w_a2[r]) + j_b2 * w_b2[r]) + j_c2 * w_c2[r]) + j_d2 * w_d2[r]
        e += 8
    while e + 4 <= n_found:
        a, b, c, d = found[e], found[e + 1], found[e + 2], found[e + 3]
        w_a, w_b, w_c, w_d = w_g[a], w_g[b], w_g[c], w_g[d]
        j_a, j_b, j_c, j_d = jumps[a], jumps[b], jumps[c], jumps[d]
        for r in range(width):
            cur_g[r] = (((cur_g[r] + j_a * w_a[r]) + j_b * w_b[r]) + j_c * w_c[r]) + j_d * w_d[r]
        e += 4
    while e < n_found:
        w_a, j_a = w_g[found[e]], jumps[found[e]]
        for r in range(width):
            cur_g[r] += j_a * w_a[r]
        e += 1


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _difference(out, row, a, b, scale_a, scale_b):  # pragma: no cover - compiled
    """out[row] = scale_a * a - scale_b * b (traces as the synapses see them)."""
    for j in range(a.shape[0]):
        out[row, j] = scale_a[j] * a[j] - scale_b[j] * b[j]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _enter(consts, ints):  # pragma: no cover - compiled
    """Start a kernel: subnormals flushed by the CPU (see FLUSH_BY_CPU); returns the register to
    restore on leaving and the plan's ints and consts as values (layout, ASN and memory constants)."""
    mxcsr = _get_mxcsr()
    _set_mxcsr(mxcsr | _FTZ_DAZ)
    layout = (ints[T0], ints[N_STEPS], ints[FIRST_WINDOW], ints[CEC_FROM], ints[CEC_TO], ints[N_GROUPS])
    targets = (ints[TGT_LO], ints[TGT_HI], ints[Z0], ints[I0], ints[OG0], ints[OC0])
    flags = (ints[DELAYED] != 0, ints[LERP_SMALL] != 0)
    asn = (
        consts[W_PHI],
        consts[ONE_MINUS_W],
        consts[D_BETA],
        consts[D_ETA],
        consts[D_GAMMA],
        consts[SPIKE_H],
    )
    rest = (
        consts[THETA0],
        consts[M_F],
        consts[HALF],
        consts[ZERO],
        consts[CEC_GAIN],
        consts[EVENT],
        consts[TINY],
    )
    return mxcsr, layout + targets + flags, asn + rest


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _update_neurons(sd, sh, td, tr, cur, eb, cnt, bias, asn, lerp_small):  # pragma: no cover
    """Every ASN of one row by one dt, in the order of asn_step (SCIENCE.md section 2), with input
    current ``eb + cur``; spikes counted in ``cnt``; then the carried currents decay (the spikes
    are added by the caller). Values decaying below the smallest normal number become 0 (by the
    CPU or here, see FLUSH_BY_CPU). ``lerp_small``: the form of torch.lerp (a constant where
    inlined, so the loop holds one form)."""
    w_phi, one_minus_w, d_beta, d_eta, d_gamma, spike_h, theta0, m_f, half, zero, _, event, tiny = asn
    for j in range(sd.shape[0]):
        syn = cur[j]
        current = eb[j] + syn
        s = sd[j] + w_phi * (current - sd[j]) if lerp_small else current - (current - sd[j]) * one_minus_w
        hat = sh[j] * d_eta
        theta = td[j] + theta0
        fired = (s + bias[j]) - hat > theta * half
        fired_theta = theta if fired else zero
        hat = hat + fired_theta
        theta_dyn_j = (td[j] + m_f * fired_theta) * d_gamma
        trace_j = tr[j] * d_beta + (spike_h if fired else zero)
        sd[j] = s if FLUSH_BY_CPU or abs(s) > tiny else zero
        sh[j] = hat if FLUSH_BY_CPU or abs(hat) > tiny else zero
        td[j] = theta_dyn_j if FLUSH_BY_CPU or abs(theta_dyn_j) > tiny else zero
        tr[j] = trace_j if FLUSH_BY_CPU or abs(trace_j) > tiny else zero
        cnt[j] += event if fired else zero
        syn = syn * d_beta
        cur[j] = syn if FLUSH_BY_CPU or abs(syn) > tiny else zero


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_decision(
    state_in,
    s_dyn,
    s_hat,
    theta_dyn,
    trace,
    c,
    ring_in,
    ring,
    ext,
    bias,
    scale,
    imm_src,
    imm_dense,
    imm_w,
    rec_w,
    rec_lo,
    rec_width,
    rec_delay,
    out_src,
    out_w,
    b_head,
    consts,
    ints,
    counts,
    q_end,
    q_sum,
    h_sum,
):  # pragma: no cover - compiled; tests compare it with the torch engine
    """Advance every batch row by one decision: the neurons (s_dyn, s_hat, theta_dyn, trace:
    (batch, N) each) and memory cells c (batch, H) from ``state_in`` (the same five arrays), the
    delay line (batch, size, H) from ``ring_in`` into ``ring`` (a separate array where the delay
    line is used: the slots not written are copied). ``ext`` (batch, N) is the current that
    is constant all step (inputs, held h). Writes spike ``counts`` (batch, N), ``q_end``, ``q_sum``
    (batch, A, zeros on entry) and, for the "hold" delay, ``h_sum`` (batch, H, zeros on entry): the
    sum of h over the readout window."""
    mxcsr, layout, asn = _enter(consts, ints)
    t0, n_steps, first_window, cec_from, cec_to, n_groups, tgt_lo, tgt_hi, z0, i0, og0, oc0 = layout[:12]
    delayed, lerp_small = layout[12:]
    w_phi, one_minus_w, d_beta, d_eta, d_gamma, spike_h, theta0, m_f, half, zero, cec_gain, event, tiny = asn
    threshold = spike_h * half  # |delta| of one spike of an output cell or gate is spike_h
    batch, n = s_dyn.shape
    h_size = c.shape[1]
    size = ring.shape[1]
    n_tgt = tgt_hi - tgt_lo
    n_imm = imm_src.shape[0]
    n_out, n_actions = out_w.shape
    dtype = s_dyn.dtype
    # the synaptic current of every neuron: the targets' (hidden and gates) carried from dt to dt,
    # 0 at the inputs, and at the output cells their memory cell, copied in every dt
    cur = _page_placed(n, CUR_PAGE_OFFSET, s_dyn)
    cur_tgt, cur_oc = cur[tgt_lo:tgt_hi], cur[oc0 : oc0 + h_size]
    cur_0 = cur_tgt[rec_lo[0] : rec_lo[0] + rec_width[0]]  # the targets of each recurrent group
    cur_1 = cur_tgt[rec_lo[1] : rec_lo[1] + rec_width[1]]
    imm_cnt = np.empty(n_imm, dtype=dtype)
    h_last = np.zeros((MAX_GROUPS, h_size), dtype=dtype)  # the h each recurrent group saw last dt
    drive = np.empty((1, h_size), dtype=dtype)
    found = np.empty(h_size, dtype=np.int64)  # the cells whose h jumped this dt, and every jump
    jumps = np.empty(h_size, dtype=dtype)
    h_last_0, h_last_1 = h_last[0], h_last[1]
    # a copy of the recurrent weights of both groups, each (H, its width), one after the other
    # (see _page_placed)
    width_0, width_1 = rec_width[0], rec_width[1]
    w_both = _page_placed(h_size * (width_0 + width_1), WEIGHTS_PAGE_OFFSET, s_dyn)
    w_0 = w_both[: h_size * width_0].reshape((h_size, width_0))
    w_1 = w_both[h_size * width_0 :].reshape((h_size, width_1))
    w_0[:, :] = rec_w[0][:, :width_0]
    w_1[:, :] = rec_w[1][:, :width_1]
    d_0, d_1 = rec_delay[0], rec_delay[1]
    sc_z, sc_i = scale[z0 : z0 + h_size], scale[i0 : i0 + h_size]
    sc_og, sc_oc = scale[og0 : og0 + h_size], scale[oc0 : oc0 + h_size]
    slot = slot_0 = slot_1 = 0
    for b in range(batch):
        sd, sh, td, tr = s_dyn[b], s_hat[b], theta_dyn[b], trace[b]
        cb, eb, cnt, ring_b, ring_old = c[b], ext[b], counts[b], ring[b], ring_in[b]
        sd[:], sh[:], td[:], tr[:], cb[:] = (
            state_in[0][b],
            state_in[1][b],
            state_in[2][b],
            state_in[3][b],
            state_in[4][b],
        )
        tr_z, tr_i = tr[z0 : z0 + h_size], tr[i0 : i0 + h_size]
        tr_og, tr_oc = tr[og0 : og0 + h_size], tr[oc0 : oc0 + h_size]
        # the currents at the decision's first dt, from the traces and the delay line
        for j in range(n):
            cur[j] = zero
            cnt[j] = zero
        for m in range(n_imm):
            v = scale[imm_src[m]] * tr[imm_src[m]]
            if v != zero:
                for r in range(n_tgt):
                    cur_tgt[r] += v * imm_dense[m, r]
        if delayed:
            # the delay line: slot of h now, and of h d dt steps ago per group; a group reads its
            # slot before h now is written there (delay = size) or after (delay 0)
            slot = t0 % size
            slot_0, slot_1 = (t0 - d_0) % size, (t0 - d_1) % size
            if n_groups > 0 and d_0 > 0:
                _add_rows(cur_0, w_0, ring_old, slot_0, h_last_0)
            if n_groups > 1 and d_1 > 0:
                _add_rows(cur_1, w_1, ring_old, slot_1, h_last_1)
            _difference(ring_b, slot, tr_oc, tr_og, sc_oc, sc_og)
            if n_groups > 0 and d_0 == 0:
                _add_rows(cur_0, w_0, ring_b, slot_0, h_last_0)
            if n_groups > 1 and d_1 == 0:
                _add_rows(cur_1, w_1, ring_b, slot_1, h_last_1)
        for k in range(n_steps):
            in_cec = cec_from <= k < cec_to
            if in_cec:  # trace_z - trace_i at the start of the dt, as the current sees them
                _difference(drive, 0, tr_z, tr_i, sc_z, sc_i)
            for j in range(h_size):
                cur_oc[j] = cb[j]
            # every ASN (the spike counts of the feed-forward sources kept to tell who fired)
            for m in range(n_imm):
                imm_cnt[m] = cnt[imm_src[m]]
            if lerp_small:  # one loop per form of lerp, so neither computes both
                _update_neurons(sd, sh, td, tr, cur, eb, cnt, bias, asn, True)
            else:
                _update_neurons(sd, sh, td, tr, cur, eb, cnt, bias, asn, False)
            if in_cec:
                for j in range(h_size):
                    cb[j] = cb[j] + cec_gain * drive[0, j]
            if k >= first_window:
                for a in range(n_actions):
                    acc = zero
                    for m in range(n_out):
                        acc += tr[out_src[m]] * out_w[m, a]
                    q = b_head[a] + acc
                    q_end[b, a] = q
                    q_sum[b, a] += q
                if h_sum.shape[1]:
                    for j in range(h_size):
                        h_sum[b, j] += tr_oc[j] - tr_og[j]
            if k + 1 == n_steps:
                break
            # the currents of the next dt: the spikes of now, the delay line's arrivals
            for m in range(n_imm):
                if cnt[imm_src[m]] != imm_cnt[m]:
                    for r in range(n_tgt):
                        cur_tgt[r] += imm_w[m, r]
            if delayed:  # the slots move on by one dt (the last dt's h is the next step's)
                slot = slot + 1 if slot + 1 < size else 0
                slot_0 = slot_0 + 1 if slot_0 + 1 < size else 0
                slot_1 = slot_1 + 1 if slot_1 + 1 < size else 0
                # a slot not yet written in this decision holds h of the one before (in ring_in)
                if n_groups > 0 and d_0 > 0:
                    ring_0 = ring_old if k + 1 < d_0 else ring_b
                    _arrivals(cur_0, w_0, ring_0[slot_0], h_last_0, d_beta, threshold, found, jumps)
                if n_groups > 1 and d_1 > 0:
                    ring_1 = ring_old if k + 1 < d_1 else ring_b
                    _arrivals(cur_1, w_1, ring_1[slot_1], h_last_1, d_beta, threshold, found, jumps)
                _difference(ring_b, slot, tr_oc, tr_og, sc_oc, sc_og)
                if n_groups > 0 and d_0 == 0:
                    _arrivals(cur_0, w_0, ring_b[slot_0], h_last_0, d_beta, threshold, found, jumps)
                if n_groups > 1 and d_1 == 0:
                    _arrivals(cur_1, w_1, ring_b[slot_1], h_last_1, d_beta, threshold, found, jumps)
        if delayed:  # the slots this decision did not write keep their h
            for back in range(n_steps, size):
                s = (t0 + back) % size
                ring_b[s, :] = ring_old[s]

    _set_mxcsr(mxcsr)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _add_lanes(cur, lo, width, w_g, h, rows):  # pragma: no cover - compiled
    """cur[lo + r, :rows] += sum_j w_g[j, r] * h[j, :rows] for r < width: a dense synaptic sum."""
    for j in range(h.shape[0]):
        for r in range(width):
            w = w_g[j, r]
            for lane in range(rows):
                cur[lo + r, lane] += h[j, lane] * w


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _ring_lanes(ring, ring_l, b0, rows, into_lanes):  # pragma: no cover - compiled
    """Copy the delay line of rows b0 .. b0 + rows between ``ring`` (batch, size, H) and ``ring_l``
    (size, H, rows), a few rows at a time (each pass then walks few pages of either array)."""
    for l0 in range(0, rows, TILE):
        for s in range(ring.shape[1]):
            for j in range(ring.shape[2]):
                for lane in range(l0, min(l0 + TILE, rows)):
                    if into_lanes:
                        ring_l[s, j, lane] = ring[b0 + lane, s, j]
                    else:
                        ring[b0 + lane, s, j] = ring_l[s, j, lane]


@njit(cache=True, nogil=True, error_model="numpy")
def simulate_lanes(
    state_in, out, ring_in, ring, ext, weights, consts, ints, results
):  # pragma: no cover - compiled; tests compare it with the torch engine
    """:func:`simulate_decision` (the same arguments, some in tuples: ``out`` the five state arrays
    it writes, ``weights`` the plan's arrays, ``results`` counts, q_end, q_sum, h_sum) for small
    networks: up to LANES batch rows side by side, every value a vector over the rows, and every
    dt's synaptic currents formed as in the torch engine (dense sums over the traces and the delay
    line's h) instead of carried and bumped by spikes. That costs O(synapses) per dt, but with no
    branches and no per-row loop overheads: the cheaper way where a row has few synapses per
    neuron. ``ring`` is written whole (the delay line is copied into the rows' layout and back)."""
    s_dyn, s_hat, theta_dyn, trace, c = out
    bias, scale, imm_src, imm_dense, _, rec_w, rec_lo, rec_width, rec_delay, out_src, out_w, b_head = weights
    counts, q_end, q_sum, h_sum = results
    mxcsr, layout, asn = _enter(consts, ints)
    t0, n_steps, first_window, cec_from, cec_to, n_groups, tgt_lo, tgt_hi, z0, i0, og0, oc0 = layout[:12]
    delayed, lerp_small = layout[12:]
    w_phi, one_minus_w, d_beta, d_eta, d_gamma, spike_h, theta0, m_f, half, zero, cec_gain, event, tiny = asn
    batch, n = s_dyn.shape
    h_size = c.shape[1]
    size = ring.shape[1]
    n_imm = imm_src.shape[0]
    n_out, n_actions = out_w.shape
    dtype = s_dyn.dtype
    width = min(LANES, batch)
    # one block of rows as (neuron, row): state, constant current, synaptic current (the targets'
    # formed every dt, the output cells' their memory cell, 0 at the inputs), spike counts
    sd, sh = np.zeros((n, width), dtype=dtype), np.zeros((n, width), dtype=dtype)
    td, tr = np.zeros((n, width), dtype=dtype), np.zeros((n, width), dtype=dtype)
    eb, cnt = np.zeros((n, width), dtype=dtype), np.zeros((n, width), dtype=dtype)
    cur = np.zeros((n, width), dtype=dtype)
    cb = np.zeros((h_size, width), dtype=dtype)
    ring_l = np.zeros((size if delayed else 1, h_size, width), dtype=dtype)
    v = np.zeros(width, dtype=dtype)
    q = np.zeros(width, dtype=dtype)
    for b0 in range(0, batch, width):
        rows = min(width, batch - b0)
        for lane in range(rows):
            for j in range(n):
                sd[j, lane] = state_in[0][b0 + lane, j]
                sh[j, lane] = state_in[1][b0 + lane, j]
                td[j, lane] = state_in[2][b0 + lane, j]
                tr[j, lane] = state_in[3][b0 + lane, j]
                eb[j, lane] = ext[b0 + lane, j]
                cnt[j, lane] = zero
            for j in range(h_size):
                cb[j, lane] = state_in[4][b0 + lane, j]
        if delayed:
            _ring_lanes(ring_in, ring_l, b0, rows, True)
        for k in range(n_steps):
            # the currents from the traces at the dt's start (as the synapses see them), as in
            # the torch engine: feed-forward, the delay line, the memory cells before integrating
            for r in range(tgt_lo, tgt_hi):
                for lane in range(rows):
                    cur[r, lane] = zero
            for m in range(n_imm):
                src = imm_src[m]
                sc = scale[src]
                for lane in range(rows):
                    v[lane] = sc * tr[src, lane]
                for r in range(tgt_hi - tgt_lo):
                    w = imm_dense[m, r]
                    for lane in range(rows):
                        cur[tgt_lo + r, lane] += v[lane] * w
            if delayed:
                slot = (t0 + k) % size
                for g in range(n_groups):  # a group reads its slot before h now is written there
                    if rec_delay[g] > 0:
                        h_then = ring_l[(t0 + k - rec_delay[g]) % size]
                        _add_lanes(cur, tgt_lo + rec_lo[g], rec_width[g], rec_w[g], h_then, rows)
                for j in range(h_size):
                    s_oc, s_og = scale[oc0 + j], scale[og0 + j]
                    for lane in range(rows):
                        ring_l[slot, j, lane] = s_oc * tr[oc0 + j, lane] - s_og * tr[og0 + j, lane]
                for g in range(n_groups):  # or after (delay 0)
                    if rec_delay[g] == 0:
                        _add_lanes(cur, tgt_lo + rec_lo[g], rec_width[g], rec_w[g], ring_l[slot], rows)
            in_cec = cec_from <= k < cec_to
            for j in range(h_size):
                s_z, s_i = scale[z0 + j], scale[i0 + j]
                for lane in range(rows):
                    cur[oc0 + j, lane] = cb[j, lane]
                    if in_cec:
                        drive = s_z * tr[z0 + j, lane] - s_i * tr[i0 + j, lane]
                        cb[j, lane] = cb[j, lane] + cec_gain * drive
            # every ASN, as in simulate_decision
            for j in range(n):
                bias_j = bias[j]
                for lane in range(rows):
                    current = eb[j, lane] + cur[j, lane]
                    s_j = sd[j, lane]
                    if lerp_small:
                        s = s_j + w_phi * (current - s_j)
                    else:
                        s = current - (current - s_j) * one_minus_w
                    hat = sh[j, lane] * d_eta
                    theta = td[j, lane] + theta0
                    fired = (s + bias_j) - hat > theta * half
                    fired_theta = theta if fired else zero
                    hat = hat + fired_theta
                    theta_dyn_j = (td[j, lane] + m_f * fired_theta) * d_gamma
                    trace_j = tr[j, lane] * d_beta + (spike_h if fired else zero)
                    sd[j, lane] = s if FLUSH_BY_CPU or abs(s) > tiny else zero
                    sh[j, lane] = hat if FLUSH_BY_CPU or abs(hat) > tiny else zero
                    td[j, lane] = theta_dyn_j if FLUSH_BY_CPU or abs(theta_dyn_j) > tiny else zero
                    tr[j, lane] = trace_j if FLUSH_BY_CPU or abs(trace_j) > tiny else zero
                    cnt[j, lane] += event if fired else zero
            if k >= first_window:
                for a in range(n_actions):
                    for lane in range(rows):
                        q[lane] = zero
                    for m in range(n_out):
                        src, w = out_src[m], out_w[m, a]
                        for lane in range(rows):
                            q[lane] += tr[src, lane] * w
                    for lane in range(rows):
                        q_end[b0 + lane, a] = b_head[a] + q[lane]
                        q_sum[b0 + lane, a] += b_head[a] + q[lane]
                if h_sum.shape[1]:
                    for lane in range(rows):
                        for j in range(h_size):
                            h_sum[b0 + lane, j] += tr[oc0 + j, lane] - tr[og0 + j, lane]
        for lane in range(rows):
            for j in range(n):
                s_dyn[b0 + lane, j], s_hat[b0 + lane, j] = sd[j, lane], sh[j, lane]
                theta_dyn[b0 + lane, j], trace[b0 + lane, j] = td[j, lane], tr[j, lane]
                counts[b0 + lane, j] = cnt[j, lane]
            for j in range(h_size):
                c[b0 + lane, j] = cb[j, lane]
        if delayed:
            _ring_lanes(ring, ring_l, b0, rows, False)

    _set_mxcsr(mxcsr)


def build_plan(net) -> KernelPlan:
    """Lay out a :class:`SpikingNetwork`'s weights and constants for :func:`simulate_decision`, in
    the network's dtype (its buffers' dtype)."""
    from .asn import step_constants

    dtype = np.dtype(str(net.dtype).removeprefix("torch."))
    sl = net.slices
    tgt_lo, tgt_hi = sl["hidden"].start, sl["output_gate"].stop

    def array(t) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=dtype)

    scale = array(net.trace_scale())
    k = step_constants(net.params, net.dt)
    dense = array(net.immediate_map())[:, tgt_lo:tgt_hi]  # (source, target)
    imm_src = np.flatnonzero(np.any(dense != 0, axis=1)).astype(np.int64)
    imm_dense = np.ascontiguousarray(dense[imm_src])
    jump = (dtype.type(k.h) * scale[imm_src])[:, None]
    # the recurrent groups (at most two), each as (H, width) weights onto `width` targets
    groups = [(d, array(m)[:, tgt_lo:tgt_hi]) for d, m in net.recurrent_groups()]
    if len(groups) > MAX_GROUPS:
        raise ValueError(f"the kernel handles at most {MAX_GROUPS} recurrent delays, got {len(groups)}")
    spans = [nonzero_span(m) for _, m in groups]
    width = max([hi - lo for lo, hi in spans], default=0)
    rec_w = np.zeros((MAX_GROUPS, net.n_cells, width), dtype=dtype)
    rec_lo, rec_width, rec_delay = (np.zeros(MAX_GROUPS, dtype=np.int64) for _ in range(3))
    for g, ((d, m), (lo, hi)) in enumerate(zip(groups, spans, strict=True)):
        rec_w[g, :, : hi - lo] = m[:, lo:hi]
        rec_lo[g], rec_width[g], rec_delay[g] = lo, hi - lo, d
    # dense multiply-adds per row and dt: the feed-forward sources' and the recurrent groups'
    synapses = imm_src.size * (tgt_hi - tgt_lo) + sum(net.n_cells * (hi - lo) for lo, hi in spans)
    readout = array(net._readout_t)
    out_src = np.flatnonzero(np.any(readout != 0, axis=1)).astype(np.int64)
    w_phi = dtype.type(1.0 - k.d_phi)  # torch casts lerp's weight to the tensors' dtype
    constants = [w_phi, dtype.type(1) - w_phi, k.d_beta, k.d_eta, k.d_gamma, k.h, k.theta0, k.m_f]
    n = net.steps_per_decision
    starts = [sl[p].start for p in ("cell_input", "input_gate", "output_gate", "output_cell")]
    delayed = bool(net.delay_steps) and not net.hold
    ints = [
        0,
        n,
        n - net.window_steps,
        *net.cec_steps,
        tgt_lo,
        tgt_hi,
        *starts,
        delayed,
        w_phi < 0.5,
        len(groups),
        synapses <= LANE_SYNAPSES_PER_NEURON * net.n_neurons,
    ]
    return KernelPlan(
        bias=array(net.bias),
        scale=scale,
        imm_src=imm_src,
        imm_dense=imm_dense,
        imm_w=np.ascontiguousarray(imm_dense * jump, dtype=dtype),
        rec_w=rec_w,
        rec_lo=rec_lo,
        rec_width=rec_width,
        rec_delay=rec_delay,
        out_src=out_src,
        out_w=np.ascontiguousarray(readout[out_src]),
        b_head=array(net.b_head),
        consts=np.array([*constants, 0.5, 0.0, net.cec_gain, 1.0, np.finfo(dtype).tiny], dtype=dtype),
        ints=np.array(ints, dtype=np.int64),
        buffers=Buffers(),
    )


def run_decision(plan: KernelPlan, external, state, hold: bool):
    """One decision of every batch row from ``state`` (SpikingState fields: neurons, c, h_delay, t)
    with the step-long current ``external`` (batch, N). Returns new tensors: the four neuron
    fields, c, h_delay (the ring buffer; unchanged for "hold"), spike counts, q_end, q_sum and,
    for "hold", the sum of h over the readout window (else an empty (batch, 0) tensor)."""
    import torch

    neurons, c, h_delay, t = state
    dtype = plan.consts.dtype
    state_in = tuple(x.contiguous().numpy() for x in (*neurons, c))
    # results are numpy arrays shared with torch, the large ones reused (see Buffers): torch's
    # allocator hands large tensors fresh pages every time
    empty = plan.buffers.empty
    fields = [empty(tuple(x.shape), dtype) for x in (*neurons, c)]
    ring_in = h_delay.contiguous().numpy()
    ring = ring_in if hold or not h_delay.shape[1] else empty(ring_in.shape, dtype)
    batch, n = fields[0].shape
    n_actions = plan.b_head.shape[0]
    counts = empty((batch, n), dtype)
    q_end = np.empty((batch, n_actions), dtype=dtype)
    q_sum = np.zeros((batch, n_actions), dtype=dtype)
    h_sum = np.zeros((batch, c.shape[1] if hold else 0), dtype=dtype)
    ints = plan.ints.copy()
    ints[T0] = t
    per_row = (state_in, *fields, ring_in, ring, external.contiguous().numpy())
    results = (counts, q_end, q_sum, h_sum)
    # simulate_lanes takes whole vectors of rows (a remainder would run a lane at a time), the
    # rows past them go one by one
    lanes = batch // LANE_VECTOR * LANE_VECTOR if ints[USE_LANES] and batch >= LANE_MIN_BATCH else 0
    for simulate, rows in ((simulate_lanes, slice(0, lanes)), (simulate_decision, slice(lanes, batch))):
        if rows.start < rows.stop:
            state_rows, *arrays = (
                tuple(a[rows] for a in x) if isinstance(x, tuple) else x[rows] for x in per_row
            )
            rest = (plan.consts, ints)
            if simulate is simulate_lanes:
                out, (ring_in_rows, ring_rows, ext_rows) = tuple(arrays[:5]), arrays[5:]
                results_rows = tuple(x[rows] for x in results)
                simulate(
                    state_rows,
                    out,
                    ring_in_rows,
                    ring_rows,
                    ext_rows,
                    plan[:WEIGHT_FIELDS],
                    *rest,
                    results_rows,
                )
            else:
                simulate(state_rows, *arrays, *plan[:WEIGHT_FIELDS], *rest, *(x[rows] for x in results))
    out = (*fields, ring, counts, q_end, q_sum, h_sum)
    return tuple(h_delay if x is ring_in else torch.from_numpy(x) for x in out)
