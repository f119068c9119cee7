"""The main job: train the default agent, convert it to spikes, compare the two.

    sublstm demo                          # noisy T-maze, corridor 10, seed 0, everything in runs/demo
    sublstm demo --seed 3 --out runs/demo3 --episodes 100

Step 1 is ``sublstm train`` with its built-in defaults (asn-sublstm core, advantage learning, stops
at 95 % deterministic success); step 2 compares the trained agent with its spiking twin on the same
episode seeds (closed loop and teacher-forced, step sweep 100, 200, 300 ms) and prints the table of
success rates, decision agreement, firing rates and spikes per decision. The run folder then holds
the training outputs (agent.pt, summary.json, ...), compare.json and the comparison plots in compare/.
"""

from __future__ import annotations

import argparse

from .options import add_config_arguments, option
from .train import add_run_arguments, resolve  # the same options mean the same settings

HELP = "the main job: train the default agent, convert it to spikes, compare agent and twin"
SWEEP_STEP_MS = (100, 200, 300)
DEFAULT_OUT = "runs/demo"
DEFAULT_EPISODES = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    option(parser, "--out", metavar="DIR", default=DEFAULT_OUT, help="run folder for training and comparison")
    option(parser, "--seed", default=0, help="seed of the agent and of the comparison's episodes")
    option(
        parser,
        "--episodes",
        metavar="N",
        default=DEFAULT_EPISODES,
        help="episodes of the agent-twin comparison",
    )
    option(
        parser,
        "--total-timesteps",
        metavar="N",
        default=300_000,
        help="most env steps to train (training stops earlier at 95 %% success)",
    )
    add_run_arguments(parser, "continue an interrupted demo run in --out, then compare")
    add_config_arguments(parser, "env.kwargs.corridor_length=20 (sections as for sublstm train)")


def run(args: argparse.Namespace) -> int:
    from sublstm.agents.settings import check_int
    from sublstm.experiments.comparing import format_comparison, run_comparison
    from sublstm.experiments.config import ConfigError, parse_key_values
    from sublstm.experiments.training import summary_line, train_run

    base = {"run": {"out": DEFAULT_OUT}}
    episodes = parse_key_values([f"episodes={getattr(args, 'episodes', DEFAULT_EPISODES)}"], "--episodes")[
        "episodes"
    ]
    try:
        episodes = check_int("--episodes", episodes, 1, numpy_ok=False)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    config = resolve(args, base, task="rl")  # every setting checked before anything is made
    result = train_run(config)
    print(summary_line(result.summary), flush=True)
    if result.summary["interrupted"]:
        print(f"training was interrupted: continue with sublstm demo --out {result.out} --resume", flush=True)
        return 0
    print(f"\ncomparing the agent with its spiking twin on {episodes} episodes ...", flush=True)
    comparison = run_comparison(
        result.agent,
        out=result.out,
        episodes=episodes,
        seed=config.agent.seed,
        sweep_step_ms=SWEEP_STEP_MS,
        plots=True,
        wandb=config.run.wandb,
        device=config.agent.device,
    )
    print(format_comparison(comparison))
    print(f"\nEverything is in {result.out}/ (summary.json, compare.json, plots in compare/).")
    return 0
