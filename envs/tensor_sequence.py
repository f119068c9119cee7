"""The next-symbol prediction task (experiments 2a/2b) as a tensor env: B sequences at once.

Same rules as :class:`sublstm.envs.sequence.SequencePredictionEnv` (the reference). Every
episode lasts exactly ``p`` steps and all B start together at ``reset``, so the B episodes stay
in step: the step counter is one Python int, and all B end (and restart) in the same call.
"""

from __future__ import annotations

import torch

from .sequence import FINAL_REWARD, STEP_REWARD, SequencePredictionEnv
from .tensor import TensorEnv


class TensorSequencePrediction(TensorEnv):
    """B next-symbol prediction episodes of lag ``p``; see :mod:`sublstm.envs.tensor`."""

    reference_class = SequencePredictionEnv
    row_state = (*TensorEnv.row_state, "sequences")

    def _build(self, ref: SequencePredictionEnv) -> None:
        self.p, self.noisy = ref.p, ref.noisy
        self._eye = torch.eye(self.p + 1, device=self.device)
        self._middle = torch.arange(2, self.p + 1, device=self.device)  # a_1 .. a_{p-1} in order (2a)
        self.sequences = torch.zeros(self.num_envs, self.p + 1, dtype=torch.long, device=self.device)
        self.t = 0  # predictions made in the current episodes

    def _draw(self) -> torch.Tensor:
        """Symbol indices of B new sequences, (B, p + 1) (as sequence.draw_sequences)."""
        b = self.num_envs
        first = self.integers(0, 2, b, 1)  # X or Y
        middle = self.integers(2, self.p + 1, b, self.p - 1) if self.noisy else self._middle.expand(b, -1)
        return torch.cat([first, middle, first], dim=1)

    def _reset(self) -> torch.Tensor:
        self.sequences = self._draw()
        self.t = 0
        return self._eye[self.sequences[:, 0]]

    def _step(self, actions: torch.Tensor):
        self.t += 1
        target = self.sequences[:, self.t]
        correct = actions == target
        final_obs = self._eye[target]
        final = self.t == self.p
        ended = torch.full((self.num_envs,), final, dtype=torch.bool, device=self.device)
        truncated = torch.zeros_like(ended)  # episodes never run out of time
        length = torch.full((self.num_envs,), self.t, device=self.device)
        if not final:
            no_success = torch.zeros_like(ended)
            return final_obs, final_obs, correct * STEP_REWARD, ended, truncated, no_success, ended, length
        obs = self._reset()  # every episode ends here: all B restart
        return obs, final_obs, correct * FINAL_REWARD, ended, truncated, correct, ended, length
