"""Call a function at most every ``interval`` seconds, never dropping the last call.

Used to send DAG updates to the browser at most ~10 times per second while a
flow runs: the first request goes out at once, later ones within the interval
are merged into one delayed call, and ``flush()`` sends the final state now.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

__all__ = ["Throttle"]


class Throttle:
    """``throttle()`` requests a call of ``fn``; ``flush()`` calls it now.

    >>> calls = []
    >>> throttle = Throttle(lambda: calls.append(1), interval=60)
    >>> throttle(); throttle(); throttle()
    >>> len(calls)
    1
    >>> throttle.flush(); len(calls)
    2
    """

    def __init__(self, fn: Callable[[], None], interval: float = 0.1) -> None:
        self.fn = fn
        self.interval = interval
        self._lock = threading.RLock()
        self._last = float("-inf")
        self._timer: threading.Timer | None = None

    def __call__(self) -> None:
        with self._lock:
            if self._timer is not None:
                return
            wait = self._last + self.interval - time.monotonic()
            if wait <= 0:
                self._call()
            else:
                self._timer = threading.Timer(wait, self._fire)
                self._timer.daemon = True
                self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            self._timer = None
            self._call()

    def _call(self) -> None:
        self._last = time.monotonic()
        self.fn()

    def flush(self) -> None:
        """Cancel any pending call and call ``fn`` now."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._call()
