"""Benchmarks: our agent beside its peers. Each prints a table and writes its own section of
docs/benchmarks.md (with the command and the machine), replacing that section if it is there.

    python scripts/bench.py --quick                             # all five, tiny budgets (smoke check)
    python scripts/bench.py --only throughput spiking energy    # the cheap ones, for real
    python scripts/bench.py --only sample-efficiency --jobs 16  # many training runs, in parallel
    python scripts/bench.py --only scaling --jobs 16

Benchmarks (``--only`` names):

- ``sample-efficiency``: env steps to >= 95 % deterministic success on the noisy T-maze (corridor
  10 and 20, 5 seeds): our asn-sublstm agent (scripts/train.py) vs RecurrentPPO vs memoryless PPO
  (scripts/baselines.py); median and spread, plot docs/bench_sample_efficiency.png.
- ``throughput``: env steps per second of our learner and of RecurrentPPO (and memoryless PPO),
  same env, same vector size, in one process, median of a few repeats.
- ``scaling``: corridor 10, 20, 50, 100: our agent's success and wall-clock; the simulated cost of
  one spiking episode against corridor length; plot docs/bench_scaling.png.
- ``spiking``: neuron-updates per second of the spiking simulator against batch size and network
  size, beside a plain per-neuron Python loop of the same neuron; plot docs/bench_spiking.png.
- ``energy``: synaptic events per decision of the spiking twin against the analog network's
  multiply-accumulates per step, at the default and at the shortest safe step_ms (scripts/compare.py).

Training runs are subprocesses (``--jobs`` at a time, one torch thread each); each writes its folder
under ``--runs`` and is reused by a later invocation with the same command unless ``--fresh``.
``--quick`` writes its doc and plots under ``runs/bench_quick/`` and never touches docs/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is no package
from bench_lib import (  # noqa: E402
    command_line,
    machine_info,
    machine_line,
    markdown_table,
    read_curve,
    replace_section,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
ENV_ID = "sublstm/NoisyTMaze-v0"
TARGET = 0.95
NAMES = ("sample-efficiency", "throughput", "scaling", "spiking", "energy")
TITLES = {
    "sample-efficiency": "Sample efficiency: noisy T-maze, steps to 95 % success",
    "throughput": "Learner throughput",
    "scaling": "Scaling with corridor length",
    "spiking": "Spiking simulator throughput",
    "energy": "Energy proxy: synaptic events against multiply-accumulates",
}
ALGO_LABELS = {
    "ours": "ours (asn-sublstm)",
    "recurrent-ppo": "RecurrentPPO (LSTM)",
    "ppo": "PPO (memoryless MLP)",
}


@dataclass
class Settings:
    """Budgets of one invocation; ``quick()`` is the smoke-check version of ``full()``."""

    corridors_se: tuple[int, ...]
    budget_se: dict[int, int]
    seeds_se: int
    eval_interval: int
    eval_episodes: int
    corridors_sc: tuple[int, ...]
    budget_sc: dict[int, int]
    seeds_sc: int
    throughput_steps: int
    throughput_repeats: int
    spiking_sizes: tuple[tuple[int, int], ...]
    spiking_batches: tuple[int, ...]
    spiking_min_s: float
    energy_episodes: int
    energy_sweep: tuple[float, ...]
    energy_budget: int
    quick: bool = False
    notes: list[str] = field(default_factory=list)

    @classmethod
    def full(cls) -> Settings:
        return cls(
            corridors_se=(10, 20),
            budget_se={10: 500_000, 20: 1_000_000},
            seeds_se=5,
            eval_interval=5_000,
            eval_episodes=100,
            corridors_sc=(10, 20, 50, 100),
            budget_sc={10: 500_000, 20: 1_000_000, 50: 2_000_000, 100: 4_000_000},
            seeds_sc=3,
            throughput_steps=8_192,
            throughput_repeats=3,
            spiking_sizes=((16, 8), (64, 32), (256, 128)),
            spiking_batches=(1, 4, 16, 64, 256, 1024),
            spiking_min_s=1.0,
            energy_episodes=200,
            energy_sweep=(10, 20, 30, 50, 75, 100, 150, 200),
            energy_budget=500_000,
        )

    @classmethod
    def quick_(cls) -> Settings:
        return cls(
            corridors_se=(10, 20),
            budget_se={10: 4_096, 20: 4_096},
            seeds_se=1,
            eval_interval=2_048,
            eval_episodes=20,
            corridors_sc=(10, 20, 50, 100),
            budget_sc=dict.fromkeys((10, 20, 50, 100), 2_048),
            seeds_sc=1,
            throughput_steps=2_048,
            throughput_repeats=2,
            spiking_sizes=((16, 8), (64, 32)),
            spiking_batches=(1, 64),
            spiking_min_s=0.2,
            energy_episodes=20,
            energy_sweep=(20, 100),
            energy_budget=2_048,
            quick=True,
        )


@dataclass
class Ctx:
    """Where one invocation writes, and what it records beside every figure."""

    settings: Settings
    runs: Path
    doc: Path
    plots: Path
    jobs: int
    fresh: bool
    command: str
    machine: dict
    agent: Path | None = None
    max_run_s: float | None = None
    results: dict = field(default_factory=dict)

    def write(self, name: str, body: str) -> None:
        """Replace this benchmark's section of the doc, adding command and machine lines."""
        foot = f"- Command: `{self.command}`\n- Machine: {machine_line(self.machine)}"
        if self.settings.quick:
            foot += "\n- QUICK MODE: smoke-check budgets, not the figures."
        replace_section(self.doc, TITLES[name], body.strip() + "\n\n" + foot)
        print(f"[{name}] section written to {self.doc}")


# -- subprocess runs ------------------------------------------------------------------------------------
@dataclass
class Job:
    """One training run as a subprocess: ``argv`` after the interpreter, writing into ``out``."""

    key: tuple
    argv: list[str]
    out: Path
    cost: float  # for ordering: longest first keeps a pool of workers busy to the end


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="disabled", WANDB_SILENT="true")
    return env


def run_jobs(
    jobs: list[Job], n_jobs: int, fresh: bool, max_run_s: float | None = None
) -> dict[tuple, dict | None]:
    """Run the jobs ``n_jobs`` at a time; reuse finished ones with the same command; summaries back.

    A run still going after ``max_run_s`` seconds gets SIGINT (Ctrl-C): the training scripts then
    write their summary as interrupted, and the bench counts a target not reached by then as missed.
    """

    def one(job: Job) -> tuple[tuple, dict | None]:
        stamp, summary = job.out / "bench_command.json", job.out / "summary.json"
        if not fresh and summary.exists() and stamp.exists() and json.loads(stamp.read_text()) == job.argv:
            print(f"  reuse {job.out}", flush=True)
            return job.key, json.loads(summary.read_text())
        job.out.mkdir(parents=True, exist_ok=True)
        summary.unlink(missing_ok=True)
        stamp.write_text(json.dumps(job.argv))
        t0 = time.perf_counter()
        timed_out = False
        with open(job.out / "bench.log", "w") as log:
            proc = subprocess.Popen(
                [sys.executable, *job.argv], stdout=log, stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT
            )
            try:
                rc = proc.wait(timeout=max_run_s)
            except subprocess.TimeoutExpired:
                # Ctrl-C: train.py and baselines.py stop, save and write their summary (interrupted)
                timed_out = True
                proc.send_signal(signal.SIGINT)
                try:
                    rc = proc.wait(timeout=300)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    rc = proc.wait()
        took = time.perf_counter() - t0
        if rc != 0 or not summary.exists():
            print(f"  FAILED (rc {rc}) {job.out}; see {job.out / 'bench.log'}", flush=True)
            return job.key, None
        result = json.loads(summary.read_text())
        if timed_out:
            result["bench_wall_limit_s"] = max_run_s
            summary.write_text(json.dumps(result, indent=2) + "\n")
        print(
            f"  done {job.out} in {took:.0f} s: success {result.get('success_rate', float('nan')):.2f}, "
            f"timesteps_to_95 {result.get('timesteps_to_95')}",
            flush=True,
        )
        return job.key, result

    ordered = sorted(jobs, key=lambda j: -j.cost)
    print(f"  {len(ordered)} runs, {n_jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        return dict(pool.map(one, ordered))


def training_job(algo: str, corridor: int, seed: int, budget: int, s: Settings, out: Path) -> Job:
    """The command line of one run: scripts/train.py for ours, scripts/baselines.py for the peers."""
    common = [
        "--env", ENV_ID, "--env-kwargs", f"corridor_length={corridor}", "--seed", str(seed),
        "--total-timesteps", str(budget), "--eval-interval", str(s.eval_interval),
        "--eval-episodes", str(s.eval_episodes), "--stop-at-success", str(TARGET),
        "--out", str(out), "--wandb", "disabled", "--threads", "1",
    ]  # fmt: skip
    if algo == "ours":
        argv = [str(SCRIPTS / "train.py"), "--core", "asn-sublstm", "--no-progress", *common]
    else:
        argv = [str(SCRIPTS / "baselines.py"), "--algo", algo, "--quiet", *common]
    # memoryless PPO never stops early, so it runs the whole budget: schedule it first
    return Job((corridor, algo, seed), argv, out, budget * (2.0 if algo == "ppo" else 1.0))


# -- statistics -----------------------------------------------------------------------------------------
def steps_to_target(summary: dict | None) -> float:
    """timesteps_to_95 of a run; inf when never reached (or the run failed)."""
    if summary is None or summary.get("timesteps_to_95") is None:
        return math.inf
    return float(summary["timesteps_to_95"])


def fmt_steps(x: float, budget: int) -> str:
    return f"> {budget:,}" if math.isinf(x) else f"{int(round(x)):,}"


def spread(values: list[float], budget: int) -> str:
    """min - max over the seeds, '>budget' standing for runs that never reached the target."""
    if not values:
        return "-"
    return f"{fmt_steps(min(values), budget)} - {fmt_steps(max(values), budget)}"


def median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan


def seed_stats(runs: list[dict | None], budget: int) -> dict[str, str]:
    """Table cells over the seeds of one setting (None: a failed run)."""
    ok = [r for r in runs if r is not None]
    steps = [steps_to_target(r) for r in runs]
    reached = f"{sum(not math.isinf(x) for x in steps)}/{len(runs)}"
    notes = []
    if len(ok) < len(runs):
        notes.append(f"{len(runs) - len(ok)} failed")
    limited = sum("bench_wall_limit_s" in r for r in ok)
    if limited:
        notes.append(f"{limited} stopped at the wall-clock limit")
    success = [r["success_rate"] for r in ok if r.get("success_rate") is not None]
    wall_to = [r["wall_s_to_95"] for r in ok if r.get("wall_s_to_95") is not None]
    timed = [r for r in ok if r.get("wall_s") and "timesteps" in r]
    return {
        "reached": reached + (f" ({', '.join(notes)})" if notes else ""),
        "median": fmt_steps(median(steps), budget),
        "spread": spread(steps, budget),
        "success": f"{median(success):.2f}" if success else "-",
        "wall_to": f"{median(wall_to):.0f}" if wall_to else "-",
        "wall": f"{median([r['wall_s'] for r in timed]):.0f}" if timed else "-",
        "steps_per_s": f"{median([r['timesteps'] / r['wall_s'] for r in timed]):,.0f}" if timed else "-",
    }


def curve_on_grid(curve: list[dict], grid: np.ndarray) -> np.ndarray:
    """Success at each grid point: the last evaluation at or before it, carried forward after an
    early stop (a run stops at its first evaluation >= 95 %); before the first, the first value."""
    t = np.array([r["timesteps"] for r in curve])
    y = np.array([r["success_rate"] for r in curve])
    idx = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
    return y[idx]


# -- 1. sample efficiency -------------------------------------------------------------------------------
SE_ALGOS = ("ours", "recurrent-ppo", "ppo")


def bench_sample_efficiency(ctx: Ctx) -> None:
    s = ctx.settings
    jobs = [
        training_job(
            algo, n, seed, s.budget_se[n], s, ctx.runs / "sample_efficiency" / f"N{n}" / algo / f"seed{seed}"
        )
        for n in s.corridors_se
        for algo in SE_ALGOS
        for seed in range(s.seeds_se)
    ]
    results = run_jobs(jobs, ctx.jobs, ctx.fresh, ctx.max_run_s)
    rows = []
    for n in s.corridors_se:
        for algo in SE_ALGOS:
            st = seed_stats([results.get((n, algo, seed)) for seed in range(s.seeds_se)], s.budget_se[n])
            cells = ("reached", "median", "spread", "success", "wall_to", "steps_per_s")
            rows.append([n, ALGO_LABELS[algo], *(st[c] for c in cells)])
    header = [
        "corridor",
        "learner",
        "seeds reaching 95 %",
        "steps to 95 % (median)",
        "min - max",
        "final success (median)",
        "wall s to 95 % (median)",
        "steps/s (median)",
    ]
    table = markdown_table(header, rows)
    print(table)
    plot = ctx.plots / "bench_sample_efficiency.png"
    plot_sample_efficiency(plot, jobs, s)
    budgets = ", ".join(f"corridor {n}: {s.budget_se[n]:,}" for n in s.corridors_se)
    from baselines import default_hyperparameters

    peer_hp = "; ".join(
        f"{algo}: " + ", ".join(f"{k} {v}" for k, v in default_hyperparameters(algo).items())
        for algo in ("recurrent-ppo", "ppo")
    )
    body = f"""
Environment steps until the first deterministic evaluation ({s.eval_episodes} episodes, every
{s.eval_interval:,} steps) reaches >= 95 % success on `{ENV_ID}` (noise 1), {s.seeds_se} seeds
(0 .. {s.seeds_se - 1}) per learner. Budgets: {budgets} steps; a run stops at its first evaluation
>= 95 % and "> budget" marks a seed that never got there (the median counts it as infinite); a
run still going after {ctx.max_run_s:g} s of wall-clock is stopped there and counts as not reached.
Final success is a fresh evaluation after training. All learners step 16 envs; each run is one
process with one torch thread. Our agent: scripts/train.py defaults; the peers: scripts/baselines.py
defaults (hyperparameters in its `default_hyperparameters`). A memoryless policy sees the same
observation at the junction whatever the sign said, so its success is capped near 50 %.

{table}

![success against steps]({_rel(plot, ctx.doc)})

Curves: median over seeds, band min to max; after an early stop the last evaluation is carried forward.

Peers' hyperparameters (scripts/baselines.py `default_hyperparameters`, the same for both PPO
variants where they overlap): {peer_hp}.
"""
    ctx.write("sample-efficiency", body)


def _show(path: Path) -> str:
    """A path as written in the doc: relative to the repository root when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _rel(path: Path, doc: Path) -> str:
    """Path of ``path`` relative to the doc's folder, for markdown links."""
    return os.path.relpath(path, doc.parent)


def plot_sample_efficiency(path: Path, jobs: list[Job], s: Settings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"ours": "tab:blue", "recurrent-ppo": "tab:orange", "ppo": "tab:gray"}
    fig, axes = plt.subplots(1, len(s.corridors_se), figsize=(5.5 * len(s.corridors_se), 3.6), squeeze=False)
    for ax, n in zip(axes[0], s.corridors_se, strict=True):
        grid = np.arange(s.eval_interval, s.budget_se[n] + 1, s.eval_interval)
        for algo in SE_ALGOS:
            curves = []
            for job in jobs:
                if job.key[:2] == (n, algo) and (job.out / "learning_curve.csv").exists():
                    curve = read_curve(job.out / "learning_curve.csv")
                    if curve:
                        curves.append(curve_on_grid(curve, grid))
            if not curves:
                continue
            y = np.stack(curves)
            label = f"{ALGO_LABELS[algo]} ({len(curves)} seeds)"
            ax.step(grid, np.median(y, 0), where="post", color=colors[algo], label=label)
            ax.fill_between(grid, y.min(0), y.max(0), step="post", color=colors[algo], alpha=0.2, lw=0)
        ax.axhline(TARGET, color="k", lw=0.6, ls="--")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"noisy T-maze, corridor {n}", fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("deterministic success")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- 2. throughput --------------------------------------------------------------------------------------
def bench_throughput(ctx: Ctx) -> None:
    """Env steps per second of each learner's learn(), same env and vector size, same phase of training.

    Each repeat builds fresh learners (seed = repeat), trains them for a warm-up and then times the
    next ``throughput_steps``: the same early phase every time, so repeats are comparable. (Our
    agent's cost per step falls as its episodes shorten, so a later phase would give more.)
    """
    import torch
    from baselines import default_hyperparameters, make_model, make_venv
    from sublstm.agents import AdvantageAgent

    s = ctx.settings
    torch.set_num_threads(1)
    kwargs, n_envs, warm = {"corridor_length": 10}, 16, s.throughput_steps
    names = ("ours", "recurrent-ppo", "ppo")
    rates: dict[str, list[float]] = {k: [] for k in names}
    lengths: dict[str, list[float]] = {k: [] for k in names}

    def ours_learner(seed: int):
        agent = AdvantageAgent(ENV_ID, env_kwargs=kwargs, seed=seed, n_envs=n_envs)

        def learn(steps: int) -> int:
            before = agent.num_timesteps
            agent.learn(before + steps, progress_bar=False, eval_interval=0)
            return agent.num_timesteps - before

        learn(warm)
        while agent.num_updates == 0:  # updates start once the buffer holds learning_starts episodes
            learn(n_envs * 32)
        return learn, lambda: float(np.mean([len(e) for e in list(agent.buffer)[-100:]]))

    def sb3_learner(algo: str, seed: int):
        hp = {**default_hyperparameters(algo), "n_envs": n_envs}
        model = make_model(algo, make_venv(ENV_ID, kwargs, n_envs, seed), hp, seed)

        def learn(steps: int) -> int:
            before = model.num_timesteps
            model.learn(steps, reset_num_timesteps=False)
            return model.num_timesteps - before

        learn(warm)
        return learn, lambda: float(np.mean([e["l"] for e in model.ep_info_buffer]))

    for rep in range(s.throughput_repeats):
        for name in names:  # interleaved, so a change of machine load hits all alike
            learn, mean_length = ours_learner(rep) if name == "ours" else sb3_learner(name, rep)
            t0 = time.perf_counter()
            done = learn(s.throughput_steps)
            rates[name].append(done / (time.perf_counter() - t0))
            lengths[name].append(mean_length())
        print(
            f"  repeat {rep + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()), flush=True
        )
    ref = median(rates["ours"])
    rows = [
        [
            ALGO_LABELS[name],
            f"{median(v):,.0f}",
            f"{min(v):,.0f} - {max(v):,.0f}",
            f"{median(v) / ref:.2f}",
            f"{median(lengths[name]):.0f}",
        ]
        for name, v in rates.items()
    ]
    header = ["learner", "env steps/s (median)", "min - max", "relative to ours", "mean episode length"]
    table = markdown_table(header, rows)
    print(table)
    ctx.results["throughput"] = {k: median(v) for k, v in rates.items()}
    hp, ppo = AdvantageAgent(ENV_ID, env_kwargs=kwargs).hp, default_hyperparameters("recurrent-ppo")
    body = f"""
Environment steps per second of a whole `learn()` (acting, storing, updating) on `{ENV_ID}`
corridor 10, {n_envs} envs each, one torch thread, no evaluations. Each of {s.throughput_repeats}
repeats builds fresh learners (seed = repeat), trains each for {warm:,} steps (our agent until it
has begun updating, too) and times the next {s.throughput_steps:,}; learners interleaved; median
over repeats. This is early training: the policies still wander (last column: mean length of the
last 100 training episodes at the end of the timed span; an optimal episode takes 11 steps). Our
agent updates {hp.gradient_steps}x every {hp.train_every} vector step(s) on {hp.batch_episodes} whole
replayed episodes padded to the longest (BPTT), so its cost per step falls as episodes shorten; the
PPO learners update every {ppo["n_steps"]} vector steps for {ppo["n_epochs"]} epochs whatever the
episodes. Whole training runs, to 95 % success, are in the sample-efficiency table (steps/s column).

{table}
"""
    ctx.write("throughput", body)


# -- 3. scaling -----------------------------------------------------------------------------------------
def optimal_episode(corridor: int, goal: int = 0):
    """The observations an optimal T-maze episode shows (sign, corridor..., junction), (N+1, 1, 3)."""
    import sublstm.envs  # noqa: F401
    from sublstm.envs.tmaze import EAST, TMazeEnv

    env = TMazeEnv(corridor_length=corridor, noise=1.0)
    obs, _ = env.reset(seed=goal)
    seq = [obs]
    for _ in range(corridor):  # N moves east; the (N+1)-th decision, the turn, is taken at the junction
        obs, *_ = env.step(EAST)
        seq.append(obs)
    return np.stack(seq)[:, None, :].astype(np.float32)


def spiking_episode_seconds(network, corridor: int, repeats: int = 3) -> float:
    """Median wall-clock of the spiking twin over one optimal episode (batch 1, default timing)."""
    import torch
    from sublstm.spiking.policy import SpikingPolicy

    policy = SpikingPolicy.from_network(network)
    obs = torch.as_tensor(optimal_episode(corridor))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        policy.teacher_forced(obs)
        times.append(time.perf_counter() - t0)
    return median(times)


def bench_scaling(ctx: Ctx) -> None:
    import torch
    from sublstm.agents import AdvantageAgent
    from sublstm.spiking.policy import DEFAULT_STEP_MS

    s = ctx.settings
    torch.set_num_threads(1)
    jobs = [
        training_job("ours", n, seed, s.budget_sc[n], s, ctx.runs / "scaling" / f"N{n}" / f"seed{seed}")
        for n in s.corridors_sc
        for seed in range(s.seeds_sc)
    ]
    results = run_jobs(jobs, ctx.jobs, ctx.fresh, ctx.max_run_s)
    rows, spike_cost = [], {}
    for n in s.corridors_sc:
        st = seed_stats([results.get((n, "ours", seed)) for seed in range(s.seeds_sc)], s.budget_sc[n])
        ckpts = [j.out / "agent.pt" for j in jobs if j.key[0] == n and (j.out / "agent.pt").exists()]
        if ckpts:
            network = AdvantageAgent.load(ckpts[0]).network.eval()
        else:  # no trained agent (a failed run): the cost of simulating does not depend on the weights
            network = AdvantageAgent(ENV_ID, env_kwargs={"corridor_length": n}, seed=0).network.eval()
        spike_cost[n] = spiking_episode_seconds(network, n)
        rows.append(
            [n, st["reached"], st["success"], st["median"], st["wall"], st["wall_to"], f"{n + 1}",
             f"{spike_cost[n] * 1e3:.0f}", f"{spike_cost[n] * 1e3 / (n + 1):.2f}"]
        )  # fmt: skip
    ns = np.array(s.corridors_sc, dtype=float) + 1.0
    cost = np.array([spike_cost[n] for n in s.corridors_sc])
    slope, intercept = np.polyfit(ns, cost, 1)
    fit = slope * ns + intercept
    r2 = 1.0 - ((cost - fit) ** 2).sum() / max(1e-30, ((cost - cost.mean()) ** 2).sum())
    header = [
        "corridor",
        "seeds reaching 95 %",
        "final success (median)",
        "steps to 95 % (median)",
        "training wall s (median)",
        "wall s to 95 % (median)",
        "spiking episode: decisions",
        "spiking episode: ms",
        "ms per decision",
    ]
    table = markdown_table(header, rows)
    print(table)
    print(f"spiking episode cost: {slope * 1e3:.2f} ms per decision + {intercept * 1e3:.1f} ms, R^2 {r2:.4f}")
    plot = ctx.plots / "bench_scaling.png"
    plot_scaling(plot, s.corridors_sc, results, spike_cost, s)
    budgets = ", ".join(f"{n}: {s.budget_sc[n]:,}" for n in s.corridors_sc)
    body = f"""
Our agent (scripts/train.py defaults, asn-sublstm) on `{ENV_ID}` with corridor length N,
{s.seeds_sc} seeds each, stopping at the first evaluation >= 95 % ({s.eval_episodes} episodes every
{s.eval_interval:,} steps); budgets (steps) {budgets}; a run still going after {ctx.max_run_s:g} s of
wall-clock is stopped there. Training wall-clock includes the periodic evaluations; one process
and one torch thread per run.

Spiking episode: the spiking twin of the seed-0 agent (`SpikingPolicy`, default timing: dt 1 ms,
{DEFAULT_STEP_MS:g} ms per decision) fed the observations of an optimal episode (N+1 decisions),
batch 1, median of 3; wall-clock on this machine. Linear fit: {slope * 1e3:.2f} ms per decision
+ {intercept * 1e3:.1f} ms, R^2 = {r2:.4f}.

{table}

![scaling]({_rel(plot, ctx.doc)})
"""
    ctx.write("scaling", body)


def plot_scaling(path: Path, corridors, results, spike_cost, s: Settings) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    for n in corridors:
        runs = [results.get((n, "ours", seed)) for seed in range(s.seeds_sc)]
        ok = [r for r in runs if r is not None]
        done = [r for r in ok if r.get("success_rate") is not None]
        axes[0].scatter([n] * len(done), [r["success_rate"] for r in done], color="tab:blue", s=14)
        axes[1].scatter([n] * len(ok), [r["wall_s"] for r in ok], color="tab:blue", s=14)
    axes[0].set_ylabel("final success")
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("training wall-clock (s)")
    axes[1].set_yscale("log")
    x = np.array(corridors)
    axes[2].plot(x + 1, [spike_cost[n] * 1e3 for n in corridors], "o-", color="tab:purple")
    axes[2].set_xlabel("decisions per episode (N + 1)")
    axes[2].set_ylabel("spiking episode (ms wall-clock)")
    for ax in axes[:2]:
        ax.set_xlabel("corridor length N")
        ax.set_xscale("log")
        ax.set_xticks(x, [str(n) for n in corridors])
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- 4. spiking simulator -------------------------------------------------------------------------------
def random_twin(n_hidden: int, n_cells: int, step_ms: float = 100.0):
    """The spiking twin of a freshly initialised asn-sublstm network (cost does not depend on training)."""
    from sublstm.agents import AdvantageNetwork
    from sublstm.spiking.network import SpikingNetwork

    net = AdvantageNetwork(3, 4, core="asn-sublstm", n_hidden=n_hidden, n_cells=n_cells)
    return SpikingNetwork.from_analog(net, dt=1.0, step_ms=step_ms)


def simulator_rate(twin, batch: int, min_seconds: float) -> float:
    """Neuron-updates per second of SpikingNetwork.step with a batch of ``batch`` episodes."""
    import torch

    gen = torch.Generator().manual_seed(0)
    obs = torch.rand(batch, twin.obs_dim, generator=gen)
    state = twin.initial_state(batch)
    with torch.no_grad():
        _, state = twin.step(obs, state)  # warm-up
        decisions, t0 = 0, time.perf_counter()
        while decisions == 0 or time.perf_counter() - t0 < min_seconds:
            _, state = twin.step(obs, state)
            decisions += 1
        elapsed = time.perf_counter() - t0
    return batch * twin.n_neurons * twin.steps_per_decision * decisions / elapsed


def loop_rate(python_loop_rate, n: int, min_seconds: float) -> float:
    """Median of 3 timings of the reference loop, each long enough (>= min_seconds) to be stable."""
    probe = python_loop_rate(n, 20)
    steps = max(20, int(min_seconds * probe / n))
    return median([python_loop_rate(n, steps) for _ in range(3)])


def bench_spiking(ctx: Ctx) -> None:
    import torch
    from bench_spiking import python_loop_rate  # the spiking engineer's reference loop: reused, not copied

    s = ctx.settings
    torch.set_num_threads(1)
    rows, curves, loop_rates = [], {}, {}
    for n_hidden, n_cells in s.spiking_sizes:
        twin = random_twin(n_hidden, n_cells)
        n = twin.n_neurons
        curves[n] = [simulator_rate(twin, b, s.spiking_min_s) for b in s.spiking_batches]
        loop_rates[n] = loop_rate(python_loop_rate, n, s.spiking_min_s)
        label = f"{n} ({n_hidden} hidden, {n_cells} cells)"
        for b, r in zip(s.spiking_batches, curves[n], strict=True):
            rows.append([label, b, f"{r:,.0f}", f"{r / loop_rates[n]:,.2g}"])
        rows.append([label, "Python loop", f"{loop_rates[n]:,.0f}", "1"])
        print(
            f"  {n} neurons: simulator {[f'{r:,.0f}' for r in curves[n]]}, loop {loop_rates[n]:,.0f}",
            flush=True,
        )
    table = markdown_table(["neurons", "batch (episodes)", "neuron-updates/s", "x Python loop"], rows)
    print(table)
    plot = ctx.plots / "bench_spiking.png"
    plot_spiking(plot, s.spiking_batches, curves, loop_rates)
    body = f"""
Neuron-updates per second (one ASN advanced by one dt = 1 ms) of the spiking simulator
(`SpikingNetwork.step`: synaptic currents by matrix products, every ASN by one elementwise step;
torch on CPU, one thread, float32) for the twin of a freshly initialised asn-sublstm network of the
given size, with a batch of episodes simulated side by side, each timed for at least
{s.spiking_min_s:g} s. Beside it, in the same run, the per-neuron Python loop over floats of
`scripts/bench_spiking.py` (`python_loop_rate`: the same ASN update on the same number of neurons,
median of 3 timings of at least {s.spiking_min_s:g} s each). That loop is given fixed input
currents and computes no synaptic sums, so it does less work per update than the simulator: the
speed-ups are lower bounds.

{table}

![simulator throughput]({_rel(plot, ctx.doc)})
"""
    ctx.write("spiking", body)


def plot_spiking(path: Path, batches, curves, loop_rates) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for (n, rates), color in zip(
        curves.items(), ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=False
    ):
        ax.plot(batches, rates, "o-", color=color, label=f"simulator, {n} neurons")
        ax.axhline(loop_rates[n], color=color, ls=":", label=f"Python loop, {n} neurons (batch 1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch (episodes simulated together)")
    ax.set_ylabel("neuron-updates per second")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- 5. energy ------------------------------------------------------------------------------------------
def energy_agent(ctx: Ctx) -> Path:
    """A trained agent for the energy figures: --agent, else a run of this bench, else train one."""
    if ctx.agent is not None:
        if not ctx.agent.exists():
            raise ValueError(f"--agent {ctx.agent} does not exist")
        return ctx.agent
    s = ctx.settings
    for candidate in sorted((ctx.runs / "sample_efficiency" / "N10" / "ours").glob("seed*/agent.pt")):
        summary = candidate.parent / "summary.json"
        if summary.exists() and json.loads(summary.read_text()).get("success_rate", 0) >= TARGET:
            return candidate
    job = training_job("ours", 10, 0, s.energy_budget, s, ctx.runs / "energy" / "agent")
    print("  training an agent for the energy figures (noisy T-maze, corridor 10, seed 0)", flush=True)
    run_jobs([job], 1, ctx.fresh, ctx.max_run_s)
    return job.out / "agent.pt"


def bench_energy(ctx: Ctx) -> None:
    from sublstm.spiking.policy import DEFAULT_STEP_MS

    s = ctx.settings
    sweep = sorted({*s.energy_sweep, DEFAULT_STEP_MS})  # the default belongs to the sweep it is judged by
    ckpt = energy_agent(ctx)
    out = ctx.runs / "energy"
    out.mkdir(parents=True, exist_ok=True)
    argv = [
        str(SCRIPTS / "compare.py"), "--checkpoint", str(ckpt), "--episodes", str(s.energy_episodes),
        "--seed", "0", "--sweep", ",".join(f"{x:g}" for x in sweep),
        "--json", str(out / "compare.json"),
        "--wandb", "disabled", "--threads", "1",
    ]  # fmt: skip
    print("  " + " ".join(["python", *argv]), flush=True)
    with open(out / "compare.log", "w") as log:
        rc = subprocess.run(
            [sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT
        )
    if rc.returncode != 0:
        raise RuntimeError(f"scripts/compare.py failed (rc {rc.returncode}); see {out / 'compare.log'}")
    res = json.loads((out / "compare.json").read_text())
    delay = str(res["recurrent_delay"])
    safe = (res.get("shortest_step_ms_98") or {}).get(delay)
    macs = res["analog_macs_per_step"]
    rows = []

    def row(
        label: str, step_ms: float, success: float, agree: float, rate: float, spikes: float, synops: float
    ):
        rows.append(
            [label, f"{step_ms:g}", f"{success:.2f}", f"{agree:.3f}", f"{rate:.1f}", f"{spikes:,.0f}",
             f"{synops:,.0f}", f"{macs:,}", f"{synops / macs:,.1f}"]
        )  # fmt: skip

    sp = res["spiking"]
    row("default", res["step_ms"], sp["success_rate"], res["agreement"]["teacher_forced"], sp["mean_rate_hz"],
        sp["spikes_per_decision"], sp["synops_per_decision"])  # fmt: skip
    if safe is not None:
        r = next(r for r in res["sweep"] if str(r["recurrent_delay"]) == delay and r["step_ms"] == safe)
        row("shortest safe", safe, r["success_rate"], r["teacher_forced"], r["mean_rate_hz"],
            r["spikes_per_decision"], r["synops_per_decision"])  # fmt: skip
    header = [
        "setting",
        "step_ms",
        "spiking success",
        "decision agreement",
        "mean rate (Hz)",
        "spikes / decision",
        "synaptic events / decision",
        "analog MACs / step",
        "events / MAC",
    ]
    table = markdown_table(header, rows)
    print(table)
    ctx.results["energy"] = {"rows": rows, "safe_step_ms": safe}
    analog = res["analog"]["success_rate"]
    safe_text = (
        f"{safe:g} ms: the shortest step_ms of the sweep ({', '.join(f'{x:g}' for x in sweep)}) "
        "from which "
        "every longer one keeps >= 98 % teacher-forced decision agreement with the analog network"
        if safe is not None
        else "not found: no step_ms of the sweep kept >= 98 % decision agreement"
    )
    body = f"""
The spiking twin of a trained agent (`{_show(ckpt)}`, {res["env_id"]} {res["env_kwargs"]}; analog success
{analog:.2f}) over {res["episodes"]} closed-loop episodes (scripts/compare.py, dt {res["dt_ms"]:g} ms,
recurrent delay {delay}). A synaptic event is one spike delivered to one target (neuron, memory
cell or readout unit); the analog network's multiply-accumulates per step count every weight
once. Shortest safe step: {safe_text}. Raw output: `{_show(out / "compare.json")}`.

{table}
"""
    ctx.write("energy", body)


# -- command line ---------------------------------------------------------------------------------------
BENCHES = {
    "sample-efficiency": bench_sample_efficiency,
    "throughput": bench_throughput,
    "scaling": bench_scaling,
    "spiking": bench_spiking,
    "energy": bench_energy,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--only", nargs="+", choices=NAMES, default=None, help="run these benchmarks (default: all)"
    )
    p.add_argument("--quick", action="store_true", help="tiny budgets; writes runs/bench_quick/, not docs/")
    p.add_argument("--jobs", type=int, default=1, help="training runs at a time (one core each)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per setting (default 5; scaling 3)")
    p.add_argument(
        "--corridors",
        type=int,
        nargs="+",
        default=None,
        help="corridor lengths (default: 10 20; scaling 10 20 50 100)",
    )
    p.add_argument(
        "--budget",
        nargs="+",
        default=[],
        metavar="N=STEPS",
        help="training budget per corridor length, e.g. 10=500000 20=1000000 (overrides the defaults)",
    )
    p.add_argument("--runs", default=None, help="folder of the training runs (default runs/bench)")
    p.add_argument("--doc", default=None, help="markdown file to write (default docs/benchmarks.md)")
    p.add_argument("--agent", default=None, help="energy: a trained agent.pt (default: found or trained)")
    p.add_argument(
        "--max-run-s",
        type=float,
        default=None,
        help="wall-clock limit of one training run (default 3600; quick 120)",
    )
    p.add_argument("--fresh", action="store_true", help="rerun training runs even if their results exist")
    return p


def make_context(args: argparse.Namespace) -> Ctx:
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    settings = Settings.quick_() if args.quick else Settings.full()
    max_run_s = args.max_run_s if args.max_run_s is not None else (120.0 if args.quick else 3600.0)
    if not max_run_s > 0:
        raise ValueError(f"--max-run-s must be > 0, got {args.max_run_s}")
    if args.seeds is not None:
        if args.seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
        settings.seeds_se = settings.seeds_sc = args.seeds
    if args.corridors is not None:
        bad = [n for n in args.corridors if n < 1]
        if bad:
            raise ValueError(f"--corridors must be positive integers, got {bad}")
        settings.corridors_se = settings.corridors_sc = tuple(args.corridors)
    for item in args.budget:
        n, sep, steps = item.partition("=")
        if not (sep and n.isdigit() and steps.isdigit() and int(n) > 0 and int(steps) > 0):
            raise ValueError(f"--budget entries must look like N=STEPS with positive integers, got {item!r}")
        settings.budget_se[int(n)] = settings.budget_sc[int(n)] = int(steps)
    for n in set(settings.corridors_se) | set(settings.corridors_sc):
        default = max(settings.budget_sc.values()) if settings.quick else 100_000 * n
        settings.budget_se.setdefault(n, default)
        settings.budget_sc.setdefault(n, default)
    base = ROOT / "runs" / ("bench_quick" if args.quick else "bench")
    runs = Path(args.runs) if args.runs else base
    doc = (
        Path(args.doc)
        if args.doc
        else (base / "benchmarks.md" if args.quick else ROOT / "docs" / "benchmarks.md")
    )
    plots = doc.parent
    return Ctx(
        settings=settings,
        runs=runs,
        doc=doc,
        plots=plots,
        jobs=args.jobs,
        fresh=args.fresh,
        command=command_line(),
        machine=machine_info(),
        agent=Path(args.agent) if args.agent else None,
        max_run_s=max_run_s,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        ctx = make_context(args)
    except ValueError as exc:
        parser.error(str(exc))
    import torch

    torch.set_num_threads(1)
    ctx.machine = machine_info()
    names = args.only or list(NAMES)
    print(f"machine: {machine_line(ctx.machine)}")
    failed = []
    for name in names:
        print(f"== {name} ==", flush=True)
        t0 = time.perf_counter()
        try:
            BENCHES[name](ctx)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"[{name}] FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        print(f"[{name}] {time.perf_counter() - t0:.0f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
