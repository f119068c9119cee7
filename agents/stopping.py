"""The early-stop rule of ``learn``: stop once the success rate (or the mean return) has reached
its target in ``patience`` evaluations in a row.

An env that reports no ``info["success"]`` gives NaN success rates, which never reach a target:
:meth:`StopRule.unavailable` then says so, and which rule applies instead (the mean return when
``stop_at_return`` is set, else none: training runs the full ``total_timesteps``).
"""

from __future__ import annotations

import math
from typing import Any


def _streak(history: list[dict[str, Any]], key: str, target: float) -> int:
    """How many of the latest records in a row have ``record[key] >= target`` (NaN breaks it)."""
    streak = 0
    for record in reversed(history):
        value = record.get(key, float("nan"))
        if math.isnan(value) or value < target:
            break
        streak += 1
    return streak


def _in_a_row(patience: int) -> str:
    return "in 1 evaluation" if patience == 1 else f"in {patience} evaluations in a row"


class StopRule:
    """``stop_at_success`` and ``stop_at_return`` (either may be None) with ``patience``."""

    def __init__(self, stop_at_success: float | None, stop_at_return: float | None, patience: int) -> None:
        self.stop_at_success, self.stop_at_return, self.patience = stop_at_success, stop_at_return, patience

    @property
    def active(self) -> bool:
        return self.stop_at_success is not None or self.stop_at_return is not None

    def reason(self, history: list[dict[str, Any]]) -> str | None:
        """Why training should stop now, or None."""
        rules = (
            ("success_rate", "success", self.stop_at_success),
            ("mean_return", "mean return", self.stop_at_return),
        )
        for key, label, target in rules:
            if target is not None and _streak(history, key, target) >= self.patience:
                return f"{label} >= {target:g} {_in_a_row(self.patience)}"
        return None

    def unavailable(self, record: dict[str, Any], total_timesteps: int) -> str | None:
        """A warning when ``stop_at_success`` is set but ``record`` has no success rate, else None."""
        if self.stop_at_success is None or not math.isnan(record.get("success_rate", float("nan"))):
            return None
        head = "the env reports no info['success'], so stop_at_success cannot apply"
        if self.stop_at_return is not None:
            return f"{head}; training stops on mean return >= {self.stop_at_return:g} (stop_at_return)"
        return f"{head} and stop_at_return is None: training will run the full {total_timesteps:,} timesteps"

    def no_evaluations(self, eval_interval: int, total_timesteps: int) -> str | None:
        """A warning when a stop rule is set but no evaluation will run to apply it, else None."""
        if not self.active or eval_interval:
            return None
        return (
            "eval_interval=0 runs no evaluations, so no stop rule can apply: training will run the "
            f"full {total_timesteps:,} timesteps"
        )
