"""Run the analog agent's validation experiments and write their tables into docs/results.md.

    python scripts/validate_agent.py --experiment noisy10            # one experiment, seeds 0-4
    python scripts/validate_agent.py --experiment all                # every experiment, in order
    python scripts/validate_agent.py --render                        # rebuild the doc section only

Each experiment runs its seeds one after the other in this process (one thread), stores its raw
results in ``runs/validate/<experiment>.json`` and then rewrites the section "## Analog agent" of
docs/results.md from every stored result, so that no figure in that section is typed by hand.
Other sections of docs/results.md are left as they are.

RL runs: AdvantageAgent with its defaults, a deterministic evaluation of 100 episodes every 5000
timesteps, stopping at 95 % success; the reported success rate is a final evaluation on 100 fresh
episodes; the wall-clock to 95 % is the training time (evaluations included) until the first
evaluation at or above 95 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from sublstm.agents import AdvantageAgent, Hyperparams
from sublstm.agents.supervised import train_sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "runs" / "validate"
DOC = ROOT / "docs" / "results.md"
SECTION = "## Analog agent"
NOISY, CLEAN = "sublstm/NoisyTMaze-v0", "sublstm/TMaze-v0"

# name -> (title, kind, settings); kind "rl" or "sequence"
EXPERIMENTS: dict[str, tuple[str, str, dict]] = {
    "noisy10": ("Noisy T-maze, corridor 10, asn-sublstm (acceptance run)", "rl",
                {"env": NOISY, "corridor": 10, "core": "asn-sublstm", "total": 300_000}),
    "clean10": ("T-maze (noise-free), corridor 10, asn-sublstm", "rl",
                {"env": CLEAN, "corridor": 10, "core": "asn-sublstm", "total": 300_000}),
    "noisy10-sublstm": ("Noisy T-maze, corridor 10, sublstm core (sigmoid, forget gate)", "rl",
                        {"env": NOISY, "corridor": 10, "core": "sublstm", "total": 300_000}),
    "noisy10-lstm": ("Noisy T-maze, corridor 10, lstm core", "rl",
                     {"env": NOISY, "corridor": 10, "core": "lstm", "total": 300_000}),
    "noisy10-rate": ("Noisy T-maze, corridor 10, asn-sublstm with rate penalty 0.1", "rl",
                     {"env": NOISY, "corridor": 10, "core": "asn-sublstm", "total": 300_000,
                      "hp": {"rate_penalty": 0.1}}),
    "noisy20": ("Noisy T-maze, corridor 20, asn-sublstm", "rl",
                {"env": NOISY, "corridor": 20, "core": "asn-sublstm", "total": 300_000}),
    "clean20": ("T-maze (noise-free), corridor 20, asn-sublstm", "rl",
                {"env": CLEAN, "corridor": 20, "core": "asn-sublstm", "total": 300_000}),
    "noisy50": ("Noisy T-maze, corridor 50, asn-sublstm", "rl",
                {"env": NOISY, "corridor": 50, "core": "asn-sublstm", "total": 300_000}),
    "clean50": ("T-maze (noise-free), corridor 50, asn-sublstm", "rl",
                {"env": CLEAN, "corridor": 50, "core": "asn-sublstm", "total": 300_000}),
    "seq2a": ("Sequence prediction 2a (p = 10), asn-sublstm, supervised", "sequence",
              {"p": 10, "noisy": False}),
    "seq2b": ("Sequence prediction 2b (p = 10, noisy), asn-sublstm, supervised", "sequence",
              {"p": 10, "noisy": True}),
}  # fmt: skip


def run_rl(settings: dict, seed: int, max_wall_s: float) -> dict:
    agent = AdvantageAgent(
        settings["env"],
        core=settings["core"],
        seed=seed,
        env_kwargs={"corridor_length": settings["corridor"]},
        **settings.get("hp", {}),
    )
    deadline = time.perf_counter() + max_wall_s
    agent.learn(
        settings["total"],
        progress_bar=False,
        eval_interval=5_000,
        eval_episodes=100,
        stop_at_success=0.95,
        callback=lambda e: time.perf_counter() < deadline if e["event"] == "eval" else None,
    )
    final = agent.evaluate(100, seed=seed + 30_000, return_rates=True)
    reached = next((h for h in agent.history if h["success_rate"] >= 0.95), None)
    return {
        "seed": seed,
        "success_rate": final["success_rate"],
        "timesteps": agent.num_timesteps,
        "wall_s": agent.train_wall_s,
        "timesteps_to_95": reached["timesteps"] if reached else None,
        "wall_s_to_95": reached["wall_s"] if reached else None,
        "rate_hz": final["rate_hz"]["overall"],
    }


def run_seq(settings: dict, seed: int) -> dict:
    result = train_sequence(p=settings["p"], noisy=settings["noisy"], seed=seed, max_updates=5000)
    return {
        "seed": seed,
        "final_accuracy": result.final_accuracy,
        "all_accuracy": result.all_accuracy,
        "updates": result.updates,
        "wall_s": result.wall_s,
        "rate_hz": result.rate_hz["overall"],
    }


def run_experiment(name: str, seeds: list[int], max_wall_s: float) -> None:
    title, kind, settings = EXPERIMENTS[name]
    rows = []
    for seed in seeds:
        row = run_rl(settings, seed, max_wall_s) if kind == "rl" else run_seq(settings, seed)
        print(json.dumps({"experiment": name, **row}), flush=True)
        rows.append(row)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = {
        "experiment": name,
        "title": title,
        "kind": kind,
        "settings": settings,
        "max_wall_s": max_wall_s,
        "rows": rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "hyperparams": asdict(Hyperparams()) if kind == "rl" else None,
        "command": f"python scripts/validate_agent.py --experiment {name} --seeds {' '.join(map(str, seeds))}"
        + (f" --max-wall-s {max_wall_s:g}" if kind == "rl" else ""),
    }
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")


def fmt(value, spec: str = ".0f", none: str = "not reached") -> str:
    return none if value is None else format(value, spec)


def render_rl(record: dict) -> list[str]:
    rows = record["rows"]
    # a rate read from sigmoid/tanh units means nothing: only AF units are ASNs
    spiking = record["settings"].get("core", "asn-sublstm").startswith("asn-")
    lines = [
        "| seed | success (100 fresh episodes) | timesteps to 95 % | wall-clock to 95 % (s) "
        "| timesteps run | predicted mean rate (Hz) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        rate = f"{r['rate_hz']:.1f}" if spiking else "n/a (not AF units)"
        lines.append(
            f"| {r['seed']} | {r['success_rate']:.2f} | {fmt(r['timesteps_to_95'], 'd')} | "
            f"{fmt(r['wall_s_to_95'], '.0f')} | {r['timesteps']} | {rate} |"
        )
    ok = [r for r in rows if r["success_rate"] >= 0.95]
    walls = [r["wall_s_to_95"] if r["wall_s_to_95"] is not None else float("inf") for r in rows]
    median_wall = statistics.median(walls)
    lines += [
        "",
        f"Seeds at ≥ 95 % success: **{len(ok)} of {len(rows)}**; median wall-clock to 95 %: "
        + ("**not reached**" if median_wall == float("inf") else f"**{median_wall:.0f} s**")
        + (
            f"; median predicted rate {statistics.median(r['rate_hz'] for r in rows):.1f} Hz."
            if spiking
            else "."
        ),
    ]
    return lines


def render_seq(record: dict) -> list[str]:
    lines = [
        "| seed | final-symbol accuracy | all-symbol accuracy | updates (batch 64) | wall (s) "
        "| predicted rate (Hz) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in record["rows"]:
        lines.append(
            f"| {r['seed']} | {r['final_accuracy']:.3f} | {r['all_accuracy']:.3f} | {r['updates']} | "
            f"{r['wall_s']:.1f} | {r['rate_hz']:.1f} |"
        )
    return lines


#: RL records stored before they carried their hyperparameters and before noise-aware training
#: became the default (commit 04bd023): they were trained with train_noise=0, train_cell_noise=0.
BEFORE_NOISE_TRAINING = {"noisy20", "noisy10-rate"}


def provenance(name: str, record: dict) -> list[str]:
    """A line saying how a block's hyperparameters differ from today's defaults, if they do."""
    if record["kind"] != "rl":
        return []
    used = record.get("hyperparams")
    if used is None:
        if name not in BEFORE_NOISE_TRAINING:
            return []
        return ["Measured before noise-aware training became the default (`train_noise=0`, "
                "`train_cell_noise=0`; everything else as today).", ""]
    today = asdict(Hyperparams())
    changed = {k: v for k, v in used.items() if today.get(k) != v}
    if not changed:
        return []
    return ["Hyperparameters that differ from today's defaults: "
            + ", ".join(f"`{k}={v}`" for k, v in changed.items()) + ".", ""]


def render_section() -> str:
    lines = [
        SECTION,
        "",
        "Written by `scripts/validate_agent.py` from the results it stored; do not edit by hand. Every RL",
        "run uses the AdvantageAgent defaults (`sublstm.agents.Hyperparams`), one torch thread, a",
        "deterministic evaluation on 100 episodes every 5000 timesteps and stops at 95 % success; the",
        "success column is a final evaluation on 100 fresh episodes. Wall-clock figures were measured on a",
        "shared 2-core machine with other jobs running, so they are upper bounds rather than best cases.",
        "The predicted mean rate is the ASN firing rate implied by the AF activations (all units,",
        "deterministic evaluation episodes).",
        "",
        "Defaults at the time of rendering: "
        + ", ".join(f"`{k}={v}`" for k, v in asdict(Hyperparams()).items())
        + "; network AdvantageNetwork (AF input units, AF hidden layer, memory core, linear head).",
        "",
    ]
    for name, (title, kind, _) in EXPERIMENTS.items():
        path = RESULTS_DIR / f"{name}.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        lines += [f"### {title}", "", f"`{record['command']}` ({record['machine']})", ""]
        lines += provenance(name, record)
        lines += render_rl(record) if kind == "rl" else render_seq(record)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_doc() -> None:
    """Replace the section in docs/results.md (or append it), keeping every other section."""
    text = DOC.read_text() if DOC.exists() else "# Results\n"
    section = render_section()
    start = text.find(SECTION + "\n")
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + ("\n" + text[nxt + 1 :] if nxt >= 0 else "")
    DOC.parent.mkdir(parents=True, exist_ok=True)
    tmp = DOC.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, DOC)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--experiment", nargs="*", default=[], help=f"names, or 'all': {list(EXPERIMENTS)}")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--max-wall-s", type=float, default=600.0, help="per RL run; a run stops after it")
    ap.add_argument("--render", action="store_true", help="only rebuild the doc section")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = list(EXPERIMENTS) if args.experiment == ["all"] else args.experiment
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        print(f"error: unknown experiments {unknown}; known: {list(EXPERIMENTS)}", file=sys.stderr)
        return 2
    for name in names:
        run_experiment(name, args.seeds, args.max_wall_s)
        write_doc()
    if args.render or not names:
        write_doc()
    return 0


if __name__ == "__main__":
    sys.exit(main())
