"""ClockEvent: one candidate run time, with the parameters and labels of its clock.

Public through :mod:`perfect_nb.schedules.clocks`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from perfect_nb.schedules._time import ensure_aware, instant

__all__ = ["ClockEvent"]


class ClockEvent:
    """A run time emitted by a clock.

    Events order by the instant of ``start_time`` alone (compared in UTC, so
    1:30 EDT sorts before 1:30 EST), so they sort and merge like datetimes. Two events are equal when time, parameter defaults and labels
    all match; an event also equals a datetime with the same instant (a naive
    datetime is read as UTC).

    Parameters
    ----------
    start_time : datetime
        When the run should start; naive means UTC.
    parameter_defaults : dict, optional
        Parameter values for the run this event creates.
    labels : list of str, optional
        Labels for the run this event creates.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> a = ClockEvent(datetime(2024, 1, 2), parameter_defaults={"x": 1})
    >>> b = ClockEvent(datetime(2024, 1, 1))
    >>> [e.start_time.day for e in sorted([a, b])]
    [1, 2]
    >>> a == datetime(2024, 1, 2, tzinfo=timezone.utc)
    True
    >>> a == ClockEvent(datetime(2024, 1, 2))
    False
    """

    __slots__ = ("start_time", "parameter_defaults", "labels")

    def __init__(
        self,
        start_time: datetime,
        parameter_defaults: dict | None = None,
        labels: Iterable[str] | None = None,
    ) -> None:
        self.start_time = ensure_aware(start_time, "start_time")
        self.parameter_defaults = dict(parameter_defaults or {})
        self.labels = list(labels or [])

    def __repr__(self) -> str:
        extras = ""
        if self.parameter_defaults:
            extras += f", parameter_defaults={self.parameter_defaults!r}"
        if self.labels:
            extras += f", labels={self.labels!r}"
        return f"ClockEvent({self.start_time.isoformat()}{extras})"

    def _fields(self) -> tuple:
        return (instant(self.start_time), self.parameter_defaults, self.labels)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, ClockEvent):
            return self._fields() == other._fields()
        if isinstance(other, datetime):
            return instant(self.start_time) == instant(other)
        return NotImplemented

    def __hash__(self) -> int:
        # Equal events share start_time, so hashing it alone is consistent.
        return hash(instant(self.start_time))

    def __lt__(self, other: Any) -> bool:
        key = _time_of(other)
        return NotImplemented if key is None else instant(self.start_time) < key

    def __le__(self, other: Any) -> bool:
        key = _time_of(other)
        return NotImplemented if key is None else instant(self.start_time) <= key

    def __gt__(self, other: Any) -> bool:
        key = _time_of(other)
        return NotImplemented if key is None else instant(self.start_time) > key

    def __ge__(self, other: Any) -> bool:
        key = _time_of(other)
        return NotImplemented if key is None else instant(self.start_time) >= key


def _time_of(other: Any) -> datetime | None:
    if isinstance(other, ClockEvent):
        return instant(other.start_time)
    if isinstance(other, datetime):
        return instant(other)
    return None
