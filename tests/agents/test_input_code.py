"""The input units' code (agents.neuron.input_code, Hyperparams.input_gain): the analog network's
input layer can deliver what the twin's input neurons deliver, graded inputs included; agents keep
it through save/load and population export, and their twins take it up."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sublstm.agents import AdvantageAgent, AdvantageNetwork
from sublstm.agents.neuron import DEFAULT_ASN, af, af_asn, input_code
from sublstm.agents.population import Population
from sublstm.agents.population_network import StackedNetwork
from sublstm.agents.settings import Hyperparams, hyperparams_record
from sublstm.spiking import SpikingNetwork, SpikingPolicy, TwinTiming

ENV = "sublstm/NoisyTMaze-v0"
SMALL = dict(n_envs=4, batch_episodes=8, learning_starts=20, learning_starts_unit="steps")


def test_no_gain_is_the_closed_form_and_a_gain_is_the_asn_trace_scaled_to_one():
    obs = torch.linspace(0.0, 1.0, 21)
    assert torch.equal(input_code(obs), af(obs))
    coded = input_code(obs, gain=0.3)
    torch.testing.assert_close(coded, af_asn(0.3 * obs) / af_asn(torch.tensor(0.3)))
    assert coded[-1] == pytest.approx(1.0)  # an input of 1 still delivers 1
    # silent where the ASN is: at or below theta0/2 of its current, where AF is still > 0
    silent = 0.3 * obs <= DEFAULT_ASN.theta0 / 2
    assert silent.sum() >= 3 and torch.all(coded[silent] == 0)
    assert torch.all(af(0.3 * obs)[silent][1:] > 0)
    assert torch.all(coded.diff() >= 0)


@pytest.mark.parametrize("bad", [0.0, -0.5, 1.5, float("nan"), True, "0.3"])
def test_bad_gains_are_refused_by_name(bad):
    with pytest.raises(ValueError, match="input_gain"):
        Hyperparams(input_gain=bad).validate()
    with pytest.raises(ValueError, match="input_gain"):
        AdvantageNetwork(3, 4, input_gain=bad)


def test_stored_settings_omit_the_default_code():
    assert "input_gain" not in hyperparams_record(Hyperparams())
    assert hyperparams_record(Hyperparams(input_gain=0.5))["input_gain"] == 0.5


def test_the_network_feeds_its_code_to_every_layer():
    torch.manual_seed(0)
    plain = AdvantageNetwork(3, 4)
    coded = AdvantageNetwork(3, 4, input_gain=0.3)
    coded.load_state_dict(plain.state_dict())
    obs = torch.rand(5, 2, 3) * 0.4  # graded inputs where the two codes differ most
    q_plain, _, acts_plain = plain(obs)
    q_coded, _, acts_coded = coded(obs)
    torch.testing.assert_close(acts_coded["input"], input_code(obs, gain=0.3))
    assert not torch.allclose(q_plain, q_coded)
    torch.testing.assert_close(acts_plain["input"], af(obs))


def test_agent_saves_loads_and_its_twin_follows_the_code(tmp_path):
    agent = AdvantageAgent(ENV, env_kwargs={"corridor_length": 3}, seed=1, input_gain=0.4, **SMALL)
    assert agent.network.input_gain == 0.4
    agent.learn(120)
    path = tmp_path / "coded.pt"
    agent.save(path)
    loaded = AdvantageAgent.load(path)
    assert loaded.hp.input_gain == 0.4 and loaded.network.input_gain == 0.4
    obs = np.random.default_rng(0).random((6, 3)).astype(np.float32)
    assert np.array_equal(agent.predict(obs)[0], loaded.predict(obs)[0])
    assert SpikingPolicy.from_agent(loaded).network.input_gain == 0.4
    # the timing may still name another code, or the plain one
    assert SpikingPolicy.from_agent(loaded, input_gain=1.0).network.input_gain == 1.0
    assert SpikingPolicy.from_agent(loaded, TwinTiming(input_gain=0.7)).network.input_gain == 0.7


def test_population_members_share_the_code_and_export_it():
    pop = Population(ENV, 2, seeds=[0, 5], env_kwargs={"corridor_length": 3}, input_gain=0.5, **SMALL)
    assert pop.network.input_gain == 0.5
    pop.learn(120, eval_interval=0, stop_at_success=None)
    member = pop.member(1)
    assert member.network.input_gain == 0.5 and member.hp.input_gain == 0.5
    with pytest.raises(ValueError, match="differ"):
        StackedNetwork([AdvantageNetwork(3, 4), AdvantageNetwork(3, 4, input_gain=0.5)])


def test_the_twins_input_drive_matches_the_analog_code_on_graded_inputs():
    """The twin's input neurons, driven by g * obs on scaled synapses, deliver on average the x of
    the analog code at g (within the spike ripple) -- where the closed form misses by far more."""
    torch.manual_seed(3)
    net = AdvantageNetwork(3, 4, input_gain=0.3)
    twin = SpikingNetwork.from_analog(net, step_ms=4000.0, readout_window_ms=0.0)
    obs = torch.tensor([[0.2, 0.0, 0.35], [0.5, 0.0, 0.8], [0.25, 1.0, 0.6]])
    state = twin.initial_state(3)
    traces = []

    def record(spikes, st):
        traces.append(st.neurons.trace[:, twin.slices["input"]].clone())

    twin.engine = "torch"
    twin.step(obs, state, on_dt=record)
    drive = torch.stack(traces[1000:]).mean(0) * twin.input_scale  # after 1 s of settling
    expected = input_code(obs, gain=0.3)
    assert torch.allclose(drive, expected, atol=0.01), (drive, expected)
    assert (af(obs) - expected).abs().max() > 0.05  # the closed form is no stand-in here
