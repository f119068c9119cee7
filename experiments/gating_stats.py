"""Statistics of the gating grid: intervals for rates and means, differences, trends and power.

Everything is plain Python and numpy (no scipy): Wilson intervals for proportions, Newcombe's hybrid
score interval for a difference of proportions, percentile bootstrap intervals for means, for
differences of means and for least-squares slopes (resampling runs within each noise level), the
power of a two-sided two-proportion z-test and the smallest difference a design detects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

LEVEL = 0.95  # every interval's confidence level
BOOTSTRAP = 10_000  # bootstrap resamples


def _z(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (NaN where there is nothing to estimate) and sample size."""

    value: float
    low: float
    high: float
    n: int

    def text(self, spec: str = ".2f", signed: bool = False) -> str:
        """``value [low, high]`` for a table cell; ``–`` when there is nothing."""
        if math.isnan(self.value):
            return "–"
        s = f"+{spec}" if signed else spec
        return f"{self.value:{s}} [{self.low:{s}}, {self.high:{s}}]"

    def excludes_zero(self) -> bool:
        return not math.isnan(self.low) and (self.low > 0 or self.high < 0)


NOTHING = Estimate(math.nan, math.nan, math.nan, 0)


def wilson(successes: int, n: int, level: float = LEVEL) -> Estimate:
    """A proportion ``successes / n`` with its Wilson score interval."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return NOTHING
    z, p = _z(level), successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def newcombe(k1: int, n1: int, k2: int, n2: int, level: float = LEVEL) -> Estimate:
    """The difference of proportions k1/n1 - k2/n2 with Newcombe's hybrid score interval (method 10)."""
    if n1 == 0 or n2 == 0:
        return NOTHING
    a, b = wilson(k1, n1, level), wilson(k2, n2, level)
    d = a.value - b.value
    low = d - math.sqrt((a.value - a.low) ** 2 + (b.high - b.value) ** 2)
    high = d + math.sqrt((a.high - a.value) ** 2 + (b.value - b.low) ** 2)
    return Estimate(d, max(-1.0, low), min(1.0, high), n1 + n2)


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)


def _percentiles(draws: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_mean(
    values: Sequence[float | None], level: float = LEVEL, n_boot: int = BOOTSTRAP, seed: int = 0
) -> Estimate:
    """The mean of ``values`` (None and NaN left out) with a percentile bootstrap interval."""
    x = _clean(values)
    if len(x) == 0:
        return NOTHING
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(1)
    return Estimate(float(x.mean()), *_percentiles(draws, level), len(x))


def bootstrap_difference(
    a: Sequence[float | None],
    b: Sequence[float | None],
    level: float = LEVEL,
    n_boot: int = BOOTSTRAP,
    seed: int = 0,
) -> Estimate:
    """mean(a) - mean(b) of two independent samples with a percentile bootstrap interval."""
    x, y = _clean(a), _clean(b)
    if len(x) == 0 or len(y) == 0:
        return NOTHING
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(1) - y[
        rng.integers(0, len(y), (n_boot, len(y)))
    ].mean(1)
    return Estimate(float(x.mean() - y.mean()), *_percentiles(draws, level), len(x) + len(y))


def _slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least-squares slopes of y against x along the last axis (rows are resamples)."""
    xc = x - x.mean(-1, keepdims=True)
    return (xc * (y - y.mean(-1, keepdims=True))).sum(-1) / (xc * xc).sum(-1)


def _strata_resample(xs: np.ndarray, ys: np.ndarray, rng, n_boot: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample (x, y) pairs within each distinct x: the design (runs per noise level) stays fixed."""
    idx = []
    for level_x in np.unique(xs):
        rows = np.flatnonzero(xs == level_x)
        idx.append(rows[rng.integers(0, len(rows), (n_boot, len(rows)))])
    idx = np.concatenate(idx, axis=1)
    return xs[idx], ys[idx]


def bootstrap_slope(
    xs: Sequence[float], ys: Sequence[float], level: float = LEVEL, n_boot: int = BOOTSTRAP, seed: int = 0
) -> Estimate:
    """Least-squares slope of ys against xs with a bootstrap interval (pairs resampled within each x)."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(x) != len(y):
        raise ValueError(f"xs and ys must have one length, got {len(x)} and {len(y)}")
    if len(np.unique(x)) < 2:
        return NOTHING
    rng = np.random.default_rng(seed)
    bx, by = _strata_resample(x, y, rng, n_boot)
    return Estimate(float(_slope(x, y)), *_percentiles(_slope(bx, by), level), len(x))


def bootstrap_slope_difference(
    a: tuple[Sequence[float], Sequence[float]],
    b: tuple[Sequence[float], Sequence[float]],
    level: float = LEVEL,
    n_boot: int = BOOTSTRAP,
    seed: int = 0,
) -> Estimate:
    """slope(a) - slope(b) for two samples of (xs, ys), each resampled within its x levels."""
    (xa, ya), (xb, yb) = [(np.asarray(x, dtype=float), np.asarray(y, dtype=float)) for x, y in (a, b)]
    if len(np.unique(xa)) < 2 or len(np.unique(xb)) < 2:
        return NOTHING
    rng = np.random.default_rng(seed)
    draws = _slope(*_strata_resample(xa, ya, rng, n_boot)) - _slope(*_strata_resample(xb, yb, rng, n_boot))
    value = float(_slope(xa, ya) - _slope(xb, yb))
    return Estimate(value, *_percentiles(draws, level), len(xa) + len(xb))


def power_two_proportions(p1: float, p2: float, n1: int, n2: int, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion z-test (pooled variance under H0) to tell p1 from p2
    with n1 and n2 runs (normal approximation)."""
    if n1 < 1 or n2 < 1:
        return math.nan
    if not (0 <= p1 <= 1 and 0 <= p2 <= 1):
        raise ValueError(f"proportions must be in [0, 1], got {p1} and {p2}")
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    se0 = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    se1 = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if se1 == 0:
        return 1.0 if p1 != p2 else alpha
    z = _z(1 - alpha)
    d = abs(p1 - p2)
    nd = NormalDist()
    return nd.cdf((d - z * se0) / se1) + nd.cdf((-d - z * se0) / se1)


def detectable_difference(
    base: float, n1: int, n2: int, power: float = 0.8, alpha: float = 0.05, step: float = 0.005
) -> float:
    """The smallest rise over the proportion ``base`` that the two-proportion test detects with
    ``power`` at n1, n2 runs (NaN when even base -> 1 is not enough)."""
    d = step
    while base + d <= 1:
        if power_two_proportions(base + d, base, n1, n2, alpha) >= power:
            return d
        d += step
    return math.nan


def detectable_mean_difference(sd_a: float, sd_b: float, n1: int, n2: int, power: float = 0.8) -> float:
    """The smallest difference of means a two-sided z-test at 5 % detects with ``power`` (normal
    approximation with the samples' standard deviations)."""
    if n1 < 2 or n2 < 2:
        return math.nan
    nd = NormalDist()
    return (nd.inv_cdf(0.975) + nd.inv_cdf(power)) * math.sqrt(sd_a**2 / n1 + sd_b**2 / n2)


def runs_for_power(
    p1: float, p2: float, power: float = 0.8, alpha: float = 0.05, limit: int = 100_000
) -> int:
    """Runs per cell (equal sizes) the two-proportion test needs to tell p1 from p2 with ``power``."""
    if p1 == p2:
        raise ValueError("p1 and p2 must differ")
    lo, hi = 1, 1
    while power_two_proportions(p1, p2, hi, hi, alpha) < power:
        lo, hi = hi, hi * 2
        if hi > limit:
            return limit
    while lo < hi:
        mid = (lo + hi) // 2
        if power_two_proportions(p1, p2, mid, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid + 1
    return hi
