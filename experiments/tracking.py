"""wandb, set up once for every kind of run: offline by default, never needing an account.

The run's files go into the run folder (never ``./wandb`` of the current directory), and the run's
id is kept there too, so a resumed training run continues the same wandb run instead of a second.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

WANDB_MODES = ("offline", "online", "disabled")
_ID_FILE = "wandb_run_id.txt"


def check_wandb_mode(mode: str, option: str = "--wandb") -> str:
    if mode not in WANDB_MODES:
        raise ValueError(f"{option} must be one of {', '.join(WANDB_MODES)}, got {mode!r}")
    return mode


def start_wandb(
    mode: str,
    run_dir: str | Path,
    config: dict[str, Any],
    name: str | None = None,
    job_type: str | None = None,
    resume: bool = False,
    project: str = "sublstm",
):
    """A wandb run writing under ``run_dir`` (None when ``mode`` is "disabled").

    With ``resume`` the id stored in ``run_dir`` by an earlier call is reused, so the resumed run's
    metrics continue the same wandb run.
    """
    check_wandb_mode(mode)
    if mode == "disabled":
        return None
    os.environ.setdefault("WANDB_SILENT", "true")
    import wandb

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    id_file = run_dir / _ID_FILE
    run_id = id_file.read_text().strip() if resume and id_file.is_file() else None
    run = wandb.init(
        project=project,
        mode=mode,
        dir=str(run_dir),
        config=config,
        name=name,
        job_type=job_type,
        id=run_id,
        resume="allow" if run_id else None,
    )
    id_file.write_text(run.id + "\n")
    return run


def log_numbers(run, record: dict[str, Any], step: int | None = None, prefix: str = "") -> None:
    """Log the numeric entries of ``record`` (bools and None left out) to ``run`` if there is one."""
    if run is None:
        return
    numbers = {f"{prefix}{k}": v for k, v in record.items() if _is_number(v)}
    run.log(numbers, step=step)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def log_images(run, images: dict[str, str | Path], step: int | None = None) -> None:
    """Log image files (those that exist) to ``run`` if there is one."""
    if run is None:
        return
    import wandb

    present = {k: wandb.Image(str(p)) for k, p in images.items() if Path(p).is_file()}
    if present:
        run.log(present, step=step)
