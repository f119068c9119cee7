"""Shared test pieces: the hand-set T-maze solution (spiking twin and comparison tests)."""

import pytest
import torch
from sublstm.agents.network import AdvantageNetwork


def handset_tmaze_weights(net: AdvantageNetwork) -> AdvantageNetwork:
    """Hand-set weights that solve the T-maze: one memory cell stores the sign.

    Hidden unit 0 detects the junction [0,1,0], unit 1 "not at the junction". The cell input reads
    x0 and the input gate x2, so the north sign [1,1,0] charges the cell, the south sign [0,1,1]
    discharges it, and the corridor [1,0,1] drives both equally. At the junction the head turns
    north if the cell's output is high, south if it is low; elsewhere it goes east.
    """
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.hidden.weight[:] = torch.tensor([[-1.0, 1.0, -1.0], [1.0, 0.0, 1.0]])
        net.hidden.bias[:] = torch.tensor([-0.5, -0.5])
        net.core.w_in.weight[:] = torch.tensor([[1.0, 0, 0], [0, 0, 1.0], [0, 0, 0]])
        net.core.w_in.bias[:] = torch.tensor([-0.5, -0.5, -1.0])
        net.head.weight[:] = torch.tensor([[1.0, 0, 2], [0, 2, 0], [1, 0, -2], [0, 0, 0]])
        net.head.bias[:] = torch.tensor([-0.6, 0, 0.6, -1])
    return net


@pytest.fixture
def tmaze_network():
    """A factory of fresh AdvantageNetworks holding the hand-set T-maze solution."""
    return lambda: handset_tmaze_weights(AdvantageNetwork(3, 4, n_hidden=2, n_cells=1))


@pytest.fixture(scope="module")
def set_tmaze_weights():
    """Writes the hand-set T-maze solution into a network of 3 inputs, 2 hidden units, 1 cell."""
    return handset_tmaze_weights
