"""Logging set-up: concise by default, configured by an environment variable.

``PERFECT_NB_LOGGING_LEVEL`` (default ``INFO``) sets the level of the
``perfect_nb`` logger. At INFO a successful flow run logs nothing; a failing
task logs one line and a failed flow one more. Flow start and end and
per-task lines appear at DEBUG.

A task logs to ``perfect_nb.<task name>`` (``self.logger``, ``context.logger``), as
Prefect 1's tasks log to ``prefect.<task name>``: so ``get_logger("Task B")`` is that
task's logger, and a handler added to it gets the task's records (they also reach the
``perfect_nb`` logger's handlers, its parent).

>>> import logging
>>> from perfect_nb import Flow, task
>>> seen = []
>>> class Keep(logging.Handler):
...     def emit(self, record):
...         seen.append((record.name, record.getMessage()))
>>> @task(name="Task B")
... def b():
...     b.logger.warning("from B")
>>> get_logger("Task B").addHandler(Keep())
>>> with Flow("logs") as flow:
...     _ = b()
>>> _ = flow.run()
>>> seen
[('perfect_nb.Task B', 'from B')]
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Iterator

__all__ = ["configure_logging", "get_logger", "is_task_record", "task_logger", "temporary_logger_config"]

FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"


def configure_logging(level: str | None = None) -> logging.Logger:
    """Give the ``perfect_nb`` logger one stderr handler and the configured level."""
    from perfect_nb.configuration import config  # [logging] level, format, datefmt (PREFECT__LOGGING__LEVEL too)

    settings = config.get("logging") or {}
    logger = logging.getLogger("perfect_nb")
    level = str(level or os.environ.get("PERFECT_NB_LOGGING_LEVEL") or settings.get("level") or "INFO").upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"Logging level {level!r} (PERFECT_NB_LOGGING_LEVEL, or logging.level in the configuration) "
                         "is not a logging level; use DEBUG, INFO, WARNING or ERROR.")
    logger.setLevel(level)
    if not any(getattr(h, "_perfect_nb", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(settings.get("format") or FORMAT, settings.get("datefmt") or None))
        handler._perfect_nb = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    return logger


def get_logger(name: str | None = None) -> logging.Logger:
    """The ``perfect_nb`` logger, or its child ``perfect_nb.<name>`` (a task's logger when
    ``name`` is the task's name), as Prefect 1's ``get_logger``."""
    return logging.getLogger(f"perfect_nb.{name}" if name else "perfect_nb")


_task_loggers: dict[str, logging.Logger] = {}


def task_logger(task_name: str) -> logging.Logger:
    """The logger a task's records go to: ``perfect_nb.<task name>`` (memoised: the engine
    asks for it on every log line)."""
    logger = _task_loggers.get(task_name)
    if logger is None:
        logger = _task_loggers[task_name] = logging.getLogger(f"perfect_nb.{task_name}")
    return logger


def is_task_record(record: logging.LogRecord) -> bool:
    """Whether ``record`` was logged by the task whose run is going on (its own logger)."""
    from perfect_nb.core.context import current

    name = current().get("task_name")
    return name is not None and record.name == f"perfect_nb.{name}"


@contextlib.contextmanager
def temporary_logger_config(level: int | str | None = None, stream_fmt: str | None = None,
                            stream_datefmt: str | None = None) -> Iterator[logging.Logger]:
    """For the block: the ``perfect_nb`` logger's level and its console format (Prefect 1's
    ``temporary_logger_config``); yields the logger and restores both after."""
    logger = logging.getLogger("perfect_nb")
    consoles = [h for h in logger.handlers if getattr(h, "_perfect_nb", False)]
    old_level, old_formats = logger.level, [h.formatter for h in consoles]
    try:
        if level is not None:
            logger.setLevel(level.upper() if isinstance(level, str) else level)
        if stream_fmt is not None or stream_datefmt is not None:
            for handler in consoles:
                current = handler.formatter
                handler.setFormatter(logging.Formatter(
                    stream_fmt if stream_fmt is not None else (current._fmt if current else FORMAT),
                    stream_datefmt if stream_datefmt is not None else (current.datefmt if current else None),
                ))
        yield logger
    finally:
        logger.setLevel(old_level)
        for handler, formatter in zip(consoles, old_formats):
            handler.setFormatter(formatter)
