"""Benchmark of the population engine: aggregate env steps/s of S agents trained side by side
against one AdvantageAgent's learn(), and a population trained to the success target.

    result = measure_population(PopulationSettings())      # numbers (JSON-able dict)
    print(render_population(result))                            # markdown for docs/benchmarks.md
    run = population_to_target(PopulationSettings(n_agents=32))     # time and share of seeds to 95 %
    print(render_target(run))

As the benchmark section ``population`` (``sublstm bench --only population``) it writes two blocks
of docs/benchmarks.md: ``throughput`` and ``target`` (``population.parts`` picks them), and on
request a third, ``equivalence``: the same seeds as separate AdvantageAgents and as one population
(``population.parts=['equivalence'] population.n_agents=16``; S separate runs, costly).

Throughput is measured after a warm-up that lasts until every learner has begun updating (before
that, steps are nearly free), over the same ``steps_per_member`` of training per member (per agent)
for every learner, without evaluations, fresh learners each repeat (seed = repeat), the median over
``repeats``. Equal steps per member put every learner at the same point of training: a step's cost
falls as the episodes shorten, so a fixed time budget would flatter the learner that gets furthest.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .bench import BenchContext, Section, check_count
from .reporting import fmt, machine_line, markdown_table, median, write_json

ENV_ID = "sublstm/NoisyTMaze-v0"


@dataclass(frozen=True)
class PopulationSettings:
    """Everything the population benchmarks measure (section ``population``'s config table).

    Throughput: population ``sizes`` beside one agent, ``steps_per_member`` of training per member,
    ``repeats`` (fresh learners, seed = repeat). Target: ``n_agents`` seeds from ``first_seed``
    trained until ``target`` in ``patience`` evaluations in a row (every ``eval_interval`` steps,
    ``eval_episodes`` episodes), at most ``max_steps_per_agent`` steps each. Both: the noisy T-maze
    of length ``corridor``, ``device``, ``hyperparams`` for every learner; ``parts`` to run.
    """

    parts: tuple[str, ...] = ("throughput", "target")
    sizes: tuple[int, ...] = (1, 8, 32)
    steps_per_member: int = 10_000
    repeats: int = 1
    n_agents: int = 32
    first_seed: int = 0
    max_steps_per_agent: int = 300_000
    eval_interval: int = 5_000
    eval_episodes: int = 100
    target: float = 0.95
    patience: int = 2
    corridor: int = 10
    device: str = "cpu"
    hyperparams: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if not self.parts or any(p not in PARTS for p in self.parts):
            raise ValueError(f"parts must name some of {PARTS}, got {self.parts!r}")
        if not self.sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in self.sizes):
            raise ValueError(f"sizes must be positive integers, got {self.sizes!r}")
        for name in (
            "steps_per_member",
            "repeats",
            "n_agents",
            "max_steps_per_agent",
            "eval_interval",
            "eval_episodes",
        ):
            check_count(name, getattr(self, name), 1)
        for name in ("patience", "corridor"):
            check_count(name, getattr(self, name), 1)
        if not 0 <= self.target <= 1:
            raise ValueError(f"target must be a success rate in [0, 1], got {self.target!r}")


PARTS = ("throughput", "target", "equivalence")


def _timed_rate(step, steps_done, steps: int) -> dict[str, float]:
    """Call ``step()`` until ``steps`` more env steps are done; env steps per second of wall-clock
    and per second of this process's CPU time (one torch thread: steps per core-second, which a
    busy machine disturbs far less than the wall-clock)."""
    before, start, cpu = steps_done(), time.perf_counter(), time.process_time()
    while steps_done() - before < steps:
        step()
    steps = steps_done() - before
    return {"wall": steps / (time.perf_counter() - start), "cpu": steps / (time.process_time() - cpu)}


def agent_rate(seed: int, s: PopulationSettings) -> dict[str, float]:
    """One AdvantageAgent's learn() env steps/s (wall, cpu) once it updates."""
    from sublstm.agents import AdvantageAgent

    agent = AdvantageAgent(
        ENV_ID, env_kwargs={"corridor_length": s.corridor}, seed=seed, device=s.device, **s.hyperparams
    )
    chunk = agent.hp.n_envs * 16

    def step() -> None:
        agent.learn(chunk, progress_bar=False, eval_interval=0, stop_at_success=None)

    while agent.num_updates == 0:
        step()
    return _timed_rate(step, lambda: agent.num_timesteps, s.steps_per_member)


def population_rate(n_agents: int, seed: int, s: PopulationSettings) -> dict[str, float]:
    """A population's aggregate env steps/s (wall, cpu; all members together) once every member updates."""
    from sublstm.agents.population import Population

    seeds = [seed * 1000 + k for k in range(n_agents)]
    pop = Population(
        ENV_ID,
        n_agents,
        seeds=seeds,
        env_kwargs={"corridor_length": s.corridor},
        device=s.device,
        **s.hyperparams,
    )
    chunk = pop.hp.n_envs * 16

    def step() -> None:
        pop.learn(chunk, eval_interval=0, stop_at_success=None)

    while not pop.started.all():
        step()
    return _timed_rate(step, lambda: n_agents * pop.num_timesteps, n_agents * s.steps_per_member)


def measure_population(s: PopulationSettings | None = None) -> dict[str, Any]:
    """Aggregate env steps/s per population size beside one agent's, measured in turns: for each
    learner the rates of every repeat, per wall-clock second and per CPU second."""
    s = s or PopulationSettings()
    s.validate()
    names = ["agent", *(str(n) for n in s.sizes)]
    machine = machine_line()  # at the start, as the stamp says
    rates: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in names}
    for repeat in range(s.repeats):  # interleaved, so that a change in machine load hits all alike
        for name in names:
            rate = agent_rate(repeat, s) if name == "agent" else population_rate(int(name), repeat, s)
            for clock in ("wall", "cpu"):
                rates[name][clock].append(rate[clock])
    return {"settings": asdict(s), "rates": rates, "machine": machine}


def render_population(result: dict[str, Any]) -> str:
    """The throughput table (markdown) with the settings it was measured with."""
    rates, s = result["rates"], result["settings"]
    agent = {clock: median(rates["agent"][clock]) for clock in ("wall", "cpu")}
    rows = []
    for name in ["agent", *(str(n) for n in s["sizes"])]:
        wall, cpu = median(rates[name]["wall"]), median(rates[name]["cpu"])
        label = "one AdvantageAgent (learn)" if name == "agent" else f"population of {name}"
        rows.append(
            [
                label,
                fmt(wall, ",.0f"),
                f"{wall / agent['wall']:.1f}×",
                fmt(cpu, ",.0f"),
                f"{cpu / agent['cpu']:.1f}×",
            ]
        )
    head = (
        f"Noisy T-maze, corridor {s['corridor']}, device {s['device']}: aggregate env steps/s of a whole "
        f"training step (act, store, update; all members together) once every learner updates, "
        f"{s['steps_per_member']:,} steps per member after that (the same point of training for "
        f"every learner), median of {s['repeats']} (fresh learners, interleaved), per "
        f"second of wall-clock and per second of the process's CPU time (one torch thread). "
        f"{result['machine']}"
    )
    header = ["learner", "steps/s (wall)", "relative", "steps per CPU-second", "relative"]
    return head + "\n\n" + markdown_table(header, rows)


def population_to_target(s: PopulationSettings | None = None) -> dict[str, Any]:
    """Train one population to the target; per-member steps and wall-clock to it, and the share."""
    from sublstm.agents.population import Population

    s = s or PopulationSettings()
    seeds = list(range(s.first_seed, s.first_seed + s.n_agents))
    pop = Population(
        ENV_ID,
        s.n_agents,
        seeds=seeds,
        env_kwargs={"corridor_length": s.corridor},
        device=s.device,
        **s.hyperparams,
    )
    machine = machine_line()  # at the start, as the stamp says
    start, cpu = time.perf_counter(), time.process_time()
    pop.learn(
        s.max_steps_per_agent,
        eval_interval=s.eval_interval,
        eval_episodes=s.eval_episodes,
        stop_at_success=s.target,
        stop_patience=s.patience,
    )
    return {
        "settings": asdict(s),
        "summary": pop.summary(s.target),
        "wall_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu,
        "machine": machine,
    }


def render_target(result: dict[str, Any]) -> str:
    """One paragraph and a table: how long the population took, how many seeds reached the target."""
    s, summary = result["settings"], result["summary"]
    steps = [x for x in summary["steps_to_target"] if x is not None]
    walls = [x for x in summary["wall_s_to_target"] if x is not None]
    rows = [
        ["seeds reaching the target", f"{summary['reached']}/{s['n_agents']}"],
        ["steps to target per seed (median, min - max)", _spread(steps, ",.0f")],
        ["wall-clock to target per seed, s (median, min - max)", _spread(walls, ".0f")],
        ["wall-clock of the whole population, s", fmt(result["wall_s"], ".0f")],
        ["CPU time of the whole population, s (one torch thread)", fmt(result.get("cpu_s"), ".0f")],
    ]
    head = (
        f"Noisy T-maze, corridor {s['corridor']}: {s['n_agents']} seeds trained side by side in one "
        f"process until each reached {s['target']:.0%} in {s['patience']} evaluations in a row "
        f"(every {s['eval_interval']:,} steps, {s['eval_episodes']} episodes), budget "
        f"{s['max_steps_per_agent']:,} steps per seed. {result['machine']}"
    )
    return head + "\n\n" + markdown_table(["", "value"], rows)


def _spread(values: list[float], spec: str) -> str:
    if not values:
        return "-"
    low, high = float(min(values)), float(max(values))
    return f"{fmt(median(values), spec)} ({fmt(low, spec)} - {fmt(high, spec)})"


def separate_vs_population(s: PopulationSettings | None = None) -> dict[str, Any]:
    """The seeds of ``s`` as separate AdvantageAgents and as one population, same settings otherwise:
    steps to the target per seed, the difference of the shares reaching it (Newcombe interval)
    and of the mean steps (bootstrap interval; a seed that never reaches the target counts at the
    budget ``max_steps_per_agent``).
    """
    from sublstm.agents import AdvantageAgent
    from sublstm.agents.population import Population

    from .gating_stats import bootstrap_difference, newcombe

    s = s or PopulationSettings(n_agents=16)
    seeds = list(range(s.first_seed, s.first_seed + s.n_agents))
    kwargs = {"corridor_length": s.corridor}
    learn = dict(
        eval_interval=s.eval_interval,
        eval_episodes=s.eval_episodes,
        stop_at_success=s.target,
        stop_patience=s.patience,
    )
    separate, start = [], time.perf_counter()
    for seed in seeds:
        agent = AdvantageAgent(ENV_ID, env_kwargs=kwargs, seed=seed, device=s.device, **s.hyperparams)
        agent.learn(s.max_steps_per_agent, progress_bar=False, **learn)
        hit = next((r for r in agent.history if r["success_rate"] >= s.target), None)
        separate.append(None if hit is None else hit["timesteps"])
    separate_wall = time.perf_counter() - start
    pop = Population(ENV_ID, s.n_agents, seeds=seeds, env_kwargs=kwargs, device=s.device, **s.hyperparams)
    start = time.perf_counter()
    pop.learn(s.max_steps_per_agent, **learn)
    population = pop.steps_to(s.target)

    def censored(values):
        return [s.max_steps_per_agent if v is None else v for v in values]

    return {
        "settings": asdict(s),
        "separate": separate,
        "population": population,
        "separate_wall_s": separate_wall,
        "population_wall_s": time.perf_counter() - start,
        "share_difference": asdict(
            newcombe(
                sum(x is not None for x in population),
                s.n_agents,
                sum(x is not None for x in separate),
                s.n_agents,
            )
        ),
        "steps_difference": asdict(bootstrap_difference(censored(population), censored(separate))),
        "machine": machine_line(),
    }


def render_equivalence(result: dict[str, Any]) -> str:
    """Separate runs against one population: share, steps to target, wall-clock, the p-value."""
    s = result["settings"]
    rows = []
    for label, key in (("separate agents", "separate"), ("one population", "population")):
        steps = [x for x in result[key] if x is not None]
        rows.append(
            [
                label,
                f"{len(steps)}/{s['n_agents']}",
                _spread(steps, ",.0f"),
                fmt(result[f"{key}_wall_s"], ",.0f"),
            ]
        )
    share, steps = result["share_difference"], result["steps_difference"]
    head = (
        f"Noisy T-maze, corridor {s['corridor']}, seeds {s['first_seed']} .. "
        f"{s['first_seed'] + s['n_agents'] - 1}: steps to {s['target']:.0%} ({s['patience']} evaluations "
        f"in a row, every {s['eval_interval']:,} steps), separate AdvantageAgents against one Population "
        f"of the same seeds. Population minus separate, 95 % intervals: share reaching the target "
        f"{share['value']:+.2f} [{share['low']:+.2f}, {share['high']:+.2f}] (Newcombe); mean steps "
        f"{steps['value']:+,.0f} [{steps['low']:+,.0f}, {steps['high']:+,.0f}] (bootstrap; unreached seeds "
        f"at the budget of {s['max_steps_per_agent']:,}). {result['machine']}"
    )
    header = ["runs", "seeds reaching it", "steps to target (median, min - max)", "wall-clock, s"]
    return head + "\n\n" + markdown_table(header, rows)


# -- the benchmark section -------------------------------------------------------------------------------
SHARED_MACHINE = (
    "The machine was shared with other developers' experiments while this ran (the load average "
    "is in the machine line), so wall-clock figures are pessimistic; compare per CPU-second."
)


#: issue 10's "today's single-agent rate", env steps/s, against which its 10x goal was set
ISSUE_AGENT_RATE = 318.0


def throughput_verdict(result: dict[str, Any]) -> str:
    """The largest population's aggregate rate against one agent's, beside issue 10's goal (10×):
    against the agent measured in the same run, and against the issue's own single-agent figure."""
    rates, largest = result["rates"], max(result["settings"]["sizes"])
    ratio = {c: median(rates[str(largest)][c]) / median(rates["agent"][c]) for c in ("cpu", "wall")}
    issue = median(rates[str(largest)]["cpu"]) / ISSUE_AGENT_RATE
    return (
        f"Goal (issue 10): a population of 32 at >= 10× one agent's rate in aggregate. Measured for "
        f"{largest}: {ratio['cpu']:.1f}× the same run's AdvantageAgent per CPU-second, "
        f"{ratio['wall']:.1f}× per wall-second; {issue:.1f}× the issue's single-agent rate of "
        f"{ISSUE_AGENT_RATE:.0f} steps/s (its steps per CPU-second against that figure)."
    )


def target_verdict(result: dict[str, Any]) -> str:
    """The whole population's time beside issue 10's goal (32 seeds to 95 % in <= 5 minutes)."""
    return (
        f"Goal (issue 10): 32 seeds of noisy corridor 10 trained to 95 % in one process within 300 s "
        f"of wall-clock. Measured: {result['summary']['reached']}/{result['settings']['n_agents']} "
        f"seeds in {result['wall_s']:.0f} s of wall-clock, {result['cpu_s']:.0f} s of CPU time."
    )


def equivalence_verdict(result: dict[str, Any]) -> str:
    """Whether a population and separate runs agree within noise (issue 10, point 2)."""
    share, steps = result["share_difference"], result["steps_difference"]
    agree = share["low"] <= 0 <= share["high"] and steps["low"] <= 0 <= steps["high"]
    return (
        "Goal (issue 10): the success and steps-to-95 % of a population and of separate runs agree "
        f"within noise. Measured: both 95 % intervals of the differences "
        f"{'contain 0 (no difference detected)' if agree else 'do not both contain 0'}."
    )


def run_section(ctx: BenchContext, s: PopulationSettings) -> None:
    """Measure the chosen parts, store their numbers under ``<runs>/population`` and write the blocks."""
    parts = {
        "throughput": (measure_population, render_population, throughput_verdict),
        "target": (population_to_target, render_target, target_verdict),
        "equivalence": (separate_vs_population, render_equivalence, equivalence_verdict),
    }
    for part in s.parts:
        measure, render, verdict = parts[part]
        result = measure(s)
        write_json(ctx.runs / "population" / f"{part}.json", result)
        text = render(result)
        print(text, flush=True)
        ctx.write_block(SECTION, part, f"{text}\n\n{verdict(result)} {SHARED_MACHINE}")


SECTION = Section(
    "population",
    "Population engine",
    run_section,
    PopulationSettings(),
    PopulationSettings(
        sizes=(1, 4),
        steps_per_member=64,
        corridor=2,
        n_agents=4,
        max_steps_per_agent=512,
        eval_interval=256,
        eval_episodes=10,
        hyperparams={"n_envs": 2, "batch_episodes": 2, "learning_starts": 1},
    ),
    order=40,
)
