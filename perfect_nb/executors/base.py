"""The Executor protocol: where task bodies run.

An executor only runs functions. The flow runner owns the scheduling loop,
decides what is ready, and calls ``submit_then`` for each task run; the
executor calls back (from any thread) when the run is done.

Subclasses implement ``start`` (a context manager around a whole flow run)
and ``submit``; they may override ``submit_then`` and ``event_sink``.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any, Callable, Iterator

__all__ = ["Executor"]


class Executor(abc.ABC):
    """Base class of executors.

    ``max_inflight`` caps how many task runs the flow runner hands over at
    once (None: no cap). A small cap keeps chained maps depth-first.
    """

    max_inflight: int | None = None
    #: With a cap: hand over new task runs only once at most this many are in
    #: flight, then fill up to the cap, so they go out in batches (None: at once).
    refill_at: int | None = None
    #: True when ``submit`` has run the task by the time it returns, in the calling
    #: thread; the flow runner then handles the result at once, not through its queue.
    runs_inline: bool = False

    @contextlib.contextmanager
    def start(self) -> Iterator[None]:
        """Set up resources (pools, clusters) for one flow run."""
        yield

    @abc.abstractmethod
    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)``; return a future with ``result()`` and ``add_done_callback``."""

    def wait(self, futures: Any) -> Any:
        """Resolve futures (a single one, or a list) to their results."""
        if isinstance(futures, (list, tuple)):
            return [f.result() if hasattr(f, "result") else f for f in futures]
        return futures.result() if hasattr(futures, "result") else futures

    def submit_then(self, callback: Callable[[Any], None], fn: Callable, *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` and call ``callback(future)`` when it is done (from any thread)."""
        self.submit(fn, *args, **kwargs).add_done_callback(callback)

    def event_sink(self, emit: Callable[[tuple], None]) -> Callable[[tuple], None]:
        """A callable that task runs use to report state changes back to ``emit``.

        In-process executors return ``emit`` itself; executors that run tasks in
        other processes return something picklable that forwards to it.
        """
        return emit

    def cancel_pending(self) -> None:
        """Drop work not started yet (called when a run is interrupted)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"
