"""Compare a trained analog agent with its spiking twin on the same episodes.

    python scripts/compare.py --checkpoint runs/x/agent.pt --episodes 200 --seed 0 \
        --json out.json --plots out/ [--sweep 20,50,100,200] [--write-doc docs/results.md]

Both run the same episode seeds, all episodes of a run side by side (one batch). Reported:
success rates; decision agreement teacher-forced (the spiking net fed the analog run's
observations; actions read at the end of each step and averaged over the step's last part) and
closed-loop (the spiking run's own observations, judged by the analog net fed the same ones);
firing rates per population, spikes and synaptic events per decision, analog MACs per step; a sweep
over the decision time step_ms. Plots: a spike raster, the memory cell analog vs spiking, AF vs a
simulated ASN, success and agreement vs step_ms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import sublstm.envs  # noqa: F401  (registers the env ids)
import torch
from gymnasium import spaces
from sublstm.agents.agent import AdvantageAgent
from sublstm.agents.neuron import af
from sublstm.spiking.asn import SpikeRecorder, simulate_constant
from sublstm.spiking.network import POPULATIONS
from sublstm.spiking.policy import SpikingPolicy
from sublstm.spiking.timing import TwinTiming

_DEFAULTS = TwinTiming()
DEFAULT_STEP_MS, DEFAULT_READOUT_WINDOW_MS = _DEFAULTS.step_ms, _DEFAULTS.readout_window_ms
DEFAULT_DELAY = _DEFAULTS.recurrent_delay_ms

DEFAULT_SWEEP = (20, 50, 100, 200, 300, 500, 1000)
#: an analog decision is "decisive" when its best action value leads the second by this much
GAP_MARGIN = 0.05


# -- batched rollouts ------------------------------------------------------------------------------
class Encoder:
    """Observation -> float32 vector, as the agent sees it (one-hot for Discrete spaces)."""

    def __init__(self, space: spaces.Space, obs_dim: int) -> None:
        self.space, self.obs_dim = space, obs_dim

    def __call__(self, obs) -> np.ndarray:
        if isinstance(self.space, spaces.Discrete):
            vec = np.zeros(self.obs_dim, dtype=np.float32)
            vec[int(obs) - int(self.space.start)] = 1.0
            return vec
        return np.asarray(obs, dtype=np.float32).reshape(self.obs_dim)


def rollout(
    env_id: str, env_kwargs: dict, n: int, seed: int, decide, obs_dim: int, max_steps: int = 10_000
) -> dict:
    """Run ``n`` episodes side by side (env k reset with seed + k) until all have ended.

    ``decide(obs (n, d) float32 array, alive (n,) bool) -> actions (n,)`` is called once per step
    for the whole batch; rows of ended episodes carry their last observation and are ignored.
    Returns success, return, length per episode, the observations each decision saw (T, n, d)
    and the actions (T, n), -1 where the episode had ended.
    """
    envs = [gym.make(env_id, **env_kwargs) for _ in range(n)]
    encode = Encoder(envs[0].observation_space, obs_dim)
    obs = np.stack([encode(env.reset(seed=seed + k)[0]) for k, env in enumerate(envs)])
    alive = np.ones(n, dtype=bool)
    success = np.zeros(n, dtype=bool)
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    obs_hist, act_hist = [], []
    for _ in range(max_steps):
        if not alive.any():
            break
        actions = np.asarray(decide(obs, alive)).reshape(n)
        obs_hist.append(obs.copy())
        act_hist.append(np.where(alive, actions, -1))
        for k in np.flatnonzero(alive):
            o, r, terminated, truncated, info = envs[k].step(int(actions[k]))
            returns[k] += r
            lengths[k] += 1
            if terminated or truncated:
                alive[k] = False
                success[k] = bool(info.get("success", False))
            else:
                obs[k] = encode(o)
    return {
        "success": success,
        "returns": returns,
        "lengths": lengths,
        "obs": np.stack(obs_hist),
        "actions": np.stack(act_hist),
    }


class AnalogDecider:
    """Greedy actions of the analog network, its recurrent state carried across calls."""

    def __init__(self, network, n: int, device) -> None:
        self.network, self.device = network, device
        self.state = network.initial_state(n, device)
        self.cells: list[np.ndarray] = []  # memory cell c after each step, (n, H)
        self.values: list[np.ndarray] = []  # action values of each step, (n, A)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
        q, self.state = self.network.step(torch.as_tensor(obs, device=self.device), self.state)
        self.cells.append(self.state[1].cpu().numpy())
        self.values.append(q.cpu().numpy())
        return q.argmax(-1).cpu().numpy()


class SpikingDecider:
    """Greedy actions of the spiking twin; an analog shadow fed the same observations judges them."""

    def __init__(self, policy: SpikingPolicy, network, n: int, device) -> None:
        self.policy, self.shadow = policy, AnalogDecider(network, n, device)
        self.state = policy.initial_state(n)
        self.agree = 0
        self.count = 0

    def __call__(self, obs: np.ndarray, alive: np.ndarray) -> np.ndarray:
        q, _, self.state = self.policy.act(obs, self.state, active=torch.as_tensor(alive))
        actions = q.argmax(-1).cpu().numpy()
        analog = self.shadow(obs, alive)
        self.agree += int((actions == analog)[alive].sum())
        self.count += int(alive.sum())
        return actions


# -- measurements ----------------------------------------------------------------------------------
def teacher_forced_agreement(policy: SpikingPolicy, analog_run: dict, gap_margin: float = GAP_MARGIN) -> dict:
    """Agreement of the spiking net fed the analog run's observations with the analog actions.

    Besides the agreement over all decisions (read at the step's last dt: ``end``; averaged over
    the readout window: ``mean``), it reports, for the chosen readout, the agreement on decisive
    steps (the analog net's best action value ahead of the second by >= ``gap_margin``; near-ties
    flip on the spikes' ripple and matter little), on each episode's final decision (the turn at
    the T-maze junction) and the mean |c_spiking - c_analog| at the final decision.
    """
    out = policy.teacher_forced(torch.as_tensor(analog_run["obs"]))
    analog = torch.as_tensor(analog_run["actions"])
    mask = analog >= 0
    res = {}
    for name, key in (("end", "actions_end"), ("mean", "actions")):
        equal = (out[key] == analog) | ~mask
        res[name] = float(equal[mask].float().mean())
        res[f"{name}_episodes_identical"] = float(equal.all(0).float().mean())
    chosen = out["actions"] if policy.network.readout_window_ms > 0 else out["actions_end"]
    q_analog, cells = analog_run["q"], analog_run["c"]
    top2 = q_analog.topk(2, dim=-1).values
    decisive = mask & (top2[..., 0] - top2[..., 1] >= gap_margin)
    res["decisive"] = float((chosen == analog)[decisive].float().mean()) if decisive.any() else float("nan")
    res["decisive_fraction"] = float(decisive.sum() / mask.sum())
    last = torch.as_tensor(analog_run["lengths"]) - 1
    cols = torch.arange(analog.shape[1])
    res["final_decision"] = float((chosen[last, cols] == analog[last, cols]).float().mean())
    res["final_c_error"] = float((out["c"][last, cols] - cells[last, cols]).abs().mean())
    res["final_c_abs"] = float(cells[last, cols].abs().mean())
    return res


def spiking_run(policy, agent, args) -> tuple[dict, dict, float]:
    """Closed-loop spiking rollout: (run, stats, closed-loop agreement)."""
    policy.reset_stats()
    decider = SpikingDecider(policy, agent.network, args.episodes, agent.device)
    run = rollout(agent.env_id, agent.env_kwargs, args.episodes, args.seed, decider, agent.obs_dim)
    return run, policy.stats(), decider.agree / max(1, decider.count)


def parse_delay(text: str) -> float | str:
    return text if text in ("step", "hold") else float(text)


def sweep(policy, agent, analog_run, step_values, window_ms, delays, args) -> list[dict]:
    """Teacher-forced and closed-loop measurements for every (recurrent delay, step_ms) pair."""
    rows = []
    for delay, step_ms in ((d, s) for d in delays for s in step_values):
        policy.network.set_timing(TwinTiming(policy.dt_ms, step_ms, min(window_ms, step_ms), delay))
        t0 = time.perf_counter()
        tf = teacher_forced_agreement(policy, analog_run)
        run, stats, closed = spiking_run(policy, agent, args)
        rows.append(
            {
                "recurrent_delay": delay,
                "step_ms": float(step_ms),
                "teacher_forced_end": tf["end"],
                "teacher_forced_mean": tf["mean"],
                "teacher_forced": tf["mean"] if window_ms > 0 else tf["end"],
                "decisive": tf["decisive"],
                "final_decision": tf["final_decision"],
                "closed_loop": closed,
                "success_rate": float(run["success"].mean()),
                "mean_length": float(run["lengths"].mean()),
                "mean_rate_hz": stats["mean_rate_hz"],
                "spikes_per_decision": stats["spikes_per_decision"],
                "synops_per_decision": stats["synops_per_decision"],
                "wall_s": time.perf_counter() - t0,
            }
        )
        r = rows[-1]
        print(
            f"  delay {delay!s:>4} step_ms {step_ms:6.0f}: agreement tf end {r['teacher_forced_end']:.4f} "
            f"mean {r['teacher_forced_mean']:.4f} closed {r['closed_loop']:.4f} "
            f"| success {r['success_rate']:.3f} "
            f"| {r['mean_rate_hz']:.1f} Hz | {r['wall_s']:.1f} s",
            flush=True,
        )
    return rows


def shortest_step(rows: list[dict], delay, key: str = "teacher_forced", level: float = 0.98) -> float | None:
    """Shortest step_ms from which on every longer step in the sweep keeps agreement >= level."""
    best = None
    for r in sorted((r for r in rows if r["recurrent_delay"] == delay), key=lambda r: -r["step_ms"]):
        if r[key] < level:
            break
        best = r["step_ms"]
    return best


# -- plots -------------------------------------------------------------------------------------------
COLORS = {
    "input": "tab:gray",
    "hidden": "tab:blue",
    "cell_input": "tab:green",
    "input_gate": "tab:red",
    "output_gate": "tab:orange",
    "output_cell": "tab:purple",
}


def episode_trace(policy, obs_seq: np.ndarray) -> dict:
    """Simulate one episode (its observations) recording spikes and c at every dt."""
    net = policy.network
    rec = SpikeRecorder(0)
    cs = []

    def on_dt(spikes, state):
        rec.record(spikes)
        cs.append(state.c[0].cpu().numpy())

    state = policy.initial_state(1)
    with torch.no_grad():
        for o in obs_seq:
            _, state = net.step(torch.as_tensor(o[None]), state, on_dt=on_dt)
    return {"raster": rec.raster().numpy(), "c": np.stack(cs)}


def make_plots(out: Path, policy, analog_run, analog_cells, rows, agent) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    net = policy.network
    length = int(analog_run["lengths"][0])
    obs_seq = analog_run["obs"][:length, 0]
    tr = episode_trace(policy, obs_seq)
    t_ms = (np.arange(tr["raster"].shape[0]) + 1) * net.dt
    paths = []

    fig, ax = plt.subplots(figsize=(10, 5))
    for pop in POPULATIONS:
        sl = net.slices[pop]
        ts, idx = np.nonzero(tr["raster"][:, sl])
        ax.scatter(t_ms[ts], idx + sl.start, s=4, marker="|", color=COLORS[pop], label=pop)
    for k in range(length + 1):
        ax.axvline(k * net.step_ms, color="k", lw=0.3, alpha=0.4)
    ax.set(
        xlabel="simulated time (ms)", ylabel="neuron", title=f"Spike raster, episode 0 ({length} decisions)"
    )
    ax.legend(loc="upper right", fontsize=7, markerscale=3)
    paths.append(out / "raster.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    analog_c = np.stack([c[0] for c in analog_cells[:length]])  # (length, H)
    order = np.argsort(-np.abs(analog_c).max(0))[:4]
    for j, cell in enumerate(order):
        color = f"C{j}"
        ax.plot(t_ms, tr["c"][:, cell], color=color, lw=1, label=f"cell {cell} spiking")
        ax.plot(
            (np.arange(length) + 1) * net.step_ms,
            analog_c[:, cell],
            "o--",
            color=color,
            label=f"cell {cell} analog",
        )
    ax.set(xlabel="simulated time (ms)", ylabel="memory cell c", title="Memory cells, episode 0")
    ax.legend(fontsize=7)
    paths.append(out / "memory_cell.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    xs = np.array([0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5])
    trace, rate = simulate_constant(
        xs.tolist(), duration_ms=1000.0, settle_ms=300.0, params=net.params, dt=net.dt
    )
    grid = np.linspace(0, 5, 300)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(grid, af(torch.as_tensor(grid), net.params).numpy(), label="AF (closed form)")
    ax.plot(xs, trace.numpy(), "o", label="simulated ASN: mean trace")
    ax2 = ax.twinx()
    ax2.plot(xs, rate.numpy(), "x", color="tab:red", label="rate")
    ax2.set_ylabel("firing rate (Hz)", color="tab:red")
    ax.set(xlabel="constant input x", ylabel="activation", title="Effective activation vs one simulated ASN")
    ax.legend(loc="lower right")
    paths.append(out / "af_vs_asn.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    if rows:
        delays = list(dict.fromkeys(r["recurrent_delay"] for r in rows))
        fig, axes = plt.subplots(1, len(delays), figsize=(6 * len(delays), 4), squeeze=False, sharey=True)
        for ax, delay in zip(axes[0], delays, strict=True):
            sub = [r for r in rows if r["recurrent_delay"] == delay]
            steps = [r["step_ms"] for r in sub]
            ax.plot(steps, [r["success_rate"] for r in sub], "o-", label="spiking success")
            ax.plot(
                steps, [r["teacher_forced_end"] for r in sub], "s-", label="agreement, teacher-forced (end)"
            )
            ax.plot(
                steps, [r["teacher_forced_mean"] for r in sub], "^-", label="agreement, teacher-forced (mean)"
            )
            ax.plot(steps, [r["closed_loop"] for r in sub], "d-", label="agreement, closed loop")
            ax.axhline(float(analog_run["success"].mean()), color="k", ls="--", lw=1, label="analog success")
            ax.axhline(0.98, color="gray", ls=":", lw=1)
            ax.set(xscale="log", xlabel="decision time step_ms", title=f"recurrent delay: {delay}")
        axes[0][0].set_ylabel("fraction")
        axes[0][0].legend(fontsize=7)
        paths.append(out / "sweep.png")
        fig.tight_layout()
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


# -- report ------------------------------------------------------------------------------------------
def print_table(result: dict) -> None:
    sp, an = result["spiking"], result["analog"]
    print(f"\n{'':28s}{'analog':>12s}{'spiking':>12s}")
    print(f"{'success rate':28s}{an['success_rate']:12.3f}{sp['success_rate']:12.3f}")
    print(f"{'mean episode length':28s}{an['mean_length']:12.2f}{sp['mean_length']:12.2f}")
    ag = result["agreement"]
    print(
        f"agreement: teacher-forced {ag['teacher_forced']:.4f} (end {ag['teacher_forced_end']:.4f}, "
        f"mean {ag['teacher_forced_mean']:.4f}), closed loop {ag['closed_loop']:.4f}; decisive steps "
        f"{ag['decisive']:.4f} ({ag['decisive_fraction']:.1%} of steps), final decision "
        f"{ag['final_decision']:.4f}; |c error| at the final decision {ag['final_c_error']:.3f} "
        f"(|c| {ag['final_c_abs']:.3f})"
    )
    print(
        f"step_ms {result['step_ms']}, dt_ms {result['dt_ms']}, "
        f"readout window {result['readout_window_ms']} ms, "
        f"recurrent delay {result['recurrent_delay']}"
    )
    print("firing rate (Hz): " + ", ".join(f"{k} {v:.1f}" for k, v in sp["rate_hz"].items()))
    print(
        f"spikes/decision {sp['spikes_per_decision']:.1f}, "
        f"synaptic events/decision {sp['synops_per_decision']:.1f}, "
        f"analog MACs/step {result['analog_macs_per_step']}"
    )


def doc_text(result: dict, args, cmd: str) -> str:
    from spiking_doc import machine, md_table

    sp, an, ag = result["spiking"], result["analog"], result["agreement"]
    lines = [
        f"### {result['env_id']} {result['env_kwargs']} — `{result['checkpoint']}`",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {machine()}; wall time {result['wall_s']:.0f} s.",
        "",
        md_table(
            ["", "analog", "spiking"],
            [
                ["success rate", f"{an['success_rate']:.3f}", f"{sp['success_rate']:.3f}"],
                ["mean episode length", f"{an['mean_length']:.2f}", f"{sp['mean_length']:.2f}"],
            ],
        ),
        "",
        f"{result['episodes']} episodes (seeds {args.seed}…{args.seed + args.episodes - 1}), step_ms = "
        f"{result['step_ms']:g}, dt = {result['dt_ms']:g} ms, "
        f"readout window {result['readout_window_ms']:g} ms, "
        f"recurrent delay {result['recurrent_delay']}. "
        f"Decision agreement: teacher-forced **{ag['teacher_forced']:.4f}** (read at the step's end "
        f"{ag['teacher_forced_end']:.4f}, averaged over its last {result['readout_window_ms']:g} ms "
        f"{ag['teacher_forced_mean']:.4f}; whole episodes identical {ag['episodes_identical']:.3f}), "
        f"closed loop {ag['closed_loop']:.4f}. On decisive steps (analog best action ahead by >= "
        f"{ag['gap_margin']:g}, {ag['decisive_fraction']:.1%} of steps) teacher-forced agreement is "
        f"**{ag['decisive']:.4f}**; on each episode's final decision {ag['final_decision']:.4f}, where "
        f"the memory cells differ by {ag['final_c_error']:.3f} on average "
        f"(mean |c| {ag['final_c_abs']:.3f}).",
        "",
        md_table(
            [
                "population",
                *list(sp["rate_hz"]),
                "spikes/decision",
                "synaptic events/decision",
                "analog MACs/step",
            ],
            [
                [
                    "rate (Hz)",
                    *[f"{v:.1f}" for v in sp["rate_hz"].values()],
                    f"{sp['spikes_per_decision']:.1f}",
                    f"{sp['synops_per_decision']:.1f}",
                    result["analog_macs_per_step"],
                ],
                [
                    "neurons",
                    *[str(v) for v in sp["neurons"].values()],
                    str(sum(sp["neurons"].values())),
                    "",
                    "",
                ],
            ],
        ),
    ]
    if result["sweep"]:
        lines += [
            "",
            "Sweep over the decision time and the recurrent delay (0: plain conversion, the loop closes "
            "within a step; step: recurrent synapses delayed by one step_ms, the analog order). Shortest "
            f"step_ms keeping teacher-forced agreement >= 98%: {result['shortest_step_ms_98']}; "
            f"closed loop: {result['shortest_step_ms_98_closed']}.",
            "",
            md_table(
                [
                    "delay",
                    "step_ms",
                    "agree tf (end)",
                    "agree tf (mean)",
                    "agree decisive",
                    "agree final",
                    "agree closed",
                    "success",
                    "rate (Hz)",
                    "spikes/dec",
                ],
                [
                    [
                        str(r["recurrent_delay"]),
                        f"{r['step_ms']:g}",
                        f"{r['teacher_forced_end']:.4f}",
                        f"{r['teacher_forced_mean']:.4f}",
                        f"{r['decisive']:.4f}",
                        f"{r['final_decision']:.4f}",
                        f"{r['closed_loop']:.4f}",
                        f"{r['success_rate']:.3f}",
                        f"{r['mean_rate_hz']:.1f}",
                        f"{r['spikes_per_decision']:.1f}",
                    ]
                    for r in result["sweep"]
                ],
            ),
        ]
    if result.get("plots"):
        lines += ["", "Plots: " + ", ".join(f"`{p}`" for p in result["plots"])]
    return "\n".join(lines)


def log_wandb(mode: str, result: dict, plots: list[Path], args) -> None:
    if mode == "disabled":
        return
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project="sublstm", job_type="compare", mode=mode, config=vars(args) | {"env_id": result["env_id"]}
    )
    flat = {
        "analog/success_rate": result["analog"]["success_rate"],
        "spiking/success_rate": result["spiking"]["success_rate"],
        "spiking/mean_rate_hz": result["spiking"]["mean_rate_hz"],
        "spiking/spikes_per_decision": result["spiking"]["spikes_per_decision"],
        "spiking/synops_per_decision": result["spiking"]["synops_per_decision"],
        "analog_macs_per_step": result["analog_macs_per_step"],
        **{f"agreement/{k}": v for k, v in result["agreement"].items()},
        **{f"spiking/rate_hz/{k}": v for k, v in result["spiking"]["rate_hz"].items()},
    }
    run.summary.update(flat)
    if result["sweep"]:
        cols = list(result["sweep"][0])
        # recurrent_delay mixes numbers and "step": wandb tables need one type per column
        rows = [[str(r[c]) if c == "recurrent_delay" else r[c] for c in cols] for r in result["sweep"]]
        run.log({"sweep": wandb.Table(columns=cols, data=rows)})
    for p in plots:
        run.log({f"plots/{p.stem}": wandb.Image(str(p))})
    run.finish()


# -- main ----------------------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="an agent.pt written by AdvantageAgent.save")
    p.add_argument("--episodes", type=int, default=200)
    p.add_argument("--seed", type=int, default=0, help="episode k is reset with seed + k")
    p.add_argument("--step-ms", type=float, default=DEFAULT_STEP_MS, help="simulated ms per decision")
    p.add_argument("--dt-ms", type=float, default=1.0, help="simulation step (ms)")
    p.add_argument(
        "--window-ms",
        type=float,
        default=DEFAULT_READOUT_WINDOW_MS,
        help="act on q averaged over the last this many ms of each step (0: q at its last dt); the "
        "agreement of the q read at the last dt is reported beside it",
    )
    p.add_argument(
        "--recurrent-delay",
        type=parse_delay,
        default=DEFAULT_DELAY,
        help="delay of the recurrent synapses in ms, 'step' (one step_ms) or 'hold' (the previous "
        "step's h held on the gates all step, the analog order)",
    )
    p.add_argument(
        "--sweep", default=",".join(str(s) for s in DEFAULT_SWEEP), help="step_ms values; '' for none"
    )
    p.add_argument(
        "--sweep-delays", default="step,hold", help="recurrent delays to sweep (ms, 'step' or 'hold')"
    )
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--plots", default=None, help="folder for the plots")
    p.add_argument(
        "--write-doc", default=None, help="write the results into this markdown file (Spiking twin)"
    )
    p.add_argument("--wandb", choices=("offline", "disabled"), default="offline")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.episodes < 1:
        p.error(f"--episodes must be >= 1, got {args.episodes}")
    if not 0.0 <= args.window_ms <= args.step_ms:
        p.error(f"--window-ms must be in [0, --step-ms], got {args.window_ms}")
    try:
        args.sweep_values = [float(s) for s in args.sweep.split(",") if s.strip()]
        args.delays = [parse_delay(s.strip()) for s in args.sweep_delays.split(",") if s.strip()]
    except ValueError:
        p.error(
            f"--sweep/--sweep-delays must be comma-separated numbers ('step', 'hold' for delays), got "
            f"{args.sweep!r} / {args.sweep_delays!r}"
        )
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    agent = AdvantageAgent.load(args.checkpoint, device=args.device)
    if agent.env_id is None:
        raise ValueError(f"{args.checkpoint}: the agent records no env id, so its episodes cannot be rebuilt")
    network = agent.network.eval()
    policy = SpikingPolicy.from_agent(
        agent,
        dt=args.dt_ms,
        step_ms=args.step_ms,
        readout_window_ms=args.window_ms,
        recurrent_delay_ms=args.recurrent_delay,
    )
    print(f"{agent.env_id} {agent.env_kwargs} core {agent.core}; {args.episodes} episodes, seed {args.seed}")

    analog = AnalogDecider(network, args.episodes, agent.device)
    analog_run = rollout(agent.env_id, agent.env_kwargs, args.episodes, args.seed, analog, agent.obs_dim)
    analog_run["q"] = torch.as_tensor(np.stack(analog.values))
    analog_run["c"] = torch.as_tensor(np.stack(analog.cells))
    print(f"analog: success {analog_run['success'].mean():.3f}", flush=True)

    # the main setting: both readouts teacher-forced, then the closed loop
    tf = teacher_forced_agreement(policy, analog_run)
    run, stats, closed = spiking_run(policy, agent, args)
    chosen = "mean" if args.window_ms > 0 else "end"
    result = {
        "checkpoint": str(args.checkpoint),
        "env_id": agent.env_id,
        "env_kwargs": agent.env_kwargs,
        "core": agent.core,
        "episodes": args.episodes,
        "seed": args.seed,
        "step_ms": policy.step_ms,
        "dt_ms": policy.dt_ms,
        "readout_window_ms": policy.network.readout_window_ms,
        "recurrent_delay": args.recurrent_delay,
        "analog": {
            "success_rate": float(analog_run["success"].mean()),
            "mean_return": float(analog_run["returns"].mean()),
            "mean_length": float(analog_run["lengths"].mean()),
        },
        "spiking": {
            "success_rate": float(run["success"].mean()),
            "mean_return": float(run["returns"].mean()),
            "mean_length": float(run["lengths"].mean()),
            **stats,
        },
        "agreement": {
            "teacher_forced": tf[chosen],
            "teacher_forced_end": tf["end"],
            "teacher_forced_mean": tf["mean"],
            "episodes_identical": tf[f"{chosen}_episodes_identical"],
            "decisive": tf["decisive"],
            "decisive_fraction": tf["decisive_fraction"],
            "gap_margin": GAP_MARGIN,
            "final_decision": tf["final_decision"],
            "final_c_error": tf["final_c_error"],
            "final_c_abs": tf["final_c_abs"],
            "closed_loop": closed,
        },
        "analog_macs_per_step": network.macs_per_step(),
    }
    print_table(result)

    print("sweep over step_ms:", flush=True)
    rows = sweep(policy, agent, analog_run, args.sweep_values, args.window_ms, args.delays, args)
    result["sweep"] = rows
    result["shortest_step_ms_98"] = {str(d): shortest_step(rows, d, "teacher_forced") for d in args.delays}
    result["shortest_step_ms_98_closed"] = {
        str(d): shortest_step(rows, d, "closed_loop") for d in args.delays
    }
    policy.network.set_timing(TwinTiming(args.dt_ms, args.step_ms, args.window_ms, args.recurrent_delay))

    plots = []
    if args.plots:
        plots = make_plots(Path(args.plots), policy, analog_run, analog.cells, rows, agent)
        result["plots"] = [str(p) for p in plots]
    result["wall_s"] = time.perf_counter() - t_start
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.write_doc:
        from spiking_doc import write_block

        cmd = "python scripts/compare.py " + " ".join(sys.argv[1:] if argv is None else argv)
        key = "compare-" + Path(args.checkpoint).parent.name + f"-{agent.env_id.split('/')[-1]}"
        write_block(args.write_doc, key, doc_text(result, args, cmd))
    log_wandb(args.wandb, result, plots, args)
    print(f"done in {result['wall_s']:.0f} s")
    return result


if __name__ == "__main__":
    main()
