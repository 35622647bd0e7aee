"""Logging set-up: concise by default, configured by an environment variable.

``PERFECT_NB_LOGGING_LEVEL`` (default ``INFO``) sets the level of the
``perfect_nb`` logger. At INFO a successful flow run logs nothing; a failing
task logs one line and a failed flow one more. Flow start and end and
per-task lines appear at DEBUG.
"""

from __future__ import annotations

import logging
import os

__all__ = ["configure_logging", "get_logger"]

FORMAT = "[%(asctime)s] %(levelname)s - %(name)s | %(message)s"


def configure_logging(level: str | None = None) -> logging.Logger:
    """Give the ``perfect_nb`` logger one stderr handler and the configured level."""
    logger = logging.getLogger("perfect_nb")
    level = (level or os.environ.get("PERFECT_NB_LOGGING_LEVEL", "INFO")).upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"PERFECT_NB_LOGGING_LEVEL={level!r} is not a logging level; use DEBUG, INFO, WARNING or ERROR.")
    logger.setLevel(level)
    if not any(getattr(h, "_perfect_nb", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._perfect_nb = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = False
    return logger


def get_logger(name: str | None = None) -> logging.Logger:
    """A child of the ``perfect_nb`` logger."""
    return logging.getLogger(f"perfect_nb.{name}" if name else "perfect_nb")
