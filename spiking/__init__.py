"""The spiking twin of a trained agent: adaptive spiking neurons (ASN), the twin network, an
SB3-shaped policy, the twin's timing, and the comparison of an agent with its twin.

    from sublstm.spiking import SpikingPolicy, TwinTiming, compare

    twin = SpikingPolicy.from_agent(agent)  # TwinTiming() defaults: 300 ms per decision, ...
    result = compare(agent, episodes=200)  # a Comparison; result.to_dict() for JSON

``sublstm.spiking.compare`` as an attribute is the function; reach the module's other pieces
with ``from sublstm.spiking.compare import sweep, teacher_forced_agreement, ...``.
"""

from .asn import ASNLayer, ASNState, SpikeRecorder, asn_step, initial_state, simulate_constant
from .compare import Comparison, SweepRow, compare
from .network import POPULATIONS, SpikingNetwork, SpikingState, StepResult
from .policy import SpikingPolicy
from .timing import TimingError, TwinTiming

__all__ = [
    "ASNLayer",
    "ASNState",
    "Comparison",
    "POPULATIONS",
    "SpikeRecorder",
    "SpikingNetwork",
    "SpikingPolicy",
    "SpikingState",
    "StepResult",
    "SweepRow",
    "TimingError",
    "TwinTiming",
    "asn_step",
    "compare",
    "initial_state",
    "simulate_constant",
]
