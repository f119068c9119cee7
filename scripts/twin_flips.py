"""Where a trained agent's spiking twin flips decisions (teacher-forced), and how its memory drifts.

    python scripts/twin_flips.py runs/twin-tables/agents/tmaze-c20-n1-s0-15/s8.pt \
        step_ms=600 readout_window_ms=100

Prints each differing decision (step / episode length, both actions, the analog gap between its
two best action values, both action values, the observation), then per step the memory cells'
error against their size and the largest action-value error. Episodes: 100 from seed 100000, as
the twin tables (``--episodes``, ``--seed``); KEY=VALUE: TwinTiming fields.
"""

import argparse

import numpy as np
from sublstm.agents import AdvantageAgent
from sublstm.experiments.config import parse_key_values
from sublstm.spiking import SpikingPolicy, TwinTiming
from sublstm.spiking.compare import analog_run, flips


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint")
    parser.add_argument("timing", nargs="*", metavar="KEY=VALUE")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=100_000)
    args = parser.parse_args()
    agent = AdvantageAgent.load(args.checkpoint)
    policy = SpikingPolicy.from_agent(agent, TwinTiming(**parse_key_values(args.timing, "timing")))
    found = flips(policy, analog_run(agent, args.episodes, args.seed))
    print(f"agreement {found.agreement:.4f}: {len(found.flips)} flips")
    for f in found.flips:
        print(
            f"episode {f['episode']} step {f['step']}/{f['length']}: analog {f['analog_action']} twin "
            f"{f['twin_action']} gap {f['gap']:.4f} analog q {np.round(f['analog_q'], 3)} twin q "
            f"{np.round(f['twin_q'], 3)} obs {np.round(f['obs'], 2)}"
        )
    if found.flips:
        gaps, lengths = [f["gap"] for f in found.flips], [f["length"] for f in found.flips]
        print(f"gaps {min(gaps):.4f}-{max(gaps):.4f}; episode lengths {min(lengths)}-{max(lengths)}")
    for row in found.by_step:
        c_err, c_abs, q_err = row["c_error"], row["c_abs"], row["q_error"]
        print(f"step {row['step']}: c error {c_err:.3f} of |c| {c_abs:.3f}, q error {q_err:.3f}")


if __name__ == "__main__":
    main()
