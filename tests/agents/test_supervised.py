"""The supervised path: the network learns the sequence task's final symbol from memory."""

import pytest
from sublstm.agents.supervised import train_sequence


@pytest.mark.parametrize("noisy", [False, True])
def test_supervised_sequence_learns_final_symbol(noisy):
    result = train_sequence(p=5, noisy=noisy, seed=0, max_updates=400, eval_every=50, eval_sequences=200)
    assert result.final_accuracy >= 0.99, result.history
    assert result.rate_hz["overall"] > 0


def test_supervised_rejects_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        train_sequence(batch_size=0)


def test_rate_penalty_waits_for_its_switch():
    """With rate_penalty_after not yet reached, training equals training without a penalty."""
    import torch

    kw = dict(p=3, seed=4, max_updates=30, eval_every=1000, eval_sequences=10, stop_at_accuracy=None)
    waiting = train_sequence(rate_penalty=2.0, rate_penalty_after=1.0, **kw).network
    plain = train_sequence(rate_penalty=0.0, **kw).network
    always = train_sequence(rate_penalty=2.0, **kw).network
    for name, value in waiting.state_dict().items():
        torch.testing.assert_close(value, plain.state_dict()[name], msg=name)
    assert any(not torch.equal(v, always.state_dict()[n]) for n, v in plain.state_dict().items())


def test_stop_rule_counts_evaluations_at_full_penalty_only(monkeypatch):
    """Every evaluation at the target: without a switch training stops at the first (update 10);
    switched on there with a ramp of 25 updates, at the first evaluation at full weight (40)."""
    from sublstm.agents import supervised

    def perfect(network, batch_fn, n, rng, device):
        return {"final_accuracy": 1.0, "all_accuracy": 1.0, "rate_hz": {"overall": 1.0}}

    monkeypatch.setattr(supervised, "evaluate_sequences", perfect)
    kw = dict(p=3, max_updates=200, eval_every=10, stop_patience=1, stop_at_rate_hz=None)
    assert train_sequence(**kw).updates == 10
    result = train_sequence(rate_penalty_after=0.9, rate_penalty_ramp_updates=25, **kw)
    assert result.updates == 40
    assert [r["rate_penalty_weight"] for r in result.history] == [0.0, 0.4, 0.8, 1.0]


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rate_penalty_after": 0.0}, "rate_penalty_after.*0.0"),
        ({"rate_penalty_ramp_updates": -1}, "ramp.*-1"),
    ],
)
def test_rate_penalty_schedule_is_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        train_sequence(p=3, max_updates=1, **kw)


def test_evaluation_builds_no_graph():
    """Evaluation runs the network without autograd (it is called every eval_every updates)."""
    import numpy as np
    import torch
    from sublstm.agents.supervised import default_batch_fn, evaluate_sequences

    net = train_sequence(p=3, max_updates=1, eval_every=1000, eval_sequences=10).network
    seen = []
    net.register_forward_hook(lambda module, args, out: seen.append(torch.is_grad_enabled()))
    evaluate_sequences(net, default_batch_fn(3, False), 5, np.random.default_rng(0), "cpu")
    assert seen == [False]
