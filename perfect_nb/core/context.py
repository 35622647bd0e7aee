"""The run context: ``perfect_nb.context``, as in Prefect 1.

Inside a task, ``context`` holds facts about the current run: ``flow_name``,
``flow_run_id``, ``parameters``, ``scheduled_start_time``, ``date`` (when the flow
run started, a timezone-aware UTC ``datetime``) and its strings ``today``,
``yesterday``, ``tomorrow`` (and ``*_nodash``), ``task_name``, ``task_run_count``,
``map_index``, ``checkpointing``, ``logger`` ... Outside a run it holds ``config``
(``perfect_nb.config``), ``logger`` and every key of the ``[context]`` configuration
section (``PERFECT_NB__CONTEXT__KEY`` / ``PREFECT__CONTEXT__KEY`` variables included).

It is a mapping stored in a :mod:`contextvars` variable, so each thread and each task
run sees its own values (a new thread starts from the configured keys only) and
nothing is deep-copied per task.

>>> from perfect_nb import context
>>> with context(answer=42):
...     context.answer, context.get("answer"), "answer" in context
(42, 42, True)
>>> context.get("answer", "gone")
'gone'
>>> "today" in context  # the date keys belong to a flow run
False
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import logging
from collections.abc import MutableMapping
from typing import Any, Iterator

from perfect_nb.configuration import config as _config

from perfect_nb.utilities.logging import task_logger

__all__ = ["Context", "context", "tags"]


def _configured() -> dict:
    """What every thread's context starts with: the config and its ``[context]`` keys."""
    base: dict = {}
    section = _config.get("context")
    if isinstance(section, dict):
        base.update(section)
    base["config"] = _config
    return base


_current: contextvars.ContextVar[dict] = contextvars.ContextVar("perfect_nb_context", default=_configured())


def _day(offset: int, fmt: str):
    def value(ctx: dict) -> str:
        return (ctx["date"] + _dt.timedelta(days=offset)).strftime(fmt)
    return value


def _logger(ctx: dict) -> logging.Logger:
    name = ctx.get("task_name")
    if name:
        return task_logger(name)
    flow = ctx.get("flow_name")
    return logging.getLogger(f"perfect_nb.Flow: {flow}" if flow else "perfect_nb")


# Keys computed on access, so a task run pays nothing for keys it never reads.
# The date strings exist where ``date`` does (a flow run sets it); ``task_id`` is the task's slug.
_DATES = {
    "today": _day(0, "%Y-%m-%d"),
    "yesterday": _day(-1, "%Y-%m-%d"),
    "tomorrow": _day(1, "%Y-%m-%d"),
    "today_nodash": _day(0, "%Y%m%d"),
    "yesterday_nodash": _day(-1, "%Y%m%d"),
    "tomorrow_nodash": _day(1, "%Y%m%d"),
}
_LAZY = {**_DATES, "logger": _logger, "task_id": lambda ctx: ctx["task_slug"]}
_NEEDS = {**dict.fromkeys(_DATES, "date"), "task_id": "task_slug"}  # computed only where this key is


def lazy_value(ctx: dict, key: str) -> Any:
    """The computed key ``key`` of ``ctx`` (``KeyError`` when ``ctx`` has no such key)."""
    fn = _LAZY.get(key)
    needs = _NEEDS.get(key)
    if fn is None or (needs is not None and needs not in ctx):
        raise KeyError(key)
    return fn(ctx)


def _lazy_keys(ctx: dict) -> tuple:
    return tuple(key for key in _LAZY if key not in _NEEDS or _NEEDS[key] in ctx)


class Context(MutableMapping):
    """Attribute and mapping access to the current run's context.

    ``context(**kw)`` (or ``context({...})``) is a context manager that adds keys for the
    block; ``update``, ``context.key = value`` and ``context[key] = value`` add them for the
    rest of the current run (or thread).
    """

    __slots__ = ()

    def get(self, key: str, default: Any = None) -> Any:
        data = _current.get()
        if key in data:
            return data[key]
        try:
            return lazy_value(data, key)
        except KeyError:
            return default

    def __getitem__(self, key: str) -> Any:
        data = _current.get()
        if key in data:
            return data[key]
        return lazy_value(data, key)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"perfect_nb.context has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        data = dict(_current.get())
        del data[key]
        _current.set(data)

    def __delattr__(self, key: str) -> None:
        try:
            del self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __contains__(self, key: object) -> bool:
        data = _current.get()
        return key in data or key == "logger" or (key in _NEEDS and _NEEDS[key] in data)

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def update(self, values: Any = None, **kw: Any) -> None:  # type: ignore[override]
        """Add keys to the current context (for the rest of this thread's run)."""
        _current.set({**_current.get(), **dict(values or {}), **kw})

    def to_dict(self) -> dict:
        """The keys and values now, computed ones included, as a plain dict."""
        data = dict(_current.get())
        for key in _lazy_keys(data):
            if key not in data:
                data[key] = _LAZY[key](data)
        return data

    def copy(self) -> dict:
        return self.to_dict()

    @contextlib.contextmanager
    def __call__(self, values: Any = None, **kw: Any) -> Iterator["Context"]:
        token = _current.set({**_current.get(), **dict(values or {}), **kw})
        try:
            yield self
        finally:
            _current.reset(token)

    def __repr__(self) -> str:
        return f"<Context: {sorted(_current.get())}>"

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, dict) and self.to_dict() == other)

    __hash__ = object.__hash__


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


def run_date(given: Any, warn: Any = None) -> _dt.datetime:
    """The ``date`` of a flow run: the one given in its context (a datetime, or an ISO
    string, read as UTC when it has no offset), else now in UTC."""
    if isinstance(given, str):
        try:
            given = _dt.datetime.fromisoformat(given)
        except ValueError:
            pass
    if isinstance(given, _dt.datetime):
        return given if given.tzinfo is not None else given.replace(tzinfo=_dt.timezone.utc)
    if given is not None and warn is not None:
        warn("`date` was set in the context to %r, which is not a datetime or an ISO date string; "
             "`today`, `yesterday` and `tomorrow` use the current time instead.", given)
    return _dt.datetime.now(_dt.timezone.utc)
