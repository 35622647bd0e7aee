"""LocalExecutor: runs each task in the calling thread, one at a time."""

from __future__ import annotations

from typing import Any, Callable

from perfect_nb.executors.base import Executor

__all__ = ["LocalExecutor"]


class _Done:
    """An already-finished future."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
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

    def submit(self, fn: Callable, *args: Any, **kwargs: Any) -> _Done:
        return _Done(fn(*args, **kwargs))

    def submit_then(self, callback: Callable[[Any], None], fn: Callable, *args: Any, **kwargs: Any) -> None:
        callback(_Done(fn(*args, **kwargs)))
