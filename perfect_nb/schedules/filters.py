"""Schedule filters: ``Callable[[datetime], bool]`` predicates on candidate times.

Some are filters themselves (:func:`is_weekday`); the others are factories
that build one (:func:`at_time`). Calendar and clock-time tests look at the
candidate's *local* wall clock, i.e. in the timezone of the clock that
produced it. Naive datetimes, as arguments or candidates, are read as UTC.

Examples
--------
>>> from datetime import datetime, time
>>> is_weekend(datetime(2024, 6, 1))  # a Saturday
True
>>> at_time(time(9, 30))(datetime(2024, 6, 1, 9, 30))
True
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time
from typing import Callable

from perfect_nb.schedules._spec import remember
from perfect_nb.schedules._time import ensure_aware, instant

__all__ = [
    "at_time",
    "between_dates",
    "between_datetimes",
    "between_times",
    "is_month_end",
    "is_month_start",
    "is_weekday",
    "is_weekend",
    "on_date",
    "on_datetime",
]

Filter = Callable[[datetime], bool]


def on_datetime(dt: datetime) -> Filter:
    """Allow only the exact instant ``dt``.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> only = on_datetime(datetime(2024, 1, 1, 12))
    >>> only(datetime(2024, 1, 1, 12, tzinfo=timezone.utc)), only(datetime(2024, 1, 1))
    (True, False)
    """
    target = instant(ensure_aware(dt, "dt"))

    def _on_datetime(candidate: datetime) -> bool:
        return instant(candidate) == target

    return remember(_on_datetime, "on_datetime", dt=dt)


def on_date(month: int, day: int) -> Filter:
    """Allow times on a given month and day of any year.

    Examples
    --------
    >>> from datetime import datetime
    >>> on_date(12, 25)(datetime(2030, 12, 25, 8))
    True
    """
    _check_month_day(month, day)

    def _on_date(candidate: datetime) -> bool:
        return (candidate.month, candidate.day) == (month, day)

    return remember(_on_date, "on_date", month=month, day=day)


def at_time(t: time) -> Filter:
    """Allow times whose local clock time is exactly ``t``.

    Parameters
    ----------
    t : datetime.time
        A naive time, compared with each candidate's local wall-clock time.

    Examples
    --------
    >>> from datetime import datetime, time
    >>> at_time(time(4))(datetime(2024, 1, 1, 4)), at_time(time(4))(datetime(2024, 1, 1, 5))
    (True, False)
    """
    _check_time(t, "t")

    def _at_time(candidate: datetime) -> bool:
        return candidate.time() == t

    return remember(_at_time, "at_time", t=t)


def between_datetimes(start: datetime, end: datetime) -> Filter:
    """Allow instants from ``start`` to ``end``, both included.

    Examples
    --------
    >>> from datetime import datetime
    >>> f = between_datetimes(datetime(2024, 1, 1), datetime(2024, 1, 31))
    >>> f(datetime(2024, 1, 31)), f(datetime(2024, 2, 1))
    (True, False)
    """
    lo = instant(ensure_aware(start, "start"))
    hi = instant(ensure_aware(end, "end"))

    def _between_datetimes(candidate: datetime) -> bool:
        return lo <= instant(candidate) <= hi

    return remember(_between_datetimes, "between_datetimes", start=start, end=end)


def between_dates(start_month: int, start_day: int, end_month: int, end_day: int) -> Filter:
    """Allow days from one month/day to another in every year, both included.

    If the start comes after the end, the range wraps over New Year:
    ``between_dates(10, 15, 3, 31)`` allows October 15 to March 31.

    Examples
    --------
    >>> from datetime import datetime
    >>> winter = between_dates(10, 15, 3, 31)
    >>> winter(datetime(2024, 1, 10)), winter(datetime(2024, 7, 4))
    (True, False)
    """
    _check_month_day(start_month, start_day)
    _check_month_day(end_month, end_day)
    return remember(
        _wrapping_range((start_month, start_day), (end_month, end_day), _month_day),
        "between_dates",
        start_month=start_month, start_day=start_day, end_month=end_month, end_day=end_day,
    )


def between_times(start: time, end: time) -> Filter:
    """Allow local clock times from ``start`` to ``end``, both included.

    If ``start`` is later than ``end`` the range wraps over midnight:
    ``between_times(time(22), time(2))`` allows 10pm to 2am.

    Examples
    --------
    >>> from datetime import datetime, time
    >>> office = between_times(time(9), time(17))
    >>> office(datetime(2024, 1, 1, 17)), office(datetime(2024, 1, 1, 17, 1))
    (True, False)
    """
    _check_time(start, "start")
    _check_time(end, "end")
    return remember(_wrapping_range(start, end, _clock_time), "between_times", start=start, end=end)


def is_weekday(dt: datetime) -> bool:
    """True from Monday to Friday.

    Examples
    --------
    >>> from datetime import datetime
    >>> is_weekday(datetime(2024, 6, 3)), is_weekday(datetime(2024, 6, 2))
    (True, False)
    """
    return dt.weekday() < 5


def is_weekend(dt: datetime) -> bool:
    """True on Saturday and Sunday.

    Examples
    --------
    >>> from datetime import datetime
    >>> is_weekend(datetime(2024, 6, 2))
    True
    """
    return dt.weekday() >= 5


def is_month_start(dt: datetime) -> bool:
    """True on the first day of a month.

    Examples
    --------
    >>> from datetime import datetime
    >>> is_month_start(datetime(2024, 3, 1, 23))
    True
    """
    return dt.day == 1


def is_month_end(dt: datetime) -> bool:
    """True on the last day of a month (leap years included).

    Examples
    --------
    >>> from datetime import datetime
    >>> is_month_end(datetime(2024, 2, 29)), is_month_end(datetime(2023, 2, 28))
    (True, True)
    """
    return dt.day == calendar.monthrange(dt.year, dt.month)[1]


def _month_day(dt: datetime) -> tuple[int, int]:
    return (dt.month, dt.day)


def _clock_time(dt: datetime) -> time:
    return dt.time()


def _wrapping_range(lo, hi, key: Callable) -> Filter:
    """Filter on ``lo <= key(dt) <= hi``, wrapping around when ``lo > hi``."""

    def _in_range(candidate: datetime) -> bool:
        value = key(candidate)
        if lo <= hi:
            return lo <= value <= hi
        return value >= lo or value <= hi

    return _in_range


def _check_month_day(month: int, day: int) -> None:
    try:
        date(2000, month, day)  # a leap year, so February 29 is allowed
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"invalid month/day ({month!r}, {day!r}): month must be 1-12 and "
            f"day must exist in that month ({exc})"
        ) from None


def _check_time(value: time, name: str) -> None:
    if not isinstance(value, time):
        raise TypeError(f"{name} must be a datetime.time, got {value!r}")
    if value.tzinfo is not None:
        raise ValueError(
            f"{name} must be a naive datetime.time; it is compared with each "
            f"event's local wall-clock time, so a timezone on it has no meaning ({value!r})"
        )
