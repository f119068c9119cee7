"""The agent's settings as dataclasses: :class:`Hyperparams` (what shapes learning) and
:class:`LearnSettings` (how long to train, how often to evaluate, when to stop).

Both validate themselves: ``.validate()`` raises ValueError naming the bad field and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from .advantage import check_unit_interval
from .neuron import check_input_gain


def check_int(name: str, value: Any, minimum: int, *, numpy_ok: bool = True) -> int:
    """An int >= ``minimum`` (bools refused; numpy ints unless not ``numpy_ok``), else ValueError."""
    types = (int, np.integer) if numpy_ok else int
    if isinstance(value, bool) or not isinstance(value, types) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_number(name: str, value: Any, *, minimum: float | None = None, strict: bool = False) -> float:
    """A finite real number (bools refused), optionally >= (or > with ``strict``) ``minimum``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if not ok:
        bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return float(value)


LEARNING_STARTS_UNITS = ("episodes", "steps")


@dataclass
class Hyperparams:
    """Everything that shapes learning. Defaults solve the noisy T-maze (corridor 10); see docs/results.md."""

    n_hidden: int = 16
    n_cells: int = 8
    n_envs: int = 16
    learning_rate: float = 3e-3
    batch_episodes: int = 32
    buffer_episodes: int = 2000
    learning_starts: int = 64  # episodes in the buffer before the first update (see the unit below)
    # what learning_starts counts: "episodes" in the replay, or "steps" taken (then updates also wait
    # for n_envs finished episodes); long corridors count steps, so that their first episodes, which
    # all time out, do not use up the epsilon schedule (counted in steps) before the first update
    learning_starts_unit: str = "episodes"
    train_every: int = 1  # vector steps between rounds of updates
    gradient_steps: int = 1
    gamma: float = 0.98
    lam: float = 0.8
    kappa: float = 0.5
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: int = 30_000  # timesteps over which epsilon falls linearly
    max_grad_norm: float = 1.0
    target_update_interval: int = 0  # updates between target-network copies; 0: no target network
    huber_delta: float = 0.0  # 0: squared error
    # coefficient of the mean AF activation in the loss: firing rates of the spiking twin near
    # biological ones (~10 Hz over all ASNs; docs/results.md "Spiking twin")
    rate_penalty: float = 2.0
    # coefficient of the mean cell-input and input-gate activation (z, i) in the loss: where both
    # are ~0 the memory cell cannot drift, neither in the analog net nor in its spiking twin
    gate_rate_penalty: float = 0.0
    # when the rate penalties (both above) apply: None, from the first update; a success rate, from
    # the first evaluation that reaches it, rising linearly to full weight over rate_penalty_ramp
    # timesteps, and a stop rule then counts only evaluations taken after that (penalty_scale,
    # stop_history). Cells whose gates multiply learn under a penalty only this way: from the first
    # update it silences their gate neurons, where AF passes no gradient
    rate_penalty_after: float | None = None
    rate_penalty_ramp: int = 0
    # noise-aware training (online network, loss only; acting and evaluation stay noise-free):
    # std of Gaussian noise on the signals the spiking twin carries as traces (x, a, h) ...
    train_noise: float = 0.1
    # ... and on each step's memory-cell increment z - i; both widen the analog decision margins,
    # so that the twin's rate errors flip fewer near-ties
    train_cell_noise: float = 0.05
    # the input units' code (agents.neuron.input_code): None, AF(obs) in the closed form; a gain g in
    # (0, 1], the simulated ASN's mean trace at g * obs, scaled so that an input of 1 gives 1 --
    # what the spiking twin's input neurons deliver (its input_gain follows), graded inputs too.
    # The input layer fires at ~161 Hz per unit of input at g = 1, and no rate penalty reaches it
    input_gain: float | None = None

    def validate(self) -> None:
        for name in (
            "n_hidden",
            "n_cells",
            "n_envs",
            "batch_episodes",
            "buffer_episodes",
            "train_every",
            "gradient_steps",
        ):
            check_int(name, getattr(self, name), 1, numpy_ok=False)  # plain ints: the config is JSON
        for name in ("learning_starts", "eps_decay_steps", "target_update_interval", "rate_penalty_ramp"):
            check_int(name, getattr(self, name), 0, numpy_ok=False)
        for name in ("learning_rate", "max_grad_norm"):
            check_number(name, getattr(self, name), minimum=0.0, strict=True)
        for name in ("huber_delta", "rate_penalty", "gate_rate_penalty", "train_noise", "train_cell_noise"):
            check_number(name, getattr(self, name), minimum=0.0)
        for name in ("gamma", "lam", "eps_start", "eps_end"):
            check_unit_interval(name, getattr(self, name))
        check_unit_interval("kappa", self.kappa, open_low=True)
        if self.rate_penalty_after is not None:
            check_unit_interval("rate_penalty_after", self.rate_penalty_after, open_low=True)
        check_input_gain(self.input_gain)
        if self.learning_starts_unit not in LEARNING_STARTS_UNITS:
            raise ValueError(
                f"learning_starts_unit must be one of {list(LEARNING_STARTS_UNITS)}, "
                f"got {self.learning_starts_unit!r}"
            )
        if self.batch_episodes > self.buffer_episodes:
            raise ValueError(
                f"batch_episodes ({self.batch_episodes}) must not exceed "
                f"buffer_episodes ({self.buffer_episodes})"
            )


HYPERPARAM_NAMES = tuple(f.name for f in fields(Hyperparams))
# fields that change nothing at their defaults and were added after runs were first stored
NEUTRAL_AT_DEFAULT = ("rate_penalty_after", "rate_penalty_ramp", "input_gain")


def hyperparams_record(hp: Hyperparams) -> dict[str, Any]:
    """Every hyperparameter as a plain dict, less the NEUTRAL_AT_DEFAULT fields at their defaults:
    the form stored with runs, so that a run stored before such a field existed names the same
    learning rule as one stored after it."""
    defaults = Hyperparams()
    out = asdict(hp)
    for name in NEUTRAL_AT_DEFAULT:
        if out[name] == getattr(defaults, name):
            del out[name]
    return out


def updates_may_start(hp: Hyperparams, timesteps, episodes):
    """Whether an agent that has taken ``timesteps`` steps and holds ``episodes`` finished episodes
    may begin its updates (``learning_starts`` in its unit); elementwise for numpy arrays, so that a
    population and a single agent follow one rule."""
    if hp.learning_starts_unit == "episodes":
        return episodes >= max(hp.learning_starts, hp.batch_episodes)
    return (timesteps >= hp.learning_starts) & (episodes >= hp.n_envs)


def penalty_on_at(hp: Hyperparams, history: list[dict[str, Any]]) -> float:
    """The timestep from which the rate penalties apply: 0 without ``rate_penalty_after``, else the
    first evaluation in ``history`` whose success rate reached it (inf while none has)."""
    if hp.rate_penalty_after is None:
        return 0.0
    for record in history:
        if record.get("success_rate", -1.0) >= hp.rate_penalty_after:  # NaN (no success info) never
            return float(record["timesteps"])
    return math.inf


def ramp_weight(t: float, on: float, ramp: int) -> float:
    """A penalty's weight at time ``t`` (steps or updates) when it switches on at ``on`` (inf: not
    yet): 0 before, then rising linearly to 1 over ``ramp`` (at once when 0)."""
    if t < on:
        return 0.0
    return 1.0 if ramp == 0 else min(1.0, (t - on) / ramp)


def penalty_scale(hp: Hyperparams, history: list[dict[str, Any]], timesteps: int) -> float:
    """The weight (0 to 1) of the rate penalties at ``timesteps`` for an agent with evaluation
    ``history``: 0 before :func:`penalty_on_at`, then rising linearly over ``rate_penalty_ramp``."""
    return ramp_weight(timesteps, penalty_on_at(hp, history), hp.rate_penalty_ramp)


def penalised(hp: Hyperparams, scale: float) -> Hyperparams:
    """``hp`` with both rate penalties weighed by ``scale`` (``hp`` itself at 1)."""
    if scale == 1.0:
        return hp
    return replace(hp, rate_penalty=hp.rate_penalty * scale, gate_rate_penalty=hp.gate_rate_penalty * scale)


def stop_history(hp: Hyperparams, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evaluations a stop rule may count: all of them, or with ``rate_penalty_after``, those of
    a net trained at the penalties' full weight (after the switch and its ramp)."""
    if hp.rate_penalty_after is None:
        return history
    on = penalty_on_at(hp, history)
    return [r for r in history if r["timesteps"] > on and r["timesteps"] >= on + hp.rate_penalty_ramp]


@dataclass
class LearnSettings:
    """Arguments of :meth:`AdvantageAgent.learn`: ``agent.learn(**dataclasses.asdict(settings))``.

    ``total_timesteps`` more steps are trained; every ``eval_interval`` timesteps (0: never)
    ``eval_episodes`` deterministic episodes are evaluated. Training stops early once the success
    rate reaches ``stop_at_success`` (None: never) or the mean return reaches ``stop_at_return``
    (None: never) in ``stop_patience`` evaluations in a row.
    """

    total_timesteps: int = 300_000
    eval_interval: int = 5_000
    eval_episodes: int = 100
    stop_at_success: float | None = 0.95
    stop_patience: int = 2
    stop_at_return: float | None = None

    def validate(self) -> None:
        check_int("total_timesteps", self.total_timesteps, 1)
        check_int("eval_interval", self.eval_interval, 0)
        check_int("eval_episodes", self.eval_episodes, 1)
        check_int("stop_patience", self.stop_patience, 1)
        if self.stop_at_success is not None:
            check_unit_interval("stop_at_success", self.stop_at_success)
        if self.stop_at_return is not None:
            check_number("stop_at_return", self.stop_at_return)
