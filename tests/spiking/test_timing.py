"""One set of twin defaults (TwinTiming) for every entry point, and its validation."""

import pytest
from sublstm.agents.agent import AdvantageAgent
from sublstm.spiking import SpikingNetwork, SpikingPolicy, TimingError, TwinTiming
from sublstm.spiking.timing import parse_delay


def test_every_entry_point_builds_the_same_default_twin(tmaze_network):
    net = tmaze_network()
    agent = AdvantageAgent("sublstm/TMaze-v0", env_kwargs={"corridor_length": 2}, n_hidden=2, n_cells=1)
    twins = [
        SpikingNetwork.from_analog(net),
        SpikingPolicy.from_network(net).network,
        SpikingPolicy.from_agent(agent).network,
    ]
    for twin in twins:
        assert twin.timing == TwinTiming()
        assert (twin.dt, twin.step_ms, twin.readout_window_ms, twin.recurrent_delay) == (
            1.0,
            300.0,
            10.0,
            "0.5step",
        )
        assert twin.steps_per_decision == 300 and not twin.hold


def test_single_fields_replace_the_defaults(tmaze_network):
    twin = SpikingNetwork.from_analog(tmaze_network(), step_ms=50.0)
    assert twin.timing == TwinTiming(step_ms=50.0)
    base = TwinTiming(step_ms=40.0, recurrent_delay_ms="step")
    policy = SpikingPolicy.from_network(tmaze_network(), base, readout_window_ms=0.0)
    assert policy.network.timing == TwinTiming(step_ms=40.0, readout_window_ms=0.0, recurrent_delay_ms="step")
    assert policy.network.delay_steps == 40


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": -1.0}, "dt"),
        ({"step_ms": 0.0}, "step_ms"),
        ({"step_ms": -5.0}, "step_ms"),  # was blamed on the readout window
        ({"step_ms": 2.5}, "step_ms"),
        ({"step_ms": float("nan")}, "step_ms"),
        ({"readout_window_ms": -1.0}, "readout_window_ms"),
        ({"step_ms": 50.0, "readout_window_ms": 60.0}, "readout_window_ms"),
        ({"recurrent_delay_ms": -3.0}, "recurrent_delay_ms"),
        ({"recurrent_delay_ms": 2.5}, "recurrent_delay_ms"),
        ({"recurrent_delay_ms": "soon"}, "recurrent_delay_ms"),
        ({"step_ms": True}, "step_ms"),
    ],
)
def test_bad_timing_names_its_field(tmaze_network, values, field):
    with pytest.raises(TimingError) as info:
        TwinTiming(**values).validate()
    assert info.value.field == field and str(info.value).startswith(field + " ")
    with pytest.raises(ValueError, match=f"^{field} "):
        SpikingNetwork.from_analog(tmaze_network(), **values)


def test_replace_refuses_unknown_fields_and_parses_delays():
    with pytest.raises(ValueError, match="step_mss"):
        TwinTiming().replace(step_mss=10.0)
    assert TwinTiming().replace(recurrent_delay_ms="5").recurrent_delay_ms == 5.0
    assert parse_delay(" step ") == "step" and parse_delay(0) == 0.0
    with pytest.raises(TimingError, match="recurrent_delay_ms"):
        parse_delay("later")
    assert TwinTiming().to_dict() == {
        "dt": 1.0,
        "step_ms": 300.0,
        "readout_window_ms": 10.0,
        "recurrent_delay_ms": "0.5step",
        "output_gate_delay_ms": "step",
        "cec_from": 1 / 3,
        "cec_to": 0.5,
        "input_gain": 1.0,
    }
