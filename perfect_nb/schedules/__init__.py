"""Schedules: when a flow should run (the Prefect 1 ``prefect.schedules`` API).

- :mod:`~perfect_nb.schedules.clocks` emit candidate times
  (:class:`~perfect_nb.schedules.clocks.IntervalClock`,
  :class:`~perfect_nb.schedules.clocks.CronClock`,
  :class:`~perfect_nb.schedules.clocks.DatesClock`,
  :class:`~perfect_nb.schedules.clocks.RRuleClock` on a dateutil rrule);
- :mod:`~perfect_nb.schedules.filters` keep or drop them;
- :mod:`~perfect_nb.schedules.adjustments` move the ones kept;
- :class:`Schedule` combines the three; :func:`IntervalSchedule` and
  :func:`CronSchedule` build the common one-clock schedules.

Naive datetimes are treated as UTC everywhere in this package, and every
emitted time is timezone-aware, in the timezone of its clock's
``start_date``. Only the standard library and croniter are used (use
``zoneinfo.ZoneInfo`` for named zones; ``pytz`` zones are not supported).
Note that Python subtracts two datetimes sharing a zone by wall clock; convert
to UTC (``t.astimezone(timezone.utc)``) to measure elapsed time across DST.

Examples
--------
>>> from datetime import datetime
>>> from zoneinfo import ZoneInfo
>>> start = datetime(2024, 11, 1, tzinfo=ZoneInfo("America/New_York"))
>>> schedule = CronSchedule("0 9 * * *", start_date=start)
>>> [t.isoformat() for t in schedule.next(2, after=datetime(2024, 11, 2, 14))]
['2024-11-03T09:00:00-05:00', '2024-11-04T09:00:00-05:00']
"""

from perfect_nb.schedules import adjustments, clocks, filters, schedules
from perfect_nb.schedules.schedules import CronSchedule, IntervalSchedule, Schedule

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "Schedule",
    "adjustments",
    "clocks",
    "filters",
    "schedules",
]
