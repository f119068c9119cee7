"""af_asn: the effective activation corrected at low activations, against the simulated ASN."""

import torch
from sublstm.agents.neuron import DEFAULT_ASN, ASNParams, af, af_asn
from sublstm.spiking.asn import simulate_constant

LOW = [0.03, 0.05, 0.052, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0]


def test_matches_the_simulated_asn_where_the_closed_form_does_not():
    x = torch.tensor(LOW, dtype=torch.float64)
    trace, _ = simulate_constant(x, duration_ms=6000.0, settle_ms=1000.0)
    corrected = af_asn(x.float()).double()
    closed = af(x.float()).double()
    assert (corrected - trace).abs().max() < 0.006, corrected - trace
    # the closed form is off by ~h/2 at theta0/2 and by > 0.02 at 0.06
    assert (closed - trace)[1] > 0.05 and (closed - trace)[3] > 0.02
    assert corrected[0] == corrected[1] == 0.0  # silent up to theta0/2, as the neuron


def test_continuous_monotone_and_differentiable_above_threshold():
    s = torch.linspace(0.0, 3.0, 3001, requires_grad=True)
    y = af_asn(s)
    assert torch.all(y[1:] >= y[:-1]) and (y[1:] - y[:-1]).abs().max() < 0.03  # steep at theta0/2, as the ASN
    y.sum().backward()
    assert torch.isfinite(s.grad).all() and (s.grad[s.detach() > 0.06] > 0).all()
    big = torch.tensor([0.5, 1.0, 2.0])
    assert torch.allclose(af_asn(big), af(big), atol=1e-3)  # the closed form where it is right


def test_scales_with_theta0():
    # raising theta0 (m_f fixed) rescales the neuron: silent up to the new theta0/2
    params = ASNParams(theta0=0.2)
    assert af_asn(torch.tensor([0.1]), params).item() == 0.0 < af_asn(torch.tensor([0.12]), params).item()
    assert DEFAULT_ASN.theta0 == 0.1
