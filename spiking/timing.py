"""The spiking twin's timing: one set of defaults for every entry point that builds a twin.

``SpikingNetwork.from_analog``, ``SpikingPolicy.from_network`` / ``from_agent``, the comparison of
an agent with its twin and the ``sublstm compare`` command all start from :class:`TwinTiming`, so
the same checkpoint gives the same twin whichever of them builds it. docs/results.md ("Spiking
twin") has the measurements behind the defaults.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

#: recurrent delays given by name: "step" delays the recurrent synapses by one step_ms; "hold"
#: holds the previous step's settled memory output on the gates for the whole next step
DELAY_NAMES = ("step", "hold")


class TimingError(ValueError):
    """A bad twin timing value; ``field`` names the TwinTiming field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _multiple(value: float, dt: float) -> bool:
    n = round(value / dt)
    return n >= 1 and abs(n * dt - value) <= 1e-6 * max(1.0, value)


def parse_delay(value: Any) -> float | str:
    """A recurrent delay from text or a number: "step", "hold" or a number of ms (ValueError otherwise)."""
    if isinstance(value, str):
        text = value.strip()
        if text in DELAY_NAMES:
            return text
        try:
            return float(text)
        except ValueError:
            raise TimingError(
                "recurrent_delay_ms",
                f"recurrent_delay_ms must be a number of ms, 'step' or 'hold', got {value!r}",
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


@dataclass(frozen=True)
class TwinTiming:
    """How the spiking twin runs in simulated time.

    Attributes:
        dt: simulation step (ms).
        step_ms: simulated time of one decision (one analog step), a multiple of ``dt``.
        readout_window_ms: the action values are averaged over the last this many ms of each step
            (0: the values at the step's last dt); at most ``step_ms``.
        recurrent_delay_ms: delay of the recurrent synapses (memory-cell output to the gates): a
            multiple of ``dt`` in ms (0: the loop closes within a step), "step" (one ``step_ms``)
            or "hold" (the previous step's h, averaged over its readout window, held on the gates
            all step: the analog order).
    """

    dt: float = 1.0
    step_ms: float = 300.0
    readout_window_ms: float = 10.0
    recurrent_delay_ms: float | str = "hold"

    def __post_init__(self) -> None:
        # numbers as floats and delays given as text ("5") as numbers, so equal timings compare
        # equal; anything else is left for validate() to refuse
        for name in ("dt", "step_ms", "readout_window_ms", "recurrent_delay_ms"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        delay = self.recurrent_delay_ms
        if isinstance(delay, str) and delay.strip() not in DELAY_NAMES:
            with contextlib.suppress(ValueError):
                object.__setattr__(self, "recurrent_delay_ms", float(delay))
        elif isinstance(delay, str):
            object.__setattr__(self, "recurrent_delay_ms", delay.strip())

    def validate(self) -> TwinTiming:
        """Raise :class:`TimingError` naming the first bad field; returns self."""
        if not _number(self.dt) or self.dt <= 0:
            raise TimingError("dt", f"dt must be a positive number of ms, got {self.dt!r}")
        if not _number(self.step_ms) or self.step_ms <= 0:
            raise TimingError("step_ms", f"step_ms must be a positive number of ms, got {self.step_ms!r}")
        if not _multiple(self.step_ms, self.dt):
            raise TimingError(
                "step_ms", f"step_ms must be a multiple of dt={self.dt:g}, got {self.step_ms!r}"
            )
        window = self.readout_window_ms
        if not _number(window) or not 0 <= window <= self.step_ms:
            raise TimingError(
                "readout_window_ms",
                f"readout_window_ms must be a number in [0, step_ms={self.step_ms:g}], got {window!r}",
            )
        delay = self.recurrent_delay_ms
        if isinstance(delay, str):
            if delay not in DELAY_NAMES:
                raise TimingError(
                    "recurrent_delay_ms",
                    f"recurrent_delay_ms must be a number of ms, 'step' or 'hold', got {delay!r}",
                )
        elif not _number(delay) or delay < 0 or (delay > 0 and not _multiple(delay, self.dt)):
            raise TimingError(
                "recurrent_delay_ms",
                f"recurrent_delay_ms must be 0, a positive multiple of dt={self.dt:g} ms, 'step' or "
                f"'hold', got {delay!r}",
            )
        return self

    def replace(self, **changes: Any) -> TwinTiming:
        """A copy with ``changes`` (TwinTiming field names), validated; unknown names raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown twin timing field(s) {unknown}; known: {sorted(known)}")
        if "recurrent_delay_ms" in changes:
            changes["recurrent_delay_ms"] = parse_delay(changes["recurrent_delay_ms"])
        return dataclasses.replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def resolve_timing(timing: TwinTiming | None = None, **changes: Any) -> TwinTiming:
    """``timing`` (default :class:`TwinTiming`) with ``changes`` applied, validated."""
    if timing is None:
        timing = TwinTiming()
    elif not isinstance(timing, TwinTiming):
        raise ValueError(f"timing must be a TwinTiming or None, got {type(timing).__name__}")
    return timing.replace(**changes)
