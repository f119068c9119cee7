"""The main job: train the default agent, convert it to spikes, compare the two.

    python scripts/demo.py                      # noisy T-maze, corridor 10, seed 0, into runs/demo
    python scripts/demo.py --seed 3 --out runs/demo3 --episodes 100

Step 1 is ``scripts/train.py`` with its built-in defaults (asn-sublstm core, advantage learning,
stops at 95 % deterministic success); step 2 is ``scripts/compare.py`` on the checkpoint it wrote
(the analog agent and its spiking twin on the same episode seeds), which prints the table of
success rates, decision agreement, firing rates and spikes per decision. Both steps run as the
scripts themselves, so every option they have stays available by running them directly.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> None:
    cmd = [sys.executable, str(HERE / script), *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/demo", help="output folder (default runs/demo)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--episodes", type=int, default=200, help="comparison episodes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--wandb", choices=("offline", "online", "disabled"), default="offline")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error(f"--episodes must be >= 1, got {args.episodes}")
    out = Path(args.out)
    common = ["--seed", str(args.seed), "--device", args.device]
    try:
        run("train.py", "--out", str(out), "--wandb", args.wandb, *common)
        compare_wandb = "disabled" if args.wandb == "disabled" else "offline"
        run(
            "compare.py", "--checkpoint", str(out / "agent.pt"), "--episodes", str(args.episodes),
            "--json", str(out / "compare.json"), "--plots", str(out / "compare"),
            "--sweep", "100,200,300", "--wandb", compare_wandb, *common,
        )
    except subprocess.CalledProcessError as err:
        print(f"demo: {Path(err.cmd[1]).name} failed with exit code {err.returncode}", file=sys.stderr)
        return err.returncode
    print(f"\nEverything is in {out}/ (summary.json, compare.json, plots in compare/).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
