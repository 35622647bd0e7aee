"""The run context: ``perfect_nb.context``, as in Prefect 1.

Inside a task, ``context`` holds facts about the current run (``flow_name``,
``task_name``, ``map_index``, ``parameters``, ``today``, ``logger`` ...). It is a
read-mostly mapping stored in a :mod:`contextvars` variable, so each thread and
each task run sees its own values and nothing is deep-copied per task.

>>> from perfect_nb import context
>>> with context(answer=42):
...     context.answer, context.get("answer"), "answer" in context
(42, 42, True)
>>> context.get("answer", "gone")
'gone'
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
from typing import Any, Iterator

__all__ = ["Context", "context", "tags"]

_current: contextvars.ContextVar[dict] = contextvars.ContextVar("perfect_nb_context", default={})


def _date(ctx: dict) -> _dt.datetime:
    return ctx.get("scheduled_start_time") or _dt.datetime.now(_dt.timezone.utc)


def _day(offset: int, fmt: str):
    return lambda ctx: (_date(ctx) + _dt.timedelta(days=offset)).strftime(fmt)


def _logger(ctx: dict) -> logging.Logger:
    name = ctx.get("task_name")
    if name:
        return logging.getLogger(f"perfect_nb.Task: {name}")
    flow = ctx.get("flow_name")
    return logging.getLogger(f"perfect_nb.Flow: {flow}" if flow else "perfect_nb")


# Keys computed on access, so a task run pays nothing for keys it never reads.
_LAZY = {
    "date": _date,
    "today": _day(0, "%Y-%m-%d"),
    "yesterday": _day(-1, "%Y-%m-%d"),
    "tomorrow": _day(1, "%Y-%m-%d"),
    "today_nodash": _day(0, "%Y%m%d"),
    "yesterday_nodash": _day(-1, "%Y%m%d"),
    "tomorrow_nodash": _day(1, "%Y%m%d"),
    "logger": _logger,
}


class Context:
    """Attribute and mapping access to the current run's context.

    ``context(**kw)`` is a context manager that adds keys for the block.
    """

    __slots__ = ()

    @staticmethod
    def _data() -> dict:
        return _current.get()

    def get(self, key: str, default: Any = None) -> Any:
        data = _current.get()
        if key in data:
            return data[key]
        lazy = _LAZY.get(key)
        return lazy(data) if lazy is not None else default

    def __getitem__(self, key: str) -> Any:
        data = _current.get()
        if key in data:
            return data[key]
        if key in _LAZY:
            return _LAZY[key](data)
        raise KeyError(key)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"perfect_nb.context has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __contains__(self, key: object) -> bool:
        return key in _current.get() or key in _LAZY

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def keys(self):
        return self.to_dict().keys()

    def update(self, values: dict | None = None, **kw: Any) -> None:
        """Add keys to the current context (for the rest of this thread's run)."""
        _current.set({**_current.get(), **(values or {}), **kw})

    def to_dict(self) -> dict:
        data = dict(_current.get())
        for key, fn in _LAZY.items():
            data.setdefault(key, fn(data))
        return data

    @contextlib.contextmanager
    def __call__(self, values: dict | None = None, **kw: Any) -> Iterator["Context"]:
        token = _current.set({**_current.get(), **(values or {}), **kw})
        try:
            yield self
        finally:
            _current.reset(token)

    def __repr__(self) -> str:
        return f"<Context: {sorted(_current.get())}>"


context = Context()


@contextlib.contextmanager
def tags(*names: str) -> Iterator[None]:
    """Give every task created in the block these tags.

    >>> from perfect_nb import task, tags
    >>> with tags("db", "nightly"):
    ...     t = task(lambda: 1, name="load")
    >>> sorted(t.tags)
    ['db', 'nightly']
    """
    current = set(_current.get().get("tags", ()))
    with context(tags=current | set(names)):
        yield


def set_run_context(values: dict) -> contextvars.Token:
    """Replace the context for a run (engine use); returns the token to reset."""
    return _current.set(values)


def reset_run_context(token: contextvars.Token) -> None:
    _current.reset(token)


def current() -> dict:
    """The raw context dict (engine use; do not mutate)."""
    return _current.get()
