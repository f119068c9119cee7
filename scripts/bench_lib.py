"""Small helpers shared by scripts/baselines.py and scripts/bench.py (and nothing else).

- learning curves: one CSV row per periodic evaluation, the first time a threshold is reached, a plot;
- the machine's description, recorded beside every measured figure;
- docs/benchmarks.md: replace (or append) one ``## `` section, leaving every other section untouched.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

#: the columns scripts/train.py writes too (it adds epsilon), so both kinds of run read alike
CURVE_FIELDS = ("timesteps", "success_rate", "mean_return", "mean_length", "wall_s")


# -- learning curves ----------------------------------------------------------------------------------
def write_curve(path: str | Path, rows: Sequence[dict]) -> None:
    """Write evaluation rows (dicts with at least CURVE_FIELDS) as CSV, extra keys ignored."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CURVE_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_curve(path: str | Path) -> list[dict[str, float]]:
    """Read a learning-curve CSV back; every column present becomes a float."""
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


def first_reaching(rows: Sequence[dict], threshold: float, key: str = "timesteps") -> float | None:
    """``key`` (timesteps or wall_s) of the first evaluation with success_rate >= threshold, else None."""
    for row in rows:
        if row["success_rate"] >= threshold:
            return int(row[key]) if key == "timesteps" else float(row[key])
    return None


def plot_curve(path: str | Path, rows: Sequence[dict], title: str) -> None:
    """Success rate and mean return against timesteps, one figure, written to ``path`` (png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["timesteps"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(t, [r["success_rate"] for r in rows], marker=".", color="tab:blue")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("success rate (deterministic)", color="tab:blue")
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(0.95, color="grey", lw=0.8, ls="--")
    twin = ax.twinx()
    twin.plot(t, [r["mean_return"] for r in rows], color="tab:orange", lw=0.8)
    twin.set_ylabel("mean return", color="tab:orange")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- the machine --------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception:  # a missing optional package is worth a note, not a crash
        return "not installed"


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info() -> dict[str, str]:
    """What produced a figure: CPU, cores, library versions, date, commit."""
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "torch_threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "stable_baselines3": _version("stable_baselines3"),
        "sb3_contrib": _version("sb3_contrib"),
        "gymnasium": _version("gymnasium"),
        "load_average": _load_average(),
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "commit": _git_commit(),
    }


def machine_line(info: dict[str, str] | None = None) -> str:
    info = info or machine_info()
    return (
        f"{info['cpu']}, {info['cores']} cores (torch threads {info['torch_threads']}); "
        f"Python {info['python']}, torch {info['torch']}, SB3 {info['stable_baselines3']}, "
        f"sb3-contrib {info['sb3_contrib']}, gymnasium {info['gymnasium']}; "
        f"load average {info['load_average']} (1, 5, 15 min) at the start; "
        f"{info['date']}, commit {info['commit']}"
    )


def command_line() -> str:
    """The command that is running, as one would type it from the repository root."""
    exe = "python" if sys.executable.endswith(("python", "python3")) else sys.executable
    script = os.path.relpath(sys.argv[0])
    return " ".join([exe, sys.argv[0] if script.startswith("..") else script, *sys.argv[1:]])


# -- docs/benchmarks.md -------------------------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_section(path: str | Path, title: str, body: str, doc_title: str = "# Benchmarks") -> None:
    """Put ``## title`` + body into the markdown file, replacing that section if present.

    A section runs from its ``## `` heading to the next ``## `` heading (or the end). Other sections,
    whoever wrote them, are kept byte for byte. A missing file is created with ``doc_title``.
    """
    path = Path(path)
    text = path.read_text() if path.exists() else f"{doc_title}\n"
    heading = f"## {title}"
    section = f"{heading}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^{re.escape(heading)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
        text = text.rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
