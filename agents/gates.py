"""A bounded, sigmoid-like ASN activation for multiplicative gates, and the cell that uses it.

The ASN effective activation AF (:mod:`.neuron`) is a smoothed, saturating ReLU normalised to
AF(1) = 1 that keeps rising beyond 1 (trained asn-lstm gates reached 1.7-3.4), so an AF unit is a
poor multiplicative gate: a gate should scale by a factor in [0, 1]. The paper's earlier version
used multiplicative gates through a bounded, sigmoid-like ASN activation. Here it is

    G(S) = min(AF(S), 1) = AF(min(S, 1))          (AF is monotone and AF(1) = 1)

zero for S <= 0 (and nearly so up to theta0 / 2), rising smoothly, flat at 1 from S = 1 on: a
hard-sigmoid-like curve made of the ASN's own rate response. It assumes:

- that the gate is an ordinary ASN whose effect *at the multiplicative synapse* saturates once its
  post-synaptic trace reaches the trace of an ASN driven at S = 1 (receptor saturation), so the
  spiking twin gets G by clamping the gate's trace at 1 where it multiplies
  (:mod:`sublstm.spiking.multiplicative`); the gate neuron itself still fires at its AF rate;
- the AF closed form of the ASN, with its known error at low activations (SCIENCE.md section 3);
- gradient 0 where the gate saturates (S > 1), as for a saturated sigmoid, and AF's own gradient
  below; differentiable except at the two kinks.

:func:`bounded_lstm_update` is the cell ``asn-lstm-bounded``: AF cell input and cell output, bounded
input and output gates, multiplicative gating, no forget gate (as asn-lstm):
``c_t = c_{t-1} + z_t * i_t``, ``h_t = AF(c_t) * o_t`` with ``i, o = G(.)`` in [0, 1].
"""

from __future__ import annotations

from torch import Tensor

from .neuron import DEFAULT_ASN, ASNParams, af

#: where a bounded gate saturates: the trace of an ASN driven at S = 1 (AF(1) = 1)
GATE_CEILING = 1.0


def bounded_gate(s: Tensor, params: ASNParams = DEFAULT_ASN) -> Tensor:
    """G(S) = min(AF(S), 1): the ASN activation saturated at its value for S = 1, in [0, 1]."""
    return af(s, params).clamp(max=GATE_CEILING)


def bounded_lstm_update(pre: Tensor, c: Tensor, asn: ASNParams = DEFAULT_ASN):
    """One step of ``asn-lstm-bounded`` from the pre-activations ``pre`` (..., 3H: rows z, i, o) and
    the cell ``c``; returns (h, c, activations by population)."""
    z_pre, i_pre, o_pre = pre.chunk(3, dim=-1)
    z, i, o = af(z_pre, asn), bounded_gate(i_pre, asn), bounded_gate(o_pre, asn)
    c = c + z * i
    out_cell = af(c, asn)
    return out_cell * o, c, {"cell_input": z, "input_gate": i, "output_gate": o, "output_cell": out_cell}
