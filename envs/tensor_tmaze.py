"""The T-maze (noise-free and noisy) as a tensor env: B corridors stepped at once.

Same rules as :class:`sublstm.envs.tmaze.TMazeEnv` (the reference; its docstring has them in
full), as a few whole-batch tensor operations per step: lookup tables for the move of each
action, the reward of each outcome and the observation of each kind of cell, one uniform draw
(B, 3) per step for the corridor noise (components 0 and 2) and the goal of a new episode
(component 1, used only where an episode ends).
"""

from __future__ import annotations

import numpy as np
import torch

from .tensor import TensorEnv
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

# rows of the observation tables
_CORRIDOR_ROW, _JUNCTION_ROW, _SIGN_ROW = 0, 1, 2  # signs: 2 (north), 3 (south)


class TensorTMaze(TensorEnv):
    """B T-mazes of one corridor length and noise level; see :mod:`sublstm.envs.tensor`."""

    def __init__(
        self,
        num_envs: int,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        *,
        corridor_length: int = 10,
        noise: float = 0.0,
        max_steps: int | None = None,
    ) -> None:
        super().__init__(num_envs, device, seed)
        ref = TMazeEnv(corridor_length=corridor_length, noise=noise, max_steps=max_steps)  # validates
        self.corridor_length, self.noise, self.max_steps = ref.corridor_length, ref.noise, ref.max_steps
        self._setup(ref, {"corridor_length": corridor_length, "noise": noise, "max_steps": max_steps})

        move = [0, 0, 0, 0]
        move[EAST], move[WEST] = 1, -1
        turn = [False] * 4
        turn[NORTH] = turn[SOUTH] = True
        self._move = self._table(move, torch.long)
        self._turn = self._table(turn, torch.bool)
        self._goal_actions = self._table([NORTH, SOUTH], torch.long)  # indexed by goal
        # outcome code = wall + 2 * turned + success: nothing, wall, wrong goal, goal
        self._rewards = self._table([0.0, WALL_REWARD, WRONG_GOAL_REWARD, GOAL_REWARD])
        # corridor cells: (1 - noise) + noise * U on components 0 and 2 (exactly CORRIDOR at noise 0)
        corridor = CORRIDOR * (1.0 - self.noise)
        self._obs = self._table(np.stack([corridor, JUNCTION, SIGN_NORTH, SIGN_SOUTH]))
        self._noise = self._table(np.stack([CORRIDOR * self.noise] + [np.zeros(3, np.float32)] * 3))

        b = self.num_envs
        self.position = torch.zeros(b, dtype=torch.long, device=self.device)
        self.goal = torch.zeros(b, dtype=torch.long, device=self.device)  # 0 north, 1 south
        self.steps = torch.zeros(b, dtype=torch.long, device=self.device)

    def _reset(self) -> torch.Tensor:
        self.goal = (self._uniform(self.num_envs) < 0.5).long()
        self.position.zero_()
        self.steps.zero_()
        return self._obs[_SIGN_ROW + self.goal]

    def _step(self, actions: torch.Tensor):
        n = self.corridor_length
        pos = self.position
        turned = (pos == n) & self._turn[actions]
        success = turned & (actions == self._goal_actions[self.goal])
        new_pos = (pos + self._move[actions]).clamp_(0, n)
        wall = (new_pos == pos) ^ turned  # a turn at the junction is the one non-move that is no wall
        reward = self._rewards[wall.long() + 2 * turned + success]

        steps = self.steps + 1
        truncated = (steps >= self.max_steps) & ~turned
        done = turned | truncated

        u = self._uniform(self.num_envs, 3)
        row = (new_pos == n).long()  # corridor or junction
        final_obs = self._obs[row]
        if self.noise:
            final_obs = final_obs + self._noise[row] * u
        goal = torch.where(done, (u[:, 1] < 0.5).long(), self.goal)
        obs = torch.where(done[:, None], self._obs[_SIGN_ROW + goal], final_obs)

        running = ~done
        self.position = new_pos * running
        self.steps = steps * running
        self.goal = goal
        return obs, final_obs, reward, turned, truncated, success, done
