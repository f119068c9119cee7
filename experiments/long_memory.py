"""Settings for long memories: the noisy T-maze at corridor lengths far beyond the defaults' 10.

    from sublstm.agents.population import Population
    from sublstm.experiments.long_memory import long_corridor_settings

    s = long_corridor_settings(100)
    pop = Population("sublstm/NoisyTMaze-v0", 5, **s.population_kwargs())
    pop.learn(500_000)

The defaults (``Hyperparams``) are tuned on corridor 10. On a long corridor N five of them stand
in the way, and the rule below changes exactly those, as functions of N:

- time limit: the env's default ``10 * (N + 1)`` lets the first, random episodes wander for ten
  times the optimal length, and every replayed time-out costs that many BPTT steps. A random walk
  does not reach a junction N steps away anyway; the agent finds it once its greedy policy walks
  east, which the wall penalties teach without any goal. The limit here is ``3 * (N + 1)``.
- BPTT: replayed episodes are cut after ``N + 10`` steps (the whole of every successful episode),
  so a replayed time-out costs no more than a success.
- exploration: epsilon falls over a fixed 10,000 steps, and updates begin after 1,000 steps (and a
  first episode per env; ``learning_starts_unit="steps"``), so that the greedy policy that walks to
  the junction is learned early.
- training noise: ``train_cell_noise`` adds a random walk to the memory cell, and
  ``train_noise`` on the memory output h reaches the cell through the recurrent weights; the
  spread that either leaves after N steps grows as sqrt(N). Both are scaled by sqrt(10 / N), so
  that the spread over the corridor stays what it is at N = 10.
- rate penalty: off. The loss is a mean over an episode's steps, so the one step at the junction
  that rewards the memory weighs 1 / (N + 1) of it, while the rate penalty weighs the same at
  every length: on long corridors it holds seeds at 50 % (a memory that costs activity is given
  up) or pulls them back there after they reached 95 %.

Everything else keeps the defaults. Corridors of 10 or less get the defaults unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sublstm.agents.settings import Hyperparams

#: the corridor length the defaults (:class:`Hyperparams`) are tuned on
BASE_CORRIDOR = 10
#: replay capacity per member, steps (the population's default)
REPLAY_STEPS = 50_000


@dataclass(frozen=True)
class CorridorSettings:
    """What a :class:`~sublstm.agents.population.Population` needs for one corridor length."""

    corridor: int
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    replay_steps: int = REPLAY_STEPS
    bptt_steps: int | None = None
    hyperparams: dict[str, Any] = field(default_factory=dict)

    def population_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Population(env_id, n_agents, **kwargs)`` (seeds aside)."""
        return {
            "env_kwargs": dict(self.env_kwargs),
            "replay_steps": self.replay_steps,
            "bptt_steps": self.bptt_steps,
            **self.hyperparams,
        }


def long_corridor_settings(corridor: int, noise: float = 1.0) -> CorridorSettings:
    """The settings of the rule in the module docstring for a T-maze of length ``corridor``."""
    if isinstance(corridor, bool) or not isinstance(corridor, int) or corridor < 1:
        raise ValueError(f"corridor must be an integer >= 1, got {corridor!r}")
    env_kwargs = {"corridor_length": corridor, "noise": noise}
    if corridor <= BASE_CORRIDOR:
        return CorridorSettings(corridor, env_kwargs)
    defaults = Hyperparams()
    max_steps = 3 * (corridor + 1)
    return CorridorSettings(
        corridor,
        {**env_kwargs, "max_steps": max_steps},
        replay_steps=max(REPLAY_STEPS, 2 * defaults.n_envs * (max_steps + 1)),
        bptt_steps=corridor + 10,
        hyperparams=long_corridor_hyperparams(corridor),
    )


def long_corridor_hyperparams(corridor: int) -> dict[str, Any]:
    """The :class:`Hyperparams` fields the rule changes for ``corridor`` (empty up to length 10)."""
    if corridor <= BASE_CORRIDOR:
        return {}
    defaults = Hyperparams()
    shrink = math.sqrt(BASE_CORRIDOR / corridor)
    return {
        "learning_starts": 1_000,
        "learning_starts_unit": "steps",
        "eps_decay_steps": 10_000,
        "train_noise": defaults.train_noise * shrink,
        "train_cell_noise": defaults.train_cell_noise * shrink,
        "rate_penalty": 0.0,
    }
