"""Compare a trained analog agent with its spiking twin on the same episodes.

Both run the same episode seeds (episode k reset with ``seed + k``), all episodes side by side,
through the one evaluation rollout (:func:`sublstm.agents.rollout.rollout`). Measured:

- success of each, and the decision agreement **teacher-forced** (the twin fed the analog run's
  observations; actions read at the step's last dt, ``end``, or averaged over the readout window,
  ``mean``) and in the **closed loop** (the twin's own episodes, each decision judged by the analog
  network fed the same observations);
- agreement on *decisive* decisions (the analog best action value ahead of the second by at least
  :data:`GAP_MARGIN`; near-ties flip on the spikes' ripple and matter little) and on each episode's
  *final* decision (the turn at the T-maze junction), with the memory cells' error there;
- firing rates per population, spikes and synaptic events per decision, analog MACs per step;
- optionally a sweep over the decision time ``step_ms`` (for one or more recurrent delays) and the
  shortest step from which on every longer one keeps the agreement >= a level.

:func:`compare` returns a :class:`Comparison`; the lower-level pieces (:func:`analog_run`,
:func:`teacher_forced_agreement`, :func:`final_decision_agreement`, :func:`closed_loop`,
:func:`sweep`, :func:`shortest_step`, :func:`spiking_record`, :func:`flips`) serve other experiments.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sublstm.agents.encoding import ObservationEncoder
from sublstm.agents.rollout import Rollout, rollout
from torch import Tensor

from .policy import SpikingPolicy
from .timing import TwinTiming, parse_delay, resolve_timing

#: an analog decision is "decisive" when its best action value leads the second by at least this
GAP_MARGIN = 0.05
#: the agreement a step_ms must keep to count as safe in :func:`shortest_step`
AGREEMENT_LEVEL = 0.98

Log = Callable[[str], None]


# -- the agent's side ----------------------------------------------------------------------------------
def episode_envs(agent, n: int) -> list:
    """``n`` copies of the agent's env (the user's wrappers kept), one per side-by-side episode:
    the agent's own ``make_envs(n)`` where it has one (an env made by a factory), else deep copies."""
    make = getattr(agent, "make_envs", None)
    if callable(make):
        return list(make(n))
    return [copy.deepcopy(agent.env) for _ in range(n)]


def agent_encoder(agent) -> ObservationEncoder:
    """The agent's observation encoder (the one the agent, its twin and the peers share)."""
    encoder = getattr(agent, "encoder", None)
    return encoder if encoder is not None else ObservationEncoder(agent.observation_space)


def _device(network) -> torch.device:
    return next(network.parameters()).device


def _check_episodes(episodes: int, seed: int) -> None:
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


class AnalogDecider:
    """Greedy actions of the analog network, its recurrent state carried across calls; records the
    action values and memory cells of every step."""

    def __init__(self, network, n: int) -> None:
        self.network = network
        self.device = _device(network)
        self.state = network.initial_state(n, self.device)
        self.values: list[Tensor] = []  # action values of each step, (n, A)
        self.cells: list[Tensor] = []  # memory cell c after each step, (n, H)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
        q, self.state = self.network.step(torch.as_tensor(obs, device=self.device), self.state)
        self.values.append(q.cpu())
        self.cells.append(self.state[1].cpu())
        return q.argmax(-1).cpu().numpy()


class SpikingDecider:
    """Greedy actions of the spiking twin; an analog shadow fed the same observations judges them."""

    def __init__(self, policy: SpikingPolicy, network, n: int) -> None:
        self.policy, self.shadow = policy, AnalogDecider(network, n)
        self.state = policy.initial_state(n)
        self.agree = 0
        self.count = 0

    def __call__(self, obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
        q, _, self.state = self.policy.act(obs, self.state, active=torch.as_tensor(alive))
        actions = q.argmax(-1).cpu().numpy()
        analog = self.shadow(obs, alive)
        self.agree += int((actions == analog)[alive].sum())
        self.count += int(alive.sum())
        return actions

    @property
    def agreement(self) -> float:
        """Share of live decisions where the twin chose what the analog network would have."""
        return self.agree / max(1, self.count)


# -- runs ----------------------------------------------------------------------------------------------
@dataclass
class AnalogRun:
    """The analog agent's episodes, recorded: the rollout (with obs and actions), q and c per step."""

    rollout: Rollout
    q: Tensor  # (T, n, A)
    c: Tensor  # (T, n, H)
    seed: int

    @property
    def episodes(self) -> int:
        return len(self.rollout.lengths)


def analog_run(agent, episodes: int = 200, seed: int = 0) -> AnalogRun:
    """Run the analog agent greedily on ``episodes`` episodes (seeds seed .. seed + episodes - 1)."""
    _check_episodes(episodes, seed)
    decider = AnalogDecider(agent.network.eval(), episodes)
    run = rollout(
        episode_envs(agent, episodes),
        decider,
        [seed + k for k in range(episodes)],
        encoder=agent_encoder(agent),
        record=True,
    )
    return AnalogRun(run, torch.stack(decider.values), torch.stack(decider.cells), seed)


@dataclass
class ClosedLoop:
    """The twin's own episodes: outcomes, agreement with the analog shadow, spiking statistics."""

    rollout: Rollout
    agreement: float
    stats: dict[str, Any]


def closed_loop(policy: SpikingPolicy, agent, episodes: int = 200, seed: int = 0) -> ClosedLoop:
    """Run the twin on the same seeds as :func:`analog_run`; its statistics are reset first."""
    _check_episodes(episodes, seed)
    policy.reset_stats()
    decider = SpikingDecider(policy, agent.network.eval(), episodes)
    run = rollout(
        episode_envs(agent, episodes),
        decider,
        [seed + k for k in range(episodes)],
        encoder=agent_encoder(agent),
    )
    return ClosedLoop(run, decider.agreement, policy.stats())


# -- agreement -----------------------------------------------------------------------------------------
def final_decision_agreement(actions, reference, lengths=None) -> float:
    """Share of episodes whose last decision (row ``lengths - 1``; the last row without
    ``lengths``) is the same in ``actions`` and ``reference``, both (T, n)."""
    actions, reference = torch.as_tensor(actions), torch.as_tensor(reference)
    if actions.shape != reference.shape or actions.dim() != 2:
        raise ValueError(
            f"actions and reference must be (T, n) of one shape, got {tuple(actions.shape)} and "
            f"{tuple(reference.shape)}"
        )
    n = actions.shape[1]
    last = torch.full((n,), actions.shape[0] - 1) if lengths is None else torch.as_tensor(lengths) - 1
    cols = torch.arange(n)
    return float((actions[last, cols] == reference[last, cols]).float().mean())


@dataclass
class TeacherForced:
    """Agreement of the twin fed the analog run's observations with the analog actions.

    ``end``/``mean``: over all decisions, read at the step's last dt / averaged over the readout
    window; ``readout`` says which of them the twin acts on. The other figures use that readout.
    """

    end: float
    mean: float
    end_episodes_identical: float
    mean_episodes_identical: float
    decisive: float
    decisive_fraction: float
    final_decision: float
    final_c_error: float
    final_c_abs: float
    readout: str
    gap_margin: float = GAP_MARGIN

    @property
    def agreement(self) -> float:
        return self.mean if self.readout == "mean" else self.end

    @property
    def episodes_identical(self) -> float:
        return self.mean_episodes_identical if self.readout == "mean" else self.end_episodes_identical


def teacher_forced_agreement(
    policy: SpikingPolicy, run: AnalogRun, gap_margin: float = GAP_MARGIN
) -> TeacherForced:
    """Feed the twin the observations of ``run`` and compare its actions with the analog ones."""
    out = policy.teacher_forced(torch.as_tensor(run.rollout.obs))
    analog = torch.as_tensor(run.rollout.actions)
    mask = analog >= 0
    res: dict[str, float] = {}
    for name, key in (("end", "actions_end"), ("mean", "actions")):
        equal = (out[key] == analog) | ~mask
        res[name] = float(equal[mask].float().mean())
        res[f"{name}_episodes_identical"] = float(equal.all(0).float().mean())
    readout = "mean" if policy.network.readout_window_ms > 0 else "end"
    chosen = out["actions"] if readout == "mean" else out["actions_end"]
    top2 = run.q.topk(2, dim=-1).values
    decisive = mask & (top2[..., 0] - top2[..., 1] >= gap_margin)
    lengths = torch.as_tensor(run.rollout.lengths)
    last, cols = lengths - 1, torch.arange(analog.shape[1])
    return TeacherForced(
        **res,
        decisive=float((chosen == analog)[decisive].float().mean()) if decisive.any() else float("nan"),
        decisive_fraction=float(decisive.sum() / mask.sum()),
        final_decision=final_decision_agreement(chosen, analog, lengths),
        final_c_error=float((out["c"][last, cols] - run.c[last, cols]).abs().mean()),
        final_c_abs=float(run.c[last, cols].abs().mean()),
        readout=readout,
        gap_margin=gap_margin,
    )


@dataclass
class Flips:
    """Where a twin, fed the analog run's observations, acts otherwise than the analog net.

    ``flips``: one dict per differing decision (episode, step, episode length, both actions, the
    analog gap between its two best action values, both action-value vectors, the observation);
    ``by_step``: per step index with >= ``min_rows`` live episodes, the mean |c error| and |c| of
    the memory cells and the mean largest action-value error (analog against the twin's readout).
    """

    agreement: float
    flips: list[dict[str, Any]]
    by_step: list[dict[str, float]]


def flips(policy: SpikingPolicy, run: AnalogRun, min_rows: int = 10) -> Flips:
    """The decisions the twin flips in ``run`` and how its memory and action values drift."""
    out = policy.teacher_forced(torch.as_tensor(run.rollout.obs))
    analog = torch.as_tensor(run.rollout.actions)
    live = analog >= 0
    twin = out["actions"] if policy.network.readout_window_ms > 0 else out["actions_end"]
    q_twin = out["q_mean"] if policy.network.readout_window_ms > 0 else out["q_end"]
    top2 = run.q.topk(2, dim=-1).values
    gap = top2[..., 0] - top2[..., 1]
    lengths = np.asarray(run.rollout.lengths)
    differ = (twin != analog) & live
    records = [
        {
            "episode": int(e), "step": int(t), "length": int(lengths[e]),
            "analog_action": int(analog[t, e]), "twin_action": int(twin[t, e]), "gap": float(gap[t, e]),
            "analog_q": run.q[t, e].tolist(), "twin_q": q_twin[t, e].tolist(),
            "obs": np.asarray(run.rollout.obs[t, e]).tolist(),
        }
        for t, e in zip(*torch.where(differ), strict=True)
    ]  # fmt: skip
    c_err = (out["c"] - run.c).abs().mean(-1)
    q_err = (q_twin - run.q).abs().amax(-1)
    by_step = [
        {
            "step": t,
            "c_error": float(c_err[t][live[t]].mean()),
            "c_abs": float(run.c[t].abs().mean(-1)[live[t]].mean()),
            "q_error": float(q_err[t][live[t]].mean()),
        }
        for t in range(live.shape[0])
        if int(live[t].sum()) >= min_rows
    ]
    return Flips(float((twin == analog)[live].float().mean()), records, by_step)


def spiking_record(policy: SpikingPolicy) -> dict[str, Any]:
    """The twin's rates, spike counts and timing since its last ``reset_stats``, as runs store them."""
    stats = policy.stats()
    net = policy.network
    return {
        "mean_rate_hz": stats["mean_rate_hz"],
        "rate_hz": stats["rate_hz"],
        "spikes_per_decision": stats["spikes_per_decision"],
        "synops_per_decision": stats["synops_per_decision"],
        "twin": {"step_ms": net.step_ms, "dt_ms": net.dt, "readout_window_ms": net.readout_window_ms}
        | {"recurrent_delay": net.recurrent_delay, "gating": net.gating},
    }


# -- the step sweep ------------------------------------------------------------------------------------
@dataclass
class SweepRow:
    """Teacher-forced and closed-loop figures of one (recurrent delay, step_ms) pair."""

    recurrent_delay: float | str
    step_ms: float
    readout_window_ms: float
    teacher_forced_end: float
    teacher_forced_mean: float
    teacher_forced: float
    decisive: float
    final_decision: float
    closed_loop: float
    success_rate: float
    mean_length: float
    mean_rate_hz: float
    spikes_per_decision: float
    synops_per_decision: float
    wall_s: float


def sweep_timings(
    timing: TwinTiming, step_values: Sequence[float], delays: Sequence[float | str]
) -> list[TwinTiming]:
    """The timing of every (delay, step_ms) pair, delays outermost; the readout window is cut to
    the step where it would not fit. Raises TimingError naming the field of a bad value."""
    return [
        timing.replace(
            step_ms=float(s), readout_window_ms=min(timing.readout_window_ms, float(s)), recurrent_delay_ms=d
        )
        for d in (parse_delay(d) for d in delays)
        for s in step_values
    ]


def sweep(
    agent,
    analog: AnalogRun,
    step_values: Sequence[float],
    delays: Sequence[float | str] | None = None,
    timing: TwinTiming | None = None,
    log: Log | None = None,
) -> list[SweepRow]:
    """Teacher-forced (on ``analog``) and closed-loop (on its seeds) figures for every
    (recurrent delay, step_ms) pair; ``delays`` default to the timing's own."""
    timing = resolve_timing(timing)
    delays = (timing.recurrent_delay_ms,) if delays is None else delays
    rows = []
    for t in sweep_timings(timing, step_values, delays):
        t0 = time.perf_counter()
        policy = SpikingPolicy.from_agent(agent, t)
        tf = teacher_forced_agreement(policy, analog)
        loop = closed_loop(policy, agent, analog.episodes, analog.seed)
        row = SweepRow(
            recurrent_delay=t.recurrent_delay_ms,
            step_ms=t.step_ms,
            readout_window_ms=t.readout_window_ms,
            teacher_forced_end=tf.end,
            teacher_forced_mean=tf.mean,
            teacher_forced=tf.agreement,
            decisive=tf.decisive,
            final_decision=tf.final_decision,
            closed_loop=loop.agreement,
            success_rate=loop.rollout.success_rate,
            mean_length=loop.rollout.mean_length,
            mean_rate_hz=loop.stats["mean_rate_hz"],
            spikes_per_decision=loop.stats["spikes_per_decision"],
            synops_per_decision=loop.stats["synops_per_decision"],
            wall_s=time.perf_counter() - t0,
        )
        rows.append(row)
        if log is not None:
            log(
                f"  delay {row.recurrent_delay!s:>4} step_ms {row.step_ms:6g}: agreement teacher-forced "
                f"{row.teacher_forced:.4f}, closed loop {row.closed_loop:.4f} | success "
                f"{row.success_rate:.3f} | {row.mean_rate_hz:.1f} Hz | {row.wall_s:.1f} s"
            )
    return rows


def shortest_step(
    rows: Sequence[SweepRow], delay: float | str, key: str = "teacher_forced", level: float = AGREEMENT_LEVEL
) -> float | None:
    """Shortest step_ms from which on every longer step in the sweep keeps ``key`` >= ``level``
    (rows of one recurrent ``delay``); None if even the longest does not."""
    best = None
    for r in sorted((r for r in rows if r.recurrent_delay == delay), key=lambda r: -r.step_ms):
        value = getattr(r, key)
        if math.isnan(value) or value < level:
            break
        best = r.step_ms
    return best


# -- the comparison ------------------------------------------------------------------------------------
@dataclass
class Comparison:
    """An agent against its spiking twin on the same episodes (see the module docstring)."""

    env_id: str | None
    env_kwargs: dict[str, Any]
    core: str | None
    episodes: int
    seed: int
    timing: TwinTiming
    analog_success: float
    analog_return: float
    analog_length: float
    spiking_success: float
    spiking_return: float
    spiking_length: float
    closed_loop_agreement: float
    teacher_forced_agreement: float
    teacher_forced_end: float
    teacher_forced_mean: float
    episodes_identical: float
    decisive_agreement: float
    decisive_fraction: float
    final_decision_agreement: float
    final_c_error: float
    final_c_abs: float
    rates_hz: dict[str, float]
    neurons: dict[str, int]
    spikes_per_decision: float
    synaptic_events_per_decision: float
    analog_macs_per_step: int
    gap_margin: float = GAP_MARGIN
    level: float = AGREEMENT_LEVEL
    sweep: list[SweepRow] = field(default_factory=list)
    #: per recurrent delay (as text): shortest safe step_ms, teacher-forced / closed loop
    shortest_step_ms: dict[str, float | None] = field(default_factory=dict)
    shortest_step_ms_closed: dict[str, float | None] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def mean_rate_hz(self) -> float:
        return self.rates_hz.get("overall", float("nan"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (the timing and sweep rows as dicts)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Comparison:
        """The inverse of :meth:`to_dict` (e.g. for a compare.json read back)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["timing"] = TwinTiming(**values["timing"])
        values["sweep"] = [SweepRow(**r) for r in values.get("sweep", [])]
        return cls(**values)


def compare(
    agent,
    episodes: int = 200,
    seed: int = 0,
    timing: TwinTiming | None = None,
    sweep_step_ms: Sequence[float] | None = None,
    sweep_delays: Sequence[float | str] | None = None,
    level: float = AGREEMENT_LEVEL,
    gap_margin: float = GAP_MARGIN,
    log: Log | None = None,
) -> Comparison:
    """Compare ``agent`` (a trained AdvantageAgent) with its spiking twin built with ``timing``.

    ``sweep_step_ms`` (None: no sweep) are the decision times swept, for each of ``sweep_delays``
    (None: the timing's own delay). ``log`` receives one line per stage. Every argument is checked
    before anything runs.
    """
    t_start = time.perf_counter()
    timing = resolve_timing(timing)
    _check_episodes(episodes, seed)
    if not isinstance(level, int | float) or not 0 < level <= 1:
        raise ValueError(f"level must be in (0, 1], got {level!r}")
    delays = [timing.recurrent_delay_ms] if sweep_delays is None else [parse_delay(d) for d in sweep_delays]
    steps = list(sweep_step_ms or ())
    sweep_timings(timing, steps, delays)  # refuse bad sweep values before the long part
    say = log or (lambda _line: None)

    policy = SpikingPolicy.from_agent(agent, timing)
    analog = analog_run(agent, episodes, seed)
    say(f"analog: success {analog.rollout.success_rate:.3f} on {episodes} episodes (seed {seed})")
    tf = teacher_forced_agreement(policy, analog, gap_margin)
    loop = closed_loop(policy, agent, episodes, seed)
    say(
        f"spiking: success {loop.rollout.success_rate:.3f}; agreement teacher-forced {tf.agreement:.4f}, "
        f"closed loop {loop.agreement:.4f}"
    )
    rows = []
    if steps:
        say("sweep over step_ms:")
        rows = sweep(agent, analog, steps, delays, timing, log=log)
    stats = loop.stats
    return Comparison(
        env_id=getattr(agent, "env_id", None),
        env_kwargs=dict(getattr(agent, "env_kwargs", None) or {}),
        core=getattr(agent, "core", None),
        episodes=episodes,
        seed=seed,
        timing=timing,
        analog_success=analog.rollout.success_rate,
        analog_return=analog.rollout.mean_return,
        analog_length=analog.rollout.mean_length,
        spiking_success=loop.rollout.success_rate,
        spiking_return=loop.rollout.mean_return,
        spiking_length=loop.rollout.mean_length,
        closed_loop_agreement=loop.agreement,
        teacher_forced_agreement=tf.agreement,
        teacher_forced_end=tf.end,
        teacher_forced_mean=tf.mean,
        episodes_identical=tf.episodes_identical,
        decisive_agreement=tf.decisive,
        decisive_fraction=tf.decisive_fraction,
        final_decision_agreement=tf.final_decision,
        final_c_error=tf.final_c_error,
        final_c_abs=tf.final_c_abs,
        rates_hz=stats["rate_hz"],
        neurons=stats["neurons"],
        spikes_per_decision=stats["spikes_per_decision"],
        synaptic_events_per_decision=stats["synops_per_decision"],
        analog_macs_per_step=int(agent.network.macs_per_step()),
        gap_margin=gap_margin,
        level=float(level),
        sweep=rows,
        shortest_step_ms={str(d): shortest_step(rows, d, "teacher_forced", level) for d in delays}
        if rows
        else {},
        shortest_step_ms_closed={str(d): shortest_step(rows, d, "closed_loop", level) for d in delays}
        if rows
        else {},
        wall_s=time.perf_counter() - t_start,
    )


# -- one episode at every dt (for plots) ---------------------------------------------------------------
def episode_trace(policy: SpikingPolicy, obs_seq) -> dict[str, np.ndarray]:
    """Simulate one episode (its observations, (T, obs_dim)) from rest, recording at every dt the
    spikes (``raster``, (T * steps, N) bool) and the memory cells (``c``, (T * steps, H))."""
    net = policy.network
    frames: list[Tensor] = []
    cells: list[Tensor] = []

    def on_dt(spikes: Tensor, state) -> None:
        frames.append(spikes[0].to("cpu", torch.bool))
        cells.append(state.c[0].cpu())

    state = policy.initial_state(1)
    with torch.no_grad():
        for obs in torch.as_tensor(np.asarray(obs_seq), dtype=torch.float32):
            _, state = net.step(obs[None], state, on_dt=on_dt)
    return {"raster": torch.stack(frames).numpy(), "c": torch.stack(cells).numpy()}
