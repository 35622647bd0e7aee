"""Schedule adjustments: ``Callable[[datetime], datetime]`` moves of run times.

A :class:`~perfect_nb.schedules.schedules.Schedule` applies its adjustments,
in order, to each time that passed its filters. Results keep the timezone of
the input; naive inputs are read as UTC.

Examples
--------
>>> from datetime import datetime, timedelta
>>> next_weekday(add(timedelta(days=1))(datetime(2024, 6, 7, 9))).isoformat()
'2024-06-10T09:00:00+00:00'
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from perfect_nb.schedules._spec import remember
from perfect_nb.schedules._time import ONE_DAY, ensure_aware, shift

__all__ = ["add", "next_weekday"]

Adjustment = Callable[[datetime], datetime]


def add(interval: timedelta) -> Adjustment:
    """Build an adjustment that adds ``interval`` to each time.

    Whole days move the local calendar day and keep the clock time (DST
    safe); the remainder is elapsed time. A negative interval moves earlier.

    Parameters
    ----------
    interval : timedelta
        The amount to add.

    Raises
    ------
    TypeError
        If ``interval`` is not a :class:`datetime.timedelta`.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> ny = ZoneInfo("America/New_York")
    >>> add(timedelta(days=1))(datetime(2024, 3, 9, 9, tzinfo=ny)).isoformat()
    '2024-03-10T09:00:00-04:00'
    >>> add(timedelta(minutes=30))(datetime(2024, 3, 9, 9)).isoformat()
    '2024-03-09T09:30:00+00:00'
    """
    if not isinstance(interval, timedelta):
        raise TypeError(
            "interval must be a datetime.timedelta such as timedelta(hours=1), "
            f"got {type(interval).__name__}: {interval!r}"
        )

    def _add(dt: datetime) -> datetime:
        return shift(dt, interval)

    return remember(_add, "add", interval=interval)


def next_weekday(dt: datetime) -> datetime:
    """Move a Saturday or Sunday to the following Monday, same clock time.

    Weekdays are returned unchanged.

    Examples
    --------
    >>> from datetime import datetime
    >>> next_weekday(datetime(2024, 6, 8, 9)).isoformat()  # Saturday
    '2024-06-10T09:00:00+00:00'
    >>> next_weekday(datetime(2024, 6, 5, 9)).isoformat()  # Wednesday
    '2024-06-05T09:00:00+00:00'
    """
    dt = ensure_aware(dt, "dt")
    while dt.weekday() >= 5:
        dt = shift(dt, ONE_DAY)
    return dt
