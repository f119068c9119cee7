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
