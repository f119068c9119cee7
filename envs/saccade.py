"""Pro-/anti-saccade with a memory delay (Gottlieb & Goldberg 1999; RL form after Rombouts et al. 2012)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ._rendering import RenderedEnv
from ._step_checks import checked_action
from .checks import check_int

FIXATE, LEFT, RIGHT = 0, 1, 2
ACTION_NAMES = ("fixate", "left", "right")
TRIAL_TYPES = ("pro-left", "pro-right", "anti-left", "anti-right")  # index = 2 * anti + right
PHASES = ("fixation", "cue", "delay", "go")

FIXATION_REWARD = 0.2  # for holding fixation until the go signal
SACCADE_REWARD = 1.5  # for the correct saccade in the go phase
# longest phase: far beyond the delays of the primate task (a few hundred ms, a few steps), small
# enough that a trial of four maximal phases stays a sequence a recurrent agent can be trained on
MAX_PHASE_STEPS = 10_000


class SaccadeAntisaccadeEnv(RenderedEnv):
    """Look toward (pro) or away from (anti) a cue that is gone by the time the agent may move.

    The fixation mark tells the rule, a cue flashes left or right, a delay follows, then the mark
    goes off (the go signal) and the agent must saccade to the correct side. Rule and cue must be
    held in memory together: after the delay nothing on screen tells which side is right.

    ## Observation space
    ``Box(0, 1, (4,), float32)``: ``[pro_mark, anti_mark, cue_left, cue_right]``. The mark of the
    trial's rule is on in the fixation, cue and delay phases; the cue is on only in the cue phase;
    everything is off in the go phase.

    ## Action space
    ``Discrete(3)``: ``0 = FIXATE``, ``1 = LEFT``, ``2 = RIGHT`` (module constants).

    ## Phases and episode end
    ``fixation_steps`` steps of fixation, ``cue_steps`` of cue, ``delay_steps`` of delay, then at
    most ``go_steps`` of go (the reset observation belongs to the first non-empty phase). All
    ends are terminations, since the trial itself is over (there is no truncation):

    - any saccade (LEFT/RIGHT) before the go phase breaks fixation: reward 0, trial failed;
    - a saccade in the go phase: correct side (pro: the cue's side, anti: the other side) gives
      ``+1.5`` and success, the wrong side 0 and failure;
    - fixating through all ``go_steps`` go steps: reward 0, failure.

    ## Rewards
    ``+0.2`` on the step that holds fixation into the go phase (fixation was held throughout),
    ``+1.5`` for the correct saccade, 0 otherwise. Best return 1.7 in
    ``fixation_steps + cue_steps + delay_steps + 1`` steps.

    ## Start
    One of the four trial types (pro-left, pro-right, anti-left, anti-right), equally likely, drawn
    from the env's seeded ``np_random``.

    ## Info
    Every step (and reset): ``trial_type`` (one of ``TRIAL_TYPES``), ``trial_index``, ``rule``
    ("pro"/"anti"), ``cue`` ("left"/"right"), ``correct_action``, ``phase`` (the phase of the
    observation returned; "end" after the trial), ``step`` and ``success`` (True only on the
    final step of a trial ended by the correct saccade).

    ## Arguments
    - ``fixation_steps`` (int >= 0, default 1), ``cue_steps`` (int >= 1, default 1),
      ``delay_steps`` (int >= 0, default 2), ``go_steps`` (int >= 1, default 3); each at most
      ``MAX_PHASE_STEPS`` = 10_000. The cue and go phases must last at least one step, or the
      task cannot be solved.
    - ``render_mode``: None, "ansi" or "rgb_array".

    Durations outside these ranges raise ValueError naming the argument and the range. Actions
    must be integers (Python or numpy; bool is refused): out-of-space actions raise ValueError;
    stepping before ``reset`` or after the end raises RuntimeError.
    """

    def __init__(
        self,
        fixation_steps: int = 1,
        cue_steps: int = 1,
        delay_steps: int = 2,
        go_steps: int = 3,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        minima = {"fixation_steps": 0, "cue_steps": 1, "delay_steps": 0, "go_steps": 1}
        values = {
            "fixation_steps": fixation_steps,
            "cue_steps": cue_steps,
            "delay_steps": delay_steps,
            "go_steps": go_steps,
        }
        for name, value in values.items():
            values[name] = check_int(name, value, minima[name], MAX_PHASE_STEPS)
        self.fixation_steps, self.cue_steps = values["fixation_steps"], values["cue_steps"]
        self.delay_steps, self.go_steps = values["delay_steps"], values["go_steps"]
        self._set_render_mode(render_mode)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        self.action_space = spaces.Discrete(3)
        # step index at which each phase begins; the go phase starts at _go_start
        self._cue_start = self.fixation_steps
        self._delay_start = self._cue_start + self.cue_steps
        self._go_start = self._delay_start + self.delay_steps
        self._trial = 0
        self._t = 0
        self._done = True
        self._started = False
        self._gaze = FIXATE

    @property
    def _anti(self) -> bool:
        return self._trial >= 2

    @property
    def _cue_right(self) -> bool:
        return self._trial % 2 == 1

    @property
    def correct_action(self) -> int:
        """The saccade that wins the current trial."""
        return RIGHT if self._cue_right != self._anti else LEFT

    def _phase(self, t: int) -> str:
        if t < self._cue_start:
            return "fixation"
        if t < self._delay_start:
            return "cue"
        if t < self._go_start:
            return "delay"
        return "go"

    def _observe(self) -> np.ndarray:
        obs = np.zeros(4, dtype=np.float32)
        phase = "end" if self._done else self._phase(self._t)
        if phase in ("fixation", "cue", "delay"):
            obs[1 if self._anti else 0] = 1.0
        if phase == "cue":
            obs[3 if self._cue_right else 2] = 1.0
        return obs

    def _info(self, success: bool) -> dict[str, Any]:
        return {
            "trial_type": TRIAL_TYPES[self._trial],
            "trial_index": self._trial,
            "rule": "anti" if self._anti else "pro",
            "cue": "right" if self._cue_right else "left",
            "correct_action": self.correct_action,
            "phase": "end" if self._done else self._phase(self._t),
            "step": self._t,
            "success": bool(success),
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._trial = int(self.np_random.integers(4))
        self._t = 0
        self._done = False
        self._started = True
        self._gaze = FIXATE
        return self._observe(), self._info(success=False)

    def step(self, action):
        action = checked_action(self, self._started, self._done, action)
        self._gaze = action
        phase = self._phase(self._t)
        self._t += 1
        reward, terminated, success = 0.0, False, False
        if phase != "go":
            if action != FIXATE:
                terminated = True  # broke fixation before the go signal
            elif self._t == self._go_start:
                reward = FIXATION_REWARD  # held fixation all the way to the go signal
        elif action != FIXATE:
            terminated = True
            success = action == self.correct_action
            reward = SACCADE_REWARD if success else 0.0
        elif self._t >= self._go_start + self.go_steps:
            terminated = True  # no saccade within the go phase
        self._done = terminated
        return self._observe(), reward, terminated, False, self._info(success=success)

    def _render_ansi(self) -> str:
        obs = self._observe()
        mark = "P" if obs[0] else "A" if obs[1] else "."
        left = "*" if obs[2] else "o"
        right = "*" if obs[3] else "o"
        gaze = ["  ", "  ", "  "]
        gaze[{FIXATE: 1, LEFT: 0, RIGHT: 2}[self._gaze]] = "^^"
        phase = "end" if self._done else self._phase(self._t)
        return (
            f"{left}   {mark}   {right}\n{gaze[0]}  {gaze[1]}  {gaze[2]}\n"
            f"trial: {TRIAL_TYPES[self._trial]}  phase: {phase}  step: {self._t}\n"
        )

    def _render_rgb(self, cell: int = 8) -> np.ndarray:
        obs = self._observe()
        grid = np.zeros((3, 5, 3), dtype=np.uint8)
        grid[1, 0] = (240, 200, 40) if obs[2] else (70, 70, 70)  # left target
        grid[1, 4] = (240, 200, 40) if obs[3] else (70, 70, 70)  # right target
        grid[1, 2] = (50, 90, 220) if obs[0] else (200, 60, 60) if obs[1] else (40, 40, 40)  # mark
        grid[2, {FIXATE: 2, LEFT: 0, RIGHT: 4}[self._gaze]] = (230, 230, 230)  # gaze
        return np.kron(grid, np.ones((cell, cell, 1), dtype=np.uint8))
