"""The pro-/anti-saccade task as a tensor env: B trials stepped at once.

Same rules as :class:`sublstm.envs.saccade.SaccadeAntisaccadeEnv` (the reference; its docstring
has them in full). A trial is a state machine over (trial type, steps taken): the rules are
applied once, to every (state, action) pair, to fill the lookup tables of
:class:`~sublstm.envs.tensor.TableEnv`.
"""

from __future__ import annotations

import torch

from .saccade import FIXATE, FIXATION_REWARD, LEFT, RIGHT, SACCADE_REWARD, TRIAL_TYPES, SaccadeAntisaccadeEnv
from .tensor import TableEnv


class TensorSaccadeAntisaccade(TableEnv):
    """B saccade/antisaccade trials with the same phase lengths; see :mod:`sublstm.envs.tensor`.

    State ``trial * go_end + t`` (trial index as in ``TRIAL_TYPES``, t steps taken, t < go_end);
    start index = trial index.
    """

    reference_class = SaccadeAntisaccadeEnv

    def _build(self, ref: SaccadeAntisaccadeEnv) -> None:
        cue_start = ref.fixation_steps
        delay_start = cue_start + ref.cue_steps
        self.go_start = delay_start + ref.delay_steps  # the step index at which the go phase begins
        self.go_end = self.go_start + ref.go_steps  # a trial has ended by this step index

        n_trials, n_actions = len(TRIAL_TYPES), self.n_actions
        anti = torch.tensor([name.startswith("anti") for name in TRIAL_TYPES])
        cue_right = torch.tensor([name.endswith("right") for name in TRIAL_TYPES])
        correct = torch.where(cue_right != anti, RIGHT, LEFT)  # pro: the cue's side, anti: the other

        def observe(trial: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            """[pro_mark, anti_mark, cue_left, cue_right] of trial type ``trial`` after ``t`` steps."""
            obs = torch.zeros(len(t), 4)
            rows = torch.arange(len(t))
            before_go, in_cue = t < self.go_start, (t >= cue_start) & (t < delay_start)
            obs[rows, anti[trial].long()] = before_go.float()  # the rule's mark, off from the go signal
            obs[rows, 2 + cue_right[trial].long()] = in_cue.float()
            return obs

        # every (state, action) pair, state-major
        trial = torch.arange(n_trials).repeat_interleave(self.go_end * n_actions)
        t = torch.arange(self.go_end).repeat_interleave(n_actions).repeat(n_trials)
        action = torch.arange(n_actions).repeat(n_trials * self.go_end)
        fixating = action == FIXATE
        success = (t >= self.go_start) & (action == correct[trial])
        held = fixating & (t + 1 == self.go_start)  # fixation held into the go phase
        terminated = ~fixating | (t + 1 >= self.go_end)  # a saccade, or no saccade in the go phase
        rewards = torch.tensor([0.0, FIXATION_REWARD, SACCADE_REWARD])
        starts = torch.arange(n_trials)
        self._set_tables(
            next_state=trial * self.go_end + t + 1,
            reward=rewards[held.long() + 2 * success],
            terminated=terminated,
            success=success,
            obs=observe(trial, t + 1) * ~terminated[:, None],  # all off once the trial has ended
            start_states=starts * self.go_end,
            start_obs=observe(starts, torch.zeros(n_trials, dtype=torch.long)),
        )

    @property
    def trial(self) -> torch.Tensor:
        """Trial type index of each env's trial, (B,) long (see ``TRIAL_TYPES``)."""
        return self.state // self.go_end

    @property
    def t(self) -> torch.Tensor:
        """Steps taken in each env's trial, (B,) long."""
        return self.state % self.go_end
