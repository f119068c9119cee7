"""What each agent owns while it runs: its torch thread count and its random generators.

- :func:`torch_threads` sets torch's intra-op thread count for the duration of a call and restores
  the previous value afterwards. The networks are tiny, so one thread is fastest, and on a loaded
  small machine extra threads thrash.
- :class:`AgentRandomness` holds the agent's numpy Generator (exploration, replay sampling, env
  seeds) and torch Generator (training noise), seeded from the agent's seed, so that an agent's run
  depends on its seed only, whatever else the process draws from the global generators. Their
  states travel in checkpoints as tensors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from .settings import check_int

_WORD = 2**32
_WORDS = 4  # a 128-bit PCG64 integer as four 32-bit words


def check_threads(n_threads: int | None) -> int | None:
    """None (leave torch as it is) or a positive int; ValueError naming n_threads otherwise."""
    return None if n_threads is None else check_int("n_threads", n_threads, 1)


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the body with ``torch.set_num_threads(n_threads)`` (None: unchanged), then restore."""
    previous = torch.get_num_threads()
    if n_threads is not None and n_threads != previous:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def seeded_torch(seed: int) -> Iterator[None]:
    """Torch's global CPU generator seeded with ``seed`` inside the body and restored after it.

    For code that draws from the global generator (torch's layer initialisers): the draws depend
    on ``seed`` only, and the caller's global random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _words(value: int) -> list[int]:
    return [(value // _WORD**k) % _WORD for k in range(_WORDS)]


def _value(words: list[int]) -> int:
    return sum(int(w) * _WORD**k for k, w in enumerate(words))


class AgentRandomness:
    """The agent's own generators: ``numpy`` (np.random.Generator) and ``torch`` (on ``device``)."""

    def __init__(self, seed: int, device: torch.device | str = "cpu") -> None:
        self.numpy = np.random.default_rng(seed)
        self.torch = torch.Generator(device=device)
        self.torch.manual_seed(seed)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Both generators' states as tensors: ``numpy`` int64 (10,), ``torch`` uint8."""
        state = self.numpy.bit_generator.state
        if state["bit_generator"] != "PCG64":
            raise ValueError(f"only PCG64 numpy generators are saved, got {state['bit_generator']}")
        inner = state["state"]
        words = _words(inner["state"]) + _words(inner["inc"]) + [state["has_uint32"], state["uinteger"]]
        return {"numpy": torch.tensor(words, dtype=torch.int64), "torch": self.torch.get_state()}

    def load_state_dict(self, saved: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`state_dict` returned; ValueError naming the part that does not fit.

        A torch state saved on another kind of device (whose generator state has another size)
        leaves the torch generator as seeded: the training noise then differs from the saved run.
        """
        if not isinstance(saved, dict) or set(saved) != {"numpy", "torch"}:
            raise ValueError(f"rng must be a dict with keys 'numpy' and 'torch', got {saved!r}")
        words, torch_state = saved["numpy"], saved["torch"]
        if not isinstance(words, torch.Tensor) or words.dtype != torch.int64 or words.shape != (10,):
            raise ValueError(f"rng['numpy'] must be an int64 tensor of shape (10,), got {words!r}")
        values = words.tolist()
        if any(not 0 <= w < _WORD for w in values):
            raise ValueError(f"rng['numpy'] holds words outside [0, 2**32): {values}")
        if not isinstance(torch_state, torch.Tensor) or torch_state.dtype != torch.uint8:
            raise ValueError(f"rng['torch'] must be a uint8 tensor, got {torch_state!r}")
        try:
            self.numpy.bit_generator.state = {
                "bit_generator": "PCG64",
                "state": {"state": _value(values[:_WORDS]), "inc": _value(values[_WORDS : 2 * _WORDS])},
                "has_uint32": values[8],
                "uinteger": values[9],
            }
        except (ValueError, TypeError, OverflowError) as exc:
            raise ValueError(f"rng['numpy'] is not a valid PCG64 state: {exc}") from exc
        current = self.torch.get_state()
        if torch_state.shape == current.shape:
            self.torch.set_state(torch_state.cpu())
