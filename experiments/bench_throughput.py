"""Section ``throughput``: env steps per second of a whole ``learn()`` of our agent, RecurrentPPO and
memoryless PPO, same env, same vector size, same early phase of training, in one process."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .bench import ENV_ID, LEARNER_LABELS, BenchContext, Section, check_positive
from .reporting import markdown_table, median

LEARNERS = ("ours", "recurrent-ppo", "ppo")
HEADER = [
    "learner",
    "env steps/s (median)",
    "min - max",
    "relative to ours",
    "env steps per CPU-s (median)",
    "relative to ours",
    "mean episode length",
]


@dataclass(frozen=True)
class ThroughputSettings:
    """``steps`` timed after as many warm-up steps, ``repeats`` times (fresh learners, seed = repeat)."""

    steps: int = 8_192
    repeats: int = 3
    n_envs: int = 16
    corridor: int = 10

    def validate(self) -> None:
        check_positive(self, "steps", "repeats", "n_envs", "corridor")


def ours_learner(seed: int, s: ThroughputSettings):
    """A fresh agent trained through its warm-up (and until it has begun updating)."""
    from sublstm.agents import AdvantageAgent

    agent = AdvantageAgent(ENV_ID, env_kwargs={"corridor_length": s.corridor}, seed=seed, n_envs=s.n_envs)
    lengths: list[int] = []

    def on_event(event: dict) -> None:
        if event.get("event") == "episode":
            lengths.append(event["length"])

    def learn(steps: int) -> int:
        before = agent.num_timesteps
        agent.learn(steps, callback=on_event, progress_bar=False, eval_interval=0, stop_at_success=None)
        return agent.num_timesteps - before

    learn(s.steps)
    while agent.num_updates == 0:  # updates start once the buffer holds learning_starts episodes
        learn(s.n_envs * 32)
    return learn, lambda: float(np.mean(lengths[-100:]))


def peer_learner(algo: str, seed: int, s: ThroughputSettings):
    """A fresh SB3 peer trained through its warm-up."""
    from .peers import default_hyperparameters, make_model, make_venv
    from .training_config import EnvSection

    env = EnvSection(id=ENV_ID, kwargs={"corridor_length": s.corridor})
    model = make_model(algo, make_venv(env, s.n_envs, seed), default_hyperparameters(algo), seed)

    def learn(steps: int) -> int:
        before = model.num_timesteps
        model.learn(steps, reset_num_timesteps=False)
        return model.num_timesteps - before

    learn(s.steps)
    return learn, lambda: float(np.mean([e["l"] for e in model.ep_info_buffer]))


def verdict(wall: dict[str, float], cpu: dict[str, float]) -> str:
    """Our rate against RecurrentPPO's, beside issue 10's goal (ours >= RecurrentPPO's)."""
    ratio_wall, ratio_cpu = wall["ours"] / wall["recurrent-ppo"], cpu["ours"] / cpu["recurrent-ppo"]
    met = "met" if ratio_wall >= 1.0 else "NOT met"
    return (
        f"Goal (issue 10): env steps/s of our single agent >= RecurrentPPO's. Measured: ours / "
        f"RecurrentPPO = {ratio_wall:.2f} per wall-second, {ratio_cpu:.2f} per CPU-second: {met}."
    )


def run(ctx: BenchContext, s: ThroughputSettings) -> None:
    wall: dict[str, list[float]] = {k: [] for k in LEARNERS}
    cpu: dict[str, list[float]] = {k: [] for k in LEARNERS}
    lengths: dict[str, list[float]] = {k: [] for k in LEARNERS}
    for rep in range(s.repeats):
        for name in LEARNERS:  # interleaved, so a change of machine load hits all alike
            learn, mean_length = ours_learner(rep, s) if name == "ours" else peer_learner(name, rep, s)
            t0, c0 = time.perf_counter(), time.process_time()
            done = learn(s.steps)
            wall[name].append(done / (time.perf_counter() - t0))
            cpu[name].append(done / (time.process_time() - c0))  # one thread: this learner's CPU time
            lengths[name].append(mean_length())
        print(
            f"  repeat {rep + 1}: "
            + ", ".join(f"{k} {v[-1]:,.0f}/s ({cpu[k][-1]:,.0f}/CPU-s)" for k, v in wall.items()),
            flush=True,
        )
    ref_wall, ref_cpu = median(wall["ours"]), median(cpu["ours"])
    rows = [
        [
            LEARNER_LABELS[name],
            f"{median(v):,.0f}",
            f"{min(v):,.0f} - {max(v):,.0f}",
            f"{median(v) / ref_wall:.2f}",
            f"{median(cpu[name]):,.0f}",
            f"{median(cpu[name]) / ref_cpu:.2f}",
            f"{median(lengths[name]):.0f}",
        ]
        for name, v in wall.items()
    ]
    table = markdown_table(HEADER, rows)
    goal = verdict({k: median(v) for k, v in wall.items()}, {k: median(v) for k, v in cpu.items()})
    print(table)
    print(goal)
    ctx.results["throughput"] = {k: median(v) for k, v in wall.items()}
    body = f"""
Environment steps per second of a whole `learn()` (acting, storing, updating) on `{ENV_ID}`
corridor {s.corridor}, {s.n_envs} envs each, one torch thread, no evaluations. Each of {s.repeats}
repeats builds fresh learners (seed = repeat), trains each for {s.steps:,} steps (our agent until
it has begun updating, too) and times the next {s.steps:,}; learners interleaved; median over
repeats, per wall-second and per CPU-second of the process (the machine is shared: the CPU-second
figures are the steadier comparison). This is early training: the policies still wander (last
column: mean length of the last 100 training episodes at the end of the timed span; an optimal
episode takes {s.corridor + 1} steps). Our agent updates after every vector step on whole replayed
episodes padded to the longest (BPTT), so its cost per step falls as episodes shorten; on the CPU
its update and its acting steps are computed by hand in numpy, the cells' time loops compiled with
numba (`sublstm.agents.fast_update`, `sublstm.agents.cell_kernels`). The
PPO learners update every n_steps vector steps for n_epochs epochs whatever the episodes. Whole
training runs, to 95 % success, are in the sample-efficiency table (steps/s column).

{table}

{goal}
"""
    ctx.write(SECTION, body)


SECTION = Section(
    "throughput",
    "Learner throughput",
    run,
    ThroughputSettings(),
    ThroughputSettings(steps=2_048, repeats=2),
    order=20,
)
