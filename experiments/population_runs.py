"""Training runs of several seeds done as one population: which runs can be, and their run folders.

:func:`population_refusal` says why a :class:`~sublstm.experiments.training_config.TrainConfig`
cannot be trained as a population member (an env without a tensor version, env arguments its
tensor version does not take, wandb logging of training episodes, a resumed run), or None.
:func:`train_population_runs` trains runs that differ only in seed and folder as one
:class:`~sublstm.agents.population.Population` and writes every member's folder as
:func:`~sublstm.experiments.training.train_run` would: ``agent.pt`` (the member as an ordinary
AdvantageAgent), ``config.json``, ``learning_curve.csv`` / ``.png`` (its evaluations) and
``summary.json`` (the final evaluation on fresh episodes included); there is no ``metrics.csv``
(the population keeps no per-episode log) and no wandb run.

The agent's defaults apply (a member begins its updates under the single agent's rule, see
:mod:`sublstm.agents.population`); its wall-clock is the block's, shared by its members: a member's
``wall_s`` is the block's training time until that member stopped. A signal (Ctrl-C, SIGTERM) ends
a block without saving its members (``train_run`` saves and writes an interrupted summary); the
experiment runners store each block as it finishes, so a rerun trains only the blocks not stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .plots import learning_curve
from .reporting import write_json
from .run_logging import EVAL_COLUMNS, write_rows
from .training import TrainResult, check_run_folder, clear_run_folder, rl_summary
from .training_config import TrainConfig

ENGINE = "population"  # how such runs are named in records and summaries


def population_refusal(config: TrainConfig) -> str | None:
    """Why ``config`` cannot be trained as a population member (None: it can)."""
    from sublstm.agents.population import Population

    if config.run.wandb != "disabled":
        return f"run.wandb={config.run.wandb!r} logs every training episode; a population logs none"
    if config.run.resume:
        return "run.resume continues a checkpoint; a population starts from scratch"
    try:  # a one-member population checks the env, its arguments and the replay's size
        Population(
            config.env.id,
            1,
            core=config.agent.core,
            seeds=[config.agent.seed],
            env_kwargs=config.env.kwargs,
            device=config.agent.device,
            **dataclasses.asdict(config.agent.hyperparams),
        )
    except ValueError as exc:
        return str(exc)
    return None


def engine_for(config: TrainConfig, block: int) -> tuple[str, str | None]:
    """How seeds of ``config`` are trained with population blocks of ``block``: (ENGINE, None), or
    ("train_run", why not as a population)."""
    if block == 0:
        return "train_run", "block 0: each seed its own training run"
    refusal = population_refusal(config)
    return ("train_run", refusal) if refusal else (ENGINE, None)


def describe(engine: str, note: str | None, block: int) -> str:
    """How seeds are trained, in words, for the output of a command."""
    if engine == ENGINE:
        return f"populations of <= {block} seeds side by side"
    return f"one {engine} per seed" + (f" ({note})" if note else "")


def _shared(config: TrainConfig) -> dict:
    data = config.to_dict()
    data["agent"].pop("seed")
    data["run"].pop("out")
    return data


def train_population_runs(configs: Sequence[TrainConfig]) -> list[TrainResult]:
    """Train the runs ``configs`` (alike but for agent.seed and run.out) as one population and
    write each run's folder; see the module docstring. Returns one TrainResult per config."""
    from .population_blocks import train_population

    if not configs:
        raise ValueError("train_population_runs needs at least one config")
    first = configs[0]
    for config in configs:
        if _shared(config) != _shared(first):
            raise ValueError(f"runs of one population differ in more than seed and folder: {config.out}")
        refusal = population_refusal(config)
        if refusal is not None:
            raise ValueError(f"{config.out}: the population cannot train this run: {refusal}")
        check_run_folder(config.out, False, config.run.overwrite)
    seeds = [c.agent.seed for c in configs]
    learn = dataclasses.asdict(first.learn)
    pop = train_population(
        first.env.id,
        seeds,
        env_kwargs=first.env.kwargs,
        core=first.agent.core,
        device=first.agent.device,
        threads=first.agent.threads,
        hyperparams=dataclasses.asdict(first.agent.hyperparams),
        **learn,
    )
    results = []
    for k, config in enumerate(configs):
        out = config.out
        if config.run.overwrite:
            clear_run_folder(out)
        out.mkdir(parents=True, exist_ok=True)
        agent = pop.member(k)
        evals = [{c: record.get(c) for c in EVAL_COLUMNS} for record in pop.history[k]]
        agent.save(out / "agent.pt")
        write_json(out / "config.json", config.to_dict())
        write_rows(out / "learning_curve.csv", evals, EVAL_COLUMNS)
        title = f"{agent.core} on {agent.env_id} {agent.env_kwargs} seed {agent.seed} (population)"
        learning_curve(out / "learning_curve.png", evals, title=title)
        reason = pop.stop_reason[k] or "total_timesteps reached"
        summary = rl_summary(agent, config, evals, False, reason) | {
            "wall_s": pop.history[k][-1]["wall_s"] if pop.stopped[k] else pop.train_wall_s,
            "engine": ENGINE,
            "population_seeds": seeds,
        }
        write_json(out / "summary.json", summary)
        results.append(TrainResult(agent=agent, summary=summary, out=out))
    return results
