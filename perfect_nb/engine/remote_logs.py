"""Task logs from workers in other processes, handled once, where the flow runs.

A task run on a process pool or a Dask worker logs in that process, where no
listener of the run is: neither the notebook's view, nor the backend's reporter,
nor the terminal the flow was started from. While such a task run goes on,
every record of a ``perfect_nb`` logger in it is sent up the run's event
channel (the same one its state changes take, so a task's logs arrive before
its Success) instead of being handled in the worker; the flow runner's process
then handles it in the task run's context, as if the task had run there.

>>> import logging
>>> got = []
>>> with forwarding(got.append):
...     logging.getLogger("perfect_nb.demo").warning("from a %s", "worker")
>>> got[0].message, got[0].levelname
('from a worker', 'WARNING')
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import traceback
from typing import Any, Callable, Iterator, NamedTuple

from perfect_nb.core import context as _context

__all__ = ["LogEntry", "forwarding", "relog"]

MAX_MESSAGE = 32_000  # characters of a message (and of its traceback) that travel
_CONTEXT_KEYS = ("flow_run_id", "task_run_id", "task_slug", "task_name", "task_full_name", "map_index")
_target: contextvars.ContextVar[Callable[[Any], None] | None] = contextvars.ContextVar("perfect_nb_log_target", default=None)


class LogEntry(NamedTuple):
    """A log record as it travels from a worker: plain values only."""

    name: str
    levelno: int
    levelname: str
    message: str
    exc_text: str | None
    created: float
    process: int
    context: dict


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + f"... [{len(text) - MAX_MESSAGE} more characters]"


class _Forwarder(logging.Handler):
    """On the ``perfect_nb`` logger of a worker: sends records of forwarded task runs."""

    def emit(self, record: logging.LogRecord) -> None:
        send = _target.get()
        if send is None:
            return
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        exc_text = record.exc_text
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        ctx = _context.current()
        send(LogEntry(record.name, record.levelno, record.levelname, _cut(message), exc_text and _cut(exc_text),
                      record.created, os.getpid(), {k: ctx.get(k) for k in _CONTEXT_KEYS}))


class _NotForwarded(logging.Filter):
    """On the worker's other handlers: a forwarded record is handled by the flow runner's process only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _target.get() is None


_FORWARDER, _NOT_FORWARDED = _Forwarder(), _NotForwarded()


def _install() -> None:
    logger = logging.getLogger("perfect_nb")
    if _FORWARDER not in logger.handlers:
        logger.addHandler(_FORWARDER)
    for handler in logger.handlers:
        if handler is not _FORWARDER and _NOT_FORWARDED not in handler.filters:
            handler.addFilter(_NOT_FORWARDED)


@contextlib.contextmanager
def forwarding(send: Callable[[LogEntry], None]) -> Iterator[None]:
    """Within this block (in this thread), records of ``perfect_nb`` loggers go to ``send``."""
    _install()
    token = _target.set(send)
    try:
        yield
    finally:
        _target.reset(token)


def relog(entry: LogEntry) -> None:
    """Handle a forwarded record here, in its task run's context."""
    record = logging.makeLogRecord({
        "name": entry.name, "levelno": entry.levelno, "levelname": entry.levelname, "msg": entry.message, "args": None,
        "exc_text": entry.exc_text, "created": entry.created, "msecs": (entry.created % 1) * 1000, "process": entry.process,
    })
    token = _context.set_run_context({**_context.current(), **{k: v for k, v in entry.context.items() if v is not None}})
    try:
        logging.getLogger(entry.name).handle(record)
    finally:
        _context.reset_run_context(token)
