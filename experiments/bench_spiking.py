"""Section ``spiking``: neuron-updates per second of the spiking simulator (a whole twin, and the
batched ASN step alone) against batch size and network size, beside a per-neuron Python loop doing
the same ASN update. Each device gets its own block of the section (cpu, cuda)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .bench import BenchContext, Section, check_count, save_figure
from .reporting import markdown_table, median

HEADER = [
    "neurons",
    "batch (episodes)",
    "whole twin: updates/s",
    "x Python loop",
    "ASN step alone: updates/s",
    "x loop",
]


@dataclass(frozen=True)
class SpikingSettings:
    """Network sizes (hidden, cells), batch sizes, the shortest timing and the torch device."""

    sizes: tuple[tuple[int, int], ...] = ((16, 8), (64, 32), (256, 128))
    batches: tuple[int, ...] = (1, 16, 100, 1024)
    min_s: float = 1.0
    device: str = "cpu"

    def validate(self) -> None:
        from .training_config import check_device

        if not self.sizes or not self.batches:
            raise ValueError("sizes and batches must each name at least one value")
        for hidden_cells in self.sizes:
            if len(hidden_cells) != 2:
                raise ValueError(f"sizes must be (hidden, cells) pairs, got {hidden_cells!r}")
            check_count("sizes (hidden)", hidden_cells[0])
            check_count("sizes (cells)", hidden_cells[1])
        for b in self.batches:
            check_count("batches", b)
        if not (isinstance(self.min_s, int | float) and self.min_s > 0):
            raise ValueError(f"min_s must be a positive number of seconds, got {self.min_s!r}")
        check_device(self.device, "device")


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
    t0 = time.perf_counter()
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
    return n_neurons * steps / (time.perf_counter() - t0)


def loop_rate(n: int, min_s: float) -> float:
    """Median of 3 timings of :func:`python_loop_rate`, each long enough (>= ``min_s``) to be stable."""
    probe = python_loop_rate(n, 20)
    steps = max(20, int(min_s * probe / n))
    return median([python_loop_rate(n, steps) for _ in range(3)])


def random_twin(n_hidden: int, n_cells: int, device: str = "cpu"):
    """The spiking twin (default timing) of a freshly initialised asn-sublstm network: its cost does
    not depend on training."""
    from sublstm.agents import AdvantageNetwork
    from sublstm.spiking import SpikingNetwork

    net = AdvantageNetwork(3, 4, core="asn-sublstm", n_hidden=n_hidden, n_cells=n_cells)
    return SpikingNetwork.from_analog(net).to(device)


def _timed(step: Callable[[], None], sync: Callable[[], None], min_s: float) -> tuple[int, float]:
    """Calls of ``step`` and their seconds, at least one call and ``min_s`` seconds, after a warm-up."""
    step()
    sync()
    calls, t0 = 0, time.perf_counter()
    while calls == 0 or time.perf_counter() - t0 < min_s:
        step()
        calls += 1
    sync()
    return calls, time.perf_counter() - t0


def simulator_rates(twin, batch: int, min_s: float) -> tuple[float, float]:
    """Neuron-updates/s of ``SpikingNetwork.step`` and of ``asn_step`` alone, ``batch`` episodes."""
    import torch
    from sublstm.spiking.asn import asn_step, initial_state

    device = twin.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    gen = torch.Generator().manual_seed(0)
    obs = torch.rand(batch, twin.obs_dim, generator=gen).to(device)
    holder = {"state": twin.initial_state(batch)}
    current = (torch.rand(batch, twin.n_neurons, generator=gen) * 2).to(device)
    asn = {"state": initial_state(current.shape, device=device)}

    def decision() -> None:
        _, holder["state"] = twin.step(obs, holder["state"])

    def asn_dt() -> None:
        asn["state"], _ = asn_step(asn["state"], current)

    with torch.no_grad():
        calls, seconds = _timed(decision, sync, min_s)
        network = batch * twin.n_neurons * twin.steps_per_decision * calls / seconds
        calls, seconds = _timed(asn_dt, sync, min_s)
        alone = batch * twin.n_neurons * calls / seconds
    return network, alone


def run(ctx: BenchContext, s: SpikingSettings) -> None:
    import torch

    rows, curves, loop_rates = [], {}, {}
    for n_hidden, n_cells in s.sizes:
        twin = random_twin(n_hidden, n_cells, s.device)
        n = twin.n_neurons
        curves[n] = [simulator_rates(twin, b, s.min_s) for b in s.batches]
        loop_rates[n] = loop_rate(n, s.min_s)
        label = f"{n} ({n_hidden} hidden, {n_cells} cells)"
        for b, (whole, alone) in zip(s.batches, curves[n], strict=True):
            ref = loop_rates[n]
            rows.append(
                [label, b, f"{whole:,.0f}", f"{whole / ref:,.2g}", f"{alone:,.0f}", f"{alone / ref:,.2g}"]
            )
        rows.append([label, "Python loop", f"{loop_rates[n]:,.0f}", "1", "", ""])
        print(f"  {n} neurons: {[f'{w:,.0f}' for w, _ in curves[n]]}, loop {loop_rates[n]:,.0f}", flush=True)
    table = markdown_table(HEADER, rows)
    print(table)
    plot = ctx.plots / f"bench_spiking_{s.device.split(':')[0]}.png"
    plot_rates(plot, s.batches, curves, loop_rates)
    device = s.device + (f" ({torch.cuda.get_device_name(s.device)})" if s.device.startswith("cuda") else "")
    body = f"""
### Device {device}

Neuron-updates per second (one ASN advanced by one dt = 1 ms) of the spiking simulator on {device}
(float32, one CPU thread): `SpikingNetwork.step` of the twin (default timing) of a freshly
initialised asn-sublstm network of the given size (synaptic currents by matrix products, every ASN
by one elementwise step), and the batched `asn_step` alone on the same (batch, neurons) tensor,
with a batch of episodes simulated side by side, each timed for at least {s.min_s:g} s. Beside it,
in the same run, a per-neuron Python loop over floats doing the same ASN update on the same number
of neurons on the CPU (`python_loop_rate`, median of 3 timings of at least {s.min_s:g} s each).
That loop is given fixed input currents and computes no synaptic sums, so it does less work per
update than the whole twin: the speed-ups are lower bounds.

{table}

![simulator throughput]({ctx.link(plot)})
"""
    ctx.write_block(SECTION, f"spiking-{s.device.split(':')[0]}", body)


def plot_rates(path: Path, batches, curves: dict, loop_rates: dict) -> None:
    from .plots import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for (n, rates), color in zip(curves.items(), colors, strict=False):
        ax.plot(batches, [w for w, _ in rates], "o-", color=color, label=f"simulator, {n} neurons")
        ax.axhline(loop_rates[n], color=color, ls=":", label=f"Python loop, {n} neurons")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(list(batches), [str(b) for b in batches])
    ax.set_xlabel("batch (episodes simulated together)")
    ax.set_ylabel("neuron-updates per second")
    ax.legend(fontsize=7)
    save_figure(fig, path)


SECTION = Section(
    "spiking",
    "Spiking simulator throughput",
    run,
    SpikingSettings(),
    SpikingSettings(sizes=((16, 8), (64, 32)), batches=(1, 64), min_s=0.2),
    order=30,
)
