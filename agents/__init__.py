"""Everything analog and trained by gradient: the ASN activation, recurrent cores, the advantage
network, advantage(lambda) learning (:class:`AdvantageAgent`), checkpoints and the supervised path."""

from .agent import AdvantageAgent, make_env
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .network import AdvantageNetwork, predicted_mean_rate_hz
from .neuron import ASNParams, af, predicted_rate_hz
from .population import Population
from .settings import Hyperparams, LearnSettings

__all__ = [
    "AdvantageAgent",
    "Hyperparams",
    "LearnSettings",
    "Population",
    "make_env",
    "CheckpointError",
    "load_checkpoint",
    "save_checkpoint",
    "AdvantageNetwork",
    "predicted_mean_rate_hz",
    "ASNParams",
    "af",
    "predicted_rate_hz",
]
