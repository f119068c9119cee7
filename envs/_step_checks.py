"""The checks every env of this package runs at the top of ``step``."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


def checked_action(env: gym.Env, started: bool, done: bool, action) -> int:
    """The action as an int, after refusing a step before reset, after the end, or out of space.

    Actions must be integers (Python or numpy); bool is refused although gymnasium's Discrete
    space takes True for 1.
    """
    name = type(env).__name__
    if not started:
        raise RuntimeError(f"{name}.step() called before reset()")
    if done:
        raise RuntimeError(f"{name}.step() called after the episode ended; call reset()")
    if isinstance(action, bool | np.bool_) or not env.action_space.contains(action):
        raise ValueError(
            f"action {action!r} is not in the action space {env.action_space} (actions are integers)"
        )
    return int(action)
