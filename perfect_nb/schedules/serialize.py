"""Schedules as plain JSON, so a server can compute run times without user code.

:func:`schedule_to_dict` turns a :class:`~perfect_nb.schedules.Schedule` into
a dict of only ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``;
:func:`schedule_from_dict` builds the same schedule back. Nothing is pickled:
clocks are written field by field, and filters and adjustments by name. Only
the built-in clocks (:mod:`~perfect_nb.schedules.clocks`), filters
(:mod:`~perfect_nb.schedules.filters`) and adjustments
(:mod:`~perfect_nb.schedules.adjustments`) can be written; anything else
raises :class:`~perfect_nb.errors.SerializationError`.

The format (``"version": 1``)::

    {"version": 1,
     "clocks": [CLOCK, ...],
     "filters": [FN, ...], "or_filters": [...], "not_filters": [...],
     "adjustments": [FN, ...]}

    CLOCK  {"type": "IntervalClock", "interval": SECONDS, "start_date": DT,
            "end_date": DT | null, "parameter_defaults": {...}, "labels": [...]}
         | {"type": "CronClock", "cron": "0 9 * * *", "day_or": true,
            "start_date": DT | null, "end_date": DT | null, ...}
         | {"type": "DatesClock", "dates": [DT, ...], "parameter_defaults": {...},
            "labels": [...]}
         | {"type": "RRuleClock", "rrule": "RRULE:FREQ=WEEKLY;BYDAY=MO,FR",
            "dtstart": DT, "start_date": DT | null, "end_date": DT | null, ...}
           (the RFC 5545 rule without its DTSTART, UNTIL in UTC; one rrule, not an rruleset)
    FN     {"fn": "is_weekday"} | {"fn": "at_time", "args": {"t": "09:30:00"}}
    DT     {"local": "2024-11-03T01:30:00", "fold": 1, "tz": TZ}
           (the naive local wall-clock time, PEP 495 fold, and zone)
    TZ     "America/New_York" (an IANA name) | "UTC" | {"offset": SECONDS}
           | {"offset": SECONDS, "name": "EST"}
    SECONDS  an int, or a float when that is exact, else {"microseconds": int}

Clock, filter and adjustment lists keep their order; parameter names (and keys
of dicts inside parameter values) are sorted so equal schedules give equal
JSON text.

Examples
--------
>>> import json
>>> from datetime import datetime, time
>>> from zoneinfo import ZoneInfo
>>> from perfect_nb.schedules import CronSchedule, filters
>>> schedule = CronSchedule("0 9 * * *", start_date=datetime(2024, 3, 1, tzinfo=ZoneInfo("Europe/London")))
>>> schedule.filters.append(filters.is_weekday)
>>> data = schedule_to_dict(schedule)
>>> data["clocks"][0]["start_date"]
{'local': '2024-03-01T00:00:00', 'fold': 0, 'tz': 'Europe/London'}
>>> data["filters"]
[{'fn': 'is_weekday'}]
>>> again = schedule_from_dict(json.loads(json.dumps(data)))
>>> after = datetime(2024, 3, 29)
>>> again.next(3, after=after) == schedule.next(3, after=after)
True
>>> [t.isoformat() for t in again.next(2, after=after)]
['2024-03-29T09:00:00+00:00', '2024-04-01T09:00:00+01:00']
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta, timezone, tzinfo
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from perfect_nb.errors import SerializationError
from perfect_nb.schedules import adjustments as _adjustments
from perfect_nb.schedules import filters as _filters
from perfect_nb.schedules._spec import spec_of
from perfect_nb.schedules._time import ensure_aware
from perfect_nb.schedules.clocks import Clock, CronClock, DatesClock, IntervalClock, RRuleClock
from perfect_nb.schedules.schedules import Schedule

__all__ = ["FORMAT_VERSION", "schedule_from_dict", "schedule_to_dict"]

#: The ``"version"`` written by :func:`schedule_to_dict`.
FORMAT_VERSION = 1

_LISTS = ("filters", "or_filters", "not_filters", "adjustments")

#: Per list kind: (module, plain functions by name, factories by name with
#: the type of each argument: "dt", "time", "int" or "seconds").
_FILTER_FUNCS: dict[str, Callable] = {
    name: getattr(_filters, name)
    for name in ("is_weekday", "is_weekend", "is_month_start", "is_month_end")
}
_FILTER_FACTORIES: dict[str, tuple[Callable, dict[str, str]]] = {
    "on_datetime": (_filters.on_datetime, {"dt": "dt"}),
    "on_date": (_filters.on_date, {"month": "int", "day": "int"}),
    "at_time": (_filters.at_time, {"t": "time"}),
    "between_datetimes": (_filters.between_datetimes, {"start": "dt", "end": "dt"}),
    "between_dates": (
        _filters.between_dates,
        {"start_month": "int", "start_day": "int", "end_month": "int", "end_day": "int"},
    ),
    "between_times": (_filters.between_times, {"start": "time", "end": "time"}),
}
_ADJUSTMENT_FUNCS: dict[str, Callable] = {"next_weekday": _adjustments.next_weekday}
_ADJUSTMENT_FACTORIES: dict[str, tuple[Callable, dict[str, str]]] = {
    "add": (_adjustments.add, {"interval": "seconds"}),
}
_KINDS = {
    "filters": (_filters, _FILTER_FUNCS, _FILTER_FACTORIES),
    "adjustments": (_adjustments, _ADJUSTMENT_FUNCS, _ADJUSTMENT_FACTORIES),
}

_CLOCK_KEYS = {
    "IntervalClock": {"type", "interval", "start_date", "end_date", "parameter_defaults", "labels"},
    "CronClock": {"type", "cron", "day_or", "start_date", "end_date", "parameter_defaults", "labels"},
    "DatesClock": {"type", "dates", "parameter_defaults", "labels"},
    "RRuleClock": {"type", "rrule", "dtstart", "start_date", "end_date", "parameter_defaults", "labels"},
}
_JSON_SCALARS = (str, int, float, bool, type(None))


# ===================================================================== writing


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    """Write ``schedule`` as a JSON-safe dict that :func:`schedule_from_dict` reads.

    Parameters
    ----------
    schedule : Schedule
        A :class:`~perfect_nb.schedules.Schedule` (not a subclass) of built-in
        clocks, filters and adjustments.

    Returns
    -------
    dict
        Only dicts, lists, str, int, float, bool and None; the same schedule
        always gives an equal dict (and equal ``json.dumps`` text).

    Raises
    ------
    SerializationError
        If the schedule holds something a server cannot rebuild: a Schedule or
        clock subclass, a filter or adjustment that is not one of the built-in
        ones (a user's function, a lambda, a ``functools.partial``), a
        timezone other than a named IANA zone, UTC or a fixed offset, or a
        parameter default or label that is not plain JSON.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> from perfect_nb.schedules import IntervalSchedule
    >>> schedule_to_dict(IntervalSchedule(datetime(2024, 1, 1), timedelta(hours=1)))["clocks"]
    [{'type': 'IntervalClock', 'interval': 3600, 'start_date': {'local': '2024-01-01T00:00:00', 'fold': 0, 'tz': 'UTC'}, 'end_date': None, 'parameter_defaults': {}, 'labels': []}]
    """
    if type(schedule) is not Schedule:
        raise SerializationError(
            f"{schedule!r} is a {type(schedule).__qualname__}, not a "
            "perfect_nb.schedules.Schedule; the server can only evaluate a plain Schedule "
            "of built-in clocks, filters and adjustments. Use one, or run the flow's "
            "schedule locally with flow.run()."
        )
    data: dict[str, Any] = {"version": FORMAT_VERSION}
    data["clocks"] = [_clock_to_dict(clock, i) for i, clock in enumerate(schedule.clocks)]
    for attr in _LISTS:
        kind = "adjustments" if attr == "adjustments" else "filters"
        data[attr] = [_fn_to_dict(fn, kind) for fn in getattr(schedule, attr)]
    return data


def _clock_to_dict(clock: Clock, index: int) -> dict[str, Any]:
    where = f"clocks[{index}] ({clock!r})"
    kind = type(clock).__name__
    if type(clock) not in (IntervalClock, CronClock, DatesClock, RRuleClock):
        raise SerializationError(
            f"Schedule clock {where} is a {type(clock).__qualname__}, not one of "
            "perfect_nb.schedules.clocks (IntervalClock, CronClock, DatesClock, RRuleClock); the server "
            "can only evaluate those. Use them, or run the flow's schedule locally with flow.run()."
        )
    out: dict[str, Any] = {"type": kind}
    if isinstance(clock, IntervalClock):
        out["interval"] = _seconds_to_json(clock.interval, f"{where}.interval")
    elif isinstance(clock, CronClock):
        out["cron"] = clock.cron
        out["day_or"] = bool(clock.day_or)
    elif isinstance(clock, RRuleClock):
        out["rrule"], dtstart = _rrule_to_json(clock.rrule_obj, where)
        out["dtstart"] = _dt_to_json(dtstart, f"{where}.rrule dtstart")
    if isinstance(clock, DatesClock):
        out["dates"] = [_dt_to_json(d, f"{where}.dates[{i}]") for i, d in enumerate(clock.dates)]
    else:
        out["start_date"] = _opt_dt_to_json(clock.start_date, f"{where}.start_date")
        out["end_date"] = _opt_dt_to_json(clock.end_date, f"{where}.end_date")
    out["parameter_defaults"] = _parameters_to_json(clock.parameter_defaults, where)
    labels = list(clock.labels)
    for label in labels:
        if type(label) is not str:
            raise SerializationError(
                f"Schedule clock {where} has label {label!r} of type "
                f"{type(label).__qualname__}; labels must be plain strings."
            )
    out["labels"] = labels
    return out


def _rrule_to_json(rule: Any, where: str) -> tuple[str, datetime]:
    """The rule's RFC 5545 text without DTSTART (UNTIL written in UTC) and its dtstart."""
    from dateutil.rrule import rrule

    if not isinstance(rule, rrule):
        raise SerializationError(
            f"Schedule clock {where} holds a {type(rule).__name__}; only a single dateutil rrule can be "
            "stored for the server. Use one RRuleClock per rrule in the Schedule's clocks (and filters "
            "for exclusions), or run the schedule locally with flow.run()."
        )
    dtstart = ensure_aware(rule._dtstart, f"{where} dtstart")
    lines = [line for line in str(rule).splitlines() if not line.startswith("DTSTART")]
    until = rule._until
    if until is not None:
        stamp = ensure_aware(until).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        lines = [
            ";".join(f"UNTIL={stamp}" if part.startswith("UNTIL=") else part for part in line.split(";"))
            for line in lines
        ]
    return "\n".join(lines), dtstart


def _rrule_from_json(text: str, dtstart: datetime, where: str) -> Any:
    from dateutil.rrule import rrule, rrulestr

    try:
        rule = rrulestr(text, dtstart=dtstart)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}['rrule'] {text!r} is not an RFC 5545 rule dateutil reads: {exc}") from None
    if not isinstance(rule, rrule):
        raise ValueError(f"{where}['rrule'] must hold one RRULE, got {text!r}")
    return rule


def _parameters_to_json(params: dict, where: str) -> dict[str, Any]:
    out = {}
    for name in params:
        if type(name) is not str:
            raise SerializationError(
                f"Schedule clock {where} has parameter_defaults key {name!r}; "
                "parameter names must be strings."
            )
    for name in sorted(params):
        out[name] = _json_value(params[name], where, name, repr(name))
    return out


def _json_value(value: Any, where: str, name: str, path: str) -> Any:
    """A sorted-key deep copy of ``value``, if it survives JSON unchanged."""
    problem = None
    if type(value) in _JSON_SCALARS:
        if type(value) is float and not math.isfinite(value):
            problem = "is not a finite number (JSON has no NaN or infinity)"
        else:
            return value
    elif type(value) is list:
        return [_json_value(v, where, name, f"{path}[{i}]") for i, v in enumerate(value)]
    elif type(value) is dict:
        bad = [k for k in value if type(k) is not str]
        if not bad:
            return {k: _json_value(value[k], where, name, f"{path}[{k!r}]") for k in sorted(value)}
        problem = f"is a dict with non-string key {bad[0]!r} (JSON keys are strings)"
    else:
        hint = " (use a list)" if isinstance(value, tuple) else ""
        problem = f"is a {type(value).__module__}.{type(value).__qualname__}{hint}"
    at = "" if path == repr(name) else f" at {path}"
    raise SerializationError(
        f"Schedule clock {where}: parameter {name!r} default{at} {value!r} {problem}; "
        "parameter_defaults of a registered schedule must be plain JSON values "
        "(dict with str keys, list, str, int, float, bool, None)."
    )


def _fn_to_dict(fn: Callable, kind: str) -> dict[str, Any]:
    module, funcs, factories = _KINDS[kind]
    singular = "filter" if kind == "filters" else "adjustment"
    for name, builtin in funcs.items():
        if fn is builtin:
            return {"fn": name}
    spec = None
    for name, (factory, arg_types) in factories.items():
        found = spec_of(fn, factory.__code__.co_filename)
        if found is not None and found[0] == name:
            spec = name, arg_types, found[1]
            break
    if spec is None:
        label = getattr(fn, "__qualname__", None) or repr(fn)
        raise SerializationError(
            f"Schedule {singular} {label} ({fn!r}) is not one of {module.__name__}; "
            "the server can only evaluate those. Use them, or run the flow's schedule "
            "locally with flow.run()."
        )
    name, arg_types, args = spec
    where = f"{singular} {name}"
    encoded = {}
    for arg, arg_type in sorted(arg_types.items()):
        encoded[arg] = _arg_to_json(args[arg], arg_type, f"{where}({arg}=...)")
    return {"fn": name, "args": encoded}


def _arg_to_json(value: Any, arg_type: str, where: str) -> Any:
    if arg_type == "dt":
        return _dt_to_json(ensure_aware(value, where), where)
    if arg_type == "time":
        return value.isoformat()
    if arg_type == "seconds":
        return _seconds_to_json(value, where)
    return int(value)  # "int": the factory accepted it as a month or day


def _seconds_to_json(delta: timedelta, where: str) -> int | float | dict[str, int]:
    if not isinstance(delta, timedelta):
        raise SerializationError(f"{where} is {delta!r}, not a datetime.timedelta.")
    micro = delta // timedelta(microseconds=1)
    if micro % 1_000_000 == 0:
        return micro // 1_000_000
    seconds = micro / 1_000_000
    if timedelta(seconds=seconds) == delta:
        return seconds
    return {"microseconds": micro}


def _opt_dt_to_json(value: datetime | None, where: str) -> dict[str, Any] | None:
    return None if value is None else _dt_to_json(value, where)


def _dt_to_json(value: datetime, where: str) -> dict[str, Any]:
    value = ensure_aware(value, where)
    return {
        "local": value.replace(tzinfo=None, fold=0).isoformat(),
        "fold": value.fold,
        "tz": _tz_to_json(value.tzinfo, where),
    }


def _tz_to_json(tz: tzinfo, where: str) -> str | dict[str, Any]:
    if tz is timezone.utc:
        return "UTC"
    if isinstance(tz, timezone):
        args = tz.__getinitargs__()
        out: dict[str, Any] = {"offset": _seconds_to_json(args[0], f"{where} offset")}
        if len(args) > 1:
            out["name"] = args[1]
        return out
    if type(tz).__module__.split(".")[0] == "pytz":
        raise SerializationError(
            f"{where} uses the pytz zone {tz!r}; perfect_nb.schedules does not support pytz "
            "(it needs localize()). Use zoneinfo.ZoneInfo(name) instead."
        )
    name = getattr(tz, "key", None)
    if not isinstance(name, str):
        name = getattr(tz, "zone", None)
    if isinstance(name, str):
        if name == "UTC":
            return "UTC"
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return name
    dateutil_tz = _dateutil_fixed(tz)
    if dateutil_tz is not None:
        return dateutil_tz
    raise SerializationError(
        f"{where} has timezone {tz!r}, which the server cannot rebuild; use "
        "zoneinfo.ZoneInfo('Area/City'), datetime.timezone.utc or a fixed "
        "datetime.timezone(timedelta(...))."
    )


def _dateutil_fixed(tz: tzinfo) -> str | dict[str, Any] | None:
    """dateutil's tzutc and tzoffset, which behave like datetime.timezone."""
    if type(tz).__module__.split(".")[0] != "dateutil":
        return None
    from dateutil import tz as dateutil_tz

    if isinstance(tz, dateutil_tz.tzutc):
        return "UTC"
    if isinstance(tz, dateutil_tz.tzoffset):
        out: dict[str, Any] = {"offset": _seconds_to_json(tz.utcoffset(None), "offset")}
        name = tz.tzname(None)
        if name is not None:
            out["name"] = name
        return out
    return None


# ===================================================================== reading


def schedule_from_dict(data: dict[str, Any]) -> Schedule:
    """Build the :class:`~perfect_nb.schedules.Schedule` that :func:`schedule_to_dict` wrote.

    Nothing in ``data`` is executed or unpickled: clocks are constructed from
    their fields, filters and adjustments looked up by name among the built-in
    ones.

    Parameters
    ----------
    data : dict
        A dict from :func:`schedule_to_dict`, possibly after a JSON round trip.

    Returns
    -------
    Schedule
        A schedule whose ``next(n, after=..., return_events=...)`` gives the
        same results as the original's.

    Raises
    ------
    ValueError
        If ``data`` has an unknown ``version``, an unknown clock type or
        filter/adjustment name, or a missing, unknown or ill-typed field; the
        message gives where (e.g. ``schedule['clocks'][0]['interval']``).

    Examples
    --------
    >>> from datetime import datetime
    >>> schedule = schedule_from_dict({
    ...     "version": 1,
    ...     "clocks": [{"type": "CronClock", "cron": "0 12 * * *", "day_or": True,
    ...                 "start_date": None, "end_date": None,
    ...                 "parameter_defaults": {"x": 1}, "labels": ["prod"]}],
    ...     "filters": [{"fn": "is_weekend"}], "or_filters": [], "not_filters": [],
    ...     "adjustments": [{"fn": "add", "args": {"interval": 1800}}],
    ... })
    >>> schedule.next(1, after=datetime(2024, 6, 3), return_events=True)
    [ClockEvent(2024-06-08T12:30:00+00:00, parameter_defaults={'x': 1}, labels=['prod'])]
    >>> schedule_from_dict({"version": 2})
    Traceback (most recent call last):
    ...
    ValueError: schedule['version'] is 2; this perfect_nb reads schedule format version 1 only.
    """
    where = "schedule"
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a dict from schedule_to_dict, got {type(data).__name__}")
    version = data.get("version")
    if version != FORMAT_VERSION or type(version) is not int:
        raise ValueError(
            f"{where}['version'] is {version!r}; this perfect_nb reads schedule format "
            f"version {FORMAT_VERSION} only."
        )
    _check_keys(data, {"version", "clocks", *_LISTS}, set(_LISTS), where)
    clocks = [
        _clock_from_json(c, f"{where}['clocks'][{i}]")
        for i, c in enumerate(_get(data, "clocks", list, where))
    ]
    lists = {}
    for attr in _LISTS:
        kind = "adjustments" if attr == "adjustments" else "filters"
        items = _get(data, attr, list, where) if attr in data else []
        lists[attr] = [_fn_from_json(f, kind, f"{where}[{attr!r}][{i}]") for i, f in enumerate(items)]
    try:
        return Schedule(clocks=clocks, **lists)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_keys(data: dict, allowed: set, optional: set, where: str) -> None:
    unknown = sorted(set(data) - allowed, key=str)
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {unknown}; expected {sorted(allowed)}")
    missing = sorted(allowed - optional - set(data))
    if missing:
        raise ValueError(f"{where} is missing key(s) {missing}")


def _get(data: dict, key: str, kind: type | tuple, where: str) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = "/".join(k.__name__ for k in _as_tuple(kind))
        raise ValueError(f"{where}[{key!r}] must be {names}, got {value!r}")
    return value


def _as_tuple(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def _clock_from_json(data: Any, where: str) -> Clock:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a dict, got {data!r}")
    kind = data.get("type")
    if kind not in _CLOCK_KEYS:
        raise ValueError(
            f"{where}['type'] is {kind!r}; known clock types: {sorted(_CLOCK_KEYS)}"
        )
    _check_keys(data, _CLOCK_KEYS[kind], set(), where)
    params = _get(data, "parameter_defaults", dict, where)
    params = {k: _json_from_json(v, f"{where}['parameter_defaults'][{k!r}]") for k, v in params.items()}
    labels = _get(data, "labels", list, where)
    for i, label in enumerate(labels):
        if not isinstance(label, str):
            raise ValueError(f"{where}['labels'][{i}] must be a str, got {label!r}")
    common: dict[str, Any] = {"parameter_defaults": params, "labels": list(labels)}
    if kind != "DatesClock":
        common["start_date"] = _opt_dt_from_json(data["start_date"], f"{where}['start_date']")
        common["end_date"] = _opt_dt_from_json(data["end_date"], f"{where}['end_date']")
    try:
        if kind == "IntervalClock":
            interval = _seconds_from_json(data["interval"], f"{where}['interval']")
            return IntervalClock(interval, **common)
        if kind == "CronClock":
            cron = _get(data, "cron", str, where)
            day_or = _get(data, "day_or", bool, where)
            return CronClock(cron, day_or=day_or, **common)
        if kind == "RRuleClock":
            dtstart = _dt_from_json(data["dtstart"], f"{where}['dtstart']")
            return RRuleClock(_rrule_from_json(_get(data, "rrule", str, where), dtstart, where), **common)
        dates = [
            _dt_from_json(d, f"{where}['dates'][{i}]")
            for i, d in enumerate(_get(data, "dates", list, where))
        ]
        return DatesClock(dates, **common)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None
    except ValueError as exc:
        if str(exc).startswith(where):
            raise
        raise ValueError(f"{where}: {exc}") from None


def _json_from_json(value: Any, where: str) -> Any:
    """A deep copy of a parameter value read from JSON, checked to be plain JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}; only finite numbers are allowed")
    if type(value) in _JSON_SCALARS:
        return value
    if type(value) is list:
        return [_json_from_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if type(value) is dict and all(type(k) is str for k in value):
        return {k: _json_from_json(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise ValueError(f"{where} is {value!r}, not a plain JSON value")


def _fn_from_json(data: Any, kind: str, where: str) -> Callable:
    module, funcs, factories = _KINDS[kind]
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a dict like {{'fn': 'is_weekday'}}, got {data!r}")
    name = data.get("fn")
    known = sorted([*funcs, *factories])
    if name in funcs:
        _check_keys(data, {"fn", "args"}, {"args"}, where)
        if data.get("args", {}) != {}:
            raise ValueError(f"{where}: {name} takes no arguments, got {data['args']!r}")
        return funcs[name]
    if name not in factories:
        raise ValueError(
            f"{where}['fn'] is {name!r}, which is not one of {module.__name__}: {known}"
        )
    _check_keys(data, {"fn", "args"}, set(), where)
    factory, arg_types = factories[name]
    args = _get(data, "args", dict, where)
    _check_keys(args, set(arg_types), set(), f"{where}['args']")
    values = {
        arg: _arg_from_json(args[arg], arg_type, f"{where}['args'][{arg!r}]")
        for arg, arg_type in arg_types.items()
    }
    try:
        return factory(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def _arg_from_json(value: Any, arg_type: str, where: str) -> Any:
    if arg_type == "dt":
        return _dt_from_json(value, where)
    if arg_type == "seconds":
        return _seconds_from_json(value, where)
    if arg_type == "time":
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a time string like '09:30:00', got {value!r}")
        try:
            return time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{where} must be an int, got {value!r}")
    return value


def _seconds_from_json(value: Any, where: str) -> timedelta:
    try:
        if isinstance(value, dict) and set(value) == {"microseconds"}:
            micro = value["microseconds"]
            if isinstance(micro, int) and not isinstance(micro, bool):
                return timedelta(microseconds=micro)
        elif isinstance(value, int) and not isinstance(value, bool):
            return timedelta(seconds=value)
        elif isinstance(value, float) and math.isfinite(value):
            return timedelta(seconds=value)
    except OverflowError:
        raise ValueError(f"{where} is {value!r}, too large for a timedelta") from None
    raise ValueError(
        f"{where} must be a number of seconds or {{'microseconds': int}}, got {value!r}"
    )


def _opt_dt_from_json(value: Any, where: str) -> datetime | None:
    return None if value is None else _dt_from_json(value, where)


def _dt_from_json(value: Any, where: str) -> datetime:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a dict like {{'local': ..., 'fold': 0, 'tz': 'UTC'}}, got {value!r}")
    _check_keys(value, {"local", "fold", "tz"}, set(), where)
    local, fold = value["local"], value["fold"]
    if not isinstance(local, str):
        raise ValueError(f"{where}['local'] must be an ISO datetime string, got {local!r}")
    if fold not in (0, 1) or isinstance(fold, bool):
        raise ValueError(f"{where}['fold'] must be 0 or 1, got {fold!r}")
    try:
        naive = datetime.fromisoformat(local)
    except ValueError as exc:
        raise ValueError(f"{where}['local']: {exc}") from None
    if naive.tzinfo is not None:
        raise ValueError(f"{where}['local'] must be a naive wall-clock time, got {local!r}")
    return naive.replace(tzinfo=_tz_from_json(value["tz"], f"{where}['tz']"), fold=fold)


def _tz_from_json(value: Any, where: str) -> tzinfo:
    if value == "UTC":
        return timezone.utc
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{where} is {value!r}, not a known IANA timezone ({exc})") from None
    if isinstance(value, dict) and "offset" in value:
        _check_keys(value, {"offset", "name"}, {"name"}, where)
        offset = _seconds_from_json(value["offset"], f"{where}['offset']")
        args: list[Any] = [offset]
        if "name" in value:
            if not isinstance(value["name"], str):
                raise ValueError(f"{where}['name'] must be a str, got {value['name']!r}")
            args.append(value["name"])
        try:
            return timezone(*args)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    raise ValueError(
        f"{where} must be an IANA name, 'UTC' or {{'offset': seconds}}, got {value!r}"
    )
