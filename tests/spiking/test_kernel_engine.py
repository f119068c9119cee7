"""The compiled engine of SpikingNetwork.step against the torch engine (the reference), in both of its
ways (row by row, event-driven; LANES rows side by side, dense sums).

float64: the same spikes, decisions and memory cells, and states equal to 1e-10 (only the
summation order of the synaptic currents differs). float32: the same spikes in these runs; the
test allows 1 spike count in 1000 to differ (a current rounded across a threshold) and action
values within 1e-3.
"""

import sys

import numpy as np
import pytest
import sublstm.spiking
import sublstm.spiking.kernel as kernel
import torch
from sublstm.agents.network import AdvantageNetwork
from sublstm.spiking.network import ENGINES, SpikingNetwork

TIMINGS = {
    "default": {},
    # other delays onto z/i and o, a coarser dt, an input code with gain, a short window
    "dt2-delays6-0-gain": {
        "dt": 2.0,
        "recurrent_delay_ms": 6.0,
        "output_gate_delay_ms": 0.0,
        "input_gain": 0.5,
        "readout_window_ms": 4.0,
    },
    "no-delay-line": {"recurrent_delay_ms": 0.0, "output_gate_delay_ms": 0.0, "cec_from": 0.0},
    "hold": {"recurrent_delay_ms": "hold", "step_ms": 100.0},
    "fine-dt-one-delay": {
        "dt": 0.5,
        "step_ms": 60.0,
        "recurrent_delay_ms": "step",
        "output_gate_delay_ms": None,
    },
}


def twin(seed: int, dtype=torch.float64, core: str = "asn-sublstm", **timing) -> SpikingNetwork:
    torch.manual_seed(seed)
    net = AdvantageNetwork(3, 4, core=core, n_hidden=12, n_cells=5)
    return SpikingNetwork.from_analog(net, **timing).to(dtype)


def run(net: SpikingNetwork, engine, obs, resets):
    """Decisions over obs (T, batch, 3) with the rows in resets[t] restarted before step t;
    ``engine`` is one name or a list of one name per step."""
    state = net.initial_state(obs.shape[1])
    out = []
    for t in range(obs.shape[0]):
        net.engine = engine[t] if isinstance(engine, list) else engine
        state = net.reset(state, resets[t])
        result, state = net.step(obs[t], state)
        out.append((result, state))
    return out


def episodes(batch: int, steps: int = 5, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    obs = torch.rand(steps, batch, 3, generator=gen).round()  # binary observations, like the tasks'
    resets = torch.zeros(steps, batch, dtype=torch.bool)
    resets[(steps + 1) // 2, 0] = True  # a new episode in row 0 halfway
    return obs, resets


def assert_same(a, b, atol):
    for (ra, sa), (rb, sb) in zip(a, b, strict=True):
        assert torch.equal(ra.spikes, rb.spikes)
        assert torch.equal(ra.q_mean.argmax(-1), rb.q_mean.argmax(-1))
        for x, y in [
            (ra.q_end, rb.q_end),
            (ra.q_mean, rb.q_mean),
            (ra.c, rb.c),
            *zip(sa.neurons, sb.neurons, strict=True),
        ]:
            torch.testing.assert_close(x, y, atol=atol, rtol=atol)
        torch.testing.assert_close(sa.h_delay, sb.h_delay, atol=atol, rtol=atol)
        assert sa.t == sb.t


@pytest.mark.parametrize("timing", TIMINGS)
@pytest.mark.parametrize("batch", [1, 3])
def test_kernel_equals_torch_in_float64(timing, batch):
    net = twin(0, **TIMINGS[timing])
    assert net.kernel_refusal() is None
    obs, resets = episodes(batch)
    torch_runs = run(net, "torch", obs, resets)
    kernel_runs = run(net, "kernel", obs, resets)
    assert sum(float(r.spikes.sum()) for r, _ in torch_runs) > 100  # the twin is not silent
    assert_same(torch_runs, kernel_runs, atol=1e-10)


@pytest.fixture
def lanes(monkeypatch):
    """Every twin built from here on is simulated LANES rows side by side, at any batch."""
    monkeypatch.setattr(kernel, "LANE_SYNAPSES_PER_NEURON", 10**9)
    monkeypatch.setattr(kernel, "LANE_MIN_BATCH", 1)


@pytest.mark.parametrize("timing", TIMINGS)
def test_lanes_equal_torch_in_float64(lanes, timing):
    net = twin(0, **TIMINGS[timing])
    obs, resets = episodes(kernel.LANE_VECTOR + 3)  # one vector of rows side by side, 3 one by one
    kernel_runs = run(net, "kernel", obs, resets)
    assert net._plan[1].ints[kernel.USE_LANES]
    assert_same(run(net, "torch", obs, resets), kernel_runs, atol=1e-10)


def test_lanes_cover_batches_of_several_blocks(lanes):
    net = twin(4, step_ms=60.0, recurrent_delay_ms=10.0, output_gate_delay_ms=20.0)
    obs, resets = episodes(2 * kernel.LANES + kernel.LANE_VECTOR + 5, steps=3)
    assert_same(run(net, "torch", obs, resets), run(net, "kernel", obs, resets), atol=1e-10)


def test_each_way_is_chosen_by_synapses_per_neuron_and_batch(monkeypatch):
    net = twin(0, engine="kernel")
    state = net.initial_state(kernel.LANE_MIN_BATCH)
    called = []
    for name in ("simulate_lanes", "simulate_decision"):
        real = getattr(kernel, name)
        monkeypatch.setattr(
            kernel, name, lambda *a, _real=real, _name=name: called.append(_name) or _real(*a)
        )
    net.step(torch.zeros(kernel.LANE_MIN_BATCH, 3, dtype=torch.float64), state)
    net.step(
        torch.zeros(kernel.LANE_MIN_BATCH - 1, 3, dtype=torch.float64),
        net.initial_state(kernel.LANE_MIN_BATCH - 1),
    )
    assert called == ["simulate_lanes", "simulate_decision"]  # 35 neurons, few synapses each
    monkeypatch.setattr(kernel, "LANE_SYNAPSES_PER_NEURON", 0)
    big = twin(0, engine="kernel")
    big.step(torch.zeros(kernel.LANE_MIN_BATCH, 3, dtype=torch.float64), state)
    assert called[-1] == "simulate_decision"


def test_engines_can_alternate_within_an_episode():
    net = twin(2)
    obs, resets = episodes(2, steps=4)
    mixed = run(net, ["kernel", "torch", "kernel", "torch"], obs, resets)
    assert_same(run(net, "torch", obs, resets), mixed, atol=1e-10)


@pytest.mark.parametrize("way", ["rows", "lanes"])
@pytest.mark.parametrize("timing", ["default", "dt2-delays6-0-gain"])
def test_kernel_matches_torch_in_float32(timing, way, request):
    if way == "lanes":
        request.getfixturevalue("lanes")
    net = twin(3, torch.float32, **TIMINGS[timing])
    obs, resets = episodes(kernel.LANE_VECTOR + 3 if way == "lanes" else 4)
    for (ra, sa), (rb, sb) in zip(
        run(net, "torch", obs, resets), run(net, "kernel", obs, resets), strict=True
    ):
        assert sa.neurons.trace.dtype == sb.neurons.trace.dtype == torch.float32
        differing = (ra.spikes != rb.spikes).sum().item()
        assert differing <= ra.spikes.numel() // 1000
        torch.testing.assert_close(ra.q_mean, rb.q_mean, atol=1e-3, rtol=0)


def test_auto_uses_the_kernel_where_it_applies_and_torch_elsewhere():
    net = twin(0)
    assert net.engine == "auto"
    obs, resets = episodes(2, steps=2)
    calls = []
    state = net.initial_state(2)
    _, state = net.step(obs[0], state, on_dt=lambda spikes, now: calls.append(spikes.sum()))
    assert len(calls) == net.steps_per_decision  # on_dt: the torch engine
    multiplicative = twin(0, core="asn-lstm")
    assert "subtractive" in multiplicative.kernel_refusal()
    result, _ = multiplicative.step(obs[0], multiplicative.initial_state(2))  # falls back to torch
    assert result.spikes.sum() > 0


def test_engine_option_is_checked():
    net = twin(0)
    for bad in ("numba", "", None, 1):
        with pytest.raises(ValueError, match="engine must be one of"):
            net.engine = bad
    with pytest.raises(ValueError, match="engine must be one of.*'fast'"):
        twin(0, engine="fast")
    net.engine = "kernel"
    with pytest.raises(ValueError, match="engine 'kernel' cannot run this step: it cannot call on_dt"):
        net.step(torch.zeros(1, 3), net.initial_state(1), on_dt=lambda spikes, now: None)
    state32 = twin(0, torch.float32).initial_state(1)
    with pytest.raises(ValueError, match="the state is not all torch.float64"):
        net.step(torch.zeros(1, 3), state32)
    assert ENGINES == ("auto", "torch", "kernel")


def test_without_numba_auto_falls_back_to_torch(monkeypatch):
    net = twin(0)
    obs, resets = episodes(1, steps=2)
    expected = run(net, "torch", obs, resets)
    monkeypatch.setitem(sys.modules, "sublstm.spiking.kernel", None)  # import fails
    monkeypatch.delattr(sublstm.spiking, "kernel", raising=False)  # (once imported, also an attribute)
    assert "numba cannot be imported" in net.kernel_refusal()
    assert_same(expected, run(net, "auto", obs, resets), atol=0.0)
    with pytest.raises(ValueError, match="numba cannot be imported"):
        run(net, "kernel", obs, resets)


def test_kernel_restores_subnormal_arithmetic():
    # the kernel runs with subnormal results flushed to zero (x86) and must restore the CPU's mode
    net = twin(0, engine="kernel")
    net.step(torch.zeros(2, 3, dtype=torch.float64), net.initial_state(2))
    tiny = torch.finfo(torch.float32).tiny
    assert (torch.tensor([tiny]) / 4).item() > 0
    assert float(np.float32(tiny) / np.float32(4)) > 0
