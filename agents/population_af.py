"""The AF activation with its derivative kept for the backward pass, for the population's training
pass (the hidden layer's millions of numbers per update).

One compiled pass (:func:`~sublstm.agents.cell_kernels.af_into`, the cells' AF: the closed form
of :func:`~sublstm.agents.neuron.af_with_grad`, float32, vectorised) writes AF and its derivative;
the dozen intermediate arrays of the closed form in torch never exist.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .cell_kernels import af_into
from .neuron import ASNParams


class _AF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s: Tensor, asn: ASNParams) -> Tensor:
        flat = s.detach().contiguous().view(-1)
        out, grad = torch.empty_like(flat), torch.empty_like(flat)
        af_into(flat.numpy(), out.numpy(), grad.numpy(), asn)
        ctx.save_for_backward(grad)
        return out.view(s.shape)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (grad,) = ctx.saved_tensors
        return grad_out * grad.view(grad_out.shape), None


def af_train(s: Tensor, asn: ASNParams) -> Tensor:
    """AF(s) with its derivative kept for the backward pass (float32 CPU tensors, any shape)."""
    if s.device.type != "cpu" or s.dtype != torch.float32:
        raise ValueError(f"af_train needs a float32 CPU tensor, not {s.dtype} on {s.device}")
    return _AF.apply(s, asn)
