"""Stop a training run cleanly on SIGINT (Ctrl-C) or SIGTERM (what batch schedulers send).

    with StopOnSignals() as stop:
        agent.learn(..., callback=lambda event: stop.keep_going())
        stop.defer()        # from here on (save, summary) signals wait until the block ends
        agent.save(...)

The first signal asks training to stop at its next callback (:meth:`keep_going` turns False), so
the agent stops between two steps, never half-way through an update. A second signal while it
still trains stops it at once (KeyboardInterrupt, as Ctrl-C always does). Once :meth:`defer` is
called, every signal is only recorded: the checkpoint and summary are written whole. The previous
handlers come back when the block ends, so library use leaves no handler installed.
"""

from __future__ import annotations

import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
    """Context manager: SIGINT / SIGTERM request a stop; see the module docstring.

    With ``force_on_second`` False a second signal is only recorded too (for work that stops soon
    after the first on its own). Outside the main thread (where Python cannot install handlers) it
    does nothing.
    """

    def __init__(self, signals: tuple[int, ...] = STOP_SIGNALS, force_on_second: bool = True) -> None:
        self.signals = tuple(signals)
        self.force_on_second = force_on_second
        self.received: int | None = None  # the first signal, if any
        self.deferred: list[int] = []  # signals that came after defer()
        self._deferring = False
        self._previous: dict[int, object] = {}

    @property
    def name(self) -> str | None:
        """Name of the first signal received (``"SIGTERM"``), or None."""
        return None if self.received is None else signal.Signals(self.received).name

    def keep_going(self) -> bool:
        """False once a signal has asked the run to stop."""
        return self.received is None

    def defer(self) -> None:
        """From now on only record signals (the run is saving)."""
        self._deferring = True

    def _handle(self, signum: int, frame) -> None:
        if self._deferring or (self.received is not None and not self.force_on_second):
            self.deferred.append(signum)
        elif self.received is None:
            self.received = signum
        else:  # a second signal while still training: stop now; later ones wait for the save
            self._deferring = True
            raise KeyboardInterrupt

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        self._previous.clear()
