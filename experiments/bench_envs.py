"""Section ``envs``: env steps per second of each registered env, alone (``gymnasium.make``, its
default wrappers included) and in a gymnasium vector env, with random actions drawn in advance, so
that the timings are of the envs and gymnasium's machinery, not of a policy."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial

import numpy as np

from .bench import BenchContext, Section, check_positive
from .reporting import markdown_table, median


@dataclass(frozen=True)
class EnvSettings:
    """``steps`` env steps per timed run, median of ``repeats`` after one warm-up, vectors of
    ``num_envs`` (sync, and async subprocess vectors too with ``async_envs``)."""

    steps: int = 20_000
    repeats: int = 5
    num_envs: int = 16
    async_envs: bool = False

    def validate(self) -> None:
        check_positive(self, "steps", "repeats", "num_envs")


def single_rate(env_id: str, n_steps: int, seed: int = 0) -> float:
    import gymnasium as gym

    env = gym.make(env_id)
    actions = np.random.default_rng(seed).integers(env.action_space.n, size=n_steps).tolist()
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return n_steps / elapsed


def vector_rate(env_id: str, n_steps: int, num_envs: int, mode: str, seed: int = 0) -> float:
    import gymnasium as gym

    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    try:
        actions = np.random.default_rng(seed).integers(envs.single_action_space.n, size=(n_steps, num_envs))
        envs.reset(seed=seed)
        start = time.perf_counter()
        for action in actions:
            envs.step(action)
        elapsed = time.perf_counter() - start
    finally:
        envs.close()
    return n_steps * num_envs / elapsed


def median_rate(measure, repeats: int) -> float:
    measure()  # warm-up: imports, caches, worker start-up
    return median([measure() for _ in range(repeats)])


def measure(s: EnvSettings) -> list[dict]:
    """One row per env id: {"id", "single", "sync"[, "async"]} in env steps per second."""
    from sublstm.envs import ENV_IDS

    vec_steps = max(1, s.steps // s.num_envs)  # the same number of env steps as a single run
    rows = []
    for env_id in ENV_IDS:
        row = {"id": env_id, "single": median_rate(partial(single_rate, env_id, s.steps), s.repeats)}
        for mode in ("sync", "async") if s.async_envs else ("sync",):
            row[mode] = median_rate(partial(vector_rate, env_id, vec_steps, s.num_envs, mode), s.repeats)
        rows.append(row)
        print(f"  measured {env_id}", flush=True)
    return rows


def table(rows: list[dict], s: EnvSettings) -> str:
    columns = [("single", "1 env (make)"), ("sync", f"{s.num_envs} envs, sync vector")]
    if s.async_envs:
        columns.append(("async", f"{s.num_envs} envs, async vector"))
    cells = [[f"`{row['id']}`", *(f"{row[key]:,.0f}" for key, _ in columns)] for row in rows]
    return markdown_table(["env id", *(title for _, title in columns)], cells)


def run(ctx: BenchContext, s: EnvSettings) -> None:
    text = table(measure(s), s)
    print(text)
    body = f"""
Environment steps per second (total over all envs of a vector), random actions drawn in advance,
median of {s.repeats} runs of {s.steps:,} env steps each after one warm-up run. Default arguments
of each id (T-maze: N = 10). The machine is shared, so treat the figures as orders of magnitude.

{text}

A sync vector steps fewer envs per second than a single env: gymnasium merges the per-env info
dicts key by key (`VectorEnv._add_info`), about 40 % of a 16-env T-maze step in a cProfile run
(gymnasium 1.4). Async vectors pay inter-process messaging. Any network forward pass costs more
than these steps.
"""
    ctx.write(SECTION, body)


SECTION = Section(
    "envs",
    "Environment throughput",
    run,
    EnvSettings(),
    EnvSettings(steps=512, repeats=1, num_envs=4),
    order=10,
)
