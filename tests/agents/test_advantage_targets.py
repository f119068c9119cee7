"""advantage(lambda) targets on hand-computed examples."""

import pytest
import torch
from sublstm.agents.advantage import (
    advantage_loss,
    advantage_targets,
    bootstrap_values,
    lambda_returns,
    linear_schedule,
)

GAMMA, LAM = 0.9, 0.5
# one episode of three steps: rewards 0, 0, 4; V(s_0..s_3) = 1, 2, 3, 10
REWARDS = torch.tensor([[0.0], [0.0], [4.0]])
VALUES = torch.tensor([[1.0], [2.0], [3.0], [10.0]])
CONTINUES = torch.tensor([[True], [True], [False]])


def returns_for(terminated_last: bool, lam: float = LAM) -> torch.Tensor:
    terminated = torch.tensor([[False], [False], [terminated_last]])
    nxt = bootstrap_values(VALUES, terminated)
    return lambda_returns(REWARDS, nxt, CONTINUES, GAMMA, lam)


def test_terminal_step_bootstraps_zero():
    # G2 = 4 + 0.9*0; G1 = 0.9*(3 + 0.5*(4 - 3)) = 3.15; G0 = 0.9*(2 + 0.5*(3.15 - 2)) = 2.3175
    assert returns_for(True)[:, 0].tolist() == pytest.approx([2.3175, 3.15, 4.0])


def test_truncated_step_bootstraps_from_final_observation():
    # G2 = 4 + 0.9*10 = 13; G1 = 0.9*(3 + 0.5*(13 - 3)) = 7.2; G0 = 0.9*(2 + 0.5*(7.2 - 2)) = 4.14
    assert returns_for(False)[:, 0].tolist() == pytest.approx([4.14, 7.2, 13.0])


def test_lambda_zero_is_one_step_and_lambda_one_is_monte_carlo():
    assert returns_for(True, lam=0.0)[:, 0].tolist() == pytest.approx([1.8, 2.7, 4.0])
    assert returns_for(True, lam=1.0)[:, 0].tolist() == pytest.approx([0.81 * 4, 0.9 * 4, 4.0])


def test_kappa_one_gives_the_return_and_smaller_kappa_widens():
    g = returns_for(True)
    v = VALUES[:-1]
    assert torch.allclose(advantage_targets(v, g, 1.0), g)
    # kappa = 0.5: V + 2 (G - V) = [1 + 2*1.3175, 2 + 2*1.15, 3 + 2*1]
    assert advantage_targets(v, g, 0.5)[:, 0].tolist() == pytest.approx([3.635, 4.3, 5.0])


def test_padding_after_an_episode_does_not_leak_in():
    # two episodes, the second one step long and padded; its padding holds garbage rewards
    rewards = torch.tensor([[0.0, 1.0], [0.0, 99.0], [4.0, 99.0]])
    values = torch.tensor([[1.0, 0.5], [2.0, 7.0], [3.0, 7.0], [10.0, 7.0]])
    terminated = torch.tensor([[False, True], [False, False], [True, False]])
    continues = torch.tensor([[True, False], [True, False], [False, False]])
    g = lambda_returns(rewards, bootstrap_values(values, terminated), continues, GAMMA, LAM)
    assert g[0, 1] == pytest.approx(1.0)
    assert g[:, 0].tolist() == pytest.approx([2.3175, 3.15, 4.0])


def test_loss_is_masked_mean_over_taken_actions():
    adv = torch.tensor([[[1.0, 5.0]], [[2.0, 0.0]]], requires_grad=True)  # (T=2, B=1, A=2)
    actions = torch.tensor([[1], [0]])
    targets = torch.tensor([[3.0], [100.0]])
    mask = torch.tensor([[True], [False]])
    loss = advantage_loss(adv, actions, targets, mask)
    assert float(loss.detach()) == pytest.approx(0.5 * (5.0 - 3.0) ** 2)
    loss.backward()
    assert adv.grad.tolist() == [[[0.0, 2.0]], [[0.0, 0.0]]]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kappa"):
        advantage_targets(VALUES, VALUES, 0.0)
    with pytest.raises(ValueError, match="gamma"):
        lambda_returns(REWARDS, REWARDS, CONTINUES, 1.5, 0.5)
    with pytest.raises(ValueError, match="shape"):
        bootstrap_values(VALUES[:2], torch.zeros(3, 1, dtype=torch.bool))


def test_linear_schedule():
    assert linear_schedule(1.0, 0.1, 0.5, 0.0) == pytest.approx(1.0)
    assert linear_schedule(1.0, 0.1, 0.5, 0.25) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 0.5, 0.9) == pytest.approx(0.1)
