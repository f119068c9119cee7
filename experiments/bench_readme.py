"""Section ``readme``: the README's Python snippet against the same training through the command.

Both train the default agent on the default task for the same number of steps (no early stop, no
evaluation), each in its own process, while a second CPU-bound job runs beside them — the busy
small machine the defaults are chosen for. Reported: the training wall-clock of each (the
library's ``train_wall_s`` and the run's ``summary.json`` ``wall_s``), medians over alternating
repeats, and their ratio.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .bench import BenchContext, Section, check_positive
from .reporting import markdown_table, median

# the README's snippet with a fixed budget: the agent's own defaults, nothing else set
SNIPPET = """
from sublstm.agents import AdvantageAgent
agent = AdvantageAgent("sublstm/NoisyTMaze-v0", core="asn-sublstm", seed=0)
agent.learn(total_timesteps={steps}, progress_bar=False, eval_interval=0)
print(agent.train_wall_s)
"""


@dataclass(frozen=True)
class ReadmeSettings:
    """``steps`` env steps per run, ``repeats`` runs of each entry point, alternating."""

    steps: int = 20_000
    repeats: int = 3

    def validate(self) -> None:
        check_positive(self, "steps", "repeats")


def snippet_seconds(steps: int) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(steps=steps)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def command_seconds(steps: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        subprocess.run(
            [
                sys.executable, "-m", "sublstm.experiments", "train", "--out", str(out),
                "--total-timesteps", str(steps), "--eval-interval", "0", "--stop-at-success", "none",
                "--eval-episodes", "1", "--wandb", "disabled", "--no-progress",
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return float(json.loads((out / "summary.json").read_text())["wall_s"])


def measure(s: ReadmeSettings) -> dict[str, list[float]]:
    """Wall-clock seconds of each entry point, with a busy loop running in a second process."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        times: dict[str, list[float]] = {"snippet": [], "command": []}
        for k in range(s.repeats):
            order = ("snippet", "command") if k % 2 == 0 else ("command", "snippet")
            for name in order:
                seconds = snippet_seconds(s.steps) if name == "snippet" else command_seconds(s.steps)
                times[name].append(seconds)
                print(f"  {name}: {seconds:.1f} s", flush=True)
        return times
    finally:
        busy.kill()
        busy.wait()


def run(ctx: BenchContext, s: ReadmeSettings) -> None:
    times = measure(s)
    snippet, command = median(times["snippet"]), median(times["command"])
    labels = {"snippet": "README snippet (`AdvantageAgent(...).learn`)", "command": "`sublstm train`"}
    rows = [
        [labels[name], f"{median(times[name]):.1f}", ", ".join(f"{t:.1f}" for t in times[name])]
        for name in ("snippet", "command")
    ]
    table = markdown_table(["entry point", "median training s", "runs"], rows)
    print(table)
    body = f"""
The README's Python snippet and `sublstm train` train the default agent (noisy T-maze, corridor
10) for {s.steps:,} env steps each (no evaluation, no early stop), alternating, {s.repeats} runs
each, while a second CPU-bound process runs beside them. Training wall-clock:

{table}

Ratio snippet / command: **{snippet / command:.2f}** (the acceptance bound is 1.5). Both run torch
on one thread by default (`AdvantageAgent(n_threads=1)`).
"""
    ctx.write(SECTION, body)


SECTION = Section(
    "readme", "README snippet against the command", run, ReadmeSettings(), ReadmeSettings(2_000, 1), order=15
)
