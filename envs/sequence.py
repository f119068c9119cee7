"""Next-symbol prediction over a long time lag (Hochreiter & Schmidhuber 1997, experiments 2a/2b).

Two forms of the same task: a gymnasium env (predict one symbol per step, rewarded) and a
supervised batch generator, :func:`sequence_batch`.

Symbols (``p + 1`` of them, one-hot coded): ``X = 0``, ``Y = 1``, ``a_k = k + 1`` for
``k = 1 .. p-1``. A sequence is ``(x, a_1, ..., a_{p-1}, x)`` or ``(y, a_1, ..., a_{p-1}, y)``,
equally likely; ``p + 1`` symbols long. In the noisy variant (2b) each middle symbol is drawn
uniformly from ``a_1 .. a_{p-1}``, afresh at every position. The final symbol repeats the first,
so it can be predicted only from memory held across ``p - 1`` steps.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from ._step_checks import checked_action
from .checks import check_int

X, Y = 0, 1
STEP_REWARD = 0.1  # a correct intermediate prediction
FINAL_REWARD = 1.0  # a correct final (memory) prediction
# the longest lag of Hochreiter & Schmidhuber's experiment 2 (p = 1000); the env holds a
# (p + 1) x (p + 1) one-hot table, 4 MB at this maximum
MAX_P = 1000
# one supervised batch holds p * batch_size * (p + 1) float32 inputs: at most 2**28 (1 GiB)
MAX_BATCH_ELEMENTS = 2**28


def symbol_name(index: int) -> str:
    """'x', 'y' or 'a<k>' for a symbol index."""
    return "x" if index == X else "y" if index == Y else f"a{index - 1}"


def _check_p(p: Any) -> int:
    return check_int("p", p, 2, MAX_P)


def _check_noisy(noisy: Any) -> bool:
    if not isinstance(noisy, bool | np.bool_):
        raise ValueError(f"noisy must be a bool, got {noisy!r}")
    return bool(noisy)


def draw_sequences(rng: np.random.Generator, batch_size: int, p: int, noisy: bool) -> np.ndarray:
    """Symbol indices of ``batch_size`` sequences, int64 array of shape (batch_size, p + 1)."""
    first = rng.integers(2, size=batch_size)  # X or Y
    if noisy:
        middle = rng.integers(2, p + 1, size=(batch_size, p - 1))
    else:
        middle = np.broadcast_to(np.arange(2, p + 1), (batch_size, p - 1))
    return np.concatenate([first[:, None], middle, first[:, None]], axis=1).astype(np.int64)


def sequence_batch(
    batch_size: int,
    p: int = 10,
    noisy: bool = False,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A batch for supervised next-symbol prediction, time-major.

    Returns ``inputs``, float32 of shape (p, batch_size, p + 1): one-hot symbols 0 .. p-1 of each
    sequence, and ``targets``, int64 of shape (p, batch_size): the indices of symbols 1 .. p.
    ``targets[-1]`` is the final symbol, the one that needs memory. Symbol indices: ``X = 0``,
    ``Y = 1``, ``a_k = k + 1``. ``rng`` is a Generator or a seed (same seed, same batch).
    ``p`` is at most ``MAX_P`` = 1000 and the inputs at most ``MAX_BATCH_ELEMENTS`` = 2**28 numbers
    (ValueError naming ``batch_size`` beyond).
    """
    batch_size = check_int("batch_size", batch_size, 1)
    p, noisy = _check_p(p), _check_noisy(noisy)
    if p * batch_size * (p + 1) > MAX_BATCH_ELEMENTS:
        raise ValueError(
            f"batch_size must be <= {MAX_BATCH_ELEMENTS // (p * (p + 1)):_} at p = {p} (the inputs "
            f"would hold more than {MAX_BATCH_ELEMENTS:_} numbers), got {batch_size!r}"
        )
    if not isinstance(rng, np.random.Generator):
        if rng is not None and (isinstance(rng, bool) or not isinstance(rng, int | np.integer)):
            raise ValueError(f"rng must be a numpy Generator, an int seed or None, got {rng!r}")
        rng = np.random.default_rng(rng)
    seqs = draw_sequences(rng, int(batch_size), p, noisy)  # (B, p+1)
    eye = np.eye(p + 1, dtype=np.float32)
    inputs = eye[seqs[:, :-1].T]  # (p, B, p+1)
    targets = np.ascontiguousarray(seqs[:, 1:].T)  # (p, B)
    return inputs, targets


class SequencePredictionEnv(gym.Env):
    """Predict the next symbol of ``(x, a_1 .. a_{p-1}, x)`` / ``(y, a_1 .. a_{p-1}, y)``.

    ## Observation space
    ``Box(0, 1, (p + 1,), float32)``: the current symbol, one-hot (``X = 0``, ``Y = 1``,
    ``a_k = k + 1``). The reset observation is the first symbol (x or y).

    ## Action space
    ``Discrete(p + 1)``: the predicted index of the next symbol.

    ## Rewards
    ``+0.1`` for each correct intermediate prediction (steps 1 .. p-1), ``+1.0`` for a correct final
    prediction (step p, the memory one), 0 for a wrong prediction. Maximum return 2a:
    ``0.1 * (p - 1) + 1``.

    ## Start
    A sequence drawn from the env's seeded ``np_random``: x or y with equal probabilities; in the
    noisy variant (2b) middle symbols uniform from ``a_1 .. a_{p-1}``, independently.

    ## Episode end
    Terminated after the p-th prediction (every episode lasts exactly p steps; no truncation).
    The observation returned with it is the final symbol.

    ## Info
    Every step: ``step`` (predictions made), ``first`` ("x"/"y"), ``target`` (index of the symbol
    that was to be predicted; absent at reset), ``correct`` (this prediction was right) and
    ``success`` (True only on the final step and only if the final prediction was right).

    ## Arguments
    - ``p`` (int, 2 .. ``MAX_P`` = 1000, default 10): sequence length minus one, the time lag to
      bridge.
    - ``noisy`` (bool, default False): experiment 2b (random middle symbols) instead of 2a.
    - ``render_mode``: None, "ansi" or "rgb_array".

    A ``p`` outside its range raises ValueError naming it and the range. Actions must be integers
    (Python or numpy; bool is refused): out-of-space actions raise ValueError; stepping before
    ``reset`` or after the end raises RuntimeError.
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def __init__(self, p: int = 10, noisy: bool = False, render_mode: str | None = None) -> None:
        super().__init__()
        self.p = _check_p(p)
        self.noisy = _check_noisy(noisy)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.p + 1,), dtype=np.float32)
        self.action_space = spaces.Discrete(self.p + 1)
        self._eye = np.eye(self.p + 1, dtype=np.float32)
        self._seq = np.zeros(self.p + 1, dtype=np.int64)
        self._t = 0
        self._predictions: list[int] = []
        self._done = True
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._seq = draw_sequences(self.np_random, 1, self.p, self.noisy)[0]
        self._t = 0
        self._predictions = []
        self._done = False
        self._started = True
        info = {"step": 0, "first": symbol_name(int(self._seq[0])), "correct": False, "success": False}
        return self._eye[self._seq[0]].copy(), info

    def step(self, action):
        action = checked_action(self, self._started, self._done, action)
        self._t += 1
        target = int(self._seq[self._t])
        correct = action == target
        self._predictions.append(action)
        final = self._t == self.p
        reward = (FINAL_REWARD if final else STEP_REWARD) if correct else 0.0
        self._done = final
        info = {
            "step": self._t,
            "first": symbol_name(int(self._seq[0])),
            "target": target,
            "correct": correct,
            "success": final and correct,
        }
        return self._eye[target].copy(), reward, final, False, info

    def render(self):
        if self.render_mode == "ansi":
            seen = " ".join(symbol_name(int(s)) for s in self._seq[: self._t + 1])
            pred = " ".join(symbol_name(a) for a in self._predictions)
            return f"seen:      {seen}\npredicted: - {pred}\n"
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        return None

    def _render_rgb(self, cell: int = 6) -> np.ndarray:
        # columns: time; rows: symbols. Grey = seen symbol; green/red = right/wrong prediction.
        grid = np.full((self.p + 1, self.p + 1, 3), 20, dtype=np.uint8)
        for t in range(self._t + 1):
            grid[self._seq[t], t] = (200, 200, 200)
        for t, a in enumerate(self._predictions, start=1):
            grid[a, t] = (60, 180, 75) if a == self._seq[t] else (200, 60, 60)
        return np.kron(grid, np.ones((cell, cell, 1), dtype=np.uint8))
