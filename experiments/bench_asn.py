"""Section ``asn``: one simulated ASN against its effective activation AF (SCIENCE.md section 3):
for constant inputs x, AF(x) beside the mean post-synaptic trace and the firing rate. Written as the
block ``asn-table`` of the results doc's "Spiking twin" section, not into the benchmarks doc."""

from __future__ import annotations

from dataclasses import dataclass

from .bench import BenchContext, Section
from .reporting import markdown_table

HEADER = ["x", "AF(x)", "mean post-synaptic trace", "rate (Hz)", "trace vs AF"]


@dataclass(frozen=True)
class AsnSettings:
    """Constant inputs ``xs``, each simulated for ``duration_ms`` after ``settle_ms`` (dt = 1 ms)."""

    xs: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
    settle_ms: float = 1000.0
    duration_ms: float = 3000.0

    def validate(self) -> None:
        if not self.xs or not all(isinstance(x, int | float) and x > 0 for x in self.xs):
            raise ValueError(f"xs must list positive inputs, got {self.xs!r}")
        for name in ("settle_ms", "duration_ms"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be a positive number of ms, got {getattr(self, name)!r}")


def asn_table(s: AsnSettings) -> list[dict]:
    """One row per x: AF(x), the simulated trace and rate, and their relative difference."""
    import torch
    from sublstm.agents.neuron import af
    from sublstm.spiking.asn import simulate_constant

    trace, rate = simulate_constant(list(s.xs), duration_ms=s.duration_ms, settle_ms=s.settle_ms)
    afx = af(torch.tensor(s.xs, dtype=torch.float64))
    return [
        {"x": x, "af": float(a), "trace": float(t), "rate_hz": float(r), "rel_err": float((t - a) / a)}
        for x, a, t, r in zip(s.xs, afx, trace, rate, strict=True)
    ]


def run(ctx: BenchContext, s: AsnSettings) -> None:
    rows = [
        [
            f"{r['x']:g}",
            f"{r['af']:.3f}",
            f"{r['trace']:.3f}",
            f"{r['rate_hz']:.0f}",
            f"{100 * r['rel_err']:+.1f}%",
        ]
        for r in asn_table(s)
    ]
    table = markdown_table(HEADER, rows)
    print(table)
    text = f"""
### One ASN against AF

dt = 1 ms, constant input x, {s.duration_ms / 1000:g} s measured after a {s.settle_ms / 1000:g} s settle.

{table}
"""
    ctx.write_result_block("asn-table", text, "Spiking twin")


SECTION = Section(
    "asn", "One ASN against AF", run, AsnSettings(), AsnSettings(settle_ms=200.0, duration_ms=500.0), order=5
)
