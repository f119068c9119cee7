"""The T-maze (noise-free and noisy) as a tensor env: B corridors stepped at once.

Same rules as :class:`sublstm.envs.tmaze.TMazeEnv` (the reference; its docstring has them in
full). Clock aside, a T-maze is a state machine over (goal, position): its rules are applied once,
to every (state, action) pair, to fill the lookup tables of :class:`~sublstm.envs.tensor.TableEnv`.
The corridor noise is ``(1 - noise) + noise * U[0, 1)`` on components 0 and 2 of every corridor
observation, drawn afresh at every step as in the reference.
"""

from __future__ import annotations

import numpy as np
import torch

from .tensor import TableEnv
from .tmaze import (
    CORRIDOR,
    EAST,
    GOAL_REWARD,
    JUNCTION,
    NORTH,
    SIGN_NORTH,
    SIGN_SOUTH,
    SOUTH,
    WALL_REWARD,
    WEST,
    WRONG_GOAL_REWARD,
    TMazeEnv,
)


class TensorTMaze(TableEnv):
    """B T-mazes of one corridor length and noise level; see :mod:`sublstm.envs.tensor`.

    State ``goal * (N + 1) + position`` (goal 0 north, 1 south); start index = goal index.
    """

    reference_class = TMazeEnv

    def _build(self, ref: TMazeEnv) -> None:
        self.corridor_length, self.noise, self.max_steps = ref.corridor_length, ref.noise, ref.max_steps
        n, n_actions = self.corridor_length, self.n_actions
        # every (state, action) pair, state-major: goal, position and action of each
        goal = torch.arange(2).repeat_interleave((n + 1) * n_actions)
        pos = torch.arange(n + 1).repeat_interleave(n_actions).repeat(2)
        action = torch.arange(n_actions).repeat(2 * (n + 1))

        move = torch.zeros(n_actions, dtype=torch.long)
        move[EAST], move[WEST] = 1, -1
        turned = (pos == n) & ((action == NORTH) | (action == SOUTH))
        success = turned & (action == torch.tensor([NORTH, SOUTH])[goal])
        new_pos = (pos + move[action]).clamp(0, n)
        wall = (new_pos == pos) & ~turned  # north/south in the corridor, west at 0, east at the junction
        outcome = wall.long() + 2 * turned + success  # nothing, wall, wrong goal, goal
        rewards = torch.tensor([0.0, WALL_REWARD, WRONG_GOAL_REWARD, GOAL_REWARD])

        at_junction = (new_pos == n)[:, None]
        corridor = torch.from_numpy(CORRIDOR)
        self._set_tables(
            next_state=goal * (n + 1) + new_pos,
            reward=rewards[outcome],
            terminated=turned,
            success=success,
            obs=torch.where(at_junction, torch.from_numpy(JUNCTION), corridor * (1.0 - self.noise)),
            obs_noise=torch.where(at_junction, 0.0, corridor * self.noise),
            start_states=torch.tensor([0, n + 1]),
            start_obs=torch.from_numpy(np.stack([SIGN_NORTH, SIGN_SOUTH])),
            max_steps=self.max_steps,
        )

    @property
    def goal(self) -> torch.Tensor:
        """Goal of each env's episode, (B,) long: 0 north, 1 south."""
        return self.state // (self.corridor_length + 1)

    @property
    def position(self) -> torch.Tensor:
        """Position of each env's agent, (B,) long: 0 at the start .. N at the junction."""
        return self.state % (self.corridor_length + 1)
