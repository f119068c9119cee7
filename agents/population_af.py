"""The AF activation with its derivative for the population's training pass, in place on buffers.

:func:`~sublstm.agents.neuron.af_with_grad` evaluated operation for operation (same values, same
rounding), with two changes that matter on the population's arrays (tens of thousands to millions
of numbers, where memory traffic, not per-call overhead, is the cost):

- the derivative is masked by an arithmetic factor, sign((den - d) AF), instead of comparisons:
  bool arrays cost several times an arithmetic operation here;
- :func:`af_train` runs a large array in cache-sized chunks, so the dozen intermediate arrays of
  the closed form never leave the cache; only the input, AF and its derivative touch memory.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from .neuron import ASNParams, _af_coefficients

#: numbers per chunk of :func:`af_train` (a few hundred KB of float32 intermediates)
CHUNK = 1 << 16


class AFKernel:
    """AF(S) = max(0, h / (exp(a + b / den) - 1) + offset), den = max(S, 0) + d, and dAF/dS."""

    def __init__(self, asn: ASNParams) -> None:
        a, b, d, h, offset = _af_coefficients(asn)
        # float32 0-d tensors: a Python float would be wrapped and cast at every call
        const = [torch.tensor(v, dtype=torch.float32) for v in (a, b, d, h, offset, 1.0 / b)]
        self.a, self.b, self.d, self.h, self.offset, self.inv_b = const
        self.inv_hb = 1.0 / (h * b)
        self.zero, self.one = torch.tensor(0.0), torch.tensor(1.0)
        # where AF(0) = 0 (it is for the default neuron), AF > 0 implies S > 0: the mask of the
        # derivative is sign(AF) alone
        self.flat_at_zero = False
        at_zero = torch.empty(1)
        self(torch.zeros(1), at_zero)
        self.flat_at_zero = bool(at_zero[0] == 0)

    def __call__(self, s: Tensor, out: Tensor, grad: Tensor | None = None, inplace: bool = True) -> Tensor:
        """AF(s) into ``out``; returns dAF/dS (into ``grad`` if given). With ``inplace`` ``s``
        (not needed later) is overwritten.

        The derivative h b e / ((e - 1) den)^2 (e = exp(a + b / den)) is written as
        (1/b + y / (h b)) y v^2 with v = b / den and y = h / (e - 1); it is zero where S <= 0 or
        AF = 0.
        """
        den = s.clamp_(min=self.zero) if inplace else torch.clamp(s, min=self.zero)
        den.add_(self.d)
        v = torch.div(self.b, den)
        y = torch.add(v, self.a).exp_().sub_(self.one)
        torch.div(self.h, y, out=y)
        torch.add(y, self.offset, out=out).clamp_(min=self.zero)
        on = torch.sign(out) if self.flat_at_zero else den.sub_(self.d).mul_(out).sign_()
        if grad is None:
            grad = torch.empty_like(y)
        torch.add(self.inv_b, y, alpha=self.inv_hb, out=grad)
        return grad.mul_(y).mul_(v.square_()).mul_(on)


@lru_cache(maxsize=16)
def af_kernel(asn: ASNParams) -> AFKernel:
    """The (cached) :class:`AFKernel` of ``asn``."""
    return AFKernel(asn)


class _ChunkedAF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s: Tensor, asn: ASNParams) -> Tensor:
        kernel = af_kernel(asn)
        flat = s.detach().contiguous().view(-1)
        out, grad = torch.empty_like(flat), torch.empty_like(flat)
        for lo in range(0, flat.numel(), CHUNK):
            hi = lo + CHUNK
            kernel(flat[lo:hi], out[lo:hi], grad[lo:hi], inplace=False)
        ctx.save_for_backward(grad)
        return out.view(s.shape)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (grad,) = ctx.saved_tensors
        return grad_out * grad.view(grad_out.shape), None


def af_train(s: Tensor, asn: ASNParams) -> Tensor:
    """AF(s) with its derivative kept for the backward pass (float32 CPU tensors, any shape)."""
    return _ChunkedAF.apply(s, asn)
