"""What the package's gymnasium envs share about rendering: the modes, the check of ``render_mode``
at construction, and ``render()`` drawing the current step as text or as an image."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class RenderedEnv(gym.Env):
    """A gymnasium env drawn as text (``render_mode="ansi"``) or as an RGB image (``"rgb_array"``,
    uint8, H x W x 3); a subclass implements :meth:`_render_ansi` and :meth:`_render_rgb`."""

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}

    def _set_render_mode(self, render_mode: str | None) -> None:
        """Keeps ``render_mode`` after refusing one that is neither None nor a listed mode."""
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}"
            )
        self.render_mode = render_mode

    def render(self):
        """The current step as ``render_mode`` asks: text, an image, or None (no mode)."""
        if self.render_mode == "ansi":
            return self._render_ansi()
        if self.render_mode == "rgb_array":
            return self._render_rgb()
        return None

    def _render_ansi(self) -> str:
        raise NotImplementedError

    def _render_rgb(self) -> np.ndarray:
        raise NotImplementedError
