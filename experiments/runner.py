"""Run the cells of an experiment (independent runs) into a :class:`RunStore`, resumably.

A *cell* is one run: a name, the settings a stored result must have been made with to count, and
the parameters its task needs. :func:`run_cells` skips every cell already stored with its
settings, hands the rest to an *executor* and stores each result in this process the moment it
comes back, so an interrupted experiment resumes where it stopped.

An executor is any callable ``executor(work, cells, done)`` that calls ``work(cell)`` for every
cell, somewhere, and ``done(cell, result)`` here as each one finishes. Two come with the package:
:func:`serial` (in this process, the fallback) and :class:`RayExecutor` (Ray tasks, one torch thread
each, on a local Ray started for the run or on a cluster given by its address; the ``ray`` extra:
``pip install 'sublstm[ray]'``). Results travel back to the caller and only the caller writes the
store, so a distributed sweep resumes from the same stored results as a serial one.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
Jobs = int | Executor  # how many cells run side by side, or the executor that runs them


def one_torch_thread() -> None:
    """One torch (and OpenMP) thread in this process: runs side by side must not thrash the cores."""
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def serial(work: Callable[[Cell], dict], cells: Sequence[Cell], done: Done) -> None:
    """Run the cells one after the other in this process."""
    for cell in cells:
        done(cell, work(cell))


def ray_available() -> bool:
    """Whether Ray (the ``ray`` extra) is installed."""
    return importlib.util.find_spec("ray") is not None


def _in_worker(work: Callable[[Cell], dict], cell: Cell) -> dict:
    one_torch_thread()
    return work(cell)


class RayExecutor:
    """Run the cells as Ray tasks, at most ``jobs`` at a time, each with one CPU and one torch thread.

    ``address`` None starts a local Ray for the run (``jobs`` CPUs; None: every core) and stops it
    afterwards; an address (``"auto"``, ``"ray://host:10001"``) joins that cluster, whose nodes must
    have the package installed. A Ray already initialised in this process is used as it is. The
    first failing cell cancels the cells not finished yet and its error is raised here.
    """

    def __init__(self, jobs: int | None = None, address: str | None = None) -> None:
        if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be a Ray cluster address such as 'auto', got {address!r}")
        if not ray_available():
            raise ValueError("Ray is not installed: pip install 'sublstm[ray]' (or run with one job)")
        self.jobs, self.address = jobs, address

    def __call__(self, work: Callable[[Cell], dict], cells: Sequence[Cell], done: Done) -> None:
        if not cells:
            return
        import ray

        started = not ray.is_initialized()
        if started:
            options = {"address": self.address} if self.address else {"num_cpus": self.jobs}
            ray.init(**options, include_dashboard=False, logging_level="WARNING", log_to_driver=True)
        try:
            task = ray.remote(num_cpus=1)(_in_worker)
            limit = self.jobs or max(1, int(ray.cluster_resources().get("CPU", 1)))
            self.jobs_used = limit
            queue, running = list(cells), {}
            try:
                while queue or running:
                    while queue and len(running) < limit:
                        cell = queue.pop(0)
                        running[task.remote(work, cell)] = cell
                    ready, _ = ray.wait(list(running), num_returns=1)
                    cell = running.pop(ready[0])
                    done(cell, ray.get(ready[0]))
            except BaseException:
                for ref in running:
                    ray.cancel(ref, force=True)
                raise
        finally:
            if started:
                ray.shutdown()


def executor_for(jobs: Jobs | None = 1, address: str | None = None) -> Executor:
    """The executor for ``jobs`` cells at a time: :func:`serial` for one (or None) without an
    ``address``; else a :class:`RayExecutor` (with an address and ``jobs`` None: as many as the
    cluster has CPUs). Without Ray installed, more jobs fall back to :func:`serial` with a warning
    and an address is refused. An executor given instead of a number is returned as it is."""
    if callable(jobs):
        return jobs
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    if address is None and jobs in (None, 1):
        return serial
    if address is None and not ray_available():
        warnings.warn(
            f"jobs={jobs} needs Ray (pip install 'sublstm[ray]'); running the cells one at a time",
            stacklevel=2,
        )
        return serial
    return RayExecutor(jobs, address)


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
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()

    def session(first: bool = False) -> None:
        jobs = getattr(executor, "jobs_used", None) or getattr(executor, "jobs", None) or 1
        wall = time.perf_counter() - t0
        record_session(store, started, wall, jobs, count, executor_name(executor), replace_last=not first)

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
        session()  # kept up to date: a session killed outright is recorded as far as it got
        if on_record is not None:
            on_record(record, count, len(todo))

    if todo:
        session(first=True)
        try:
            executor(functools.partial(measure, task), todo, done)
        finally:  # an interrupted session counts too: its wall-clock was spent
            session()
    return {cell.name: store.get(cell.name, cell.settings) for cell in cells}


def executor_name(executor: Executor) -> str:
    """How a session ran its cells, as the store records it: "serial", "ray", "ray <address>" or the
    executor's type name."""
    if executor is serial:
        return "serial"
    if isinstance(executor, RayExecutor):
        return "ray" + (f" {executor.address}" if executor.address else "")
    return getattr(executor, "__name__", type(executor).__name__)


def record_session(
    store: RunStore,
    started: str,
    wall_s: float,
    jobs: int,
    runs: int,
    executor: str = "serial",
    replace_last: bool = False,
) -> None:
    """Append one session to the store's ``_sessions.json`` (``replace_last``: update the last one,
    the same session seen later)."""
    path = store.root / SESSIONS
    sessions = read_json(path) if path.is_file() else []
    if replace_last and sessions:
        sessions.pop()
    sessions.append(
        {
            "started": started,
            "wall_s": wall_s,
            "jobs": jobs,
            "executor": executor,
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
