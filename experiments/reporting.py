"""Reporting: atomic JSON, markdown tables, doc sections and blocks, the machine stamp.

Every measured figure in docs/ is written through these helpers, so a rerun replaces its own part
of a document and leaves everything else in it byte for byte.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

TARGET_SUCCESS = 0.95  # the success rate whose first crossing "steps to 95 %" reports


# -- files --------------------------------------------------------------------------------------------
def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and ``os.replace``.

    A reader (or a crash) never sees half a file; the temp file is removed if the write fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):  # numpy / torch arrays and scalars
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def write_json(path: str | Path, obj: Any) -> None:
    """Atomic JSON write (NaN written as null would lose information, so JSON's NaN is kept)."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


# -- numbers --------------------------------------------------------------------------------------------
def first_reaching(
    evals: Iterable[dict],
    key: str = "timesteps",
    threshold: float = TARGET_SUCCESS,
    metric: str = "success_rate",
) -> float | int | None:
    """``key`` of the first evaluation whose ``metric`` is >= ``threshold`` (NaN never counts), else None."""
    for row in evals:
        value = row.get(metric)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if value >= threshold:
            found = row[key]
            return int(found) if key in ("timesteps", "update", "episodes") else float(found)
    return None


def fmt(value: Any, spec: str = ".2f", none: str = "–") -> str:
    """A number for a table or a log line: ``spec`` for floats, ``none`` for None / NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    if isinstance(value, (bool, int)):
        return str(value)
    if isinstance(value, float):
        return format(value, spec)
    return str(value)


def median(values: Sequence[float]) -> float:
    vals = sorted(v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))
    if not vals:
        return float("nan")
    mid = len(vals) // 2
    return float(vals[mid]) if len(vals) % 2 else 0.5 * (vals[mid - 1] + vals[mid])


# -- markdown -------------------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A markdown table; cells are printed with ``str`` (format numbers before, e.g. with :func:`fmt`)."""
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_section(path: str | Path, title: str, body: str, doc_title: str = "# Results") -> None:
    """Put ``## title`` + ``body`` into a markdown file, replacing that section if present.

    A section runs from its ``## `` heading to the next ``## `` heading (or the end of the file);
    every other section is kept byte for byte. A missing file is created with ``doc_title``.
    """
    path = Path(path)
    text = path.read_text() if path.exists() else f"{doc_title}\n"
    heading = f"## {title}"
    section = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_text_atomic(path, text)


def write_block(path: str | Path, key: str, text: str, section: str, doc_title: str = "# Results") -> None:
    """Replace (or append) the block ``key`` inside ``## section`` of a markdown file.

    A block is delimited by ``<!-- block:key -->`` and ``<!-- /block:key -->``, so several writers
    can own blocks in one section. The section is appended if absent, the file created if missing.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", key):
        raise ValueError(f"block key must be letters, digits and _.:- only, got {key!r}")
    path = Path(path)
    heading = section if section.startswith("## ") else f"## {section}"
    doc = path.read_text() if path.exists() else f"{doc_title}\n"
    start_tag, end_tag = f"<!-- block:{key} -->", f"<!-- /block:{key} -->"
    block = f"{start_tag}\n{text.strip()}\n{end_tag}\n"
    lines = doc.splitlines(keepends=True)
    head = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if head is None:
        doc = doc.rstrip("\n") + f"\n\n{heading}\n\n{block}"
    else:
        end = next((i for i in range(head + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        body = "".join(lines[head + 1 : end])
        pattern = re.compile(re.escape(start_tag) + r".*?" + re.escape(end_tag) + r"\n?", re.S)
        if pattern.search(body):
            body = pattern.sub(lambda _: block, body)
        else:
            body = body.rstrip("\n") + "\n\n" + block + ("\n" if end < len(lines) else "")
        doc = "".join(lines[: head + 1]) + body + "".join(lines[end:])
    write_text_atomic(path, doc)


# -- the machine ----------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str:
    try:
        return str(__import__(module).__version__)
    except Exception:  # a missing optional package is worth a note, not a crash
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
            cwd=Path(__file__).resolve().parent,  # the package's checkout, whatever the current folder
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_info() -> dict[str, str]:
    """What produced a figure: CPU, cores, torch threads, library versions, load, date, commit."""
    import torch

    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except (OSError, AttributeError):
        load = "unknown"
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": _version("numpy"),
        "gymnasium": _version("gymnasium"),
        "stable_baselines3": _version("stable_baselines3"),
        "sb3_contrib": _version("sb3_contrib"),
        "load_average": load,
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": _git_commit(),
    }


def machine_line(info: dict[str, str] | None = None) -> str:
    """The machine stamp as one line for a doc."""
    info = info or machine_info()
    gpu = f", GPU {info['cuda']}" if info.get("cuda", "none") != "none" else ""
    return (
        f"{info['cpu']}, {info['cores']} cores (torch threads {info['torch_threads']}){gpu}; "
        f"Python {info['python']}, torch {info['torch']}, gymnasium {info['gymnasium']}, "
        f"SB3 {info['stable_baselines3']}, sb3-contrib {info['sb3_contrib']}; "
        f"load average {info['load_average']} (1, 5, 15 min) at the start; "
        f"{info['date']}, commit {info['commit']}"
    )


def command_line(argv: Sequence[str] | None = None) -> str:
    """The running command as one would type it: ``sublstm <sub> ...`` for the console entry point."""
    argv = list(sys.argv if argv is None else argv)
    prog = Path(argv[0]).name if argv else "sublstm"
    if prog in ("sublstm", "__main__.py", "cli.py"):
        prog = "sublstm"
    elif prog.endswith(".py"):
        rel = os.path.relpath(argv[0])
        prog = f"python {argv[0] if rel.startswith('..') else rel}"
    return " ".join([prog, *argv[1:]])
