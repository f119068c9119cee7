"""Run the cells of an experiment (independent runs) into a :class:`RunStore`, resumably.

A *cell* is one run: a name, the settings a stored result must have been made with to count, and
the parameters its task needs. :func:`run_cells` skips every cell already stored with its
settings, hands the rest to an *executor* and stores each result in this process the moment it
comes back, so an interrupted experiment resumes where it stopped.

An executor is any callable ``executor(work, cells, done)`` that calls ``work(cell)`` for every
cell, somewhere, and ``done(cell, result)`` here as each one finishes. Two come with the package:
:func:`serial` (in this process) and :class:`ProcessPool` (``jobs`` fresh interpreters with one
torch thread each); a distributed one (e.g. Ray tasks) fits the same slot, since results travel
back to the caller and only the caller writes the store.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from .reporting import command_line, machine_info, read_json, write_json
from .store import RunStore

SESSIONS = "_sessions.json"  # metadata file of the store: one entry per session that ran cells


@dataclass(frozen=True)
class Cell:
    """One run of an experiment.

    ``settings`` decide whether a stored result still counts (a result made with other settings
    is run again); ``params`` are what the task needs besides them. Both are stored with the result.
    """

    name: str
    settings: Mapping[str, Any]
    params: Mapping[str, Any] = field(default_factory=dict)


Task = Callable[[Cell], dict]
Done = Callable[[Cell, dict], None]
Executor = Callable[[Callable[[Cell], dict], Sequence[Cell], Done], None]
Jobs = int | Executor  # how many processes run side by side, or the executor that runs the cells


def one_torch_thread() -> None:
    """One torch (and OpenMP) thread in this process: runs side by side must not thrash the cores."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def serial(work: Callable[[Cell], dict], cells: Sequence[Cell], done: Done) -> None:
    """Run the cells one after the other in this process."""
    for cell in cells:
        done(cell, work(cell))


class ProcessPool:
    """Run the cells ``jobs`` at a time, each in a fresh (spawned) interpreter with one torch thread.

    ``work`` and the cells must be picklable (module-level functions, plain data). The first
    failing cell cancels those not started yet and its error is raised here.
    """

    def __init__(self, jobs: int) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.jobs = jobs

    def __call__(self, work: Callable[[Cell], dict], cells: Sequence[Cell], done: Done) -> None:
        if not cells:
            return
        with ProcessPoolExecutor(
            max_workers=min(self.jobs, len(cells)),
            mp_context=get_context("spawn"),
            initializer=one_torch_thread,
        ) as pool:
            futures = {pool.submit(work, cell): cell for cell in cells}
            try:
                for future in as_completed(futures):
                    done(futures[future], future.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def executor_for(jobs: Jobs) -> Executor:
    """:func:`serial` for one job, a :class:`ProcessPool` of ``jobs`` workers for more; an executor
    given instead of a number is returned as it is."""
    if callable(jobs):
        return jobs
    pool = ProcessPool(jobs)  # checks jobs
    return serial if jobs == 1 else pool


def measure(task: Task, cell: Cell) -> dict:
    """Run ``task(cell)`` and wrap its result with the wall-clock, the machine and the finish time."""
    t0 = time.perf_counter()
    result = task(cell)
    return {
        "result": result,
        "wall_s": time.perf_counter() - t0,
        "machine": machine_info(),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def run_cells(
    store: RunStore,
    cells: Sequence[Cell],
    task: Task,
    executor: Executor | None = None,
    on_record: Callable[[dict, int, int], None] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, dict]:
    """Run every cell without a stored result (made with its settings); return every cell's record.

    Each record is ``{"name", **params, "settings", "result", "wall_s", "machine", "finished",
    **extra}``; ``on_record(record, k, n)`` is called as the k-th of n new records is stored. A
    session that ran anything is appended to the store's ``_sessions.json`` (wall-clock, workers,
    command), also when it was interrupted.
    """
    names = [cell.name for cell in cells]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"cell names must be unique, repeated: {twice}")
    for name in names:
        store.path(name)  # refuses bad names before anything runs
    todo = [cell for cell in cells if store.get(cell.name, cell.settings) is None]
    executor = executor or serial
    count = 0

    def done(cell: Cell, measured: dict) -> None:
        nonlocal count
        record = {
            "name": cell.name,
            **cell.params,
            "settings": dict(cell.settings),
            **measured,
            **(extra or {}),
        }
        store.put(cell.name, record)
        count += 1
        if on_record is not None:
            on_record(record, count, len(todo))

    if todo:
        started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
        try:
            executor(functools.partial(measure, task), todo, done)
        finally:  # an interrupted session counts too: its wall-clock was spent
            record_session(store, started, time.perf_counter() - t0, getattr(executor, "jobs", 1), count)
    return {cell.name: store.get(cell.name, cell.settings) for cell in cells}


def record_session(store: RunStore, started: str, wall_s: float, jobs: int, runs: int) -> None:
    """Append one session to the store's ``_sessions.json``."""
    path = store.root / SESSIONS
    sessions = read_json(path) if path.is_file() else []
    sessions.append(
        {
            "started": started,
            "wall_s": wall_s,
            "jobs": jobs,
            "runs": runs,
            "command": command_line(),
            "machine": machine_info(),
        }
    )
    write_json(path, sessions)


def sessions(store: RunStore) -> list[dict]:
    """The sessions recorded in the store (oldest first)."""
    path = store.root / SESSIONS
    return read_json(path) if path.is_file() else []
