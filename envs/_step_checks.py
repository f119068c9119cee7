"""The checks every env of this package runs at the top of ``step``."""

from __future__ import annotations

import gymnasium as gym


def checked_action(env: gym.Env, started: bool, done: bool, action) -> int:
    """The action as an int, after refusing a step before reset, after the end, or out of space."""
    name = type(env).__name__
    if not started:
        raise RuntimeError(f"{name}.step() called before reset()")
    if done:
        raise RuntimeError(f"{name}.step() called after the episode ended; call reset()")
    if not env.action_space.contains(action):
        raise ValueError(f"action {action!r} is not in the action space {env.action_space}")
    return int(action)
