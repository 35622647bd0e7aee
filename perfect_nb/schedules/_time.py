"""Private datetime helpers shared by clocks, filters and adjustments.

Conventions used throughout :mod:`perfect_nb.schedules`:

- A naive datetime (no ``tzinfo``) is treated as UTC.
- Datetimes are compared as UTC instants (see :func:`instant`).
- Timezones are ``tzinfo`` objects that honour PEP 495 ``fold``
  (:class:`zoneinfo.ZoneInfo`, :class:`datetime.timezone`, ``dateutil.tz``).
  ``pytz`` zones are not supported: they need ``localize()``.
- A wall-clock time that does not exist (inside a spring-forward gap) is moved
  forward by the size of the gap; an ambiguous one (inside a fall-back
  overlap) resolves to its first occurrence.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

UTC = timezone.utc
ONE_DAY = timedelta(days=1)


def ensure_aware(value: datetime, name: str = "datetime") -> datetime:
    """Return ``value`` with a timezone, reading a naive datetime as UTC.

    Raises
    ------
    TypeError
        If ``value`` is not a :class:`datetime.datetime` (a plain ``date``
        is rejected too: a schedule needs a time of day).
    """
    if not isinstance(value, datetime):
        raise TypeError(
            f"{name} must be a datetime.datetime, got {type(value).__name__}: {value!r}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value


def optional_aware(value: datetime | None, name: str) -> datetime | None:
    """Like :func:`ensure_aware` but lets ``None`` through."""
    return None if value is None else ensure_aware(value, name)


def resolve_after(after: datetime | None) -> datetime:
    """The UTC instant a search starts from: ``after`` or, if None, now."""
    return datetime.now(UTC) if after is None else instant(ensure_aware(after, "after"))


def instant(value: datetime) -> datetime:
    """``value`` as a UTC datetime, for comparisons.

    Python compares two datetimes that share a ``tzinfo`` by wall clock alone,
    ignoring ``fold`` (1:30 EDT equals 1:30 EST); comparing UTC instants
    avoids that trap.
    """
    return ensure_aware(value).astimezone(UTC)


def normalize(value: datetime) -> datetime:
    """Turn an aware wall-clock time into a real instant in the same zone.

    Nonexistent times move forward by the DST gap; existing times are kept.
    """
    return value.astimezone(UTC).astimezone(value.tzinfo)


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a naive wall-clock time (first occurrence if ambiguous)."""
    return normalize(naive.replace(tzinfo=tz, fold=0))


def wall(value: datetime) -> datetime:
    """The naive local wall-clock time of an aware datetime."""
    return value.replace(tzinfo=None)


def shift(value: datetime, delta: timedelta) -> datetime:
    """Add ``delta``: whole days on the wall clock, the rest as elapsed time.

    So ``shift(9am, 1 day)`` is 9am the next day even across a DST change,
    while ``shift(1am, 1 hour)`` is exactly 3600 seconds later.
    """
    value = ensure_aware(value)
    days = timedelta(days=delta.days)
    moved = localize(wall(value) + days, value.tzinfo) if days else value
    rest = delta - days
    if not rest:
        return moved
    return (moved.astimezone(UTC) + rest).astimezone(value.tzinfo)
