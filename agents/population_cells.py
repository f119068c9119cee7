"""The asn-sublstm and asn-lstm recurrences of S stacked members over a whole batch of episodes,
as one autograd node: the population's training unroll (BPTT) without a dozen autograd nodes per step.

The time loops, forward and backward, are the compiled kernels of :mod:`.cell_kernels` (all
members in one call each), run on numpy views of the float32 CPU tensors (no copies): at these
sizes a torch operation's dispatch costs more than its arithmetic, and a step needs a dozen.

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

from .cell_kernels import GATING, cells_backward, cells_forward, check_rows, gating_flags, previous_rows
from .neuron import ASNParams

__all__ = ["GATING", "packed_positions", "run_stacked_cells"]


def packed_positions(rows: list[int], batch: int, device=None) -> Tensor:
    """Where the packed layout's entries sit in the padded one: step t's rows 0 .. rows[t]-1, step
    after step, as flat indices t * batch + b into (T * batch) (N,) long, N = sum(rows)."""
    steps = torch.tensor(rows, dtype=torch.long, device=device)
    within = torch.arange(batch, device=device)
    flat = torch.arange(len(rows), device=device).unsqueeze(1) * batch + within
    return flat[within < steps.unsqueeze(1)]


def _array(t: Tensor | None):
    """A C-contiguous numpy view of a float32 CPU tensor (a copy only if it is not contiguous)."""
    return None if t is None else t.detach().contiguous().numpy()


class _Cells(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pre_in, w_rec, noise_h, noise_c, rows, asn, gating, with_acts, weights):
        w = _array(w_rec)
        subtractive, bounded = gating
        fwd = cells_forward(
            _array(pre_in),
            w,
            rows,
            asn,
            subtractive,
            _array(noise_h),
            _array(noise_c),
            _array(weights),
            bounded=bounded,
        )
        ctx.fwd, ctx.w_rec, ctx.weights = fwd, w, _array(weights)
        ctx.set_materialize_grads(False)
        hs, c = torch.from_numpy(fwd.hs), torch.from_numpy(fwd.c)
        ctx.mark_non_differentiable(c)
        if weights is not None:
            return hs, c, torch.from_numpy(fwd.sums)  # with_acts does not apply
        return (hs, c, torch.from_numpy(fwd.gates), torch.from_numpy(fwd.out_cell)) if with_acts else (hs, c)

    @staticmethod
    def backward(ctx, d_hs, _d_c, d_acts=None, d_out=None):
        weights = ctx.weights
        d_sums = _array(d_acts) if weights is not None else None
        d_gates = None if weights is not None else _array(d_acts)
        fwd = ctx.fwd
        d_pre = torch.from_numpy(
            cells_backward(
                fwd,
                ctx.w_rec,
                _array(d_hs),
                d_gates,
                _array(d_out),
                d_sums,
                None if d_sums is None else weights,
            )
        )
        # W_rec's gradient: sum over the rows of steps >= 1 of d_pre h_{t-1}^T, one batched product
        h_prev = torch.from_numpy(fwd.hs).index_select(1, torch.from_numpy(previous_rows(fwd.rows)))
        d_w = torch.bmm(d_pre[:, fwd.rows[0] if fwd.rows.size else 0 :].transpose(1, 2), h_prev)
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
    rows = check_rows(rows, pre_in.shape[1])
    return _Cells.apply(pre_in, w_rec, noise_h, noise_c, rows, asn, gating_flags(core), with_acts, weights)
