"""Statistics of the gating grid: mean and spread over seeds, a permutation test, a trend."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def mean_sd(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation, ignoring None and NaN (NaN, NaN when nothing is left)."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def fmt_mean_sd(values: Sequence[float | None], spec: str = ".2f") -> str:
    """``mean ± sd`` for a table cell; ``–`` when there is nothing to average."""
    m, s = mean_sd(values)
    return "–" if math.isnan(m) else f"{m:{spec}} ± {s:{spec}}"


def permutation_p(a: Sequence[float], b: Sequence[float], n: int = 20_000, seed: int = 0) -> float:
    """Two-sided permutation p-value for a difference of means between samples a and b."""
    import numpy as np

    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a_) == 0 or len(b_) == 0:
        return float("nan")
    pooled = np.concatenate([a_, b_])
    observed = abs(a_.mean() - b_.mean())
    rng = np.random.default_rng(seed)
    perms = np.stack([rng.permutation(pooled) for _ in range(n)])
    diffs = np.abs(perms[:, : len(a_)].mean(1) - perms[:, len(a_) :].mean(1))
    return float((np.sum(diffs >= observed - 1e-12) + 1) / (n + 1))


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys against xs (NaN with fewer than two distinct xs)."""
    if len(set(xs)) < 2:
        return float("nan")
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
