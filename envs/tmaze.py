"""Bakker's T-maze (Bakker 2002), with optional sensory noise in the corridor (Rombouts et al.)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ._rendering import RenderedEnv
from ._step_checks import checked_action
from .checks import check_int

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3
ACTION_NAMES = ("north", "east", "south", "west")
GOALS = ("north", "south")

WALL_REWARD = -0.1
WRONG_GOAL_REWARD = -0.1
GOAL_REWARD = 4.0

SIGN_NORTH = np.array([1.0, 1.0, 0.0], dtype=np.float32)
SIGN_SOUTH = np.array([0.0, 1.0, 1.0], dtype=np.float32)
CORRIDOR = np.array([1.0, 0.0, 1.0], dtype=np.float32)
JUNCTION = np.array([0.0, 1.0, 0.0], dtype=np.float32)


# far beyond any corridor a recurrent agent learns (benchmarks stop at 100), small enough that
# rendering and the default time limit stay finite in memory and time
MAX_CORRIDOR_LENGTH = 10_000
MAX_STEPS = 1_000_000


class TMazeEnv(RenderedEnv):
    """A corridor that ends in a T-junction; a road sign seen once says which end pays.

    The agent must carry one bit (north or south) along the corridor, which is the whole point of
    the task: it is a test of working memory for recurrent agents.

    ## Layout
    Positions ``0 .. N`` with ``N = corridor_length``; the agent starts at 0 and the junction is
    at N. The two ends of the T (north and south of the junction) are the goals.

    ## Action space
    ``Discrete(4)``: ``0 = NORTH``, ``1 = EAST``, ``2 = SOUTH``, ``3 = WEST`` (module constants).

    ## Observation space
    ``Box(0, 1, (3,), float32)``:

    - reset observation (at position 0, shown once): the road sign, ``[1, 1, 0]`` if the goal is
      north, ``[0, 1, 1]`` if it is south;
    - in the corridor (positions ``0 .. N-1``, including 0 after the first step): ``[1, 0, 1]``;
      with ``noise > 0`` components 1 and 3 are ``(1 - noise) + noise * U[0, 1]``, drawn afresh at
      every step (the middle stays 0). ``noise = 1`` is the paper's noisy T-maze (plain uniform
      samples); ``noise = 0`` gives exactly ``[1, 0, 1]``;
    - at the junction: ``[0, 1, 0]`` (never noisy).

    ## Rewards
    - ``+4`` for turning to the correct side at the junction, ``-0.1`` for the wrong side (both
      terminate the episode);
    - ``-0.1`` for a move into a wall, the agent stays put: north/south in the corridor, west at
      position 0, east at the junction;
    - ``0`` otherwise (east in the corridor, west anywhere but position 0).

    ## Start
    Position 0; the goal side is drawn with equal probabilities from the env's seeded
    ``np_random``, so the same seed gives the same trajectory (sign and noise).

    ## Episode end
    - terminated: the agent turned north or south at the junction;
    - truncated: the step count reached ``max_steps`` without termination.

    ## Info
    Every step (and reset) returns ``position``, ``goal`` ("north"/"south"), ``goal_index``
    (0 north, 1 south), ``step`` (steps taken), ``at_junction`` and ``success``. ``success`` is
    False on every step but a terminal step at the correct goal, so on the final step it is True
    iff the episode ended at the correct goal (False after a wrong turn or truncation).

    ## Arguments
    - ``corridor_length`` (int, 1 .. ``MAX_CORRIDOR_LENGTH`` = 10_000, default 10): N, the number
      of steps from start to junction.
    - ``noise`` (float in [0, 1], default 0.0): corridor noise level, see above.
    - ``max_steps`` (int, 1 .. ``MAX_STEPS`` = 1_000_000, or None): time limit. Default
      ``10 * (N + 1)`` (110 at N = 10), ten times the optimal episode length: a uniformly random
      policy ends a N = 10 episode at one of the two goals within the limit in about 28 % of
      episodes (it reaches the junction more often), while episodes stay short enough for
      backpropagation through time.
    - ``render_mode``: None, "ansi" (text) or "rgb_array" (uint8 image, H x W x 3).

    Sizes outside these ranges raise ValueError naming the argument and the range. Actions must be
    integers (Python or numpy; bool is refused): an out-of-space action raises ValueError;
    stepping before ``reset`` or after the episode ended raises RuntimeError.
    """

    def __init__(
        self,
        corridor_length: int = 10,
        noise: float = 0.0,
        max_steps: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        self.corridor_length = check_int("corridor_length", corridor_length, 1, MAX_CORRIDOR_LENGTH)
        if isinstance(noise, bool) or not isinstance(noise, int | float | np.integer | np.floating):
            raise ValueError(f"noise must be a number in [0, 1], got {noise!r}")
        if not 0.0 <= noise <= 1.0:  # also rejects NaN, for which every comparison is False
            raise ValueError(f"noise must be a finite number in [0, 1], got {noise!r}")
        self.noise = float(noise)
        if max_steps is None:
            max_steps = 10 * (self.corridor_length + 1)
        self.max_steps = check_int("max_steps", max_steps, 1, MAX_STEPS)
        self._set_render_mode(render_mode)

        self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(4)

        self._position = 0
        self._goal = 0
        self._steps = 0
        self._done = True  # no episode yet: reset() must come first
        self._started = False
        self._last_action: int | None = None
        self._last_obs = np.zeros(3, dtype=np.float32)

    # -- episode logic ----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._goal = int(self.np_random.integers(2))
        self._position = 0
        self._steps = 0
        self._done = False
        self._started = True
        self._last_action = None
        self._last_obs = (SIGN_NORTH if self._goal == 0 else SIGN_SOUTH).copy()
        return self._last_obs.copy(), self._info(success=False)

    def step(self, action):
        action = checked_action(self, self._started, self._done, action)
        self._steps += 1
        self._last_action = action

        n = self.corridor_length
        reward, terminated, success = 0.0, False, False
        if self._position == n and action in (NORTH, SOUTH):
            terminated = True
            success = (action == NORTH) == (self._goal == 0)
            reward = GOAL_REWARD if success else WRONG_GOAL_REWARD
        elif action == EAST:
            if self._position == n:
                reward = WALL_REWARD
            else:
                self._position += 1
        elif action == WEST:
            if self._position == 0:
                reward = WALL_REWARD
            else:
                self._position -= 1
        else:  # north or south inside the corridor
            reward = WALL_REWARD

        truncated = not terminated and self._steps >= self.max_steps
        self._done = terminated or truncated
        self._last_obs = self._observe()
        return self._last_obs.copy(), reward, terminated, truncated, self._info(success=success)

    def _observe(self) -> np.ndarray:
        if self._position == self.corridor_length:
            return JUNCTION.copy()
        if self.noise == 0.0:
            return CORRIDOR.copy()
        u = (1.0 - self.noise) + self.noise * self.np_random.random(2)
        return np.array([u[0], 0.0, u[1]], dtype=np.float32)

    def _info(self, success: bool) -> dict[str, Any]:
        return {
            "position": self._position,
            "goal": GOALS[self._goal],
            "goal_index": self._goal,
            "step": self._steps,
            "at_junction": self._position == self.corridor_length,
            "success": bool(success),
        }

    # -- rendering --------------------------------------------------------------------------------
    def _render_ansi(self) -> str:
        n = self.corridor_length
        goal_mark = {0: ("G", "x"), 1: ("x", "G")}[self._goal]
        top = " " * (2 * n) + goal_mark[0]
        cells = ["A" if i == self._position else "." for i in range(n + 1)]
        if self._position != n:
            cells[n] = "+"
        mid = " ".join(cells)
        bottom = " " * (2 * n) + goal_mark[1]
        obs = np.array2string(self._last_obs, precision=2, separator=", ")
        last = "-" if self._last_action is None else ACTION_NAMES[self._last_action]
        status = (
            f"sign: {GOALS[self._goal]}  step: {self._steps}/{self.max_steps}  "
            f"last action: {last}  obs: {obs}"
        )
        return "\n".join([top, mid, bottom, status]) + "\n"

    def _render_rgb(self, cell: int = 8) -> np.ndarray:
        n = self.corridor_length
        rows, cols = 3, n + 1
        grid = np.zeros((rows, cols, 3), dtype=np.uint8)  # black: wall
        grid[1, :] = (230, 230, 230)  # corridor
        ok, bad = (60, 180, 75), (200, 60, 60)
        grid[0, n] = ok if self._goal == 0 else bad
        grid[2, n] = ok if self._goal == 1 else bad
        # the road sign: a yellow mark above or below the start cell on the goal side
        grid[0 if self._goal == 0 else 2, 0] = (240, 200, 40)
        grid[1, self._position] = (50, 90, 220)  # agent
        return np.kron(grid, np.ones((cell, cell, 1), dtype=np.uint8))
