"""Training runs with logging, resume and a stop rule: the library behind ``sublstm train``.

    from sublstm.experiments.training import train
    result = train("runs/x", total_timesteps=100_000, wandb="disabled")
    print(result.summary["success_rate"], result.out)

A reinforcement-learning run (:func:`train_run` with a :class:`TrainConfig`) writes into its folder:

- ``agent.pt``: the checkpoint (atomic; ``--resume`` continues from it, optimizer and replay included);
- ``config.json``: the resolved config (readable back with ``--config``);
- ``metrics.csv``: one row per training episode; ``learning_curve.csv``: one row per evaluation;
- ``learning_curve.png``: evaluations and the rolling training success against timesteps;
- ``summary.json`` (atomic): success_rate over fresh deterministic episodes, timesteps, episodes,
  updates, wall_s, timesteps_to_95 / wall_s_to_95 (first evaluation at 95 %), predicted firing
  rates, interrupted and stop_reason;
- wandb files (offline by default) under ``wandb/``.

SIGINT (Ctrl-C) and SIGTERM stop training, save the checkpoint and write the summary
(``interrupted: true``); see :mod:`sublstm.experiments.signals`. A folder that already holds a run
is refused unless the run resumes it or overwrites it, and every setting is checked before the
folder is made. :func:`train_sequence_run` does the same for the supervised sequence task.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError, near_match
from .plots import learning_curve
from .reporting import first_reaching, fmt, write_json
from .run_logging import EPISODE_COLUMNS, EVAL_COLUMNS, SEQUENCE_COLUMNS, RunLogger, read_rows, write_rows
from .signals import StopOnSignals
from .training_config import (
    DEFAULT_ENV,
    AgentSection,
    EnvSection,
    LearnSettings,
    RunSection,
    SequenceConfig,
    SequenceSettings,
    TrainConfig,
    naming_options,
)

__all__ = [
    "TrainConfig",
    "SequenceConfig",
    "TrainResult",
    "train",
    "train_run",
    "train_sequence_run",
    "check_run_folder",
    "summary_line",
    "AgentSection",
    "EnvSection",
    "LearnSettings",
    "RunSection",
    "SequenceSettings",
]

#: what a run (and a comparison run on its checkpoint) writes into its folder; --overwrite removes these
RUN_OUTPUTS = (
    "agent.pt",
    "model.pt",
    "config.json",
    "metrics.csv",
    "learning_curve.csv",
    "learning_curve.png",
    "summary.json",
    "compare.json",
    "compare",
    "wandb",
    "wandb_run_id.txt",
)
#: any of these means the folder holds a run
_RUN_MARKERS = ("agent.pt", "model.pt", "summary.json", "metrics.csv", "compare.json")
FINAL_EVAL_SEED_OFFSET = 30_000  # the final evaluation's episodes are fresh: seeds no evaluation used


@dataclass
class TrainResult:
    """A run's trained agent (the network for the sequence task), its summary and its folder."""

    agent: Any
    summary: dict[str, Any]
    out: Path


# -- the run folder -------------------------------------------------------------------------------------
def check_run_folder(
    out: str | Path, resume: bool = False, overwrite: bool = False, checkpoint: str = "agent.pt"
):
    """Refuse an output path that cannot take this run, creating nothing.

    A path that is (or lies under) a file is refused; so is a folder that already holds a run, unless
    ``resume`` (which needs its checkpoint) or ``overwrite``.
    """
    out = Path(out)
    for path in (out, *out.parents):
        if path.exists() and not path.is_dir():
            raise ValueError(f"--out (run.out) {out}: {path} is a file, not a folder")
    if resume:
        if not (out / checkpoint).is_file():
            raise ValueError(f"--resume: {out / checkpoint} does not exist (nothing to continue)")
        return
    held = [name for name in _RUN_MARKERS if (out / name).exists()]
    if held and not overwrite:
        raise ValueError(
            f"--out (run.out) {out} already holds a run ({', '.join(held)}); "
            "pass --resume to continue it or --overwrite to replace it"
        )


def clear_run_folder(out: Path) -> None:
    """Remove what an earlier run wrote into ``out`` (:data:`RUN_OUTPUTS`); other files stay."""
    for name in RUN_OUTPUTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _validate(config: TrainConfig | SequenceConfig) -> None:
    """Every section's own checks (a config built by hand skips :func:`resolve_config`'s)."""
    sections = ("env", "agent", "learn", "run") if isinstance(config, TrainConfig) else ("sequence", "run")
    for name in sections:
        with naming_options():
            try:
                getattr(config, name).validate()
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None


def _say(verbose: int, text: str) -> None:
    if verbose:
        print(text, flush=True)


# -- reinforcement learning -----------------------------------------------------------------------------
def train_run(config: TrainConfig, env: Any = None) -> TrainResult:
    """Train (or resume) one agent as ``config`` says, logging into ``config.out``; see the module doc.

    ``env``: a gymnasium Env or a zero-argument factory to train on instead of ``config.env``
    (recorded in config.json by its id, if it has one).
    """
    from sublstm.agents import AdvantageAgent

    if env is not None:
        config = dataclasses.replace(config, env=EnvSection())  # the section is not used
    _validate(config)
    out, run = config.out, config.run
    check_run_folder(out, run.resume, run.overwrite)
    agent_verbose = 0 if (run.verbose == 0 or run.progress) else 1
    ckpt = out / "agent.pt"
    if run.resume:
        agent = AdvantageAgent.load(ckpt, env=env, device=config.agent.device)
        agent.verbose, agent.n_threads = agent_verbose, config.agent.threads
    else:
        agent = AdvantageAgent(
            config.env.id if env is None else env,
            core=config.agent.core,
            seed=config.agent.seed,
            env_kwargs=config.env.kwargs if env is None else None,
            device=config.agent.device,
            n_threads=config.agent.threads,
            verbose=agent_verbose,
            **dataclasses.asdict(config.agent.hyperparams),
        )
    # everything is checked: only now the folder
    if run.overwrite:
        clear_run_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    resolved = dataclasses.replace(
        config,
        env=EnvSection(id=agent.env_id, kwargs=dict(agent.env_kwargs or {})),
        agent=AgentSection(agent.core, agent.seed, config.agent.device, config.agent.threads, agent.hp),
    )
    write_json(out / "config.json", resolved.to_dict())
    with RunLogger(
        out,
        EPISODE_COLUMNS,
        run.wandb,
        resolved.to_dict(),
        resume=run.resume,
        name=out.name,
        keep_until=("timesteps", agent.num_timesteps),
    ) as logger:
        summary = _learn_and_report(agent, config, out, logger)
    return TrainResult(agent=agent, summary=summary, out=out)


def _learn_and_report(agent, config: TrainConfig, out: Path, logger: RunLogger) -> dict[str, Any]:
    learn, run = config.learn, config.run
    evals: list[dict] = []
    curve = out / "learning_curve.csv"
    if run.resume and curve.is_file():
        evals = [e for e in read_rows(curve, EVAL_COLUMNS) if (e["timesteps"] or 0) <= agent.num_timesteps]
    episodes = [{"timesteps": r["timesteps"], "success": r["success"]} for r in logger.previous]
    rates = [r["rate_hz"] for r in logger.previous if r["rate_hz"] is not None]
    last_rate = {"rate_hz": rates[-1] if rates else None}
    stop = StopOnSignals()

    def on_event(event: dict) -> bool:
        if event.get("event") == "episode":
            row = {k: event.get(k) for k in EPISODE_COLUMNS}
            rate = row["rate_hz"]
            if rate is None or (isinstance(rate, float) and math.isnan(rate)):
                row["rate_hz"] = last_rate["rate_hz"]  # measured every few steps: carry the last one
            else:
                last_rate["rate_hz"] = rate
            logger.row(row)
            episodes.append({"timesteps": row["timesteps"], "success": row["success"]})
            if row["episode"] % 10 == 0:
                scored = [e["success"] for e in episodes[-100:] if e["success"] is not None]
                rolling = {"success_100": sum(map(float, scored)) / len(scored)} if scored else {}
                train_numbers = {k: row[k] for k in ("return", "length", "epsilon", "loss", "rate_hz")}
                logger.log({**train_numbers, **rolling}, step=row["timesteps"], prefix="train/")
        elif event.get("event") == "eval":
            evals.append({k: event.get(k) for k in EVAL_COLUMNS})
            write_rows(curve, evals, EVAL_COLUMNS)
            logger.log(
                {k: event.get(k) for k in EVAL_COLUMNS if k != "timesteps"}, event["timesteps"], "eval/"
            )
        return stop.keep_going()

    remaining = learn.total_timesteps - (agent.num_timesteps if run.resume else 0)
    where = f"{agent.env_id} {agent.env_kwargs}" if agent.env_id else type(agent.env).__name__
    with stop:
        if run.resume:
            _say(
                run.verbose,
                f"resuming {out / 'agent.pt'} at {agent.num_timesteps} of {learn.total_timesteps} timesteps",
            )
        _say(
            run.verbose,
            f"training {agent.core} on {where} seed {agent.seed}: {max(remaining, 0)} timesteps into {out} "
            "(Ctrl-C or SIGTERM stops, saves and writes the summary)",
        )
        forced = False
        try:
            try:
                if remaining > 0:
                    settings = {k: v for k, v in dataclasses.asdict(learn).items() if k != "total_timesteps"}
                    agent.learn(remaining, callback=on_event, progress_bar=run.progress, **settings)
            finally:
                stop.defer()
        except KeyboardInterrupt:  # a second signal, or Ctrl-C where no handler could be installed
            stop.defer()
            forced = True
        interrupted = forced or stop.received is not None
        if interrupted:
            name = stop.name or "SIGINT"
            reason = f"{name} at {agent.num_timesteps} timesteps (saved; continue with --resume)"
        elif remaining <= 0:
            reason = "total_timesteps reached"
        else:
            reason = getattr(agent, "stop_reason", None) or "total_timesteps reached"
        agent.save(out / "agent.pt")
        write_rows(curve, evals, EVAL_COLUMNS)
        title = f"{agent.core} on {where} seed {agent.seed}"
        learning_curve(out / "learning_curve.png", evals, episodes, title=title)
        logger.images({"learning_curve": out / "learning_curve.png"}, step=agent.num_timesteps)
        summary = rl_summary(agent, config, evals, interrupted, reason)
        if not interrupted:
            logger.log(
                {k: summary[k] for k in ("success_rate", "predicted_mean_rate_hz")},
                agent.num_timesteps,
                "final/",
            )
        write_json(out / "summary.json", summary)
    return summary


def rl_summary(
    agent, config: TrainConfig, evals: list[dict], interrupted: bool, reason: str
) -> dict[str, Any]:
    """The summary.json of a finished (or interrupted) RL run: what every RL run folder holds,
    whichever engine trained it (train_run here, population blocks in population_runs)."""
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
        "stop_reason": reason,
        "rate_penalty": agent.hp.rate_penalty,
    }
    if not interrupted:  # interrupted runs end at once; their success is the last evaluation's
        n = config.learn.eval_episodes
        final = agent.evaluate(n, seed=agent.seed + FINAL_EVAL_SEED_OFFSET, return_rates=True)
        summary.update(
            success_rate=final["success_rate"],
            mean_return=final["mean_return"],
            mean_length=final["mean_length"],
            eval_episodes=n,
            predicted_mean_rate_hz=final["rate_hz"]["overall"],
            predicted_rate_hz_by_population=final["rate_hz"],
        )
    return summary


# -- supervised sequence prediction ---------------------------------------------------------------------
def train_sequence_run(config: SequenceConfig) -> TrainResult:
    """Train the network on the sequence task (2a / 2b) as ``config`` says, logging into ``config.out``.

    Writes ``model.pt`` (the network's weights and config), ``config.json``, ``metrics.csv`` and
    ``learning_curve.csv`` (one row per evaluation), ``learning_curve.png`` (final-symbol accuracy
    per evaluation update) and ``summary.json``. A signal stops training at the next evaluation.
    """
    from sublstm.agents.checkpoint import save_checkpoint
    from sublstm.agents.runtime import torch_threads
    from sublstm.agents.supervised import train_sequence

    _validate(config)
    settings, run, out = config.sequence, config.run, config.out
    check_run_folder(out, resume=False, overwrite=run.overwrite)
    if run.overwrite:
        clear_run_folder(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config.to_dict())
    evals: list[dict] = []
    stop = StopOnSignals(force_on_second=False)

    def on_eval(record: dict) -> bool:
        logger.row(record)
        evals.append({k: record.get(k) for k in SEQUENCE_COLUMNS})
        logger.log(record, step=record["update"], prefix="eval/")
        if not run.progress:
            _say(
                run.verbose,
                f"update {record['update']}: final-symbol accuracy {record['final_accuracy']:.3f}",
            )
        return stop.keep_going()

    with RunLogger(out, SEQUENCE_COLUMNS, run.wandb, config.to_dict(), name=out.name) as logger, stop:
        _say(
            run.verbose,
            f"training {settings.core} on sequences p={settings.p} noisy={settings.noisy} into {out}",
        )
        with torch_threads(settings.threads):
            result = train_sequence(**settings.train_kwargs(), callback=on_eval)
        stop.defer()
        net = result.network
        model_config = {
            "kind": "SequenceNetwork",
            "obs_dim": net.obs_dim,
            "n_actions": net.n_actions,
            "core": net.core_name,
            "n_hidden": net.n_hidden,
            "n_cells": net.n_cells,
            "asn": net.asn.to_dict(),
            **settings.train_kwargs(),
        }
        save_checkpoint(out / "model.pt", model_config, {"network": net.state_dict()})
        write_rows(out / "learning_curve.csv", evals, SEQUENCE_COLUMNS)
        learning_curve(
            out / "learning_curve.png",
            evals,
            title=f"{settings.core} sequences p={settings.p} noisy={settings.noisy} seed {settings.seed}",
            x="update",
            metric="final_accuracy",
            ylabel="final-symbol accuracy",
            target=settings.stop_at_accuracy,
        )
        logger.images({"learning_curve": out / "learning_curve.png"}, step=result.updates)
        if stop.received is not None:
            reason = f"{stop.name} at update {result.updates}"
        elif result.updates < settings.max_updates:
            reason = f"final-symbol accuracy >= {settings.stop_at_accuracy:g}"
        else:
            reason = "max_updates reached"
        summary = {
            "task": "sequence",
            "p": settings.p,
            "noisy": settings.noisy,
            "core": settings.core,
            "seed": settings.seed,
            "final_accuracy": result.final_accuracy,
            "all_accuracy": result.all_accuracy,
            "updates": result.updates,
            "updates_to_95": first_reaching(evals, "update", metric="final_accuracy"),
            "wall_s": result.wall_s,
            "predicted_mean_rate_hz": result.rate_hz["overall"],
            "interrupted": stop.received is not None,
            "stop_reason": reason,
        }
        write_json(out / "summary.json", summary)
    return TrainResult(agent=net, summary=summary, out=out)


# -- a few lines from Python ----------------------------------------------------------------------------
_SECTION_FIELDS = {
    "agent": tuple(f.name for f in dataclasses.fields(AgentSection) if f.name != "hyperparams"),
    "learn": tuple(f.name for f in dataclasses.fields(LearnSettings)),
    "run": tuple(f.name for f in dataclasses.fields(RunSection) if f.name != "out"),
}


def train(
    out: str | Path,
    env: str = DEFAULT_ENV,
    env_kwargs: dict | None = None,
    core: str = "asn-sublstm",
    seed: int = 0,
    total_timesteps: int = 300_000,
    wandb: str = "offline",
    **more: Any,
) -> TrainResult:
    """Train one agent into the run folder ``out`` (see :func:`train_run` for what it writes).

    ``env`` is an id (made with ``env_kwargs``; None: corridor 10 for the default T-maze), or a
    gymnasium Env / zero-argument factory. ``more`` takes any field of :class:`Hyperparams`
    (``learning_rate=1e-3``), of :class:`LearnSettings` (``stop_at_success=None``), ``device`` and
    ``threads``, and the run's ``progress``, ``resume``, ``overwrite`` and ``verbose``.
    """
    from sublstm.agents.settings import HYPERPARAM_NAMES

    env_obj = None if isinstance(env, str) else env
    values: dict[str, dict[str, Any]] = {
        "env": {"id": env if env_obj is None else DEFAULT_ENV, "kwargs": env_kwargs},
        "agent": {"core": core, "seed": seed},
        "learn": {"total_timesteps": total_timesteps},
        "run": {"out": str(out), "wandb": wandb},
    }
    for key, value in more.items():
        section = next((s for s, names in _SECTION_FIELDS.items() if key in names), None)
        if section is None and key in HYPERPARAM_NAMES:
            section = "agent"
        if section is None:
            choices = [*HYPERPARAM_NAMES, *(n for names in _SECTION_FIELDS.values() for n in names)]
            raise ValueError(f"train() got an unknown setting {key!r}{near_match(key, choices)}")
        values[section][key] = value
    return train_run(TrainConfig.from_dict(values), env=env_obj)


# -- reporting ------------------------------------------------------------------------------------------
def summary_line(summary: dict[str, Any]) -> str:
    """The run's outcome in one line, figures rounded, ending with why training stopped."""
    if summary.get("task") == "sequence":
        parts = [
            f"final_accuracy={fmt(summary['final_accuracy'], '.3f')}",
            f"updates={summary['updates']}",
            f"wall_s={fmt(summary['wall_s'], '.1f')}",
        ]
    else:
        parts = [
            f"success_rate={fmt(summary.get('success_rate'), '.2f', 'not evaluated')}",
            f"timesteps={summary['timesteps']}",
            f"wall_s={fmt(summary['wall_s'], '.1f')}",
            f"timesteps_to_95={fmt(summary['timesteps_to_95'], none='not reached')}",
            f"wall_s_to_95={fmt(summary['wall_s_to_95'], '.1f', 'not reached')}",
        ]
    return " ".join(parts) + f"; stopped: {summary['stop_reason']}"
