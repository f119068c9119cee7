"""Train the analog agent (or the supervised sequence predictor) and write everything to --out.

    python scripts/train.py                       # default agent, noisy T-maze corridor 10
    python scripts/train.py --env sublstm/NoisyTMaze-v0 --env-kwargs corridor_length=10 \\
        --core asn-sublstm --seed 0 --out runs/x
    python scripts/train.py --task sequence --p 10 --noisy --out runs/seq2b

Reinforcement learning (``--task rl``, the default) writes in ``--out``: ``agent.pt`` (checkpoint),
``config.json``, ``metrics.csv`` (one row per training episode), ``learning_curve.csv`` (one row
per periodic deterministic evaluation), ``learning_curve.png`` and ``summary.json`` (success_rate
over ``--eval-episodes`` fresh deterministic episodes, timesteps, wall_s, timesteps_to_95,
wall_s_to_95, predicted firing rates). Ctrl-C saves the checkpoint and exits; ``--resume``
continues from it (timestep count and optimizer state included).

The supervised task (``--task sequence``) writes ``model.pt`` (the network's weights and config),
``config.json``, ``metrics.csv``, ``learning_curve.png`` and ``summary.json`` (final_accuracy).

wandb runs offline by default (no network needed); ``--wandb disabled`` turns it off.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sublstm.agents import AdvantageAgent, CheckpointError
from sublstm.agents.checkpoint import save_checkpoint
from sublstm.agents.supervised import train_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is no package: find cli_args
from cli_args import parse_key_values  # noqa: E402

DEFAULT_ENV = "sublstm/NoisyTMaze-v0"
DEFAULT_ENV_KWARGS = {"corridor_length": 10}
TARGET = 0.95  # the success rate whose first crossing the summary reports (timesteps_to_95)
EPISODE_FIELDS = ("episode", "timesteps", "return", "length", "success", "epsilon", "loss", "rate_hz")
EVAL_FIELDS = ("timesteps", "success_rate", "mean_return", "mean_length", "wall_s", "epsilon")


def parse_kv(items: list[str], what: str) -> dict[str, Any]:
    """key=value items as a dict (see cli_args.parse_key_values); a bad item ends the script."""
    try:
        return parse_key_values(items, what)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=("rl", "sequence"), default="rl")
    ap.add_argument("--env", default=DEFAULT_ENV)
    ap.add_argument("--env-kwargs", nargs="*", default=None, metavar="KEY=VALUE")
    ap.add_argument("--core", default="asn-sublstm")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="output folder (default runs/<task>-<core>-seed<seed>)")
    ap.add_argument("--total-timesteps", type=int, default=300_000, help="rl: env steps; sequence: updates")
    ap.add_argument(
        "--stop-at-success", type=float, default=TARGET, help="stop early at this eval success (<0: never)"
    )
    ap.add_argument(
        "--stop-patience",
        type=int,
        default=2,
        help="consecutive evaluations at --stop-at-success before stopping (2: train past a lucky one, "
        "which gives the spiking twin wider decision margins)",
    )
    ap.add_argument("--eval-interval", type=int, default=5_000)
    ap.add_argument("--eval-episodes", type=int, default=100)
    ap.add_argument("--rate-penalty", type=float, default=0.0)
    ap.add_argument("--hp", nargs="*", default=[], metavar="KEY=VALUE", help="other Hyperparams fields")
    ap.add_argument("--p", type=int, default=10, help="sequence task: lag p")
    ap.add_argument("--noisy", action="store_true", help="sequence task: 2b (random middle symbols)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny nets)")
    ap.add_argument("--wandb", choices=("offline", "online", "disabled"), default="offline")
    ap.add_argument("--resume", action="store_true", help="continue from --out/agent.pt")
    ap.add_argument("--no-progress", action="store_true")
    return ap


# --- logging helpers -------------------------------------------------------------------------------
class Logger:
    """metrics.csv rows and wandb, behind one call; wandb is imported only when enabled."""

    def __init__(self, out: Path, mode: str, config: dict, fields: tuple[str, ...], append: bool) -> None:
        self.path = out / "metrics.csv"
        new = not (append and self.path.exists())
        self.file = open(self.path, "w" if new else "a", newline="")  # noqa: SIM115 (closed in close())
        self.writer = csv.DictWriter(self.file, fieldnames=fields, extrasaction="ignore")
        if new:
            self.writer.writeheader()
        self.run = None
        if mode != "disabled":
            os.environ.setdefault("WANDB_SILENT", "true")
            import wandb

            self.run = wandb.init(
                project="sublstm", mode=mode, dir=str(out), config=config, resume="allow" if append else None
            )

    def row(self, record: dict) -> None:
        self.writer.writerow(record)

    def log(self, record: dict, step: int) -> None:
        if self.run is not None:
            self.run.log({k: v for k, v in record.items() if isinstance(v, (int, float))}, step=step)

    def image(self, key: str, path: Path, step: int) -> None:
        if self.run is not None and path.exists():
            import wandb

            self.run.log({key: wandb.Image(str(path))}, step=step)

    def close(self) -> None:
        self.file.close()
        if self.run is not None:
            self.run.finish()


def plot(path: Path, episodes: list[dict], evals: list[dict], title: str, x: str = "timesteps") -> None:
    """Rolling training success/return and the deterministic evaluations, against timesteps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    if episodes:
        t = np.array([e[x] for e in episodes], dtype=float)
        succ = np.array([float(e.get("success") or 0.0) for e in episodes])
        k = min(100, len(succ))
        roll = np.convolve(succ, np.ones(k) / k, mode="valid")
        ax.plot(t[k - 1 :], roll, color="tab:orange", lw=1, label=f"training success (last {k} episodes)")
    if evals:
        ax.plot(
            [e[x] for e in evals],
            [e["success_rate"] for e in evals],
            "o-",
            color="tab:blue",
            ms=3,
            label="deterministic evaluation",
        )
    ax.axhline(TARGET, color="grey", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(x)
    ax.set_ylabel("success rate")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def first_reaching(evals: list[dict], key: str, threshold: float = TARGET) -> float | None:
    for e in evals:
        if not math.isnan(e["success_rate"]) and e["success_rate"] >= threshold:
            return e[key]
    return None


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


# --- reinforcement learning ------------------------------------------------------------------------
def run_rl(args: argparse.Namespace, out: Path) -> dict:
    ckpt = out / "agent.pt"
    hp = parse_kv(args.hp, "--hp")
    if args.rate_penalty:
        hp["rate_penalty"] = args.rate_penalty
    env_kwargs = DEFAULT_ENV_KWARGS if args.env_kwargs is None and args.env == DEFAULT_ENV else {}
    env_kwargs = parse_kv(args.env_kwargs, "--env-kwargs") if args.env_kwargs is not None else env_kwargs
    previous_evals: list[dict] = []
    previous_episodes: list[dict] = []
    if args.resume:
        if not ckpt.exists():
            raise SystemExit(f"error: --resume given but {ckpt} does not exist")
        agent = AdvantageAgent.load(ckpt, device=args.device)
        curve, metrics = out / "learning_curve.csv", out / "metrics.csv"
        if metrics.exists():  # earlier episodes, so that the learning curve shows the whole run
            with open(metrics, newline="") as f:
                rows = list(csv.DictReader(f))
            previous_episodes = [
                {"timesteps": float(r["timesteps"]), "success": r["success"] == "1"} for r in rows
            ]
        if curve.exists():
            with open(curve, newline="") as f:
                previous_evals = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
        print(f"resuming from {ckpt} at {agent.num_timesteps} timesteps")
    else:
        agent = AdvantageAgent(
            args.env, core=args.core, seed=args.seed, env_kwargs=env_kwargs, device=args.device, **hp
        )
    config = {
        **agent.config(),
        "total_timesteps": args.total_timesteps,
        "stop_at_success": args.stop_at_success,
        "stop_patience": args.stop_patience,
        "eval_interval": args.eval_interval,
        "eval_episodes": args.eval_episodes,
    }
    write_json(out / "config.json", config)
    logger = Logger(out, args.wandb, config, EPISODE_FIELDS, append=args.resume)
    episodes: list[dict] = list(previous_episodes)
    evals = list(previous_evals)

    def on_event(event: dict) -> None:
        if event["event"] == "episode":
            event = {**event, "success": None if event["success"] is None else int(event["success"])}
            episodes.append(event)
            logger.row(event)
            if event["episode"] % 10 == 0:
                recent = [e["success"] for e in episodes[-100:] if e["success"] is not None]
                rolling = {"train/success_100": float(np.mean(recent)) if recent else float("nan")}
                logger.log(
                    {
                        **{
                            f"train/{k}": event[k] for k in ("return", "length", "epsilon", "loss", "rate_hz")
                        },
                        **rolling,
                    },
                    step=event["timesteps"],
                )
        else:
            evals.append(event)
            logger.log(
                {f"eval/{k}": event[k] for k in EVAL_FIELDS if k != "timesteps"}, step=event["timesteps"]
            )

    stop = args.stop_at_success if args.stop_at_success >= 0 else None
    interrupted = False
    try:
        agent.learn(
            args.total_timesteps,
            callback=on_event,
            progress_bar=not args.no_progress,
            eval_interval=args.eval_interval,
            eval_episodes=args.eval_episodes,
            stop_at_success=stop,
            stop_patience=args.stop_patience,
        )
    except KeyboardInterrupt:
        interrupted = True
        print(f"\ninterrupted at {agent.num_timesteps} timesteps; saving {ckpt} (continue with --resume)")
    agent.save(ckpt)
    with open(out / "learning_curve.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=EVAL_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(evals)
    title = f"{agent.core} on {agent.env_id} {agent.env_kwargs} seed {agent.seed}"
    plot(out / "learning_curve.png", episodes, evals, title)
    logger.image("learning_curve", out / "learning_curve.png", step=agent.num_timesteps)
    summary: dict[str, Any] = {
        "task": "rl",
        "env": agent.env_id,
        "env_kwargs": agent.env_kwargs,
        "core": agent.core,
        "seed": agent.seed,
        "timesteps": agent.num_timesteps,
        "episodes": agent.num_episodes,
        "updates": agent.num_updates,
        "wall_s": agent.train_wall_s,
        "timesteps_to_95": first_reaching(evals, "timesteps"),
        "wall_s_to_95": first_reaching(evals, "wall_s"),
        "interrupted": interrupted,
        "rate_penalty": agent.hp.rate_penalty,
    }
    if not interrupted:
        final = agent.evaluate(
            args.eval_episodes, seed=args.seed + 30_000, return_rates=True
        )  # fresh episodes
        summary.update(
            success_rate=final["success_rate"],
            mean_return=final["mean_return"],
            mean_length=final["mean_length"],
            eval_episodes=args.eval_episodes,
            predicted_mean_rate_hz=final["rate_hz"]["overall"],
            predicted_rate_hz_by_population=final["rate_hz"],
        )
        logger.log(
            {"final/success_rate": final["success_rate"], "final/rate_hz": final["rate_hz"]["overall"]},
            step=agent.num_timesteps,
        )
    write_json(out / "summary.json", summary)
    logger.close()
    return summary


# --- supervised sequence prediction ----------------------------------------------------------------
def run_sequence(args: argparse.Namespace, out: Path) -> dict:
    if args.resume:
        raise SystemExit("error: --resume applies to --task rl only (sequence training takes seconds)")
    hp = parse_kv(args.hp, "--hp")
    allowed = {
        "n_hidden",
        "n_cells",
        "batch_size",
        "learning_rate",
        "max_grad_norm",
        "eval_every",
        "eval_sequences",
    }
    unknown = sorted(set(hp) - allowed)
    if unknown:
        raise SystemExit(f"error: unknown --hp keys for --task sequence: {unknown}; known: {sorted(allowed)}")
    config = {
        "task": "sequence",
        "p": args.p,
        "noisy": args.noisy,
        "core": args.core,
        "seed": args.seed,
        "max_updates": args.total_timesteps,
        "rate_penalty": args.rate_penalty,
        **hp,
    }
    write_json(out / "config.json", config)
    logger = Logger(
        out,
        args.wandb,
        config,
        ("update", "loss", "final_accuracy", "all_accuracy", "rate_hz", "wall_s"),
        append=False,
    )

    def on_eval(record: dict) -> None:
        logger.row(record)
        logger.log(record, step=record["update"])

    result = train_sequence(
        p=args.p,
        noisy=args.noisy,
        core=args.core,
        seed=args.seed,
        max_updates=args.total_timesteps,
        rate_penalty=args.rate_penalty,
        device=args.device,
        callback=on_eval,
        **hp,
    )
    net = result.network
    model_config = {
        "kind": "SequenceNetwork",
        "obs_dim": net.obs_dim,
        "n_actions": net.n_actions,
        "core": net.core_name,
        "n_hidden": net.n_hidden,
        "n_cells": net.n_cells,
        "asn": net.asn.to_dict(),
        **config,
    }
    save_checkpoint(out / "model.pt", model_config, {"network": net.state_dict()})
    evals = [{"update": r["update"], "success_rate": r["final_accuracy"]} for r in result.history]
    plot(
        out / "learning_curve.png",
        [],
        evals,
        f"{args.core} sequence p={args.p} noisy={args.noisy}",
        x="update",
    )
    logger.image("learning_curve", out / "learning_curve.png", step=result.updates)
    summary = {
        "task": "sequence",
        "p": args.p,
        "noisy": args.noisy,
        "core": args.core,
        "seed": args.seed,
        "final_accuracy": result.final_accuracy,
        "all_accuracy": result.all_accuracy,
        "updates": result.updates,
        "wall_s": result.wall_s,
        "predicted_mean_rate_hz": result.rate_hz["overall"],
    }
    write_json(out / "summary.json", summary)
    logger.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A process started from a background shell job inherits SIGINT as ignored, and Python then
    # raises no KeyboardInterrupt: Ctrl-C (or the SIGINT of scripts/bench.py's wall-clock limit)
    # must still save the checkpoint and exit.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(args.threads)
    out = Path(args.out or f"runs/{args.task}-{args.core}-seed{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        summary = run_rl(args, out) if args.task == "rl" else run_sequence(args, out)
    except (ValueError, CheckpointError) as exc:  # bad arguments or a bad checkpoint: one clear line
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.task == "rl":
        line = (
            f"success_rate={summary.get('success_rate', float('nan')):.2f} timesteps={summary['timesteps']} "
            f"wall_s={summary['wall_s']:.1f} wall_s_to_95={summary['wall_s_to_95']}"
        )
    else:
        acc, upd = summary["final_accuracy"], summary["updates"]
        line = f"final_accuracy={acc:.3f} updates={upd} wall_s={summary['wall_s']:.1f}"
    print(f"{line}  ({time.perf_counter() - t0:.1f} s in all; outputs in {out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
