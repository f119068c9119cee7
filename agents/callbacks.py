"""The callbacks ``learn`` accepts, behind one interface.

- a plain function ``f(event: dict)``: called once per finished training episode
  (``event["event"] == "episode"``) and per evaluation (``"eval"``); returning False stops training;
- a stable-baselines3 ``BaseCallback``, a ``CallbackList`` or a list of them, driven as SB3 drives
  them: ``init_callback(agent)`` and ``on_training_start(locals, globals)`` when ``learn`` starts,
  ``on_rollout_start`` / ``on_rollout_end`` around each round of ``train_every`` vector steps,
  ``update_locals`` (actions, new_obs, rewards, dones, infos) and ``on_step()`` after every vector
  step (False stops training), ``on_training_end()`` when ``learn`` ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _is_sb3_callback(obj: Any) -> bool:
    return all(hasattr(obj, name) for name in ("init_callback", "on_training_start", "on_step"))


class Callbacks:
    """``callback`` as given to ``learn`` (None, a function, an SB3 callback or a list of them)."""

    def __init__(self, callback: Any) -> None:
        self.function: Callable[[dict[str, Any]], Any] | None = None
        self.sb3: Any = None
        if callback is None:
            return
        if isinstance(callback, (list, tuple)):
            bad = [c for c in callback if not _is_sb3_callback(c)]
            if bad:
                raise ValueError(
                    f"a list of callbacks may hold stable-baselines3 callbacks only, got {bad[0]!r}; "
                    "pass a plain function on its own"
                )
            from stable_baselines3.common.callbacks import CallbackList

            self.sb3 = CallbackList(list(callback))
        elif _is_sb3_callback(callback):
            self.sb3 = callback
        elif callable(callback):
            self.function = callback
        else:
            raise ValueError(
                "callback must be None, a function of an event dict, a stable-baselines3 BaseCallback "
                f"or a list of them, got {callback!r}"
            )

    def training_start(self, agent: Any, locals_: dict[str, Any], globals_: dict[str, Any]) -> None:
        if self.sb3 is not None:
            self.sb3.init_callback(agent)
            self.sb3.on_training_start(locals_, globals_)

    def event(self, record: dict[str, Any]) -> bool:
        """Pass an episode or evaluation record to a plain function; False: stop training."""
        return self.function is None or self.function(record) is not False

    def rollout_start(self) -> None:
        if self.sb3 is not None:
            self.sb3.on_rollout_start()

    def rollout_end(self) -> None:
        if self.sb3 is not None:
            self.sb3.on_rollout_end()

    @property
    def per_step(self) -> bool:
        """Whether :meth:`step` does anything (so that the caller can skip building its locals)."""
        return self.sb3 is not None

    def step(self, locals_: dict[str, Any]) -> bool:
        """After one vector step: update the SB3 callback's locals and call on_step; False: stop."""
        if self.sb3 is None:
            return True
        self.sb3.update_locals(locals_)
        return bool(self.sb3.on_step())

    def training_end(self) -> None:
        if self.sb3 is not None:
            self.sb3.on_training_end()
