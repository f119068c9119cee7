"""Train a peer (RecurrentPPO, memoryless PPO, frame-stacked PPO) on any registered env, with our
seeds, budget, evaluation and stop rule; the run folder holds the files a training run of our agent
writes (config.json, metrics.csv, learning_curve.csv/png, summary.json) plus model.zip.

    sublstm baselines --algo recurrent-ppo --env-kwargs corridor_length=20 --seed 0 --out runs/rppo20
    sublstm baselines --algo ppo-framestack --n-stack 12 --total-timesteps 100000 --wandb disabled
    sublstm baselines --config peer.toml peer.hyperparameters.learning_rate=3e-4

Needs the ``baselines`` extra: pip install sublstm[baselines].
"""

from __future__ import annotations

import argparse

from .options import add_config_arguments, given, option, resolve

HELP = "train a peer (RecurrentPPO, PPO, frame-stacked PPO) with the same outputs as train"

# option dest -> dotted settings key
KEYS = {
    "algo": "peer.algo",
    "env": "env.id",
    "env_kwargs": "env.kwargs",
    "seed": "peer.seed",
    "n_envs": "peer.n_envs",
    "n_stack": "peer.n_stack",
    "device": "peer.device",
    "threads": "peer.threads",
    "hp": "peer.hyperparameters",
    "total_timesteps": "learn.total_timesteps",
    "eval_interval": "learn.eval_interval",
    "eval_episodes": "learn.eval_episodes",
    "stop_at_success": "learn.stop_at_success",
    "out": "run.out",
    "wandb": "run.wandb",
    "overwrite": "run.overwrite",
    "progress": "run.progress",
}
# dotted settings key -> the option named in error messages
OPTION_OF = {key: "--" + dest.replace("_", "-") for dest, key in KEYS.items()} | {"run.progress": "--quiet"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..peers import ALGOS
    from ..tracking import WANDB_MODES

    option(p, "--algo", default="recurrent-ppo", choices=ALGOS, help="the peer to train")
    option(p, "--env", default="sublstm/NoisyTMaze-v0", metavar="ID", help="a registered env id")
    option(
        p,
        "--env-kwargs",
        default="the env's own",
        nargs="*",
        metavar="KEY=VALUE",
        help="the env's keyword arguments, e.g. corridor_length=20",
    )
    option(p, "--seed", metavar="N", default=0, type=int, help="seed of the model and the training envs")
    option(p, "--total-timesteps", metavar="N", default=300_000, type=int, help="env steps to train at most")
    option(p, "--n-envs", metavar="N", default=16, type=int, help="envs stepped side by side")
    option(
        p, "--n-stack", default="4 for ppo-framestack", type=int, help="frames stacked (ppo-framestack only)"
    )
    option(
        p,
        "--eval-interval",
        metavar="N",
        default=5_000,
        type=int,
        help="env steps between evaluations (0: none)",
    )
    option(
        p, "--eval-episodes", metavar="N", default=100, type=int, help="deterministic episodes per evaluation"
    )
    option(
        p,
        "--stop-at-success",
        default=0.95,
        type=_optional_float,
        metavar="RATE|none",
        help="stop once evaluations reach this success rate (twice in a row by default); none: never",
    )
    option(
        p,
        "--hp",
        default="none",
        nargs="*",
        metavar="KEY=VALUE",
        help="hyperparameter changes, e.g. learning_rate=3e-4 n_steps=256",
    )
    option(p, "--out", metavar="DIR", default="runs/<algo>-seed<seed>", help="run folder (created)")
    option(p, "--overwrite", default=False, action="store_true", help="replace a finished run in --out")
    option(p, "--wandb", default="offline", choices=WANDB_MODES, help="wandb mode; offline needs no account")
    option(p, "--device", default="cpu", help="torch device of the model")
    option(p, "--threads", metavar="N", default=1, type=int, help="torch threads")
    option(p, "--quiet", dest="progress", default=False, action="store_false", help="no line per evaluation")
    add_config_arguments(p, "peer.hyperparameters.ent_coef=0.02 learn.stop_patience=1")


def _optional_float(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or none, got {text!r}") from None


def build_config(args: argparse.Namespace):
    """The resolved :class:`PeerConfig` of the parsed arguments (ValueError naming a bad one)."""
    from ..config import parse_key_values
    from ..peers import PeerConfig
    from ..training_config import naming_options

    explicit = given(args, KEYS)
    for dest, option_name in (("env_kwargs", "--env-kwargs"), ("hp", "--hp")):
        if KEYS[dest] in explicit:
            explicit[KEYS[dest]] = parse_key_values(explicit[KEYS[dest]], option_name)
    values = resolve(args, explicit)
    with naming_options(OPTION_OF):
        return PeerConfig.from_dict(values)


def run(args: argparse.Namespace) -> int:
    from ..peers import require_baselines, run_peer
    from ..training import summary_line

    config = build_config(args)
    config.check_out()
    try:
        require_baselines()
    except ImportError as exc:
        raise ValueError(str(exc)) from None  # one line and exit status 2, as any bad input
    result = run_peer(config)
    print(f"{summary_line(result.summary)}; outputs in {result.out}", flush=True)
    return 0
