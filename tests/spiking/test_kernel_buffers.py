"""The kernel engine writes its results into arrays of earlier decisions once nothing refers to them
(kernel.Buffers): that must never change a result nor touch an array the caller still holds."""

import pytest
import sublstm.spiking.kernel as kernel
import torch

from .test_kernel_engine import assert_same, episodes, run, twin


@pytest.fixture
def every_array_reused(monkeypatch):
    monkeypatch.setattr(kernel, "REUSE_BYTES", 0)


def copied(result, state):
    """Copies of one decision's results and state (nothing shared with the kernel's arrays)."""
    return (
        type(result)(*(x.clone() for x in result)),
        type(state)(
            type(state.neurons)(*(x.clone() for x in state.neurons)),
            state.c.clone(),
            state.h_delay.clone(),
            state.t,
        ),
    )


def run_keeping_last(net, obs, resets):
    """As ``run`` with the kernel, but only the latest state is kept (the earlier ones are released,
    so their arrays can be reused); returns copies of each decision's results and state."""
    state, out = net.initial_state(obs.shape[1]), []
    for t in range(obs.shape[0]):
        net.engine = "kernel"
        state = net.reset(state, resets[t])
        result, state = net.step(obs[t], state)
        out.append(copied(result, state))
    return out


def test_buffers_are_reused_once_released_and_never_while_held(every_array_reused, monkeypatch):
    made = []  # the shapes of the new arrays the kernel asks the system for

    def counted(shape, dtype, fresh=kernel._fresh):
        made.append(tuple(shape))
        return fresh(shape, dtype)

    monkeypatch.setattr(kernel, "_fresh", counted)
    net = twin(0)
    obs, resets = episodes(3, steps=6)
    held = run(net, "kernel", obs, resets)  # every state kept: no array may be written twice
    assert len({s.h_delay.data_ptr() for _, s in held}) == len(held)
    assert_same(run(net, "torch", obs, resets), held, atol=1e-10)
    # copies of what the kernel wrote, and the kernel's arrays released (run() left the torch
    # engine on, whose fresh tensors may or may not land on freed addresses: not what is tested)
    expected = [copied(result, state) for result, state in held]
    del held
    net.engine = "kernel"
    state = net.initial_state(3)
    delay_shape = tuple(state.h_delay.shape)
    made.clear()
    for t in range(obs.shape[0]):
        state = net.reset(state, resets[t])
        result, state = net.step(obs[t], state)
        assert torch.equal(result.spikes, expected[t][0].spikes)
        assert torch.equal(state.h_delay, expected[t][1].h_delay)
        assert torch.equal(state.neurons.trace, expected[t][1].neurons.trace)
    # the delay line's arrays were handed out again (those of the released run above, and of the
    # states replaced since): fewer new ones than decisions, where no reuse would need one each
    assert made.count(delay_shape) < obs.shape[0]
    assert_same(expected, run_keeping_last(net, obs, resets), atol=0.0)


def test_a_view_keeps_its_array_from_reuse(every_array_reused):
    net = twin(1, engine="kernel")
    obs, _ = episodes(2, steps=4)
    result, state = net.step(obs[0], net.initial_state(2))
    view, spikes = state.h_delay[:, 1], result.spikes[0]  # views outliving their tensors
    saved_view, saved_spikes = view.clone(), spikes.clone()
    del result, state
    state = net.initial_state(2)
    for t in range(1, 4):
        _, state = net.step(obs[t], state)
    assert torch.equal(view, saved_view)
    assert torch.equal(spikes, saved_spikes)


def test_buffers_follow_changes_of_batch_size_and_stay_bounded(every_array_reused):
    net = twin(2)
    for batch in (4, 2, 4, 1):
        obs, resets = episodes(batch, steps=3)
        assert_same(run(net, "torch", obs, resets), run_keeping_last(net, obs, resets), atol=1e-10)
    kept = net._plan[1].buffers._kept
    assert 0 < len(kept) <= kernel.REUSE_COUNT * 7  # seven result arrays per decision
    assert {a.shape[0] for a, _ in kept} == {1}  # the arrays of batches 4 and 2 were let go
