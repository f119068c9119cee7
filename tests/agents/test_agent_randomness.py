"""Each agent owns its random generators: same seed, same run, whatever else the process draws."""

import pytest
import torch
from sublstm.agents import AdvantageAgent
from sublstm.agents.checkpoint import load_checkpoint
from sublstm.agents.runtime import AgentRandomness

ENV = "sublstm/NoisyTMaze-v0"
SMALL = dict(n_hidden=4, n_cells=3, n_envs=2, batch_episodes=4, learning_starts=4)


def small_agent(seed=5):
    return AdvantageAgent(ENV, env_kwargs={"corridor_length": 2}, seed=seed, **SMALL)


def weights(agent):
    return {k: v.clone() for k, v in agent.network.state_dict().items()}


def assert_same_weights(a, b):
    for (k, x), (_, y) in zip(weights(a).items(), weights(b).items(), strict=True):
        assert torch.equal(x, y), k


def test_two_agents_built_before_training_learn_identical_weights():
    a = small_agent()
    torch.manual_seed(123)
    torch.rand(10)
    b = small_agent()
    torch.manual_seed(999)
    a.learn(200, progress_bar=False, eval_interval=100, eval_episodes=3)
    torch.randn(7)  # the global generator moves on between the runs
    b.learn(200, progress_bar=False, eval_interval=100, eval_episodes=3)
    assert a.num_updates > 20 and a.hp.train_noise > 0  # the noise of noise-aware training was drawn
    assert_same_weights(a, b)
    assert a.history == [dict(r, wall_s=a.history[i]["wall_s"]) for i, r in enumerate(b.history)]
    other = small_agent(6)
    assert not all(
        torch.equal(x, y) for x, y in zip(weights(a).values(), weights(other).values(), strict=True)
    )


def test_building_an_agent_leaves_the_global_generator_alone():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    small_agent()
    assert torch.equal(torch.get_rng_state(), before)


def test_generator_states_travel_in_checkpoints(tmp_path):
    agent = small_agent()
    agent.learn(100, progress_bar=False, eval_interval=0)
    agent.save(tmp_path / "a.pt")
    _, state = load_checkpoint(tmp_path / "a.pt")
    assert state["rng"]["numpy"].dtype == torch.int64 and state["rng"]["torch"].dtype == torch.uint8
    loaded, again = AdvantageAgent.load(tmp_path / "a.pt"), AdvantageAgent.load(tmp_path / "a.pt")
    assert loaded.rng.bit_generator.state == agent.rng.bit_generator.state  # restored, not re-seeded
    assert loaded.rng.bit_generator.state != small_agent().rng.bit_generator.state
    assert torch.equal(loaded.random.torch.get_state(), agent.random.torch.get_state())
    # resuming the same checkpoint twice gives the same run
    torch.manual_seed(1)
    loaded.learn(100, progress_bar=False, eval_interval=0)
    again.learn(100, progress_bar=False, eval_interval=0)
    assert_same_weights(loaded, again)


@pytest.mark.parametrize(
    "saved, match",
    [
        ({"numpy": torch.zeros(10, dtype=torch.int64)}, "keys"),
        ({"numpy": torch.zeros(9, dtype=torch.int64), "torch": torch.zeros(3, dtype=torch.uint8)}, "numpy"),
        (
            {"numpy": torch.full((10,), -1, dtype=torch.int64), "torch": torch.zeros(3, dtype=torch.uint8)},
            "numpy",
        ),
        ({"numpy": torch.zeros(10, dtype=torch.int64), "torch": torch.zeros(3)}, "torch"),
    ],
)
def test_bad_generator_states_are_refused(saved, match):
    with pytest.raises(ValueError, match=match):
        AgentRandomness(0).load_state_dict(saved)
