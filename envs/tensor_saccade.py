"""The pro-/anti-saccade task as a tensor env: B trials stepped at once.

Same rules as :class:`sublstm.envs.saccade.SaccadeAntisaccadeEnv` (the reference). The
observation of every (trial type, step of the trial) pair, and of a finished trial, is one row
of a lookup table built once; a step is a few comparisons, a table lookup and one draw of the
trial type that a new episode gets where one ends.
"""

from __future__ import annotations

import torch

from .saccade import (
    FIXATE,
    FIXATION_REWARD,
    LEFT,
    PHASES,
    RIGHT,
    SACCADE_REWARD,
    TRIAL_TYPES,
    SaccadeAntisaccadeEnv,
)
from .tensor import TensorEnv


class TensorSaccadeAntisaccade(TensorEnv):
    """B saccade/antisaccade trials with the same phase lengths; see :mod:`sublstm.envs.tensor`."""

    def __init__(
        self,
        num_envs: int,
        device: str | torch.device = "cpu",
        seed: int | None = None,
        *,
        fixation_steps: int = 1,
        cue_steps: int = 1,
        delay_steps: int = 2,
        go_steps: int = 3,
    ) -> None:
        super().__init__(num_envs, device, seed)
        lengths = {
            "fixation_steps": fixation_steps,
            "cue_steps": cue_steps,
            "delay_steps": delay_steps,
            "go_steps": go_steps,
        }
        ref = SaccadeAntisaccadeEnv(**lengths)  # validates
        self._setup(ref, lengths)
        cue_start = ref.fixation_steps
        delay_start = cue_start + ref.cue_steps
        self.go_start = delay_start + ref.delay_steps  # the step index at which the go phase begins
        self.go_end = self.go_start + ref.go_steps  # a trial has ended by this step index
        self._end_column = self.go_end + 1  # table column of a finished trial

        # trial index = 2 * anti + cue_right (TRIAL_TYPES); pro: the cue's side, anti: the other
        anti = [name.startswith("anti") for name in TRIAL_TYPES]
        cue_right = [name.endswith("right") for name in TRIAL_TYPES]
        self._correct = self._table(
            [RIGHT if r != a else LEFT for a, r in zip(anti, cue_right, strict=True)], torch.long
        )
        table = torch.zeros(len(TRIAL_TYPES), self._end_column + 1, 4)
        for t in range(self.go_end + 1):
            phase = PHASES[(t >= cue_start) + (t >= delay_start) + (t >= self.go_start)]
            for trial in range(len(TRIAL_TYPES)):
                if phase != "go":
                    table[trial, t, 1 if anti[trial] else 0] = 1.0  # the rule's fixation mark
                if phase == "cue":
                    table[trial, t, 3 if cue_right[trial] else 2] = 1.0
        self._obs = table.to(self.device)  # (trial, step index or end, 4); the end column stays 0
        self._rewards = self._table([0.0, FIXATION_REWARD, SACCADE_REWARD])

        b = self.num_envs
        self.trial = torch.zeros(b, dtype=torch.long, device=self.device)
        self.t = torch.zeros(b, dtype=torch.long, device=self.device)

    def _reset(self) -> torch.Tensor:
        self.trial = self._integers(0, len(TRIAL_TYPES), self.num_envs)
        self.t.zero_()
        return self._obs[self.trial, 0]

    def _step(self, actions: torch.Tensor):
        trial, t_before = self.trial, self.t
        t = t_before + 1
        fixating = actions == FIXATE
        success = (t_before >= self.go_start) & (actions == self._correct[trial])
        held = fixating & (t == self.go_start)  # fixation held into the go phase
        reward = self._rewards[held.long() + 2 * success]
        terminated = ~fixating | (t >= self.go_end)

        final_obs = self._obs[trial, torch.where(terminated, self._end_column, t)]
        trial = torch.where(terminated, self._integers(0, len(TRIAL_TYPES), self.num_envs), trial)
        obs = torch.where(terminated[:, None], self._obs[trial, 0], final_obs)
        self.trial = trial
        self.t = t * ~terminated
        return obs, final_obs, reward, terminated, torch.zeros_like(terminated), success, terminated
