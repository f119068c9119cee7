"""Random numbers of a population, drawn member by member: each member owns one torch.Generator per
purpose (env, exploration, replay sampling, training noise, evaluation), seeded from its own seed,
so that what a member draws never depends on which other members share the population.

:class:`MemberStreams` serves uniforms for all members at once, ``(S, *shape)`` per call, from
blocks each member's generator fills in advance: one generator call per member per block rather
than per step. Every member consumes the same amount per call, so each member's sequence of
numbers is a function of its seed and of the calls alone.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

#: uniforms drawn per member and block; a call that needs more gets a block of its own size
BLOCK = 1 << 14


def check_seed(seed) -> int:
    """A member seed: a non-negative integer (bool refused); ValueError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seeds must be non-negative integers, got {seed!r}")
    return int(seed)


def derived_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed for one purpose of one member (numpy SeedSequence of the seed and the purpose)."""
    state = np.random.SeedSequence([check_seed(seed), zlib.crc32(purpose.encode())]).generate_state(2)
    return (int(state[0]) << 31 | int(state[1])) & (2**63 - 1)


def member_generators(seeds: Sequence[int], purpose: str, device: torch.device) -> list[torch.Generator]:
    """One torch.Generator on ``device`` per member, seeded with :func:`derived_seed`."""
    return [torch.Generator(device=device).manual_seed(derived_seed(s, purpose)) for s in seeds]


class MemberStreams:
    """Per-member uniform streams served as one tensor: ``uniform(*shape) -> (S, *shape)`` in [0, 1)."""

    def __init__(self, seeds: Sequence[int], purpose: str, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.purpose = purpose
        self.reseed(seeds)

    def reseed(self, seeds: Sequence[int]) -> None:
        """Restart every member's stream from ``seeds`` (one per member)."""
        self.generators = member_generators(seeds, self.purpose, self.device)
        self._block: Tensor | None = None
        self._offset = 0

    @property
    def n_members(self) -> int:
        return len(self.generators)

    def keep(self, positions: Sequence[int]) -> None:
        """Keep the streams of the members at ``positions`` only (in that order), each one where it
        was: what each kept member draws next is what it would have drawn without the change."""
        self.generators = [self.generators[i] for i in positions]
        if self._block is not None:
            self._block = self._block[torch.as_tensor(list(positions), dtype=torch.long, device=self.device)]

    def uniform(self, *shape: int) -> Tensor:
        count = math.prod(shape)
        if self._block is None or self._offset + count > self._block.shape[1]:
            size = max(BLOCK, count)
            self._block = torch.stack(
                [torch.rand(size, generator=g, device=self.device) for g in self.generators]
            )
            self._offset = 0
        out = self._block[:, self._offset : self._offset + count]
        self._offset += count
        return out.reshape(self.n_members, *shape)

    def integers(self, high: int, *shape: int) -> Tensor:
        """Uniform integers in 0 .. high-1, (S, *shape) int64."""
        return (self.uniform(*shape) * high).long().clamp_(max=high - 1)
