"""Clocks: generators of candidate run times (:class:`ClockEvent`).

A clock only says *when*; a :class:`~perfect_nb.schedules.schedules.Schedule`
merges clocks and applies filters and adjustments. Every clock yields events
strictly after ``after`` (default: now), never before its ``start_date`` and
never after its ``end_date`` (both inclusive bounds).

Naive datetimes given to any clock are treated as UTC; every emitted
``start_time`` is timezone-aware.

Examples
--------
>>> from datetime import datetime, timedelta
>>> clock = IntervalClock(timedelta(hours=6), start_date=datetime(2024, 1, 1))
>>> events = clock.events(after=datetime(2024, 1, 1, 5))
>>> [next(events).start_time.isoformat() for _ in range(2)]
['2024-01-01T06:00:00+00:00', '2024-01-01T12:00:00+00:00']
"""

from __future__ import annotations

import abc
from datetime import datetime, timedelta, tzinfo
from typing import Iterable, Iterator

from croniter import CroniterBadDateError, croniter

from perfect_nb.schedules._event import ClockEvent
from perfect_nb.schedules._time import (
    ONE_DAY,
    UTC,
    ensure_aware,
    instant,
    localize,
    optional_aware,
    resolve_after,
    wall,
)
from perfect_nb.schedules._validate import check_cron, check_interval

__all__ = ["Clock", "ClockEvent", "CronClock", "DatesClock", "IntervalClock", "RRuleClock"]

#: IntervalClock's anchor when no start_date is given (as in Prefect 1).
DEFAULT_START = datetime(2019, 1, 1, tzinfo=UTC)


class Clock(abc.ABC):
    """Base class for clocks.

    Parameters
    ----------
    start_date : datetime, optional
        No event is emitted before this instant (naive means UTC).
    end_date : datetime, optional
        No event is emitted after this instant (naive means UTC).
    parameter_defaults : dict, optional
        Parameter values attached to every event of this clock.
    labels : list of str, optional
        Labels attached to every event of this clock.

    Raises
    ------
    ValueError
        If ``end_date`` is before ``start_date``.
    """

    def __init__(
        self,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        self.start_date = optional_aware(start_date, "start_date")
        self.end_date = optional_aware(end_date, "end_date")
        if self._bounded() and instant(self.end_date) < instant(self.start_date):
            raise ValueError(
                f"end_date ({self.end_date.isoformat()}) is before start_date "
                f"({self.start_date.isoformat()}); the clock would never fire."
            )
        self.parameter_defaults = dict(parameter_defaults or {})
        self.labels = list(labels or [])

    @abc.abstractmethod
    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield :class:`ClockEvent` objects in time order, strictly after ``after``."""

    def _bounded(self) -> bool:
        return self.start_date is not None and self.end_date is not None

    def _event(self, start_time: datetime) -> ClockEvent:
        return ClockEvent(start_time, self.parameter_defaults, self.labels)

    def _in_bounds(self, when: datetime, after: datetime) -> bool:
        """``when`` is later than ``after`` (a UTC instant) and not before the start."""
        moment = instant(when)
        if self.start_date is not None and moment < instant(self.start_date):
            return False
        return moment > after

    def _past_end(self, when: datetime) -> bool:
        return self.end_date is not None and instant(when) > instant(self.end_date)


class IntervalClock(Clock):
    """A clock that fires every ``interval`` from ``start_date``.

    Parameters
    ----------
    interval : timedelta
        Time between events; must be positive.
    start_date : datetime, optional
        The first event and the anchor of the series. Defaults to
        2019-01-01 00:00 UTC. Its timezone is the timezone of the events.
    end_date, parameter_defaults, labels
        See :class:`Clock`.

    Raises
    ------
    TypeError
        If ``interval`` is not a :class:`datetime.timedelta`.
    ValueError
        If ``interval`` is zero or negative.

    Notes
    -----
    Intervals shorter than one day are elapsed time: an hourly clock fires
    every UTC hour, so across a fall-back change two events show 1am local.
    Intervals of one day or more step the local wall clock, so a daily clock
    started at 9am America/New_York keeps firing at 9am local through DST.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> start = datetime(2024, 3, 9, 9, tzinfo=ZoneInfo("America/New_York"))
    >>> clock = IntervalClock(timedelta(days=1), start_date=start)
    >>> events = clock.events(after=datetime(2024, 3, 9))
    >>> [next(events).start_time.isoformat() for _ in range(2)]
    ['2024-03-09T09:00:00-05:00', '2024-03-10T09:00:00-04:00']
    """

    def __init__(
        self,
        interval: timedelta,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        self.interval = check_interval(interval)
        start = DEFAULT_START if start_date is None else start_date
        super().__init__(start, end_date, parameter_defaults, labels)
        self._on_wall_clock = self.interval >= ONE_DAY

    def __repr__(self) -> str:
        return f"IntervalClock(interval={self.interval!r}, start_date={self.start_date!r})"

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield events at ``start_date + k * interval`` strictly after ``after``."""
        after = resolve_after(after)
        k = self._first_index(after)
        while True:
            when = self._nth(k)
            if self._past_end(when):
                return
            if self._in_bounds(when, after):
                yield self._event(when)
            k += 1

    def _nth(self, k: int) -> datetime:
        start = self.start_date
        if k == 0:
            return start
        if self._on_wall_clock:
            return localize(wall(start) + k * self.interval, start.tzinfo)
        return (start.astimezone(UTC) + k * self.interval).astimezone(start.tzinfo)

    def _first_index(self, after: datetime) -> int:
        """Index of the first event after ``after`` (or a little before it)."""
        if after < instant(self.start_date):
            return 0
        if not self._on_wall_clock:
            return (after - instant(self.start_date)) // self.interval + 1
        local_after = wall(after.astimezone(self.start_date.tzinfo))
        return max(0, (local_after - wall(self.start_date)) // self.interval - 1)


class CronClock(Clock):
    """A clock that fires on a cron expression, in ``start_date``'s timezone.

    Parameters
    ----------
    cron : str
        Any expression :mod:`croniter` accepts, e.g. ``"0 9 * * 1-5"``.
    start_date : datetime, optional
        No event before it. Its timezone (UTC if none is given) is the zone
        in which the cron expression is read.
    end_date, parameter_defaults, labels
        See :class:`Clock`.
    day_or : bool, optional
        How day-of-month and day-of-week combine: ``True`` (the default, as
        in cron) fires when either matches, ``False`` only when both match.

    Raises
    ------
    TypeError
        If ``cron`` is not a string.
    ValueError
        If croniter rejects ``cron``; the message quotes the expression.

    Notes
    -----
    Cron follows the local wall clock: an hourly expression fires at each new
    local hour. A time skipped by a spring-forward change fires right after
    the gap (2:30am becomes 3:30am); a time repeated by a fall-back change
    fires only at its first occurrence.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> start = datetime(2024, 3, 1, tzinfo=ZoneInfo("America/New_York"))
    >>> clock = CronClock("0 9 * * *", start_date=start)
    >>> events = clock.events(after=datetime(2024, 3, 9, 15))
    >>> [next(events).start_time.isoformat() for _ in range(2)]
    ['2024-03-10T09:00:00-04:00', '2024-03-11T09:00:00-04:00']
    """

    def __init__(
        self,
        cron: str,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict | None = None,
        labels: Iterable[str] | None = None,
        day_or: bool | None = None,
    ) -> None:
        self.day_or = True if day_or is None else bool(day_or)
        self.cron = check_cron(cron, self.day_or)
        super().__init__(start_date, end_date, parameter_defaults, labels)

    def __repr__(self) -> str:
        return f"CronClock(cron={self.cron!r}, start_date={self.start_date!r})"

    @property
    def timezone(self) -> tzinfo:
        """The zone the cron expression is read in (``start_date``'s, or UTC)."""
        return UTC if self.start_date is None else self.start_date.tzinfo

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield events matching the cron expression strictly after ``after``."""
        after = resolve_after(after)
        last = after
        for when in self._local_matches(after):
            if self._past_end(when):
                return
            if instant(when) > last and self._in_bounds(when, after):
                last = instant(when)
                yield self._event(when)

    def _local_matches(self, after: datetime) -> Iterator[datetime]:
        begin = after
        if self.start_date is not None and after < instant(self.start_date):
            begin = instant(self.start_date) - timedelta(seconds=1)
        tz = self.timezone
        it = croniter(self.cron, wall(begin.astimezone(tz)), day_or=self.day_or)
        while True:
            try:
                yield localize(it.get_next(datetime), tz)
            except CroniterBadDateError:  # the expression never matches again
                return


class DatesClock(Clock):
    """A clock that fires at a fixed list of dates.

    Parameters
    ----------
    dates : iterable of datetime
        The instants to fire at (naive means UTC); duplicates fire once.
    parameter_defaults, labels
        See :class:`Clock`.

    Raises
    ------
    ValueError
        If ``dates`` is empty.

    Examples
    --------
    >>> from datetime import datetime
    >>> clock = DatesClock([datetime(2024, 5, 2), datetime(2024, 5, 1)])
    >>> [e.start_time.isoformat() for e in clock.events(after=datetime(2024, 1, 1))]
    ['2024-05-01T00:00:00+00:00', '2024-05-02T00:00:00+00:00']
    """

    def __init__(
        self,
        dates: Iterable[datetime],
        parameter_defaults: dict | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        by_instant: dict[datetime, datetime] = {}
        for when in dates:
            aware = ensure_aware(when, "each of dates")
            by_instant.setdefault(instant(aware), aware)
        self.dates = [by_instant[key] for key in sorted(by_instant)]
        if not self.dates:
            raise ValueError("DatesClock needs at least one date.")
        super().__init__(self.dates[0], self.dates[-1], parameter_defaults, labels)

    def __repr__(self) -> str:
        return f"DatesClock(dates={self.dates!r})"

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield an event for each date strictly after ``after``, in order."""
        after = resolve_after(after)
        for when in self.dates:
            if instant(when) > after:
                yield self._event(when)


class RRuleClock(Clock):
    """A clock that fires on a :mod:`dateutil.rrule` recurrence (an ``rrule`` or ``rruleset``).

    Parameters
    ----------
    rrule_obj : dateutil.rrule.rrule or rruleset
        The recurrence; it is read in its ``dtstart``'s timezone (a naive
        ``dtstart`` means UTC, as everywhere in this package).
    start_date, end_date, parameter_defaults, labels
        See :class:`Clock`. As in Prefect 1 they bound the events; they are not
        taken from the rule's ``dtstart`` or ``until``.

    Raises
    ------
    TypeError
        If ``rrule_obj`` is not an ``rrule`` or ``rruleset``.

    Notes
    -----
    A wall-clock time inside a spring-forward gap fires right after the gap, as
    for :class:`CronClock`.

    Examples
    --------
    >>> from datetime import datetime
    >>> from dateutil import rrule
    >>> rule = rrule.rrule(rrule.WEEKLY, byweekday=(rrule.MO, rrule.FR), dtstart=datetime(2030, 1, 1, 8))
    >>> clock = RRuleClock(rule, end_date=datetime(2030, 1, 11, 8))
    >>> [e.start_time.isoformat() for e in clock.events(after=datetime(2030, 1, 1))]
    ['2030-01-04T08:00:00+00:00', '2030-01-07T08:00:00+00:00', '2030-01-11T08:00:00+00:00']
    """

    def __init__(
        self,
        rrule_obj,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        parameter_defaults: dict | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        from dateutil.rrule import rrulebase

        if not isinstance(rrule_obj, rrulebase):
            raise TypeError(
                f"RRuleClock needs a dateutil.rrule.rrule or rruleset, got {type(rrule_obj).__name__}: "
                f"{rrule_obj!r}; build one with dateutil.rrule.rrule(...) or rrulestr(text)."
            )
        self.rrule_obj = rrule_obj
        super().__init__(start_date, end_date, parameter_defaults, labels)

    def __repr__(self) -> str:
        return f"RRuleClock(rrule_obj={self.rrule_obj!r}, start_date={self.start_date!r})"

    def _rule_tz(self) -> tzinfo | None:
        """The zone the rule's times are read in; None when its dtstart is naive (UTC)."""
        rules = getattr(self.rrule_obj, "_rrule", None) or [self.rrule_obj]
        dtstart = getattr(rules[0], "_dtstart", None)
        return None if dtstart is None or dtstart.tzinfo is None else dtstart.tzinfo

    def events(self, after: datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the rule's occurrences strictly after ``after``, within the bounds."""
        after = resolve_after(after)
        begin = after
        if self.start_date is not None and after < instant(self.start_date):
            begin = instant(self.start_date) - timedelta(microseconds=1)
        tz = self._rule_tz()
        begin = wall(begin) if tz is None else begin.astimezone(tz)
        last = after
        for when in self.rrule_obj.xafter(begin, inc=False):
            when = when.replace(tzinfo=UTC) if tz is None else localize(wall(when), tz)
            if self._past_end(when):
                return
            if instant(when) > last and self._in_bounds(when, after):
                last = instant(when)
                yield self._event(when)
