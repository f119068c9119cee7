"""The adaptive spiking neuron (ASN) in discrete time: state, pure step function, module, recorder.

One step follows SCIENCE.md section 2 in its order. The neuron's input current I is not part of
its state: a spike reaches each target as a jump of w*h in the target's current that decays with
tau_beta, and because every synapse of one presynaptic neuron decays alike, the sum over incoming
spikes equals ``W @ trace`` where ``trace`` is one post-synaptic trace per *presynaptic* neuron
(a jump of h per spike, decay tau_beta). So each neuron carries its outgoing ``trace`` and the
caller forms currents as matrix products of traces (or, for an input neuron, passes the analog
input itself). This is the same arithmetic as keeping one decaying current per synapse, with
one state variable per neuron instead of one per synapse.

Everything is elementwise over tensors of any shape (batch dims x neurons), so a whole network of
many populations and many episodes advances with one call per time step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import torch
from sublstm.agents.neuron import DEFAULT_ASN, ASNParams
from torch import Tensor, nn


class ASNState(NamedTuple):
    """State of a group of ASNs; every field has the same shape (..., n_neurons).

    Attributes:
        s_dyn: the input current filtered by the membrane (tau_phi); S = bias + s_dyn.
        s_hat: the neuron's reconstruction of S from its own spikes (height theta, decay tau_eta).
        theta_dyn: the adaptive part of the threshold (decay tau_gamma); theta = theta0 + theta_dyn.
        trace: the outgoing post-synaptic trace seen by every target (height h, decay tau_beta).
    """

    s_dyn: Tensor
    s_hat: Tensor
    theta_dyn: Tensor
    trace: Tensor


@dataclass(frozen=True)
class StepConstants:
    """Per-step decay factors of one (params, dt) pair, computed once."""

    d_phi: float
    d_beta: float
    d_eta: float
    d_gamma: float
    h: float
    theta0: float
    m_f: float


def step_constants(params: ASNParams, dt: float) -> StepConstants:
    """Decay factors exp(-dt/tau) and the spike heights for time step ``dt`` (ms)."""
    # validate before the cache: True == 1 would otherwise hit the entry of dt = 1.0
    return _step_constants(params, check_dt(dt))


@lru_cache(maxsize=64)
def _step_constants(params: ASNParams, dt: float) -> StepConstants:
    return StepConstants(
        d_phi=math.exp(-dt / params.tau_phi),
        d_beta=math.exp(-dt / params.tau_beta),
        d_eta=math.exp(-dt / params.tau_eta),
        d_gamma=math.exp(-dt / params.tau_gamma),
        h=params.h,
        theta0=params.theta0,
        m_f=params.m_f,
    )


def check_dt(dt: float) -> float:
    """Validate a simulation step in ms (positive and finite)."""
    if isinstance(dt, bool) or not isinstance(dt, int | float) or not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive finite number of ms, got {dt!r}")
    return float(dt)


def initial_state(shape, device=None, dtype: torch.dtype = torch.float32) -> ASNState:
    """A resting ASN group: no activation, no reconstruction, threshold at theta0, no trace."""
    zeros = torch.zeros(shape, device=device, dtype=dtype)
    return ASNState(zeros, zeros.clone(), zeros.clone(), zeros.clone())


def asn_step(
    state: ASNState,
    input_current: Tensor,
    bias: Tensor | float = 0.0,
    params: ASNParams = DEFAULT_ASN,
    dt: float = 1.0,
) -> tuple[ASNState, Tensor]:
    """Advance a group of ASNs by ``dt`` ms; returns the new state and the spikes (0./1. floats).

    ``input_current`` is I for this step: ``W @ trace`` of the presynaptic traces (which already
    hold their decay and the spikes that arrived), or the analog input for an input neuron.
    Order (SCIENCE.md section 2): filter I into S_dyn; S = bias + S_dyn; decay S_hat; spike where
    S - S_hat > theta/2 with theta = theta0 + theta_dyn; on a spike S_hat += theta and
    theta_dyn += m_f * theta; decay theta_dyn; finally the outgoing trace decays and jumps by h.
    """
    k = step_constants(params, dt)
    # fused forms (lerp, addcmul, alpha=) keep the op count low: at small batches the time per
    # dt is the per-op overhead, not the arithmetic
    s_dyn = torch.lerp(state.s_dyn, input_current, 1.0 - k.d_phi)
    s_hat = state.s_hat * k.d_eta
    theta = state.theta_dyn + k.theta0
    # S - S_hat > theta / 2 with S = bias + S_dyn
    spikes = torch.gt((s_dyn + bias) - s_hat, theta * 0.5).to(s_dyn.dtype)
    fired_theta = spikes * theta
    s_hat = s_hat + fired_theta
    theta_dyn = torch.add(state.theta_dyn, fired_theta, alpha=k.m_f).mul_(k.d_gamma)
    trace = torch.add(state.trace * k.d_beta, spikes, alpha=k.h)
    return ASNState(s_dyn, s_hat, theta_dyn, trace), spikes


def reset_where(state: ASNState, reset: Tensor) -> ASNState:
    """Zero the state of the batch rows where ``reset`` (bool, batch shape) is True."""
    keep = (~reset).to(state.trace.dtype).unsqueeze(-1)
    return ASNState(*(x * keep for x in state))


class ASNLayer(nn.Module):
    """A group of ``n`` ASNs with a bias each, as an nn.Module (the bias moves with ``.to``)."""

    def __init__(self, n: int, bias: Tensor | None = None, params: ASNParams = DEFAULT_ASN, dt: float = 1.0):
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        if bias is None:
            bias = torch.zeros(n)
        if bias.shape != (n,):
            raise ValueError(f"bias must have shape ({n},), got {tuple(bias.shape)}")
        self.n, self.params, self.dt = n, params, check_dt(dt)
        self.register_buffer("bias", bias.detach().clone().float())

    def initial_state(self, batch_shape=(), device=None) -> ASNState:
        return initial_state((*tuple(batch_shape), self.n), device=device or self.bias.device)

    def forward(self, input_current: Tensor, state: ASNState | None = None) -> tuple[Tensor, ASNState]:
        """Advance one dt; returns (spikes, new state)."""
        if state is None:
            state = self.initial_state(input_current.shape[:-1], input_current.device)
        state, spikes = asn_step(state, input_current, self.bias, self.params, self.dt)
        return spikes, state


class SpikeRecorder:
    """Records the spikes of one batch element over time, for rasters.

    ``record(spikes)`` takes (batch, n) or (n,) spike tensors; ``raster()`` returns a bool
    tensor (steps, n) on the CPU.
    """

    def __init__(self, batch_index: int = 0) -> None:
        if isinstance(batch_index, bool) or not isinstance(batch_index, int) or batch_index < 0:
            raise ValueError(f"batch_index must be a non-negative integer, got {batch_index!r}")
        self.batch_index = batch_index
        self._frames: list[Tensor] = []

    def record(self, spikes: Tensor) -> None:
        frame = spikes[self.batch_index] if spikes.dim() > 1 else spikes
        self._frames.append(frame.detach().to("cpu", torch.bool))

    def __len__(self) -> int:
        return len(self._frames)

    def raster(self) -> Tensor:
        if not self._frames:
            return torch.zeros(0, 0, dtype=torch.bool)
        return torch.stack(self._frames)


def simulate_constant(
    x: Tensor | list[float],
    duration_ms: float = 3000.0,
    settle_ms: float = 1000.0,
    params: ASNParams = DEFAULT_ASN,
    dt: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Drive one ASN per value of ``x`` with that constant current (bias 0).

    Returns (mean post-synaptic trace, firing rate in Hz) over ``duration_ms`` after ``settle_ms``:
    the simulated counterpart of AF (SCIENCE.md section 3).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    check_dt(dt)
    if not math.isfinite(duration_ms) or duration_ms < dt:
        raise ValueError(f"duration_ms must be at least one step dt={dt}, got {duration_ms!r}")
    if not math.isfinite(settle_ms) or settle_ms < 0:
        raise ValueError(f"settle_ms must be a non-negative number, got {settle_ms!r}")
    state = initial_state(x.shape, dtype=torch.float64)
    for _ in range(round(settle_ms / dt)):
        state, _ = asn_step(state, x, 0.0, params, dt)
    n = round(duration_ms / dt)
    trace_sum = torch.zeros_like(x)
    spike_sum = torch.zeros_like(x)
    for _ in range(n):
        state, spikes = asn_step(state, x, 0.0, params, dt)
        trace_sum += state.trace
        spike_sum += spikes
    return trace_sum / n, spike_sum / (n * dt) * 1000.0
