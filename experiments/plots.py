"""Figures shared by runs and experiments (matplotlib with the Agg backend, imported lazily)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .reporting import TARGET_SUCCESS


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curve(
    path: str | Path,
    evals: Sequence[dict],
    episodes: Sequence[dict] = (),
    title: str = "",
    x: str = "timesteps",
    metric: str = "success_rate",
    ylabel: str = "success rate",
    target: float | None = TARGET_SUCCESS,
) -> Path:
    """Deterministic evaluations (line with markers) and, if given, the rolling training success.

    ``evals`` rows need ``x`` and ``metric``; ``episodes`` rows need ``x`` and ``success`` (0/1 or
    None). For the supervised sequence task pass ``x="update"``, ``metric="final_accuracy"`` and
    ``ylabel="final-symbol accuracy"``.
    """
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    scored = [e for e in episodes if e.get("success") is not None]
    if scored:
        t = np.array([e[x] for e in scored], dtype=float)
        succ = np.array([float(e["success"]) for e in scored])
        k = min(100, len(succ))
        roll = np.convolve(succ, np.ones(k) / k, mode="valid")
        ax.plot(t[k - 1 :], roll, color="tab:orange", lw=1, label=f"training episodes (mean of last {k})")
    if evals:
        ax.plot(
            [e[x] for e in evals],
            [e[metric] for e in evals],
            "o-",
            color="tab:blue",
            ms=3,
            label="deterministic evaluation" if metric == "success_rate" else metric.replace("_", " "),
        )
    if target is not None:
        ax.axhline(target, color="grey", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("environment steps" if x == "timesteps" else x.replace("_", " ") + "s")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if scored or evals:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
