"""In-process fan-out of state changes to server-sent-event streams.

Routes that store states call :meth:`Broadcaster.publish` from any thread;
each open stream has a bounded asyncio queue on the server's event loop. A
stream that cannot keep up loses its oldest items and is told so, rather
than the server growing without bound.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

__all__ = ["Broadcaster", "Wakeup"]


class Broadcaster:
    def __init__(self, maxsize: int = 10_000) -> None:
        self.maxsize = maxsize
        self._subs: dict[asyncio.Queue, tuple[asyncio.AbstractEventLoop, str | None]] = {}
        self._lock = threading.Lock()

    def subscribe(self, flow_run_id: str | None = None) -> asyncio.Queue:
        """A queue of state events (of one run, or of all runs); call on the event loop."""
        queue: asyncio.Queue = asyncio.Queue(self.maxsize)
        with self._lock:
            self._subs[queue] = (asyncio.get_running_loop(), flow_run_id)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subs.pop(queue, None)

    @property
    def listening(self) -> bool:
        """Whether any stream is open (so a publisher can skip making the events)."""
        return bool(self._subs)

    def publish(self, events: list[dict]) -> None:
        with self._lock:
            subs = list(self._subs.items())
        for queue, (loop, run_id) in subs:
            mine = [e for e in events if run_id is None or e.get("flow_run_id") == run_id]
            if mine:
                loop.call_soon_threadsafe(_put, queue, mine)


def _put(queue: asyncio.Queue, events: list[Any]) -> None:
    for event in events:
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(event)


class Wakeup:
    """Wake every waiter (an agent's long-polling claim) from any thread.

    >>> async def demo():
    ...     w = Wakeup()
    ...     asyncio.get_running_loop().call_later(0.01, w.notify)
    ...     return await w.wait(5)
    >>> asyncio.run(demo())
    True
    """

    def __init__(self) -> None:
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = set()
        self._lock = threading.Lock()

    async def wait(self, timeout: float) -> bool:
        """True when notified within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        item = (loop, loop.create_future())
        with self._lock:
            self._waiters.add(item)
        try:
            await asyncio.wait_for(item[1], timeout)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(item)

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, future in waiters:
            loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(True)
