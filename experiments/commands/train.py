"""Train the analog agent (or the supervised sequence predictor) into a run folder.

    sublstm train                         # noisy T-maze, corridor 10, into runs/rl-asn-sublstm-seed0
    sublstm train --env-kwargs corridor_length=20 --seed 3 --out runs/c20s3
    sublstm train --config run.toml agent.learning_rate=1e-3 learn.total_timesteps=1e5
    sublstm train --out runs/c20s3 --resume         # continue an interrupted run
    sublstm train --task sequence --p 10 --noisy --out runs/seq2b

The run folder gets agent.pt, config.json, metrics.csv (one row per episode), learning_curve.csv
and .png (one row / point per evaluation), summary.json and wandb files (offline by default); see
sublstm.experiments.training. Ctrl-C or SIGTERM stops training, saves and writes the summary.
Settings resolve as: built-in defaults (or, with --resume, the run's config.json) <- --config FILE
<- the options below <- KEY=VALUE overrides (sections env, agent, learn, run; or sequence, run).
"""

from __future__ import annotations

import argparse

from .options import add_config_arguments, option

HELP = "train an agent (or the sequence predictor) with logging into a run folder"

# option dest -> config key, per task; options missing from a task's table are refused for it
_RL_KEYS = {
    "env": "env.id",
    "env_kwargs": "env.kwargs",
    "core": "agent.core",
    "seed": "agent.seed",
    "device": "agent.device",
    "threads": "agent.threads",
    "rate_penalty": "agent.rate_penalty",
    "total_timesteps": "learn.total_timesteps",
    "stop_at_success": "learn.stop_at_success",
    "stop_patience": "learn.stop_patience",
    "eval_interval": "learn.eval_interval",
    "eval_episodes": "learn.eval_episodes",
    "out": "run.out",
    "wandb": "run.wandb",
    "hp": "agent",
}
_SEQUENCE_KEYS = {
    "p": "sequence.p",
    "noisy": "sequence.noisy",
    "core": "sequence.core",
    "seed": "sequence.seed",
    "device": "sequence.device",
    "threads": "sequence.threads",
    "rate_penalty": "sequence.rate_penalty",
    "total_timesteps": "sequence.max_updates",
    "eval_interval": "sequence.eval_every",
    "eval_episodes": "sequence.eval_sequences",
    "out": "run.out",
    "wandb": "run.wandb",
    "hp": "sequence",
}
_TEXT = ("env", "core", "device", "out", "wandb")  # taken as typed; other values parse as literals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from sublstm.agents.settings import LearnSettings
    from sublstm.experiments.training_config import DEFAULT_ENV, DEFAULT_ENV_KWARGS, SequenceSettings

    learn, seq = LearnSettings(), SequenceSettings()
    both = "rl: {}; sequence: {}".format
    many = {"nargs": "*", "metavar": "KEY=VALUE"}
    table = [  # flag, default shown, help, add_argument keywords
        (
            "--task",
            "rl",
            "rl or sequence (the supervised task); a config file's task key also sets it",
            {"metavar": "{rl,sequence}"},
        ),
        ("--env", DEFAULT_ENV, "rl: gymnasium env id", {"metavar": "ID"}),
        ("--env-kwargs", f"{DEFAULT_ENV_KWARGS} for the default env, else none", "rl: env arguments", many),
        ("--core", seq.core, "recurrent core: asn-sublstm, asn-lstm, sublstm or lstm", {}),
        ("--seed", seq.seed, "seed of the network, exploration and episodes", {}),
        ("--out", "runs/<task>-<core>-seed<seed>", "run folder", {"metavar": "DIR"}),
        (
            "--total-timesteps",
            both(learn.total_timesteps, seq.max_updates),
            "rl: env steps to train; sequence: most gradient updates",
            {"metavar": "N"},
        ),
        (
            "--stop-at-success",
            learn.stop_at_success,
            "rl: stop once evaluations reach this success rate (none: never)",
            {"metavar": "RATE"},
        ),
        (
            "--stop-patience",
            learn.stop_patience,
            "rl: evaluations in a row at --stop-at-success before stopping",
            {"metavar": "N"},
        ),
        (
            "--eval-interval",
            both(learn.eval_interval, seq.eval_every),
            "rl: env steps between evaluations (0: none); sequence: updates between them",
            {"metavar": "N"},
        ),
        (
            "--eval-episodes",
            both(learn.eval_episodes, seq.eval_sequences),
            "rl: episodes per evaluation and in the final one; sequence: sequences",
            {"metavar": "N"},
        ),
        ("--rate-penalty", 0.0, "coefficient of the mean AF activation in the loss", {"metavar": "C"}),
        (
            "--hp",
            "none",
            "other settings: rl: Hyperparams fields (n_hidden=32); sequence: "
            "train_sequence arguments (batch_size=32)",
            many,
        ),
        ("--p", seq.p, "sequence: the lag p", {}),
        ("--noisy", False, "sequence: task 2b (random middle symbols)", {"action": "store_true"}),
    ]
    for flag, default, text, keywords in table:
        option(parser, flag, default=default, help=text, **keywords)
    add_run_arguments(parser, "continue the run in --out from its agent.pt and config")
    add_config_arguments(parser, "agent.learning_rate=1e-3 learn.total_timesteps=1e5")


def add_run_arguments(parser: argparse.ArgumentParser, resume_help: str) -> None:
    """The options of how a run runs, shared with ``sublstm demo``."""
    option(parser, "--device", default="cpu", help="torch device: cpu, cuda, cuda:N or mps")
    option(
        parser,
        "--threads",
        default=1,
        metavar="N",
        help="torch threads; 1 is fastest for these small networks on a busy machine",
    )
    option(
        parser,
        "--wandb",
        default="offline",
        metavar="{offline,online,disabled}",
        help="wandb logging into the run folder; offline needs no account",
    )
    parser.add_argument("--resume", action="store_true", help=resume_help)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a run already in --out (its outputs go)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar: one line per evaluation")


def option_overrides(args: argparse.Namespace, task: str) -> dict:
    """The options given on the command line as dotted config overrides for ``task``."""
    from sublstm.experiments.config import ConfigError, parse_key_values

    keys = _RL_KEYS if task == "rl" else _SEQUENCE_KEYS
    given = {**_RL_KEYS, **_SEQUENCE_KEYS}
    out: dict = {}
    for dest in given:
        if not hasattr(args, dest):
            continue
        option = "--" + dest.replace("_", "-")
        if dest not in keys:
            raise ConfigError(f"{option} applies to --task {'sequence' if task == 'rl' else 'rl'} only")
        value = getattr(args, dest)
        if dest in ("hp", "env_kwargs"):  # dotted items after them are overrides that nargs="*" took
            dotted = [v for v in value if "." in v.partition("=")[0]]
            args.overrides = [*getattr(args, "overrides", []), *dotted]
            value = [v for v in value if "." not in v.partition("=")[0]]
        if dest == "hp":
            out.update({f"{keys[dest]}.{k}": v for k, v in parse_key_values(value, option).items()})
        elif dest == "env_kwargs":
            out[keys[dest]] = parse_key_values(value, option)
        elif dest in _TEXT or isinstance(value, bool):
            out[keys[dest]] = value
        elif dest == "stop_at_success" and value.lower() in ("none", "never", "off"):
            out[keys[dest]] = None
        else:
            out.update(parse_key_values([f"{keys[dest]}={value}"], option))
    if args.resume:
        out["run.resume"] = True
    if args.overwrite:
        out["run.overwrite"] = True
    if args.no_progress:
        out["run.progress"] = False
    return out


def resolve(args: argparse.Namespace, base: dict | None = None, task: str | None = None):
    """The run's config: ``base`` <- --config <- the options given <- the KEY=VALUE overrides."""
    from sublstm.experiments.config import load_config_file, merge_overrides, parse_key_values
    from sublstm.experiments.training_config import resolve_config

    values = merge_overrides(base or {}, {})
    path = getattr(args, "config", None)  # options absent unless given
    if path:
        for section, table in load_config_file(path).items():
            values[section] = {**values.get(section, {}), **table} if isinstance(table, dict) else table
    task = task or getattr(args, "task", None) or values.get("task") or "rl"
    if task not in ("rl", "sequence"):
        raise ValueError(f"--task must be rl or sequence, got {task!r}")
    overrides = option_overrides(args, task)
    overrides.update(parse_key_values(getattr(args, "overrides", []), "overrides"))
    return resolve_config(values, overrides, task)


def run(args: argparse.Namespace) -> int:
    from sublstm.experiments.training import summary_line, train_run, train_sequence_run

    config = resolve(args)
    result = train_run(config) if config.task == "rl" else train_sequence_run(config)
    print(f"{summary_line(result.summary)}; outputs in {result.out}", flush=True)
    return 0
