"""Options that train the analog net to be robust to its spiking twin: noise-aware training and a
rate penalty on the cell input and input gate (z, i)."""

import pytest
import torch
from sublstm.agents import AdvantageAgent
from sublstm.agents.network import AdvantageNetwork

ENV = "sublstm/NoisyTMaze-v0"


def small_agent(**hp):
    kw = dict(n_hidden=6, n_cells=4, n_envs=4, batch_episodes=8, learning_starts=8, eps_decay_steps=100)
    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, seed=0, **(kw | hp))


@pytest.mark.parametrize("name", ["train_noise", "train_cell_noise", "gate_rate_penalty"])
def test_negative_values_are_refused(name):
    with pytest.raises(ValueError, match=name):
        small_agent(**{name: -0.1})


def test_noise_perturbs_the_values_but_not_the_reported_activations():
    torch.manual_seed(0)
    net = AdvantageNetwork(3, 4, n_hidden=6, n_cells=4)
    obs = torch.rand(7, 5, 3)
    q0, (h0, c0), acts0 = net(obs)
    q1, (h1, c1), acts1 = net(obs, noise_std=0.1, cell_noise_std=0.1)
    assert not torch.allclose(q0, q1, atol=1e-3)
    assert not torch.allclose(c0, c1, atol=1e-3)  # the cell noise accumulates in c
    # the activations (used for rate estimates) are those of the noise-free input and hidden layer
    assert torch.equal(acts0["input"], acts1["input"]) and torch.equal(acts0["hidden"], acts1["hidden"])
    # zero noise takes the plain path: identical to the default call
    q2, _, _ = net(obs, noise_std=0.0, cell_noise_std=0.0)
    assert torch.equal(q0, q2)
    with pytest.raises(ValueError, match="noise"):
        net(obs, noise_std=-1.0)


def test_noisy_core_loop_matches_the_core_without_noise_and_honours_resets():
    torch.manual_seed(1)
    net = AdvantageNetwork(3, 4, n_hidden=6, n_cells=4)
    resets = torch.zeros(6, 3, dtype=torch.bool)
    resets[3, 1] = True
    x = torch.rand(6, 3, 3)
    ref = net.core(x, None, resets)
    mine = net._noisy_core(x, None, resets, 0.0, 0.0)
    assert torch.allclose(ref[0], mine[0]) and torch.allclose(ref[1][1], mine[1][1])


def _mean_zi(agent, obs):
    with torch.no_grad():
        _, _, acts = agent.network(obs)
    return float((acts["cell_input"].mean() + acts["input_gate"].mean()) / 2)


def test_gate_rate_penalty_lowers_the_cell_input_and_input_gate():
    # same seed, same data: the only difference is the penalty, which must pull z and i down
    plain, penalised = small_agent(), small_agent(gate_rate_penalty=5.0)
    obs = torch.rand(5, 16, 3)
    before = _mean_zi(plain, obs)
    assert before == pytest.approx(_mean_zi(penalised, obs))
    for agent in (plain, penalised):
        agent.learn(total_timesteps=400, progress_bar=False, eval_interval=0)
    assert _mean_zi(penalised, obs) < _mean_zi(plain, obs) - 0.02
