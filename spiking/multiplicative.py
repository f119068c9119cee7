"""The spiking twins of the multiplicative cells (``asn-lstm``, ``asn-lstm-bounded``), two per cell.

A multiplicative cell has two products: the input gate scales the cell input into the memory cell
(z * i) and the output gate scales the cell's output (AF(c) * o). Every twin has the neurons and
synapses of :class:`~sublstm.spiking.network.SpikingNetwork`; they differ in how a product is made:

``product="exact"`` (the twin of :mod:`.network`): the gate's post-synaptic trace multiplies the
    partner's trace at an idealised synapse, computed exactly at every dt: CEC drive trace_z *
    trace_i, output trace_oc * trace_og. Assumes a synapse that multiplies two continuous signals
    without error; a silent gate neuron gives an exact zero.

``product="spikes"``: the product is carried by the gate neuron's own spikes. Each spike of the
    input gate delivers to the memory cell a post-synaptic current of height h * trace_z (the cell
    input's trace at that moment) instead of h; each spike of the output gate delivers to the
    cell's targets (the gates, through the recurrent delay, and the readout) a current of height
    h * trace_oc. The products are therefore two gated traces, decaying with tau_beta like every
    trace:

        p_zi <- p_zi * exp(-dt / tau_beta) + h * spikes_i * trace_z
        p_oc <- p_oc * exp(-dt / tau_beta) + h * spikes_og * trace_oc

    whose means are trace_z * trace_i and trace_oc * trace_og when the partner is steady. Assumes a
    synapse whose efficacy is set, spike by spike, by another neuron's trace (presynaptic or
    neuromodulatory gain control); it adds what exact products hide: the sampling of the value at
    the gate's spike times, the gate's spike-count noise, and one tau_beta of lag.

With ``asn-lstm-bounded`` the gate's effect saturates where it multiplies (:mod:`sublstm.agents.gates`):
exact products use min(trace_gate, 1); spike products are capped at the partner's own trace (a
gate at 1 passes the value unchanged, never more).

:func:`multiplicative_twin` builds one; :func:`twin_policy` wraps any convertible network (all three
ASN cells) in a :class:`SpikingPolicy` with the product asked for.
"""

from __future__ import annotations

import torch
from sublstm.agents.cores import ASNSubLSTM
from sublstm.agents.gates import GATE_CEILING
from torch import Tensor, nn

from .asn import step_constants
from .network import SpikingNetwork, SpikingState
from .policy import SpikingPolicy
from .timing import TwinTiming, analog_timing

PRODUCTS = ("exact", "spikes")
#: the multiplicative cells' gating attribute -> whether their gates are bounded
MULTIPLICATIVE = {"multiplicative": False, "multiplicative-bounded": True}


class ProductState(SpikingState):
    """A :class:`SpikingState` that also carries the spike-made products ``p`` (batch, 2, H): row 0
    p_zi (the memory cell's drive), row 1 p_oc (the cell's output)."""

    p: Tensor


def _with_products(state: SpikingState, p: Tensor) -> ProductState:
    out = ProductState(*state)
    out.p = p
    return out


class MultiplicativeTwin(SpikingNetwork):
    """A multiplicative twin whose products are ``exact`` or made by the gates' ``spikes``, with
    free or ``bounded`` gates; see the module docstring. The simulation loop is the base class's:
    only the two products (:meth:`cec_drive`, :meth:`cell_output`) differ."""

    def __init__(self, *args, product: str = "exact", bounded: bool = False, **kwargs) -> None:
        if product not in PRODUCTS:
            raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")
        super().__init__(*args, gating="multiplicative", **kwargs)
        self.product, self.bounded = product, bool(bounded)
        self._p: Tensor | None = None  # the spike-made products while a step runs

    @property
    def variant(self) -> str:
        """``exact`` / ``spikes``, with ``bounded-`` in front for bounded gates."""
        return ("bounded-" if self.bounded else "") + self.product

    # --- the two products ---------------------------------------------------------------------
    def _gate(self, trace: Tensor) -> Tensor:
        return trace.clamp(max=GATE_CEILING) if self.bounded else trace

    def cec_drive(self, trace: Tensor) -> Tensor:
        z, i = trace[:, self.slices["cell_input"]], trace[:, self.slices["input_gate"]]
        if self.product == "spikes":
            p = self._p[:, 0]
            return torch.minimum(p, z) if self.bounded else p
        return z * self._gate(i)

    def cell_output(self, trace: Tensor) -> Tensor:
        oc, og = trace[:, self.slices["output_cell"]], trace[:, self.slices["output_gate"]]
        if self.product == "spikes":
            if self._p is None:  # outside a step (e.g. readout_values): the products' last values
                raise ValueError("the spike-made products exist only inside step()")
            p = self._p[:, 1]
            return torch.minimum(p, oc) if self.bounded else p
        return oc * self._gate(og)

    # --- state and simulation ---------------------------------------------------------------------
    def initial_state(self, batch_size: int) -> SpikingState:
        state = super().initial_state(batch_size)
        if self.product == "exact":
            return state
        return _with_products(state, torch.zeros(batch_size, 2, self.n_cells, device=self.device))

    def reset(self, state: SpikingState, where: Tensor) -> SpikingState:
        base = super().reset(state, where)
        if self.product == "exact":
            return base
        keep = (~where.to(self.device, torch.bool)).to(state.c.dtype).view(-1, 1, 1)
        return _with_products(base, state.p * keep)

    def step(self, obs: Tensor, state: SpikingState, on_dt=None):
        if self.product == "exact":
            return super().step(obs, state, on_dt)
        if not isinstance(state, ProductState):
            raise ValueError("a twin with spike-made products needs its own state: use initial_state()")
        k = step_constants(self.params, self.dt)
        h = self.params.h
        sl = self.slices

        def update(spikes: Tensor, now: SpikingState) -> None:
            trace = now.neurons.trace
            made = torch.stack(
                (
                    spikes[:, sl["input_gate"]] * trace[:, sl["cell_input"]],
                    spikes[:, sl["output_gate"]] * trace[:, sl["output_cell"]],
                ),
                dim=1,
            )
            self._p = torch.add(self._p * k.d_beta, made, alpha=h)
            if on_dt is not None:
                on_dt(spikes, now)

        self._p = state.p
        try:
            result, new = super().step(obs, SpikingState(*state), update)
            return result, _with_products(new, self._p)
        finally:
            self._p = None


def multiplicative_twin(
    network: nn.Module, product: str = "exact", timing: TwinTiming | None = None, **changes
) -> MultiplicativeTwin:
    """The twin of an AdvantageNetwork with a multiplicative core (asn-lstm, asn-lstm-bounded) whose
    products are ``exact`` or made by ``spikes``; ``timing`` / ``changes`` as for
    :meth:`SpikingNetwork.from_analog` (the package's TwinTiming defaults when absent)."""
    core = getattr(network, "core", None)
    gating = getattr(core, "gating", None)
    if not isinstance(core, ASNSubLSTM) or gating not in MULTIPLICATIVE:
        raise ValueError(
            f"core {getattr(network, 'core_name', type(core).__name__)!r} has no multiplicative twin: "
            f"only cores with gating {sorted(MULTIPLICATIVE)} (asn-lstm, asn-lstm-bounded)"
        )
    timing = analog_timing(network, timing, **changes)
    # the weights in the order SpikingNetwork takes them: hidden, core input, recurrence, head
    layers = (network.hidden, core.w_in, core.w_rec, network.head)
    weights = [t for layer in layers for t in (layer.weight, layer.bias) if t is not None]
    with torch.no_grad():
        twin = MultiplicativeTwin(
            *weights, params=network.asn, timing=timing, product=product, bounded=MULTIPLICATIVE[gating]
        )
    return twin.to(network.head.weight.device)


def twin_policy(
    network: nn.Module, product: str = "exact", timing: TwinTiming | None = None
) -> SpikingPolicy:
    """A SpikingPolicy for any convertible network: the default twin for a subtractive core (where
    ``product`` must be "exact": there is no product), :func:`multiplicative_twin` otherwise."""
    if product not in PRODUCTS:
        raise ValueError(f"product must be one of {PRODUCTS}, got {product!r}")
    gating = getattr(getattr(network, "core", None), "gating", None)
    if gating in MULTIPLICATIVE:
        twin = multiplicative_twin(network, product, timing)
    elif product != "exact":
        raise ValueError(f"a {gating} core makes no products: its only twin is product='exact'")
    else:
        twin = SpikingNetwork.from_analog(network, timing)
    return SpikingPolicy(twin, analog_macs_per_step=network.macs_per_step())
