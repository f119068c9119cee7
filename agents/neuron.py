"""Adaptive spiking neuron (ASN) parameters and its effective activation function AF.

The ASN (Bohte 2012; Zambrano & Bohte 2016) is simulated in :mod:`sublstm.spiking.asn`. An analog
network whose units use AF, the mean post-synaptic trace an ASN produces for a constant activation
S, can be converted to spikes without retraining (SCIENCE.md sections 2-3). The parameters live
here, in agents/, because both the analog network (which needs AF) and the simulator need them;
spiking/ imports them from here, never the other way round.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class ASNParams:
    """Parameters of the adaptive spiking neuron. Times in milliseconds.

    Attributes:
        tau_phi: membrane filter time constant of the activation S.
        tau_beta: decay of the post-synaptic current a spike causes in its targets.
        tau_eta: decay of the neuron's own reconstruction S_hat (refractory response).
            The AF closed form assumes tau_eta == tau_beta.
        tau_gamma: decay of the threshold adaptation.
        m_f: multiplicative adaptation factor.
        theta0: resting threshold; defaults to ``m_f``.
    """

    tau_phi: float = 2.5
    tau_beta: float = 50.0
    tau_eta: float = 50.0
    tau_gamma: float = 15.0
    m_f: float = 0.1
    theta0: float = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.theta0 is None:
            object.__setattr__(self, "theta0", self.m_f)
        for name in ("tau_phi", "tau_beta", "tau_eta", "tau_gamma", "m_f", "theta0"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"ASNParams.{name} must be a positive finite number, got {value!r}")

    # --- the closed form of SCIENCE.md section 3 -------------------------------------------------
    @property
    def af_constants(self) -> tuple[float, float, float, float]:
        """(c1, c2, c3, c4) of g(S) = h / (exp((c1 S + c2) / (c3 S + c4)) - 1)."""
        tg, te, mf, t0 = self.tau_gamma, self.tau_eta, self.m_f, self.theta0
        c1 = 2.0 * mf * tg**2
        c2 = 2.0 * t0 * te * tg
        c3 = tg * (mf * tg + 2.0 * (mf + 1.0) * te)
        c4 = t0 * tg * te + t0 * te**2
        return c1, c2, c3, c4

    def _g_unit(self, s: float) -> float:
        """g(S) for a spike height of 1 (g is linear in h)."""
        c1, c2, c3, c4 = self.af_constants
        return 1.0 / math.expm1((c1 * s + c2) / (c3 * s + c4))

    @property
    def h(self) -> float:
        """Spike height seen by the next neuron, fixed by the normalisation AF(1) = 1."""
        return 1.0 / (self._g_unit(1.0) - self._g_unit(self.theta0 / 2.0) + 0.5)

    @property
    def hz_per_unit(self) -> float:
        """Firing rate (Hz) per unit of mean post-synaptic trace: trace = h * rate * tau_beta."""
        return 1000.0 / (self.h * self.tau_beta)

    def to_dict(self) -> dict[str, float]:
        names = ("tau_phi", "tau_beta", "tau_eta", "tau_gamma", "m_f", "theta0")
        return {k: float(getattr(self, k)) for k in names}


DEFAULT_ASN = ASNParams()


@functools.lru_cache(maxsize=64)
def _af_coefficients(params: ASNParams) -> tuple[float, float, float, float, float]:
    """(a, b, d, h, offset) with AF(S) = max(0, h / (exp(a + b / (S+ + d)) - 1) + offset).

    (c1 S + c2) / (c3 S + c4) = a + b / (S + d): one division instead of two, and the constants are
    computed once per parameter set, not at every call (this runs at every step of every unit).
    """
    c1, c2, c3, c4 = params.af_constants
    h = params.h
    a, d = c1 / c3, c4 / c3
    b = (c2 - c1 * d) / c3
    offset = h * (0.5 - params._g_unit(params.theta0 / 2.0))
    return a, b, d, h, offset


_AF_TENSORS: dict[tuple, tuple[torch.Tensor, ...]] = {}


def _af_tensors(params: ASNParams, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The coefficients as 0-d tensors of ``like``'s dtype and device (cached): tensor-tensor ops
    skip the per-call wrapping of Python floats, a measurable cost for these tiny tensors."""
    key = (params, like.dtype, like.device)
    cached = _AF_TENSORS.get(key)
    if cached is None:
        a, b, d, h, offset = _af_coefficients(params)
        cached = tuple(
            torch.tensor(v, dtype=like.dtype, device=like.device) for v in (a, b, d, h, offset, h * b, 1.0)
        )
        _AF_TENSORS[key] = cached
    return cached


def af_with_grad(
    s: torch.Tensor, params: ASNParams = DEFAULT_ASN, grad: bool = True
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """AF(s) and, with ``grad``, its derivative dAF/dS (None without), outside autograd.

    For code that writes its own backward pass (fused recurrent steps); :func:`af` uses it too.
    """
    a, b, d, h, offset, hb, one = _af_tensors(params, s)
    den = torch.relu(s).add_(d)
    e = torch.exp(torch.div(b, den).add_(a))
    em1 = e - one
    y = torch.relu(torch.div(h, em1).add_(offset))
    if not grad:
        return y, None
    # dg/dS = h b e / ((e - 1)^2 (S + d)^2) where S > 0 and AF > 0; zero on the flat parts
    derivative = torch.mul(e, hb).div_((em1 * den).square_())
    return y, derivative.mul_((s > 0) & (y > 0))


class _AF(torch.autograd.Function):
    """AF with its derivative computed in the forward pass.

    Autograd through the dozen elementwise ops of the closed form dominated the cost of training
    (backpropagation through time calls AF at every step); the analytic derivative is one saved
    tensor and one multiplication in the backward pass.
    """

    @staticmethod
    def forward(ctx, s: torch.Tensor, params: ASNParams) -> torch.Tensor:
        y, derivative = af_with_grad(s, params, grad=ctx.needs_input_grad[0])
        if derivative is not None:
            ctx.save_for_backward(derivative)
        return y

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad_out * grad, None


def af(s: torch.Tensor, params: ASNParams = DEFAULT_ASN) -> torch.Tensor:
    """The ASN effective activation AF(S): a smoothed, saturating ReLU with AF(1) = 1.

    Differentiable everywhere except at the kinks of the two clamps; zero for S <= 0.
    """
    return _AF.apply(s, params)


def predicted_rate_hz(activation: torch.Tensor, params: ASNParams = DEFAULT_ASN) -> torch.Tensor:
    """Firing rate (Hz) an ASN would need to produce a mean trace equal to ``activation``."""
    return activation.clamp(min=0.0) * params.hz_per_unit


#: the fit of :func:`af_asn`: the closed form's excess over the simulated ASN's mean trace, in units
#: of h, is ``LOW_FIT[0] * exp(-LOW_FIT[1] * u) / (1 + (u / LOW_FIT[2]) ** LOW_FIT[3])`` with
#: u = (S - theta0/2) / theta0 (fitted for m_f = 0.1 at dt = 1 ms, 45 activations in (0.05, 0.4])
LOW_FIT = (0.5, 0.7, 0.0279, 0.375)


def af_asn(s: torch.Tensor, params: ASNParams = DEFAULT_ASN) -> torch.Tensor:
    """AF corrected at low activations to the simulated ASN's mean trace.

    The closed form overestimates the ASN there: it gives h/2 at S = theta0/2, where the neuron is
    silent, +45 % at S = 0.06 and +10 % at 0.1 (docs/science.md). This variant is 0 up to
    theta0/2, rises continuously from there and follows the ASN within 0.002 (in trace units,
    m_f = 0.1) for every S; above ~0.4 it is the closed form. Differentiable except at theta0/2,
    where its slope is unbounded (the gradient is taken at u >= 1e-4).
    """
    a, c, scale, power = LOW_FIT
    u = ((s - params.theta0 / 2.0) / params.theta0).clamp(min=1e-4)
    excess = params.h * a * torch.exp(-c * u) / (1.0 + (u / scale) ** power)
    return torch.where(s > params.theta0 / 2.0, torch.relu(af(s, params) - excess), torch.zeros_like(s))


def input_code(obs: torch.Tensor, params: ASNParams = DEFAULT_ASN, gain: float | None = None) -> torch.Tensor:
    """The input units' activations x for observations ``obs``.

    ``gain`` None: AF(obs), the closed form (agents trained before the input code existed). A
    number g in (0, 1]: AF_ASN(g * obs) / AF_ASN(g), the mean trace of an ASN driven by g * obs on
    synapses scaled so that an input of 1 still delivers 1 -- exactly what the spiking twin's input
    neurons deliver at ``TwinTiming.input_gain`` g, for graded observations too. A smaller g means
    fewer, larger input spikes. No gradient flows to the observation, so AF_ASN's unbounded slope
    at theta0/2 does not matter here.
    """
    if gain is None:
        return af(obs, params)
    return af_asn(gain * obs, params) / unit_input_trace(float(gain), params)


@functools.lru_cache(maxsize=64)
def unit_input_trace(gain: float, params: ASNParams = DEFAULT_ASN) -> float:
    """AF_ASN(gain): the mean trace an input of 1 gives at that input gain, which an input code
    (analog or the twin's) divides by (looked up once, not every step)."""
    return float(af_asn(torch.tensor(gain), params))


def check_input_gain(gain) -> float | None:
    """None or a number in (0, 1] (ValueError naming the value otherwise)."""
    if gain is None:
        return None
    ok = isinstance(gain, (int, float)) and not isinstance(gain, bool) and math.isfinite(gain)
    if not ok or not 0 < gain <= 1:
        raise ValueError(f"input_gain must be None or a number in (0, 1], got {gain!r}")
    return float(gain)
