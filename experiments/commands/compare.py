"""Compare a trained agent with its spiking twin on the same episodes.

    sublstm compare runs/x/agent.pt                       # runs/x/compare.json, runs/x/compare/
    sublstm compare runs/x/agent.pt --episodes 50 --sweep 100,200,300 --step-ms 200
    sublstm compare runs/x/agent.pt --config compare.toml twin.recurrent_delay_ms=step

Settings come from the defaults, then ``--config FILE`` (sections [twin] and [compare]), then the
options given, then KEY=VALUE overrides. Both agent and twin run the same episode seeds; reported:
success, decision agreement (teacher-forced and closed loop), firing rates, spikes and synaptic
events per decision, and a sweep over the decision time with the shortest safe step.
"""

from __future__ import annotations

import argparse

from .options import add_config_arguments, given, option, resolve

HELP = "compare a trained agent with its spiking twin (agreement, rates, step sweep)"

#: config key -> the option that sets it (named in error messages)
OPTIONS = {
    "compare.episodes": "--episodes",
    "compare.seed": "--seed",
    "compare.sweep_step_ms": "--sweep",
    "compare.sweep_delays": "--sweep-delays",
    "compare.level": "--level",
    "compare.plots": "--no-plots",
    "compare.wandb": "--wandb",
    "compare.device": "--device",
    "twin.dt": "--dt",
    "twin.step_ms": "--step-ms",
    "twin.readout_window_ms": "--readout-window-ms",
    "twin.recurrent_delay_ms": "--recurrent-delay",
}
SECTIONS = ("twin", "compare")


def _numbers(text: str) -> list[float]:
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers of ms, got {text!r}") from None


def _dest(flag: str) -> str:
    """Where the parsed arguments hold ``flag``'s value (``--no-X`` stores False under X)."""
    return flag.removeprefix("--no-").removeprefix("--").replace("-", "_")


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sublstm.spiking.timing import TwinTiming

    from ..comparing import CompareSettings

    twin, settings = TwinTiming(), CompareSettings()
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="an agent.pt written by AdvantageAgent.save")
    option(parser, "--episodes", type=int, default=settings.episodes, help="episodes, run side by side")
    option(parser, "--seed", type=int, default=settings.seed, help="episode k is reset with seed + k")
    option(
        parser,
        "--sweep",
        type=_numbers,
        default=",".join(f"{s:g}" for s in settings.sweep_step_ms),
        help="decision times step_ms to sweep, comma-separated ('' for no sweep)",
    )
    option(
        parser,
        "--sweep-delays",
        type=_names,
        default="the twin's --recurrent-delay",
        help="recurrent delays to sweep, comma-separated: ms, 'step' or 'hold'",
    )
    option(parser, "--level", type=float, default=settings.level, help="agreement a safe step_ms keeps")
    option(parser, "--step-ms", type=float, default=twin.step_ms, help="simulated ms per decision")
    option(
        parser,
        "--readout-window-ms",
        type=float,
        default=twin.readout_window_ms,
        help="act on the action values averaged over the last this many ms of a step (0: the last dt)",
    )
    option(
        parser,
        "--recurrent-delay",
        default=twin.recurrent_delay_ms,
        help="delay of the recurrent synapses: ms, 'step' (one step_ms) or 'hold' (the previous step's "
        "settled h held on the gates all step, the analog order)",
    )
    option(parser, "--dt", type=float, default=twin.dt, help="simulation step (ms)")
    parser.add_argument(
        "--out",
        default=None,
        help="run folder for compare.json and compare/ (default: the checkpoint's folder)",
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="write the result here instead of OUT/compare.json"
    )
    parser.add_argument(
        "--write-doc", default=None, metavar="FILE", help="put the result's block into this markdown file's "
        "'Spiking twin' section, e.g. docs/results.md (None: no doc)",
    )  # fmt: skip
    option(parser, "--no-plots", dest="plots", action="store_false", default=False, help="write no figures")
    option(
        parser,
        "--wandb",
        default=settings.wandb,
        metavar="{offline,online,disabled}",
        help="wandb run under OUT/compare/ (online needs an account)",
    )
    option(parser, "--device", default=settings.device, help="torch device the agent is loaded on")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    add_config_arguments(parser, "twin.step_ms=200 compare.episodes=50")


def run(args: argparse.Namespace) -> int:
    from sublstm.spiking.timing import TwinTiming

    from ..comparing import CompareSettings, check_sweep, format_comparison, run_comparison
    from ..config import ConfigError, build
    from ..reporting import command_line
    from ..training_config import naming_options

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    values = resolve(args, given(args, {_dest(flag): key for key, flag in OPTIONS.items()}))
    unknown = sorted(set(values) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"unknown config section(s) {unknown}; known: {list(SECTIONS)}")
    with naming_options(OPTIONS):
        timing = build(TwinTiming, values.get("twin"), "twin")
        settings = build(CompareSettings, values.get("compare"), "compare")
        try:
            check_sweep(settings, timing)
        except ValueError as exc:
            raise ConfigError(f"compare.{exc}") from None

    import torch

    torch.set_num_threads(args.threads)
    result = run_comparison(
        args.checkpoint,
        args.out,
        timing=timing,
        **{f: getattr(settings, f) for f in CompareSettings.__dataclass_fields__},
        json_path=args.json,
        doc=args.write_doc,
        command=command_line(),
        log=lambda line: print(line, flush=True),
    )
    print(format_comparison(result))
    return 0
