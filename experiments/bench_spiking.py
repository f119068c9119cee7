"""Section ``spiking``: neuron-updates per second of the spiking simulator (a whole twin,
``SpikingNetwork.step``) with each engine (torch, the compiled kernel) against batch size and network
size, beside a per-neuron Python loop doing the same ASN update, and whether the speed goal is met.
Each device gets its own block of the section (cpu, cuda)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bench import BenchContext, Section, check_count, save_figure
from .reporting import markdown_table, median

#: the engines a table can show (SpikingNetwork.engine values)
BENCH_ENGINES = ("torch", "kernel")
#: the goal (issue 10): the fastest engine's speed-up on the Python loop, by smallest batch
GOAL = ((1, 10.0), (100, 100.0))


@dataclass(frozen=True)
class SpikingSettings:
    """Network sizes (hidden, cells), batch sizes, the shortest timing, the engines and the torch
    device."""

    sizes: tuple[tuple[int, int], ...] = ((16, 8), (64, 32), (256, 128))
    batches: tuple[int, ...] = (1, 16, 100, 1024)
    min_s: float = 1.0
    engines: tuple[str, ...] = BENCH_ENGINES
    device: str = "cpu"

    def validate(self) -> None:
        from .training_config import check_device

        if not self.sizes or not self.batches or not self.engines:
            raise ValueError("sizes, batches and engines must each name at least one value")
        for hidden_cells in self.sizes:
            if len(hidden_cells) != 2:
                raise ValueError(f"sizes must be (hidden, cells) pairs, got {hidden_cells!r}")
            check_count("sizes (hidden)", hidden_cells[0])
            check_count("sizes (cells)", hidden_cells[1])
        for b in self.batches:
            check_count("batches", b)
        for engine in self.engines:
            if engine not in BENCH_ENGINES:
                raise ValueError(f"engines must be among {BENCH_ENGINES}, got {engine!r}")
        if not (isinstance(self.min_s, int | float) and self.min_s > 0):
            raise ValueError(f"min_s must be a positive number of seconds, got {self.min_s!r}")
        check_device(self.device, "device")


def goal_for(batch: int) -> float | None:
    """The speed-up on the Python loop the goal asks for at ``batch`` (None: no goal there)."""
    (one, at_one), (large, at_large) = GOAL
    return at_large if batch >= large else at_one if batch == one else None


def python_loop_rate(n_neurons: int, steps: int, dt: float = 1.0) -> float:
    """Neuron-updates/s of a per-neuron Python loop over floats doing the ASN update of ``asn_step``.

    The reference of the simulator's speed-ups: fixed input currents, no synaptic sums, so it does
    less work per update than the simulator.
    """
    from sublstm.agents.neuron import DEFAULT_ASN
    from sublstm.spiking.asn import step_constants

    k = step_constants(DEFAULT_ASN, dt)
    currents = [0.05 + 2.0 * (j % 17) / 17 for j in range(n_neurons)]
    s_dyn = [0.0] * n_neurons
    s_hat = [0.0] * n_neurons
    theta_dyn = [0.0] * n_neurons
    trace = [0.0] * n_neurons
    t0 = time.process_time()
    for _ in range(steps):
        for j in range(n_neurons):
            s_dyn[j] = (1.0 - k.d_phi) * currents[j] + k.d_phi * s_dyn[j]
            s_hat[j] *= k.d_eta
            theta = k.theta0 + theta_dyn[j]
            spike = s_dyn[j] - s_hat[j] > 0.5 * theta
            if spike:
                s_hat[j] += theta
                theta_dyn[j] += k.m_f * theta
            theta_dyn[j] *= k.d_gamma
            trace[j] = trace[j] * k.d_beta + (k.h if spike else 0.0)
    return n_neurons * steps / (time.process_time() - t0)


def loop_timing(n: int, min_s: float) -> float:
    """One timing of :func:`python_loop_rate` on ``n`` neurons, long enough (>= ``min_s``) to be stable."""
    probe = python_loop_rate(n, 20)
    return python_loop_rate(n, max(20, int(min_s * probe / n)))


def random_twin(n_hidden: int, n_cells: int, device: str = "cpu", seed: int = 0):
    """The spiking twin (default timing) of an asn-sublstm network initialised from ``seed``: its
    cost does not depend on training, but the event-driven kernel's does on the firing rates, so
    the weights are the same in every run."""
    import torch
    from sublstm.agents import AdvantageNetwork
    from sublstm.spiking import SpikingNetwork

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = AdvantageNetwork(3, 4, core="asn-sublstm", n_hidden=n_hidden, n_cells=n_cells)
    return SpikingNetwork.from_analog(net).to(device)


def _timed(
    step: Callable[[], None], sync: Callable[[], None], min_s: float, clock: Callable[[], float]
) -> tuple[int, float]:
    """Calls of ``step`` and their seconds by ``clock``, at least one call and ``min_s`` seconds, after a
    warm-up."""
    step()
    sync()
    calls, t0 = 0, clock()
    while calls == 0 or clock() - t0 < min_s:
        step()
        calls += 1
    sync()
    return calls, clock() - t0


def simulator_rate(twin, engine: str, batch: int, min_s: float, spikes: list | None = None) -> float:
    """Neuron-updates/s of ``SpikingNetwork.step`` with ``engine``, ``batch`` episodes side by side;
    the spike count of every decision is appended to ``spikes`` (the kernel's cost grows with it)."""
    import torch

    device = twin.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    obs = torch.rand(batch, twin.obs_dim, generator=gen).to(device)
    holder = {"state": twin.initial_state(batch)}
    twin.engine = engine
    counts = [] if spikes is None else spikes

    def decision() -> None:
        result, holder["state"] = twin.step(obs, holder["state"])
        counts.append(result.spikes.sum())

    # CPU: this process's CPU time, as for the Python loop (other processes on the machine then
    # do not count); a GPU runs beside the process, so there wall-clock time
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    with torch.no_grad():
        calls, seconds = _timed(decision, sync, min_s, clock)
    return batch * twin.n_neurons * twin.steps_per_decision * calls / seconds


@dataclass
class SizeResult:
    """One network size: its label, neurons, the loop's rate, per engine the rate per batch, and the
    twin's mean firing rate (Hz) over every decision the kernel (or else torch) simulated."""

    label: str
    neurons: int
    loop: float
    rates: dict[str, list[float | None]]
    hz: float = 0.0


def measure_size(n_hidden: int, n_cells: int, s: SpikingSettings) -> SizeResult:
    """Every engine at every batch for one size; the loop is timed before each batch and once at
    the end, in the same run, and its rate is the median of those timings (so a change of the
    machine's load during the run weighs on both sides alike)."""
    twin = random_twin(n_hidden, n_cells, s.device)
    n = twin.n_neurons
    engines = [e for e in s.engines if e == "torch" or twin.kernel_refusal() is None]
    loops, rates = [], {e: [] for e in s.engines}
    spikes, decisions = [], 0  # of the last engine, summed over batches
    for b in s.batches:
        loops.append(loop_timing(n, s.min_s))
        for engine in s.engines:
            counted = spikes if engine == engines[-1] else None
            before = len(spikes)
            rates[engine].append(
                simulator_rate(twin, engine, b, s.min_s, counted) if engine in engines else None
            )
            decisions += b * (len(spikes) - before)
    loops.append(loop_timing(n, s.min_s))
    seconds = decisions * n * twin.steps_per_decision * twin.dt / 1000.0
    hz = float(sum(spikes)) / seconds if seconds else 0.0
    return SizeResult(f"{n} ({n_hidden} hidden, {n_cells} cells)", n, median(loops), rates, hz)


def table_rows(results: list[SizeResult], s: SpikingSettings) -> list[list]:
    rows = []
    for r in results:
        for k, b in enumerate(s.batches):
            row: list = [r.label, b]
            for engine in s.engines:
                rate = r.rates[engine][k]
                row += ["-", "-"] if rate is None else [f"{rate:,.0f}", f"{rate / r.loop:,.3g}"]
            rows.append(row)
        rows.append([r.label, "Python loop", f"{r.loop:,.0f}", "1"] + ["", ""] * (len(s.engines) - 1))
    return rows


def verdict(results: list[SizeResult], s: SpikingSettings) -> str:
    """Whether the fastest engine meets :data:`GOAL` at every batch it names, and where it does not."""
    missed, checked = [], 0
    for r in results:
        for k, b in enumerate(s.batches):
            wanted = goal_for(b)
            best = max((rates[k] or 0.0 for rates in r.rates.values()), default=0.0)
            if wanted is None:
                continue
            checked += 1
            if best / r.loop < wanted:
                missed.append(f"{r.neurons} neurons at batch {b}: {best / r.loop:.3g}x < {wanted:g}x")
    goal = "; ".join(
        f"batch {smallest}" + (" and more" if k else "") + f": >= {factor:g}x the Python loop"
        for k, (smallest, factor) in enumerate(GOAL)
    )
    if not checked:
        return f"Goal (issue 10, fastest engine, {goal}): no batch of this run is one it names."
    state = "met" if not missed else "not met: " + "; ".join(missed)
    return f"Goal (issue 10, fastest engine, {goal}): {state} ({checked} cells checked)."


def run(ctx: BenchContext, s: SpikingSettings) -> None:
    import torch

    results = []
    for n_hidden, n_cells in s.sizes:
        r = measure_size(n_hidden, n_cells, s)
        results.append(r)
        shown = {e: [f"{x:,.0f}" if x else "-" for x in v] for e, v in r.rates.items()}
        print(f"  {r.neurons} neurons: {shown}, loop {r.loop:,.0f}, {r.hz:.0f} Hz", flush=True)
    header = ["neurons", "batch (episodes)"]
    for engine in s.engines:
        header += [f"{engine}: updates/s", "x loop"]
    table = markdown_table(header, table_rows(results, s))
    goal = verdict(results, s)
    print(table)
    print(goal)
    plot = ctx.plots / f"bench_spiking_{s.device.split(':')[0]}.png"
    plot_rates(plot, s.batches, results)
    device = s.device + (f" ({torch.cuda.get_device_name(s.device)})" if s.device.startswith("cuda") else "")
    try:
        from sublstm.spiking.kernel import LANE_MIN_BATCH as lane_min
    except ImportError:  # no numba: no kernel column either
        lane_min = "?"
    clock = "wall-clock time" if s.device.startswith("cuda") else "this process's CPU time"
    fired = ", ".join(f"{r.neurons} neurons {r.hz:.0f} Hz" for r in results)
    body = f"""
### Device {device}

Neuron-updates per second (one ASN advanced by one dt = 1 ms) of the spiking simulator on {device}
(float32, one CPU thread): `SpikingNetwork.step` of the twin (default timing) of an asn-sublstm
network of the given size initialised from seed 0, a batch of episodes simulated side by side from
rest, after one warm-up decision, for at least {s.min_s:g} s of {clock}, with each engine: `torch`
(synaptic currents by matrix products of traces every dt, every ASN by one elementwise step; the
reference) and `kernel` (the compiled engine of `sublstm.spiking.kernel`, the default on the CPU:
one numba call per decision; row by row with the currents carried as state and bumped by the spikes,
or, for small twins at batches of {lane_min} or more, a block of rows side by side with dense
sums). Beside them, in the same run, a per-neuron Python loop over floats doing the same ASN update
on the same number of neurons (`python_loop_rate`; timed by CPU time before every batch and once
more at the end, {s.min_s:g} s each; the median). That loop is given fixed input currents and
computes no synaptic sums, so it does less work per update than the whole twin: the speed-ups are
lower bounds. The kernel's work grows with the spikes; these twins (random weights) fire at
{fired} (mean over the kernel's decisions), more than a trained twin.

{table}

{goal}

![simulator throughput]({ctx.link(plot)})
"""
    ctx.write_block(SECTION, f"spiking-{s.device.split(':')[0]}", body)


def plot_rates(path: Path, batches, results: list[SizeResult]) -> None:
    from .plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    styles = {"kernel": "o-", "torch": "s--"}
    for r, color in zip(results, colors, strict=False):
        for engine, rates in r.rates.items():
            points = [(b, x) for b, x in zip(batches, rates, strict=True) if x]
            if points:
                ax.plot(
                    *zip(*points, strict=True),
                    styles[engine],
                    color=color,
                    label=f"{engine}, {r.neurons} neurons",
                )
        ax.axhline(r.loop, color=color, ls=":", lw=1, label=f"Python loop, {r.neurons} neurons")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(batches), [str(b) for b in batches])
    ax.set_xlabel("batch (episodes simulated together)")
    ax.set_ylabel("neuron-updates per second")
    ax.legend(fontsize=6, ncol=2)
    save_figure(fig, path)


SECTION = Section(
    "spiking",
    "Spiking simulator throughput",
    run,
    SpikingSettings(),
    SpikingSettings(sizes=((16, 8), (64, 32)), batches=(1, 100), min_s=0.2),
    order=30,
)
