"""The spiking twin's timing: one set of defaults for every entry point that builds a twin.

``SpikingNetwork.from_analog``, ``SpikingPolicy.from_network`` / ``from_agent``, the comparison of
an agent with its twin and the ``sublstm compare`` command all start from :class:`TwinTiming`, so
the same checkpoint gives the same twin whichever of them builds it. docs/results.md ("Spiking
twin") has the measurements behind the defaults.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

#: recurrent delays given by name: "step" delays the recurrent synapses by one step_ms (a delay
#: line of spikes); "hold" holds the previous step's settled memory output on the gates for the
#: whole next step (a clocked register of a graded value: not spiking, never the default). A
#: fraction of a step is written "<f>step", e.g. "0.5step".
DELAY_NAMES = ("step", "hold")
STEP_SUFFIX = "step"


def step_fraction(delay: Any) -> float | None:
    """The fraction of a step a delay like "step" or "0.5step" names (None for other values)."""
    if not isinstance(delay, str) or not delay.endswith(STEP_SUFFIX):
        return None
    head = delay[: -len(STEP_SUFFIX)].strip()
    if not head:
        return 1.0
    try:
        value = float(head)
    except ValueError:
        return None
    return value if math.isfinite(value) and 0 < value <= 1 else None


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
        if text in DELAY_NAMES or step_fraction(text) is not None:
            return text
        try:
            return float(text)
        except ValueError:
            raise TimingError(
                "recurrent_delay_ms",
                f"recurrent_delay_ms must be a number of ms, 'step', '<f>step' (0 < f <= 1) or 'hold', "
                f"got {value!r}",
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def parse_delay_or_none(value: Any) -> float | str | None:
    """:func:`parse_delay` of ``value``, or None where it is no delay."""
    try:
        return parse_delay(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class TwinTiming:
    """How the spiking twin runs in simulated time.

    Attributes:
        dt: simulation step (ms).
        step_ms: simulated time of one decision (one analog step), a multiple of ``dt``.
        readout_window_ms: the action values are averaged over the last this many ms of each step
            (0: the values at the step's last dt); at most ``step_ms``.
        recurrent_delay_ms: delay of the recurrent synapses (memory-cell output to the gates): a
            multiple of ``dt`` in ms (0: the loop closes within a step), "step" (one ``step_ms``),
            "<f>step" (a fraction f of it) or "hold" (the previous step's h, averaged over its
            readout window, held on the gates all step: the analog order, but a register of a
            graded value, not spikes).
        output_gate_delay_ms: the delay of the recurrent synapses onto the output gate, in the
            same forms (None: ``recurrent_delay_ms``); ignored where ``recurrent_delay_ms`` is
            "hold" (which holds h for every gate), and "hold" only then.
        cec_from, cec_to: the memory cell integrates its input during this part of each step
            (fractions of ``step_ms``, 0 <= cec_from < cec_to <= 1), with gain 1/(its length), so
            one step still adds z - i. An integration window early in the step leaves the cell,
            and so the memory output h, settled for the rest of the step: what a spike delay line
            then carries into the next step is h_{t-1}, not its ramp.
        input_gain: the input neurons' current is ``input_gain`` times the observation, and their
            synapses are scaled up so that an input of 1 still delivers AF(1) on average (exact
            for binary observations, approximate for graded ones): in (0, 1], fewer and larger
            input spikes the smaller it is (an input code of the twin; the analog net is
            unchanged). A network trained with an input code of its own
            (``Hyperparams.input_gain``) gives its twin that gain where the timing leaves this at
            1 (:func:`analog_timing`); its twin is then exact for graded observations too.
    """

    dt: float = 1.0
    step_ms: float = 300.0
    readout_window_ms: float = 10.0
    # all-spiking by default: spike delay lines of half a step onto z and i and of a whole step
    # onto o, and the memory cell integrating during [1/3, 1/2] of each step (docs/science.md,
    # "The spiking twin's clock")
    recurrent_delay_ms: float | str = "0.5step"
    output_gate_delay_ms: float | str | None = "step"
    cec_from: float = 1 / 3
    cec_to: float = 0.5
    input_gain: float = 1.0

    def __post_init__(self) -> None:
        # numbers as floats and delays given as text ("5") as numbers, so equal timings compare
        # equal; anything else is left for validate() to refuse
        names = ("dt", "step_ms", "readout_window_ms", "recurrent_delay_ms", "output_gate_delay_ms")
        for name in (*names, "cec_from", "cec_to", "input_gain"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        for name in ("recurrent_delay_ms", "output_gate_delay_ms"):
            delay = getattr(self, name)
            if isinstance(delay, str) and parse_delay_or_none(delay) is not None:
                object.__setattr__(self, name, parse_delay_or_none(delay))

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
        for name in ("recurrent_delay_ms", "output_gate_delay_ms"):
            delay = getattr(self, name)
            if delay is None and name == "output_gate_delay_ms":
                continue
            if isinstance(delay, str):
                if delay not in DELAY_NAMES and step_fraction(delay) is None:
                    raise TimingError(
                        name, f"{name} must be a number of ms, 'step', '<f>step' or 'hold', got {delay!r}"
                    )
            elif not _number(delay) or delay < 0 or (delay > 0 and not _multiple(delay, self.dt)):
                raise TimingError(
                    name,
                    f"{name} must be 0, a positive multiple of dt={self.dt:g} ms, 'step', '<f>step' or "
                    f"'hold', got {delay!r}",
                )
        if self.output_gate_delay_ms == "hold" and self.recurrent_delay_ms != "hold":
            raise TimingError(
                "output_gate_delay_ms",
                "output_gate_delay_ms may be 'hold' only with recurrent_delay_ms 'hold'",
            )
        lo, hi = self.cec_from, self.cec_to
        if not (_number(lo) and _number(hi) and 0 <= lo < hi <= 1):
            raise TimingError(
                "cec_from" if not (_number(lo) and 0 <= lo < 1) else "cec_to",
                f"cec_from and cec_to must be fractions of the step with 0 <= cec_from < cec_to <= 1, "
                f"got {lo!r} and {hi!r}",
            )
        gain = self.input_gain
        if not _number(gain) or not 0 < gain <= 1:
            raise TimingError("input_gain", f"input_gain must be a number in (0, 1], got {gain!r}")
        if round((hi - lo) * self.step_ms / self.dt) < 1:
            raise TimingError("cec_to", f"the integration window must span at least one dt={self.dt:g} ms")
        return self

    def delay_steps(self, name: str = "recurrent_delay_ms") -> int | str:
        """A delay field as a number of dt steps ("hold" stays "hold"; output_gate_delay_ms None:
        the recurrent delay's)."""
        delay = getattr(self, name)
        if delay is None or self.recurrent_delay_ms == "hold":
            delay = self.recurrent_delay_ms
        if delay == "hold":
            return "hold"
        fraction = step_fraction(delay)
        ms = fraction * self.step_ms if fraction is not None else delay
        return round(ms / self.dt)

    def replace(self, **changes: Any) -> TwinTiming:
        """A copy with ``changes`` (TwinTiming field names), validated; unknown names raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown twin timing field(s) {unknown}; known: {sorted(known)}")
        for name in ("recurrent_delay_ms", "output_gate_delay_ms"):
            if changes.get(name) is not None:
                changes[name] = parse_delay(changes[name])
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


def analog_timing(network: Any, timing: TwinTiming | None = None, **changes: Any) -> TwinTiming:
    """The timing of ``network``'s twin: :func:`resolve_timing`, whose input code follows the
    network's ``input_gain`` (the code it was trained with, agents.neuron.input_code) unless
    ``changes`` name one or ``timing`` has one other than 1."""
    resolved = resolve_timing(timing, **changes)
    trained = getattr(network, "input_gain", None)
    if trained is not None and "input_gain" not in changes and resolved.input_gain == 1.0:
        resolved = resolved.replace(input_gain=trained)
    return resolved
