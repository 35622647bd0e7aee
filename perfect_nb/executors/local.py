"""LocalExecutor: runs each task in the calling thread, one at a time."""

from __future__ import annotations

from typing import Any, Callable

from perfect_nb.executors.base import Executor

__all__ = ["LocalExecutor"]


class _Done:
    """An already-finished future (``error``: the exception ``result()`` raises)."""

    __slots__ = ("_value", "_error")

    def __init__(self, value: Any, error: Exception | None = None) -> None:
        self._value = value
        self._error = error

    def result(self, timeout: float | None = None) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def done(self) -> bool:
        return True

    def add_done_callback(self, fn: Callable[["_Done"], None]) -> None:
        fn(self)


class LocalExecutor(Executor):
    """Run tasks one after another in this thread (the default).

    >>> LocalExecutor().submit(sum, [1, 2]).result()
    3
    """

    max_inflight = 1
    runs_inline = True

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> _Done:
        """Call ``fn`` now; an error is kept in the future, as other executors do (interrupts propagate)."""
        try:
            return _Done(fn(*args, **kwargs))
        except Exception as exc:
            return _Done(None, exc)

    def submit_then(self, callback: Callable[[Any], None], fn: Callable, *args: Any, **kwargs: Any) -> None:
        try:  # inlined submit(): this is the per-task path
            done = _Done(fn(*args, **kwargs))
        except Exception as exc:
            done = _Done(None, exc)
        callback(done)
