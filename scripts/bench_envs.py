"""Environment throughput: env steps per second of each registered env, alone and vectorised.

    python scripts/bench_envs.py                 # print a markdown table
    python scripts/bench_envs.py --write-doc     # also update docs/benchmarks.md

Actions are drawn in advance (uniformly at random), so the timings are of the envs and of
gymnasium's wrappers / vector machinery, not of a policy. Single envs are made with
``gymnasium.make`` (its default wrappers included, as a user gets them) and reset on episode ends;
vector envs use ``gymnasium.make_vec`` with autoreset. Each figure is the median of ``--repeats``
timed runs after one untimed warm-up run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from functools import partial
from importlib.metadata import version
from pathlib import Path

import gymnasium as gym
import numpy as np
import sublstm.envs  # noqa: F401  (registers the ids)
from sublstm.envs import ENV_IDS

SECTION = "## Environment throughput"
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _single_rate(env_id: str, n_steps: int, seed: int) -> float:
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


def _vector_rate(env_id: str, n_steps: int, num_envs: int, mode: str, seed: int) -> float:
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode)
    try:
        n_actions = envs.single_action_space.n
        actions = np.random.default_rng(seed).integers(n_actions, size=(n_steps, num_envs))
        envs.reset(seed=seed)
        start = time.perf_counter()
        for action in actions:
            envs.step(action)
        elapsed = time.perf_counter() - start
    finally:
        envs.close()
    return n_steps * num_envs / elapsed


def _median_rate(measure, repeats: int) -> float:
    measure()  # warm-up: imports, caches, worker start-up
    return statistics.median(measure() for _ in range(repeats))


def machine_description() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = ", ".join(
        f"{name} {version(name)}" for name in ("gymnasium", "numpy", "torch", "stable-baselines3")
    )
    return f"{cpu}, {cores} usable cores; Python {platform.python_version()}, {versions}; {platform.system()}"


def run(args: argparse.Namespace) -> list[dict]:
    vec_steps = max(1, args.steps // args.num_envs)  # the same number of env steps as a single run
    modes = ["sync", "async"] if args.async_envs else ["sync"]
    rows = []
    for env_id in ENV_IDS:
        single = _median_rate(partial(_single_rate, env_id, args.steps, 0), args.repeats)
        row = {"id": env_id, "single": single}
        for mode in modes:
            measure = partial(_vector_rate, env_id, vec_steps, args.num_envs, mode, 0)
            row[mode] = _median_rate(measure, args.repeats)
        rows.append(row)
        print(f"  measured {env_id}", file=sys.stderr)
    return rows


def table(rows: list[dict], num_envs: int) -> str:
    columns = [("single", "1 env (make)"), ("sync", f"{num_envs} envs, sync vector")]
    if "async" in rows[0]:
        columns.append(("async", f"{num_envs} envs, async vector"))
    lines = [
        "| env id | " + " | ".join(title for _, title in columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for row in rows:
        lines.append(f"| `{row['id']}` | " + " | ".join(f"{row[key]:,.0f}" for key, _ in columns) + " |")
    return "\n".join(lines)


def section(rows: list[dict], args: argparse.Namespace, command: str) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return "\n".join(
        [
            SECTION,
            "",
            "Environment steps per second (total over all envs of a vector), random actions drawn in",
            f"advance, median of {args.repeats} runs of {args.steps} env steps each after one warm-up run.",
            "Default arguments of each id (T-maze: N = 10).",
            "",
            table(rows, args.num_envs),
            "",
            f"- Command: `{command}`",
            f"- Machine: {machine_description()}",
            f"- Load average when measured (1, 5, 15 min): {load}; the machine is shared, so treat the",
            "  figures as orders of magnitude.",
            "- A sync vector steps fewer envs per second than a single env: gymnasium merges the",
            "  per-env info dicts key by key (`VectorEnv._add_info`), about 40 % of a 16-env T-maze",
            "  step in a cProfile run (gymnasium 1.4). Async vectors pay inter-process messaging, and",
            "  16 workers share 2 cores here. Any network forward pass costs more than these steps.",
            "",
        ]
    )


def write_doc(text: str, path: Path) -> None:
    """Replace this script's section of the doc (up to the next '## ' heading), or append it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: text + "\n", doc, count=1)
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    path.write_text(doc.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--num-envs", type=int, default=16, help="envs in a vector")
    parser.add_argument("--async-envs", action="store_true", help="also time async (subprocess) vectors")
    parser.add_argument("--write-doc", action="store_true", help=f"update the section in {DOC}")
    parser.add_argument("--doc", type=Path, default=DOC, help="the benchmarks document")
    args = parser.parse_args(argv)
    for name in ("steps", "repeats", "num_envs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    command = "python scripts/bench_envs.py " + " ".join(sys.argv[1:] if argv is None else argv)
    rows = run(args)
    text = section(rows, args, command.strip())
    print(text)
    if args.write_doc:
        write_doc(text, args.doc)
        print(f"updated {args.doc}", file=sys.stderr)


if __name__ == "__main__":
    main()
