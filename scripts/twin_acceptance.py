"""The spiking twin's acceptance run: train agents with the defaults, convert, compare, tabulate.

    python scripts/twin_acceptance.py --seeds 0 1 2 3 4 --write-doc docs/results.md

For every seed: ``scripts/train.py`` with its default arguments (noisy T-maze, corridor 10,
asn-sublstm) into ``<runs>/s<seed>``, then ``scripts/compare.py`` on 200 episodes at the spiking
policy's defaults with a sweep over step_ms, into ``<runs>/s<seed>/compare.json``. An existing
agent.pt or compare.json is reused (``--fresh`` redoes both). The table (analog and spiking success,
teacher-forced and closed-loop agreement, the shortest step_ms keeping >= 98 % agreement, firing
rates, spikes per decision) is printed and, with ``--write-doc``, written as the block
``acceptance`` of the "Spiking twin" section.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # scripts/ is no package: find spiking_doc
from spiking_doc import machine, md_table, write_block  # noqa: E402

POPS = ("input", "hidden", "cell_input", "input_gate", "output_gate", "output_cell")


def run(script: str, *args: str) -> None:
    subprocess.run([sys.executable, str(HERE / script), *args], check=True)


def measure(seed: int, runs: Path, episodes: int, sweep: str, fresh: bool) -> dict:
    out = runs / f"s{seed}"
    result = out / "compare.json"
    if fresh or not (out / "agent.pt").exists():
        run("train.py", "--seed", str(seed), "--out", str(out), "--wandb", "disabled", "--no-progress")
    if fresh or not result.exists():
        run(
            "compare.py", "--checkpoint", str(out / "agent.pt"), "--episodes", str(episodes), "--seed", "0",
            "--json", str(result), "--sweep", sweep, "--sweep-delays", "hold", "--wandb", "disabled",
        )
    return json.loads(result.read_text())


def row(seed: int, r: dict) -> list:
    sp, ag = r["spiking"], r["agreement"]
    shortest = (r.get("shortest_step_ms_98") or {}).get(str(r["recurrent_delay"]))
    return [
        seed,
        f"{r['analog']['success_rate']:.3f}",
        f"{sp['success_rate']:.3f}",
        f"{ag['teacher_forced']:.4f}",
        f"{ag['closed_loop']:.4f}",
        f"{ag['decisive']:.4f}",
        "-" if shortest is None else f"{shortest:g}",
        f"{sp['mean_rate_hz']:.1f}",
        " / ".join(f"{sp['rate_hz'][p]:.0f}" for p in POPS),
        f"{sp['spikes_per_decision']:.0f}",
        f"{sp['synops_per_decision']:.0f}",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--runs", default="runs/twin-acceptance", help="folder of the per-seed runs")
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--sweep", default="50,100,200,300", help="step_ms values for the shortest safe step")
    ap.add_argument("--write-doc", default=None, help="markdown file to write the block into")
    ap.add_argument("--fresh", action="store_true", help="retrain and recompare every seed")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # as in the train/compare runs it starts, so the machine line says so
    if args.episodes < 1:
        ap.error(f"--episodes must be >= 1, got {args.episodes}")
    runs = Path(args.runs)
    results = {s: measure(s, runs, args.episodes, args.sweep, args.fresh) for s in args.seeds}
    header = [
        "seed", "analog success", "spiking success", "agreement (tf)", "closed loop", "decisive steps",
        "shortest step_ms >= 98 %", "rate (Hz)", "input / hidden / z / i / o / out-cell (Hz)",
        "spikes/decision", "synaptic events/decision",
    ]
    table = md_table(header, [row(s, r) for s, r in results.items()])
    first = next(iter(results.values()))
    gaps = [abs(r["analog"]["success_rate"] - r["spiking"]["success_rate"]) for r in results.values()]
    within = sum(gap <= 0.02 for gap in gaps)
    agree = sum(r["agreement"]["teacher_forced"] >= 0.98 for r in results.values())
    n = len(results)
    median_rate = statistics.median(r["spiking"]["mean_rate_hz"] for r in results.values())
    command = f"python scripts/twin_acceptance.py --seeds {' '.join(map(str, args.seeds))} --runs {args.runs}"
    if args.write_doc:
        command += f" --write-doc {args.write_doc}"
    text = f"""### Acceptance with the current defaults

Command: `{command}`
Machine: {machine()}. Agents: `scripts/train.py` default arguments (noisy T-maze, corridor 10,
asn-sublstm, noise-aware training, stop after 2 evaluations in a row at >= 95 %). Twins: the
policy's defaults (step_ms {first['step_ms']:g}, dt {first['dt_ms']:g} ms, readout window
{first['readout_window_ms']:g} ms, recurrent delay {first['recurrent_delay']}), {args.episodes}
closed-loop episodes with the same seeds for both; the sweep ({args.sweep} ms) finds the shortest
step from which every longer one keeps >= 98 % teacher-forced agreement.

{table}

Spiking success within 2 points of the analog: **{within} of {n}** seeds; teacher-forced decision
agreement >= 98 % at the default step: **{agree} of {n}**; median overall rate {median_rate:.1f} Hz.
"""
    print(text)
    if args.write_doc:
        write_block(args.write_doc, "acceptance", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
