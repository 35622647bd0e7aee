"""Schedules: clocks merged, filtered and adjusted into run times.

Examples
--------
>>> from datetime import datetime, timedelta
>>> schedule = IntervalSchedule(start_date=datetime(2024, 1, 1), interval=timedelta(hours=12))
>>> [t.isoformat() for t in schedule.next(3, after=datetime(2024, 1, 1))]
['2024-01-01T12:00:00+00:00', '2024-01-02T00:00:00+00:00', '2024-01-02T12:00:00+00:00']
"""

from __future__ import annotations

import heapq
import itertools
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator

from perfect_nb.schedules._time import instant, resolve_after
from perfect_nb.schedules.clocks import Clock, ClockEvent, CronClock, IntervalClock

__all__ = ["CronSchedule", "IntervalSchedule", "Schedule"]

#: Consecutive candidates filters may reject before a search gives up, so a
#: filter that never passes cannot hang ``next()``.
MAX_REJECTED = 10_000


class Schedule:
    """Run times from one or more clocks, filtered and adjusted.

    For every candidate event, in time order across all clocks:

    1. every function in ``filters`` must return True,
    2. if ``or_filters`` is given, at least one of them must return True,
    3. every function in ``not_filters`` must return False,
    4. then each of ``adjustments`` is applied in turn to its time.

    Events at the same time from different clocks are both kept if their
    parameter defaults or labels differ (each is a separate run); exact
    duplicates are emitted once.

    Parameters
    ----------
    clocks : list of Clock
        At least one clock.
    filters, or_filters, not_filters : list of callable, optional
        ``Callable[[datetime], bool]``, e.g. from :mod:`~perfect_nb.schedules.filters`.
    adjustments : list of callable, optional
        ``Callable[[datetime], datetime]``, e.g. from :mod:`~perfect_nb.schedules.adjustments`.

    Raises
    ------
    TypeError
        If ``clocks`` holds something that is not a Clock, or a filter or
        adjustment is not callable.
    ValueError
        If ``clocks`` is empty.

    Examples
    --------
    Weekdays at 9am, moved to 9:30:

    >>> from datetime import datetime, timedelta
    >>> from perfect_nb.schedules import adjustments, clocks, filters
    >>> schedule = Schedule(
    ...     clocks=[clocks.IntervalClock(timedelta(days=1), start_date=datetime(2024, 6, 1, 9))],
    ...     filters=[filters.is_weekday],
    ...     adjustments=[adjustments.add(timedelta(minutes=30))],
    ... )
    >>> [t.strftime("%a %H:%M") for t in schedule.next(3, after=datetime(2024, 6, 1))]
    ['Mon 09:30', 'Tue 09:30', 'Wed 09:30']
    """

    def __init__(
        self,
        clocks: Iterable[Clock],
        filters: Iterable[Callable] | None = None,
        or_filters: Iterable[Callable] | None = None,
        not_filters: Iterable[Callable] | None = None,
        adjustments: Iterable[Callable] | None = None,
    ) -> None:
        self.clocks = _check_clocks(clocks)
        self.filters = _check_callables(filters, "filters")
        self.or_filters = _check_callables(or_filters, "or_filters")
        self.not_filters = _check_callables(not_filters, "not_filters")
        self.adjustments = _check_callables(adjustments, "adjustments")

    def __repr__(self) -> str:
        return f"Schedule(clocks={self.clocks!r})"

    @property
    def start_date(self) -> datetime | None:
        """The earliest clock ``start_date``, or None if no clock has one."""
        starts = [c.start_date for c in self.clocks if c.start_date is not None]
        return min(starts, key=instant, default=None)

    @property
    def end_date(self) -> datetime | None:
        """The latest clock ``end_date``, or None if any clock runs forever."""
        ends = [c.end_date for c in self.clocks]
        return None if None in ends else max(ends, key=instant)

    def next(
        self, n: int, after: datetime | None = None, return_events: bool = False
    ) -> list:
        """The next ``n`` run times strictly after ``after`` (default: now).

        Parameters
        ----------
        n : int
            How many to return; fewer come back if the clocks run out.
        after : datetime, optional
            Only candidates later than this are considered (naive means UTC).
        return_events : bool, default False
            Return :class:`ClockEvent` objects (with parameter defaults and
            labels) instead of datetimes.

        Returns
        -------
        list of datetime or list of ClockEvent

        Examples
        --------
        >>> from datetime import datetime
        >>> schedule = CronSchedule("0 0 1 * *", start_date=datetime(2024, 1, 1))
        >>> [t.date().isoformat() for t in schedule.next(2, after=datetime(2024, 1, 1))]
        ['2024-02-01', '2024-03-01']
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        events = list(itertools.islice(self.emit_events(after=after), n))
        return events if return_events else [e.start_time for e in events]

    def emit_events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield filtered, adjusted :class:`ClockEvent` objects after ``after``.

        The generator ends when every clock is exhausted, or after
        ``MAX_REJECTED`` candidates in a row fail the filters.

        Examples
        --------
        >>> from datetime import datetime
        >>> from perfect_nb.schedules.clocks import DatesClock
        >>> schedule = Schedule([DatesClock([datetime(2024, 1, 1)], parameter_defaults={"x": 1})])
        >>> list(schedule.emit_events(after=datetime(2023, 1, 1)))
        [ClockEvent(2024-01-01T00:00:00+00:00, parameter_defaults={'x': 1})]
        """
        rejected = 0
        for event in self._candidates(resolve_after(after)):
            if self._passes(event.start_time):
                rejected = 0
                yield self._adjust(event)
            else:
                rejected += 1
                if rejected >= MAX_REJECTED:
                    return

    def _candidates(self, after: datetime) -> Iterator[ClockEvent]:
        """All clocks' events merged in time order, exact duplicates dropped.

        Ties keep the order of ``self.clocks``.
        """
        streams = (clock.events(after=after) for clock in self.clocks)
        merged = heapq.merge(*streams, key=_instant_of)
        for _, same_time in itertools.groupby(merged, key=_instant_of):
            seen: list[ClockEvent] = []
            for event in same_time:
                if event not in seen:
                    seen.append(event)
                    yield event

    def _passes(self, when: datetime) -> bool:
        return (
            all(f(when) for f in self.filters)
            and (not self.or_filters or any(f(when) for f in self.or_filters))
            and not any(f(when) for f in self.not_filters)
        )

    def _adjust(self, event: ClockEvent) -> ClockEvent:
        when = event.start_time
        for adjustment in self.adjustments:
            when = adjustment(when)
        return ClockEvent(when, event.parameter_defaults, event.labels)


def IntervalSchedule(  # noqa: N802 - a class-like factory, named as in Prefect 1
    start_date: datetime | None = None,
    interval: timedelta | None = None,
    end_date: datetime | None = None,
) -> Schedule:
    """A :class:`Schedule` with one :class:`~perfect_nb.schedules.clocks.IntervalClock`.

    Parameters
    ----------
    start_date : datetime, optional
        First run and anchor (default 2019-01-01 00:00 UTC; naive means UTC).
    interval : timedelta
        Time between runs; required and positive.
    end_date : datetime, optional
        No run after this instant.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> schedule = IntervalSchedule(datetime(2024, 1, 1), timedelta(minutes=15))
    >>> [t.strftime("%H:%M") for t in schedule.next(2, after=datetime(2024, 1, 1, 0, 20))]
    ['00:30', '00:45']
    """
    clock = IntervalClock(interval=interval, start_date=start_date, end_date=end_date)
    return Schedule(clocks=[clock])


def CronSchedule(  # noqa: N802 - a class-like factory, named as in Prefect 1
    cron: str,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    day_or: bool | None = None,
) -> Schedule:
    """A :class:`Schedule` with one :class:`~perfect_nb.schedules.clocks.CronClock`.

    Parameters
    ----------
    cron : str
        A cron expression croniter accepts.
    start_date : datetime, optional
        No run before it; its timezone is where ``cron`` is read (default UTC).
    end_date : datetime, optional
        No run after this instant.
    day_or : bool, optional
        True (default): day-of-month OR day-of-week; False: both must match.

    Examples
    --------
    >>> from datetime import datetime
    >>> schedule = CronSchedule("30 8 * * 1", start_date=datetime(2024, 1, 1))
    >>> [t.isoformat() for t in schedule.next(2, after=datetime(2024, 1, 1))]
    ['2024-01-01T08:30:00+00:00', '2024-01-08T08:30:00+00:00']
    """
    clock = CronClock(cron=cron, start_date=start_date, end_date=end_date, day_or=day_or)
    return Schedule(clocks=[clock])


def _instant_of(event: ClockEvent) -> datetime:
    return instant(event.start_time)


def _check_clocks(clocks: Iterable[Clock]) -> list[Clock]:
    if isinstance(clocks, Clock):
        raise TypeError("clocks must be a list of clocks; wrap a single clock: [clock]")
    try:
        clocks = list(clocks)
    except TypeError:
        raise TypeError(f"clocks must be a list of Clock objects, got {clocks!r}") from None
    if not clocks:
        raise ValueError("A Schedule needs at least one clock.")
    for clock in clocks:
        if not isinstance(clock, Clock):
            raise TypeError(f"clocks must contain Clock objects, got {clock!r}")
    return clocks


def _check_callables(funcs: Iterable[Callable] | None, name: str) -> list[Callable]:
    funcs = list(funcs or [])
    for func in funcs:
        if not callable(func):
            raise TypeError(
                f"{name} must be a list of functions taking one datetime, got {func!r}"
            )
    return funcs
