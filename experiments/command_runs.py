"""Training runs as subprocesses of the package command, under a wall-clock cap, into a RunStore.

    cells = [command_cell("N10-ours-seed0", "train", {"agent.seed": 0, ...}, out=folder)]
    records = run_commands(RunStore(root), cells, jobs=4, max_run_s=600)

Each cell runs ``python -m sublstm.experiments <command> key=value ...`` (one torch thread, wandb
off) with its output in a log file. A run still going after ``max_run_s`` seconds gets SIGINT, on
which ``train`` and ``baselines`` stop, save and write their summary; the record then carries
``bench_wall_limit_s``. The record's result holds the run's ``summary.json`` and its learning
curve (``learning_curve.csv``), so a report is rendered from the store alone. A run that fails
(no summary) is reported and left out of the store, so the next invocation runs it again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from .reporting import read_json
from .runner import Cell, run_cells
from .store import RunStore

STOP_GRACE_S = 300.0  # after SIGINT, how long a run may take to save before it is killed


def package_argv(command: str, settings: Mapping[str, Any]) -> list[str]:
    """``-m sublstm.experiments <command> key=value ...`` (values as Python literals, strings bare)."""
    items = [f"{k}={v if isinstance(v, str) else repr(v)}" for k, v in settings.items()]
    return ["-m", "sublstm.experiments", command, *items]


def command_cell(
    name: str, command: str, settings: Mapping[str, Any], out: str | Path, **params: Any
) -> Cell:
    """A cell running the package's ``command`` with dotted ``settings``; ``params`` ride along."""
    argv = package_argv(command, settings)
    return Cell(name=name, settings={"argv": argv}, params={"argv": argv, "out": str(out), **params})


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="disabled", WANDB_SILENT="true")
    return env


def run_capped(argv: Sequence[str], out: Path, log: Path, max_run_s: float | None) -> dict[str, Any]:
    """Run ``python <argv>``; return ``{"summary", "curve", "out"}`` read from ``out`` (RuntimeError if
    it wrote no summary.json)."""
    summary_path = out / "summary.json"
    summary_path.unlink(missing_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    timed_out = False
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, *argv], stdout=f, stderr=subprocess.STDOUT, env=child_env())
        try:
            rc = proc.wait(timeout=max_run_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.send_signal(signal.SIGINT)
            try:
                rc = proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
    if not summary_path.is_file():
        raise RuntimeError(f"exit status {rc} and no summary.json; see {log}")
    summary = read_json(summary_path)
    if timed_out:
        summary["bench_wall_limit_s"] = max_run_s
    return {"summary": summary, "curve": read_curve(out / "learning_curve.csv"), "out": str(out)}


def read_curve(path: Path) -> list[dict[str, Any]]:
    """The evaluations of a run folder's learning_curve.csv ([] if there is none)."""
    from .run_logging import EVAL_COLUMNS, read_rows

    return read_rows(path, EVAL_COLUMNS) if path.is_file() else []


class CappedThreads:
    """A :func:`run_cells` executor: ``jobs`` cells at a time (each one subprocess), a failing cell
    reported and left unstored instead of stopping the others."""

    def __init__(self, jobs: int, report: Callable[[str], None] = print) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
        self.jobs = jobs
        self.report = report

    def __call__(self, work, cells, done) -> None:
        if not cells:
            return
        with ThreadPoolExecutor(max_workers=min(self.jobs, len(cells))) as pool:
            futures = {pool.submit(work, cell): cell for cell in cells}
            for future in as_completed(futures):
                cell = futures[future]
                try:
                    result = future.result()
                except Exception as exc:  # a failed run: say so, store nothing, go on with the others
                    self.report(f"  FAILED {cell.name}: {exc}")
                    continue
                done(cell, result)


def run_commands(
    store: RunStore,
    cells: Sequence[Cell],
    jobs: int = 1,
    max_run_s: float | None = None,
    fresh: bool = False,
    logs: Path | None = None,
) -> dict[str, dict | None]:
    """Run every cell not yet stored (all of them with ``fresh``); every cell's record (None: failed).

    Longest first (``params["cost"]``, default 1) keeps a pool of workers busy to the end.
    """
    logs = Path(logs or store.root / "logs")
    if fresh:
        for cell in cells:
            store.path(cell.name).unlink(missing_ok=True)
    ordered = sorted(cells, key=lambda c: -float(c.params.get("cost", 1.0)))

    def work(cell: Cell) -> dict[str, Any]:
        print(f"  run {cell.name}", flush=True)
        return run_capped(cell.params["argv"], Path(cell.params["out"]), logs / f"{cell.name}.log", max_run_s)

    def on_record(record: dict, k: int, n: int) -> None:
        print(f"  done {record['name']} ({k}/{n})", flush=True)

    return run_cells(store, ordered, work, executor=CappedThreads(jobs), on_record=on_record)
