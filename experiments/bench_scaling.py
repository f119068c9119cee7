"""Section ``scaling``: our agent on the noisy T-maze at corridor lengths 10 to 100, one population
of seeds per corridor (:class:`~sublstm.agents.population.Population`, the settings of
:mod:`.long_memory`): seeds reaching 95 %, steps and wall-clock to 95 %, final success of each
member and of its spiking twin; and the simulated cost of one spiking episode against corridor length.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bench import ENV_ID, BenchContext, BenchSettings, Section, TrainingGrid, check_count, save_figure
from .grid_runs import train_populations
from .long_memory import long_corridor_settings
from .reporting import TARGET_SUCCESS, fmt, markdown_table, median

#: evaluation episodes of the analog agents and their twins start here (never seen in training)
TEST_SEED = 100_000


@dataclass(frozen=True)
class ScalingGrid(TrainingGrid):
    """The corridors, seeds and budgets (steps per seed) of the section, plus: ``twin_episodes``
    held-out episodes on which each member and its spiking twin are scored, and the goal of
    issue 10 (corridor ``goal_corridor`` reached by ``goal_seeds`` of the seeds, each within
    ``goal_steps`` steps and ``goal_wall_s`` seconds of wall-clock). ``max_run_s`` caps the
    wall-clock of chosen corridors' populations (the others: the bench's ``max_run_s``)."""

    twin_episodes: int = 100
    goal_corridor: int = 100
    goal_seeds: int = 4
    goal_steps: int = 500_000
    goal_wall_s: float = 900.0
    max_run_s: dict[int, float] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        super().validate()
        for n, cap in self.max_run_s.items():
            check_count("max_run_s (corridor)", n, 1)
            if not (isinstance(cap, int | float) and not isinstance(cap, bool) and 0 < cap < math.inf):
                raise ValueError(f"max_run_s[{n}] must be a positive number of seconds, got {cap!r}")
        for name in ("twin_episodes", "goal_corridor", "goal_seeds", "goal_steps"):
            check_count(name, getattr(self, name))
        if not (isinstance(self.goal_wall_s, int | float) and self.goal_wall_s > 0):
            raise ValueError(f"goal_wall_s must be a positive number of seconds, got {self.goal_wall_s!r}")

    def with_shared(self, bench: BenchSettings) -> ScalingGrid:
        """The grid with the bench's shared corridors, seeds and budgets applied."""
        base = self.resolved(bench)
        return dataclasses.replace(self, corridors=base.corridors, seeds=base.seeds, budgets=base.budgets)

    def cap(self, corridor: int, bench: BenchSettings) -> float:
        """Wall-clock cap of corridor ``corridor``'s population: its own, else the bench's."""
        return float(self.max_run_s.get(corridor, bench.max_run_s))


HEADER = [
    "corridor",
    "seeds reaching 95 %",
    "steps to 95 % (median, min - max)",
    "wall s to 95 % (median, min - max)",
    "population wall s / CPU s",
    "analog final success (median, min)",
    "twin final success (median, min)",
    "twin agreement (median)",
    "spiking episode ms (ms per decision)",
]


def optimal_episode(corridor: int, goal: int = 0) -> np.ndarray:
    """The observations an optimal T-maze episode shows (sign, corridor..., junction), (N+1, 1, 3)."""
    from sublstm.envs.tmaze import EAST, TMazeEnv

    env = TMazeEnv(corridor_length=corridor, noise=1.0)
    obs, _ = env.reset(seed=goal)
    seq = [obs]
    for _ in range(corridor):  # N moves east; the (N+1)-th decision, the turn, is taken at the junction
        obs, *_ = env.step(EAST)
        seq.append(obs)
    return np.stack(seq)[:, None, :].astype(np.float32)


def spiking_episode_seconds(network, corridor: int, repeats: int = 3) -> float:
    """Median wall-clock of the spiking twin (default timing, batch 1) over one optimal episode."""
    import torch
    from sublstm.spiking import SpikingPolicy

    policy = SpikingPolicy.from_network(network)
    obs = torch.as_tensor(optimal_episode(corridor))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        policy.teacher_forced(obs)
        times.append(time.perf_counter() - t0)
    return median(times)


def train_corridor(corridor: int, grid: ScalingGrid, bench: BenchSettings) -> dict:
    """Train ``grid.seeds`` seeds of one corridor as one population, then score every member and its
    twin on ``grid.twin_episodes`` held-out episodes. Plain data (see :func:`run_settings`)."""
    from sublstm.agents.population import Population
    from sublstm.spiking.compare import compare

    s = long_corridor_settings(corridor)
    pop = Population(ENV_ID, grid.seeds, seeds=range(grid.seeds), **s.population_kwargs())
    limited = False

    def wall_cap(event: dict) -> bool:
        nonlocal limited
        if event["event"] == "stop":
            print(f"  N={corridor} seed {pop.seeds[event['member']]}: {event['reason']} at "
                  f"{event['timesteps']:,} steps, {event['wall_s']:.0f} s", flush=True)  # fmt: skip
        limited = limited or event["wall_s"] > grid.cap(corridor, bench)
        return not limited

    cpu0 = time.process_time()
    pop.learn(
        grid.budgets[corridor],
        eval_interval=bench.eval_interval,
        eval_episodes=bench.eval_episodes,
        stop_at_success=TARGET_SUCCESS,
        callback=wall_cap,
    )
    cpu_s = time.process_time() - cpu0
    summary = pop.summary()
    members = []
    for k in range(grid.seeds):
        c = compare(pop.member(k), episodes=grid.twin_episodes, seed=TEST_SEED)
        members.append(
            {
                "seed": pop.seeds[k],
                "analog_success": c.analog_success,
                "twin_success": c.spiking_success,
                "agreement": c.teacher_forced_agreement,
                "rate_hz": c.rates_hz["overall"],
            }
        )
    return {
        "steps_to_95": summary["steps_to_target"],
        "wall_s_to_95": summary["wall_s_to_target"],
        "timesteps": summary["timesteps"],
        "train_wall_s": summary["train_wall_s"],
        "train_cpu_s": cpu_s,
        "wall_limited": limited,
        "curves": [[(r["timesteps"], r["success_rate"]) for r in h] for h in pop.history],
        "members": members,
        "spiking_episode_s": spiking_episode_seconds(pop.member(0).network.eval(), corridor),
    }


def run_settings(corridor: int, grid: ScalingGrid, bench: BenchSettings) -> dict:
    """What a stored corridor result was made with (a rerun reuses it only when all is the same)."""
    s = long_corridor_settings(corridor)
    return {
        "population": dataclasses.asdict(s),
        "seeds": grid.seeds,
        "budget": grid.budgets[corridor],
        "twin_episodes": grid.twin_episodes,
        "eval_interval": bench.eval_interval,
        "eval_episodes": bench.eval_episodes,
        "max_run_s": grid.cap(corridor, bench),
    }


def _span(values: list[float], spec: str, unit: str = "") -> str:
    if not values:
        return "–"
    return f"{median(values):{spec}}{unit} ({min(values):{spec}} - {max(values):{spec}})"


def corridor_row(n: int, r: dict | None, grid: ScalingGrid) -> list:
    if r is None:
        return [n, "failed", *["–"] * (len(HEADER) - 2)]
    steps = [x for x in r["steps_to_95"] if x is not None]
    walls = [x for x in r["wall_s_to_95"] if x is not None]
    reached = f"{len(steps)}/{grid.seeds} ({sum(held(r))} held)" + (
        " (wall-clock cap)" if r["wall_limited"] else ""
    )
    analog = [m["analog_success"] for m in r["members"]]
    twin = [m["twin_success"] for m in r["members"]]
    ms = r["spiking_episode_s"] * 1e3
    return [
        n,
        reached,
        _span(steps, ",.0f") if steps else f"> {grid.budgets[n]:,}",
        _span(walls, ".0f") if walls else "–",
        f"{r['train_wall_s']:.0f} / {r['train_cpu_s']:.0f}",
        f"{median(analog):.2f} ({min(analog):.2f})",
        f"{median(twin):.2f} ({min(twin):.2f})",
        fmt(median([m["agreement"] for m in r["members"]]), ".3f"),
        f"{ms:.0f} ({ms / (n + 1):.1f})",
    ]


def held(r: dict) -> list[bool]:
    """Per seed: stopped by the rule (its last two evaluations at >= 95 %), i.e. it kept the target
    rather than touching it once and falling back."""
    return [len(c) >= 2 and all(y >= TARGET_SUCCESS for _, y in c[-2:]) for c in r["curves"]]


def goal_verdict(results: dict, grid: ScalingGrid) -> str:
    """One sentence: is corridor ``goal_corridor`` learned by enough seeds within steps and wall-clock?"""
    n = grid.goal_corridor
    r = results.get(n)
    want = (
        f"corridor {n} reached by >= {grid.goal_seeds} of {grid.seeds} seeds, each within "
        f"{grid.goal_steps:,} steps and {grid.goal_wall_s / 60:g} minutes of wall-clock"
    )
    if r is None:
        return f"Goal (issue 10): {want}. Not measured in this run."
    ok = [
        s is not None and s <= grid.goal_steps and w <= grid.goal_wall_s
        for s, w in zip(r["steps_to_95"], r["wall_s_to_95"], strict=True)
    ]
    met = sum(ok) >= grid.goal_seeds
    kept = [k for k, h in enumerate(held(r)) if h and ok[k] and r["timesteps"][k] <= grid.goal_steps]
    at = ", ".join(f"{r['timesteps'][k]:,}" for k in kept)
    return (
        f"Goal (issue 10): {want}. Measured (first evaluation at >= 95 %): {sum(ok)} of {grid.seeds}: "
        f"{'met' if met else 'NOT met'}. Of these, {len(kept)} held 95 % (stopped by the rule, two "
        f"evaluations in a row) within {grid.goal_steps:,} steps"
        + (f" (stopped at {at} steps)." if kept else ".")
    )


RULE_FIELDS = (
    "learning_starts",
    "learning_starts_unit",
    "eps_decay_steps",
    "train_noise",
    "train_cell_noise",
    "rate_penalty",
)


def _rule_value(value) -> str:
    if isinstance(value, str):
        return value
    return f"{value:,}" if isinstance(value, int) else f"{value:.3g}"


def rule_table(corridors) -> str:
    """The settings each corridor trains with (the rule's and the defaults it keeps)."""
    from sublstm.agents.settings import Hyperparams

    rows = []
    for n in corridors:
        s = long_corridor_settings(n)
        hp = {**dataclasses.asdict(Hyperparams()), **s.hyperparams}
        max_steps = s.env_kwargs.get("max_steps", 10 * (n + 1))
        rows.append(
            [n, max_steps, s.bptt_steps or "whole episodes", f"{s.replay_steps:,}"]
            + [_rule_value(hp[k]) for k in RULE_FIELDS]
        )
    header = ["corridor", "max_steps", "bptt_steps", "replay_steps", *RULE_FIELDS]
    return markdown_table(header, rows)


def seed_table(results: dict, grid: ScalingGrid) -> str:
    """One row per seed: steps and wall-clock to 95 %, steps trained, final success, twin rate."""
    rows = []
    for n in grid.corridors:
        r = results.get(n)
        if r is None:
            continue
        for k, m in enumerate(r["members"]):
            steps, wall = r["steps_to_95"][k], r["wall_s_to_95"][k]
            rows.append(
                [
                    n,
                    m["seed"],
                    "not reached" if steps is None else f"{steps:,}",
                    fmt(wall, ".0f"),
                    f"{r['timesteps'][k]:,}",
                    f"{m['analog_success']:.2f}",
                    f"{m['twin_success']:.2f}",
                    f"{m['agreement']:.3f}",
                    f"{m['rate_hz']:.0f}",
                ]
            )
    header = [
        "corridor",
        "seed",
        "steps to 95 %",
        "wall s to 95 %",
        "steps trained",
        "analog success",
        "twin success",
        "twin agreement",
        "twin rate Hz",
    ]
    return markdown_table(header, rows)


def run(ctx: BenchContext, own: ScalingGrid) -> None:
    from sublstm.spiking import TwinTiming

    grid = own.with_shared(ctx.bench)
    b = ctx.bench
    results = train_populations(
        ctx,
        "scaling",
        grid.corridors,
        lambda n: train_corridor(n, grid, b),
        lambda n: run_settings(n, grid, b),
    )
    rows = [corridor_row(n, results.get(n), grid) for n in grid.corridors]
    table = markdown_table(HEADER, rows)
    print(table)
    measured = [n for n in grid.corridors if results.get(n) is not None]
    decisions = np.array(measured, dtype=float) + 1.0
    cost = np.array([results[n]["spiking_episode_s"] for n in measured])
    slope, intercept, r2 = linear_fit(decisions, cost) if measured else (math.nan,) * 3
    plot = ctx.plots / "bench_scaling.png"
    plot_scaling(plot, grid, results)
    budgets = ", ".join(f"{n}: {grid.budgets[n]:,}" for n in grid.corridors)
    caps = ", ".join(f"{n}: {grid.cap(n, b):g}" for n in grid.corridors)
    timing = TwinTiming()
    body = f"""
Our agent (asn-sublstm) on `{ENV_ID}` (noise 1) with corridor length N: per corridor one
`Population` of {grid.seeds} seeds (0 .. {grid.seeds - 1}) trained side by side in one process (one
torch thread), with the settings of `sublstm.experiments.long_memory.long_corridor_settings(N)`
(the defaults up to N = 10; the rule below beyond). Each seed stops once its deterministic
evaluations ({b.eval_episodes} episodes every {b.eval_interval:,} steps) reach 95 % twice in a row;
budgets (steps per seed) {budgets}; a population still training after its wall-clock cap
(s: {caps}) is stopped at its next evaluation. Steps and wall-clock to 95 % are those of each seed's
first evaluation at >= 95 %, the wall-clock counted from the population's start (all seeds share
the process). Final success: each member (the analog agent as it stopped) and its spiking twin
(`sublstm.spiking.compare.compare`, default timing) on the same {grid.twin_episodes} held-out
episodes; agreement: teacher-forced, share of equal decisions.

{table}

{goal_verdict(results, grid)}

Per seed (steps trained: where the seed stopped, or the budget or cap; twin rate: mean over all
ASNs of the twin on the held-out episodes; the rate penalty is off beyond N = 10):

{seed_table(results, grid)}

The settings (`long_corridor_settings`, whose docstring gives the reasons; all others are the
`Hyperparams` defaults):

{rule_table(grid.corridors)}

Spiking episode: the spiking twin of seed 0 (`SpikingPolicy`, default timing: dt {timing.dt:g} ms,
{timing.step_ms:g} ms per decision) fed the observations of an optimal episode (N+1 decisions),
batch 1, median of 3; wall-clock on this machine, measured right after that corridor's
population trained (so under that moment's load: a low R^2 says the loads differed). Linear fit:
{slope * 1e3:.2f} ms per decision {intercept * 1e3:+.1f} ms, R^2 = {r2:.4f}.

![scaling]({ctx.link(plot)})

On a machine shared with other work (the load average at the start is in the machine line; it
changes while populations train) the wall-clock figures are pessimistic, the CPU seconds (one
thread) are not. Each
corridor's population is stored under `runs/bench/scaling/` and reused by a later invocation with
the same settings, so the corridors may have trained in separate invocations of this command; the
machine line below is that of the invocation that wrote the section.
"""
    ctx.write(SECTION, body)


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, intercept and R^2 of a least-squares line (a single point: slope 0, R^2 NaN)."""
    if len(x) < 2:
        return 0.0, float(y.mean()), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    fit = slope * x + intercept
    r2 = 1.0 - ((y - fit) ** 2).sum() / max(1e-30, ((y - y.mean()) ** 2).sum())
    return float(slope), float(intercept), float(r2)


def plot_scaling(path: Path, grid: ScalingGrid, results: dict) -> None:
    from .plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    measured = [n for n in grid.corridors if results.get(n) is not None]
    for i, n in enumerate(measured):
        r = results[n]
        for k, curve in enumerate(c for c in r["curves"] if c):
            t, y = zip(*curve, strict=True)
            axes[0].plot(t, y, lw=0.8, color=f"C{i}", label=None if k else f"N = {n}")
        members = r["members"]
        axes[1].scatter([n] * len(members), [m["analog_success"] for m in members], color="tab:blue", s=14)
        axes[1].scatter([n] * len(members), [m["twin_success"] for m in members], color="tab:red", s=8)
    axes[0].axhline(TARGET_SUCCESS, color="k", lw=0.6, ls="--")
    axes[0].set_xlabel("environment steps per seed (thousands)")
    axes[0].xaxis.set_major_formatter(lambda x, _pos: f"{x / 1000:g}")
    axes[0].set_ylabel("deterministic success")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("corridor length N (blue: analog, red: twin)")
    axes[1].set_ylabel("final success")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xscale("log")
    axes[1].set_xticks(grid.corridors, [str(n) for n in grid.corridors])
    x = np.array(measured)
    axes[2].plot(x + 1, [results[n]["spiking_episode_s"] * 1e3 for n in measured], "o-", color="tab:purple")
    axes[2].set_xlabel("decisions per episode (N + 1)")
    axes[2].set_ylabel("spiking episode (ms wall-clock)")
    save_figure(fig, path)


CORRIDORS = (10, 20, 50, 100)
FULL = ScalingGrid(CORRIDORS, seeds=5, budgets=dict.fromkeys(CORRIDORS, 500_000))
QUICK = ScalingGrid(
    (10, 20), seeds=2, budgets=dict.fromkeys((10, 20), 2_048), twin_episodes=2, goal_corridor=20, goal_seeds=1
)
SECTION = Section("scaling", "Scaling with corridor length", run, FULL, QUICK, order=50)
