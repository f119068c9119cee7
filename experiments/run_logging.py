"""What a training run logs while it runs: typed CSV tables in the run folder, and wandb.

- ``metrics.csv``: one row per training episode (RL) or per evaluation (the supervised sequence
  task), appended and flushed as they come, so a crash loses no finished row;
- ``learning_curve.csv``: one row per deterministic evaluation, written whole (atomically);
- wandb (offline by default) through :mod:`sublstm.experiments.tracking`, whose run id is kept in
  the run folder so that a resumed run continues the same wandb run.

Columns are typed: integer columns hold integers (``12000``, never ``12000.0``), success is
``1`` / ``0`` or empty when the env does not say, and an unknown number is an empty cell, never
``nan``. Reading a table back gives the same types, so a resumed run writes the same kinds of rows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .reporting import write_text_atomic
from .tracking import log_images, log_numbers, start_wandb

#: column -> kind ("int", "float" or "bool01") of metrics.csv for reinforcement learning
EPISODE_COLUMNS = {
    "episode": "int",
    "timesteps": "int",
    "return": "float",
    "length": "int",
    "success": "bool01",
    "epsilon": "float",
    "loss": "float",
    "rate_hz": "float",
}
#: learning_curve.csv of reinforcement learning: one row per deterministic evaluation
EVAL_COLUMNS = {
    "timesteps": "int",
    "episodes": "int",
    "success_rate": "float",
    "mean_return": "float",
    "mean_length": "float",
    "wall_s": "float",
    "epsilon": "float",
}
#: metrics.csv and learning_curve.csv of the supervised sequence task: one row per evaluation
SEQUENCE_COLUMNS = {
    "update": "int",
    "loss": "float",
    "final_accuracy": "float",
    "all_accuracy": "float",
    "rate_hz": "float",
    "wall_s": "float",
}


def format_cell(value: Any, kind: str) -> str:
    """One CSV cell: integers without a decimal point, success as 1/0, unknown (None, NaN) empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "int":
        return str(int(value))
    if kind == "bool01":
        return "1" if bool(value) else "0"
    return repr(float(value))


def parse_cell(text: str | None, kind: str) -> Any:
    """A cell back as its type (None when empty); tolerates ``12000.0`` and ``True`` of older files."""
    if text is None or text.strip() in ("", "nan", "None"):
        return None
    text = text.strip()
    if kind == "int":
        return int(float(text))
    if kind == "bool01":
        return int(text in ("1", "1.0", "True", "true"))
    return float(text)


def read_rows(path: str | Path, columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """A table written by this module, typed by ``columns`` (unknown columns are dropped)."""
    with open(path, newline="") as f:
        return [{k: parse_cell(row.get(k), kind) for k, kind in columns.items()} for row in csv.DictReader(f)]


def _line(row: Mapping[str, Any], columns: Mapping[str, str]) -> list[str]:
    return [format_cell(row.get(k), kind) for k, kind in columns.items()]


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]], columns: Mapping[str, str]) -> None:
    """The whole table, atomically (header and one line per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(_line(row, columns) for row in rows)
    write_text_atomic(path, buffer.getvalue())


class RunLogger:
    """Rows of ``metrics.csv`` and wandb logging of one run, behind a few calls.

    With ``resume``, the rows already in ``metrics.csv`` are read back (:attr:`previous`), those
    after ``keep_until`` (e.g. rows of a crash after the last checkpoint) are dropped, and new rows
    are appended; the wandb run with the id stored in ``out`` continues.
    """

    def __init__(
        self,
        out: str | Path,
        columns: Mapping[str, str],
        wandb_mode: str = "offline",
        config: dict[str, Any] | None = None,
        resume: bool = False,
        name: str | None = None,
        keep_until: tuple[str, int] | None = None,
    ) -> None:
        self.out = Path(out)
        self.columns = dict(columns)
        self.path = self.out / "metrics.csv"
        self.previous: list[dict[str, Any]] = []
        if resume and self.path.is_file():
            self.previous = read_rows(self.path, self.columns)
            if keep_until is not None:
                key, limit = keep_until
                self.previous = [r for r in self.previous if r[key] is None or r[key] <= limit]
        write_rows(self.path, self.previous, self.columns)
        self._file = open(self.path, "a", newline="")  # noqa: SIM115 (closed in close())
        self._writer = csv.writer(self._file, lineterminator="\n")
        self.run = start_wandb(wandb_mode, self.out, config or {}, name=name, job_type="train", resume=resume)

    def row(self, record: Mapping[str, Any]) -> None:
        """Append one typed row to metrics.csv (flushed: a crash keeps every finished row)."""
        self._writer.writerow(_line(record, self.columns))
        self._file.flush()

    def log(self, record: Mapping[str, Any], step: int | None = None, prefix: str = "") -> None:
        """The numeric entries of ``record`` to wandb (nothing when wandb is disabled)."""
        log_numbers(self.run, dict(record), step=step, prefix=prefix)

    def images(self, images: Mapping[str, str | Path], step: int | None = None) -> None:
        log_images(self.run, dict(images), step=step)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
        if self.run is not None:
            self.run.finish()
            self.run = None

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
