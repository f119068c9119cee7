"""AF, the ASN effective activation: closed form, the SCIENCE.md section-3 table, derivative."""

import math

import pytest
import torch
from sublstm.agents.neuron import ASNParams, af, predicted_rate_hz

P = ASNParams()

# SCIENCE.md section 3: x -> AF(x), rounded to 3 decimals there
TABLE = [(0.05, 0.062), (0.1, 0.124), (0.2, 0.243), (0.5, 0.564), (1.0, 1.000), (2.0, 1.628), (5.0, 2.607)]


def closed_form(s: float) -> float:
    tg, te, mf, t0 = P.tau_gamma, P.tau_eta, P.m_f, P.theta0
    c1, c2 = 2 * mf * tg**2, 2 * t0 * te * tg
    c3, c4 = tg * (mf * tg + 2 * (mf + 1) * te), t0 * tg * te + t0 * te**2

    def g(x):
        return P.h / (math.exp((c1 * x + c2) / (c3 * x + c4)) - 1)

    return max(0.0, g(max(s, 0.0)) - g(t0 / 2) + P.h / 2)


def test_spike_height_normalises_af_at_one():
    assert P.h == pytest.approx(0.12443, abs=5e-5)
    assert float(af(torch.tensor(1.0))) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("x,expected", TABLE)
def test_af_matches_science_table(x, expected):
    assert float(af(torch.tensor(x, dtype=torch.float64))) == pytest.approx(expected, abs=1.5e-3)


def test_af_matches_independent_closed_form_and_is_zero_below_zero():
    xs = torch.linspace(-2.0, 20.0, 301, dtype=torch.float64)
    got = af(xs)
    want = torch.tensor([closed_form(float(x)) for x in xs], dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-10)
    assert torch.all(got[xs < 0] == got[xs < 0].min())  # flat for negative input
    assert float(af(torch.tensor(-1.0))) == pytest.approx(float(af(torch.tensor(0.0))))
    assert torch.all(got.diff() >= -1e-12)  # monotone
    assert float(af(torch.tensor(1e4, dtype=torch.float64))) < 4.5  # saturates near 4.3


def test_af_gradient_gradcheck_away_from_kinks():
    s = torch.tensor([0.03, 0.1, 0.4, 1.0, 2.5, 7.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: af(x), (s,))
    (grad,) = torch.autograd.grad(af(s).sum(), s)
    assert torch.all(grad[1:] < grad[:-1])  # concave on S > 0


def test_predicted_rate_at_one_is_about_160_hz():
    assert float(predicted_rate_hz(torch.tensor(1.0))) == pytest.approx(160.7, abs=1.0)
