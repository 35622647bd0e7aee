"""Private argument checks for clocks, with messages that say what is allowed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from croniter import CroniterError, croniter


def check_interval(interval: Any) -> timedelta:
    """Return ``interval`` if it is a positive timedelta, else raise.

    Raises
    ------
    TypeError
        If ``interval`` is not a :class:`datetime.timedelta`.
    ValueError
        If ``interval`` is zero or negative.
    """
    if not isinstance(interval, timedelta):
        raise TypeError(
            "interval must be a datetime.timedelta such as timedelta(hours=1), "
            f"got {type(interval).__name__}: {interval!r}"
        )
    if interval <= timedelta(0):
        raise ValueError(
            f"interval must be a positive timedelta (at least 1 microsecond), got {interval!r}"
        )
    return interval


def check_cron(cron: Any, day_or: bool) -> str:
    """Return ``cron`` if croniter accepts it, else raise.

    Raises
    ------
    TypeError
        If ``cron`` is not a string.
    ValueError
        If croniter rejects it; the message quotes ``cron`` and croniter's reason.
    """
    if not isinstance(cron, str):
        raise TypeError(f"cron must be a string such as '0 9 * * *', got {cron!r}")
    try:
        croniter(cron, datetime(2000, 1, 1), day_or=day_or)
    except (CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"Invalid cron string {cron!r}: {exc}") from exc
    return cron
