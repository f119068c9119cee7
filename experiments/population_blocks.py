"""Seeds trained side by side: blocks of seeds, one :class:`~sublstm.agents.population.Population`
per block, and an executor that runs grouped cells of an experiment as such blocks.

:func:`seed_blocks` splits seeds into blocks; :func:`train_population` trains one block.
:class:`BlockExecutor` wraps a runner executor (:mod:`sublstm.experiments.runner`): the cells whose
params carry the same :data:`BLOCK_GROUP` value (the seeds of one experiment) are handed to the
wrapped executor as blocks, a block's task trains them together and returns one result per cell,
and each cell's record is stored as it would be when run alone; cells without the key run one by
one as before. Only cells not stored yet reach an executor, so a block whose seeds are all stored
is skipped and an interrupted experiment resumes with its missing seeds.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .reporting import machine_info
from .runner import Cell, Done, Executor, executor_name

#: cell param: cells with the same value may be trained side by side as one population
BLOCK_GROUP = "block_group"
BLOCK = 16  # seeds per population block unless told otherwise

BlockTask = Callable[[Sequence[Cell]], dict[str, dict]]  # the cells of a block -> result by cell name


def check_block(value: Any, name: str = "block") -> int:
    """A block size: a non-negative integer (0: no populations, every seed on its own)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0 (0: each seed its own training run), got {value!r}")
    return value


def seed_blocks(seeds: Iterable[Any], size: int) -> list[list[Any]]:
    """``seeds`` in order, in blocks of ``size`` (the last one may be shorter)."""
    seeds = list(seeds)
    return [seeds[a : a + size] for a in range(0, len(seeds), size)]


def train_population(
    env_id: str,
    seeds: Sequence[int],
    *,
    total_timesteps: int,
    env_kwargs: dict | None = None,
    core: str = "asn-sublstm",
    device: str = "cpu",
    threads: int | None = None,
    hyperparams: dict | None = None,
    **learn: Any,
):
    """One Population of ``seeds`` trained ``total_timesteps`` per member (at most); ``learn``: the
    other arguments of :meth:`Population.learn` (eval_interval, stop_at_success, ...); ``threads``:
    torch threads while it trains (None: as they are)."""
    from sublstm.agents.population import Population
    from sublstm.agents.runtime import torch_threads

    pop = Population(
        env_id,
        len(seeds),
        core=core,
        seeds=seeds,
        env_kwargs=env_kwargs,
        device=device,
        **(hyperparams or {}),
    )
    with torch_threads(threads):
        pop.learn(total_timesteps, **learn)
    return pop


# -- the executor ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    """A block of cells handed to an executor as one unit of work."""

    name: str
    cells: tuple[Cell, ...]


def measure_block(task: BlockTask, cells: Sequence[Cell]) -> dict[str, dict]:
    """Run ``task`` on a block; per cell what :func:`~sublstm.experiments.runner.measure` gives a
    cell run alone, ``wall_s`` being the cell's share of the block's wall-clock, plus ``block``
    (the block's cells and its whole wall-clock)."""
    t0 = time.perf_counter()
    results = task(cells)
    wall = time.perf_counter() - t0
    shared = {"machine": machine_info(), "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    block = {"runs": [c.name for c in cells], "wall_s": wall}
    return {
        c.name: {"result": results[c.name], "wall_s": wall / len(cells), **shared, "block": block}
        for c in cells
    }


def _run_unit(work, task: BlockTask, unit: Cell | Block) -> dict[str, dict]:
    if isinstance(unit, Block):
        return measure_block(task, unit.cells)
    return {unit.name: work(unit)}


class BlockExecutor:
    """An executor that runs the cells sharing a :data:`BLOCK_GROUP` param as blocks of at most
    ``size`` seeds through ``task``, and every other cell alone, all through ``inner``.

    A group's blocks are as even as possible, and split further (down to one seed) while the whole
    run has fewer units of work than ``inner`` runs at a time, so that ``--jobs`` keeps its workers busy.
    """

    def __init__(self, inner: Executor, size: int, task: BlockTask) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.inner, self.size, self.task = inner, size, task
        self.__name__ = f"{executor_name(inner)}, population blocks of <= {size}"

    @property
    def jobs(self) -> int | None:
        return getattr(self.inner, "jobs", None)

    @property
    def jobs_used(self) -> int | None:
        return getattr(self.inner, "jobs_used", None)

    def units(self, cells: Sequence[Cell]) -> list[Cell | Block]:
        """The cells as units of work: blocks of grouped cells, then the cells on their own."""
        groups: dict[Any, list[Cell]] = {}
        alone = []
        for cell in cells:
            key = cell.params.get(BLOCK_GROUP)
            (alone if key is None else groups.setdefault(key, [])).append(cell)
        counts = {key: math.ceil(len(members) / self.size) for key, members in groups.items()}
        while groups and sum(counts.values()) + len(alone) < (self.jobs or 1):
            key = max(groups, key=lambda k: len(groups[k]) / counts[k])
            if len(groups[key]) <= counts[key]:
                break  # every block holds one seed already
            counts[key] += 1
        blocks = [
            Block(f"{chunk[0].name}..{chunk[-1].name}", tuple(chunk))
            for key, members in groups.items()
            for chunk in seed_blocks(members, math.ceil(len(members) / counts[key]))
        ]
        return [*blocks, *alone]

    def __call__(self, work, cells: Sequence[Cell], done: Done) -> None:
        by_name = {cell.name: cell for cell in cells}

        def unit_done(unit, results: dict[str, dict]) -> None:
            for name, measured in results.items():
                done(by_name[name], measured)

        self.inner(functools.partial(_run_unit, work, self.task), self.units(cells), unit_done)
