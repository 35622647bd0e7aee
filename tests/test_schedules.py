"""Tests for perfect_nb.schedules: clocks, filters, adjustments and Schedule.

Every test passes a fixed ``after=`` so results do not depend on today's date.
"""

from __future__ import annotations

import doctest
import importlib
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import perfect_nb.schedules as schedules_pkg
from perfect_nb.schedules import (
    CronSchedule,
    IntervalSchedule,
    Schedule,
    adjustments,
    clocks,
    filters,
)
from perfect_nb.schedules.clocks import ClockEvent, CronClock, DatesClock, IntervalClock

UTC = timezone.utc
NY = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def iso(times: list) -> list[str]:
    return [t.isoformat() for t in times]


def daily(start: datetime, **kwargs) -> IntervalClock:
    return IntervalClock(timedelta(days=1), start_date=start, **kwargs)


# --------------------------------------------------------------------- package


def test_all_is_sorted_and_complete():
    assert schedules_pkg.__all__ == sorted(schedules_pkg.__all__)
    assert set(schedules_pkg.__all__) == {
        "CronSchedule", "IntervalSchedule", "Schedule",
        "adjustments", "clocks", "filters", "schedules",
    }
    for name in schedules_pkg.__all__:
        assert hasattr(schedules_pkg, name)


def test_submodules_expose_prefect_names():
    for name in ["Clock", "ClockEvent", "IntervalClock", "CronClock", "DatesClock"]:
        assert hasattr(clocks, name)
    for name in ["add", "next_weekday"]:
        assert hasattr(adjustments, name)
    assert filters.__all__ == sorted(filters.__all__) and len(filters.__all__) == 10


@pytest.mark.parametrize("module", [
    "perfect_nb.schedules", "perfect_nb.schedules._event", "perfect_nb.schedules._time",
    "perfect_nb.schedules.adjustments", "perfect_nb.schedules.clocks",
    "perfect_nb.schedules.filters", "perfect_nb.schedules.schedules",
])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
    if module != "perfect_nb.schedules._time":
        assert result.attempted > 0


# ------------------------------------------------------------------ ClockEvent


def test_clock_event_orders_by_time_and_equals_datetimes():
    early, late = ClockEvent(utc(2024, 1, 1)), ClockEvent(utc(2024, 1, 2), {"x": 1})
    assert sorted([late, early]) == [early, late]
    assert early < late and late > early and early <= early and late >= early
    assert early < utc(2024, 1, 2) and utc(2024, 1, 2) > early
    assert early == utc(2024, 1, 1) and utc(2024, 1, 1) == early
    assert early == datetime(2024, 1, 1)  # naive means UTC
    assert early == datetime(2023, 12, 31, 19, tzinfo=NY)


def test_clock_event_equality_includes_parameters_and_labels():
    base = ClockEvent(utc(2024, 1, 1), {"x": 1}, ["a"])
    assert base == ClockEvent(utc(2024, 1, 1), {"x": 1}, ["a"])
    assert base != ClockEvent(utc(2024, 1, 1), {"x": 2}, ["a"])
    assert base != ClockEvent(utc(2024, 1, 1), {"x": 1}, ["b"])
    assert hash(base) == hash(ClockEvent(utc(2024, 1, 1)))
    assert (base == "2024-01-01") is False


def test_clock_event_defaults_and_repr():
    event = ClockEvent(datetime(2024, 1, 1, 12))
    assert event.start_time.tzinfo is UTC
    assert event.parameter_defaults == {} and event.labels == []
    assert repr(event) == "ClockEvent(2024-01-01T12:00:00+00:00)"
    assert "labels=['x']" in repr(ClockEvent(event.start_time, labels=["x"]))


def test_clock_event_compares_instants_not_wall_clock_in_a_fold():
    first = ClockEvent(datetime(2024, 11, 3, 1, 30, tzinfo=NY))  # EDT
    second = ClockEvent(datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NY))  # EST
    assert first < second and first != second


# --------------------------------------------------------------- IntervalClock


def test_interval_clock_steps_from_start_date():
    clock = IntervalClock(timedelta(minutes=90), start_date=utc(2024, 1, 1))
    events = clock.events(after=utc(2024, 1, 1, 2))
    assert [next(events).start_time for _ in range(3)] == [
        utc(2024, 1, 1, 3), utc(2024, 1, 1, 4, 30), utc(2024, 1, 1, 6)]


def test_interval_after_is_exclusive_and_start_is_inclusive():
    schedule = IntervalSchedule(utc(2024, 1, 1), timedelta(hours=1))
    assert schedule.next(1, after=utc(2024, 1, 1)) == [utc(2024, 1, 1, 1)]
    assert schedule.next(1, after=utc(2023, 6, 1)) == [utc(2024, 1, 1)]
    assert schedule.next(1, after=utc(2024, 1, 1, 0, 59, 59)) == [utc(2024, 1, 1, 1)]


def test_interval_default_start_is_2019_utc():
    clock = IntervalClock(timedelta(days=7))
    assert clock.start_date == utc(2019, 1, 1)
    assert next(clock.events(after=utc(2019, 1, 2))).start_time == utc(2019, 1, 8)


def test_interval_schedule_next_n_and_naive_dates_are_utc():
    schedule = IntervalSchedule(datetime(2024, 1, 1), timedelta(hours=8))
    assert iso(schedule.next(3, after=datetime(2024, 1, 1, 1))) == [
        "2024-01-01T08:00:00+00:00", "2024-01-01T16:00:00+00:00", "2024-01-02T00:00:00+00:00"]


def test_interval_end_date_is_inclusive_and_stops_the_clock():
    schedule = IntervalSchedule(utc(2024, 1, 1), timedelta(hours=1), end_date=utc(2024, 1, 1, 3))
    assert schedule.next(10, after=utc(2023, 1, 1)) == [utc(2024, 1, 1, h) for h in range(4)]
    assert schedule.next(10, after=utc(2024, 1, 1, 3)) == []


def test_interval_skips_ahead_to_far_future_quickly():
    schedule = IntervalSchedule(utc(2000, 1, 1), timedelta(seconds=1))
    assert schedule.next(2, after=utc(2100, 1, 1)) == [
        utc(2100, 1, 1, 0, 0, 1), utc(2100, 1, 1, 0, 0, 2)]


def test_interval_events_keep_start_timezone_whatever_after_is():
    schedule = IntervalSchedule(datetime(2024, 1, 1, 9, tzinfo=NY), timedelta(days=1))
    assert iso(schedule.next(1, after=utc(2024, 1, 2, 15))) == ["2024-01-03T09:00:00-05:00"]


def test_hourly_interval_follows_utc_across_fall_back():
    schedule = IntervalSchedule(datetime(2024, 11, 1, tzinfo=NY), timedelta(hours=1))
    times = schedule.next(4, after=datetime(2024, 11, 3, 0, 30, tzinfo=NY))
    assert iso(times) == [
        "2024-11-03T01:00:00-04:00", "2024-11-03T01:00:00-05:00",
        "2024-11-03T02:00:00-05:00", "2024-11-03T03:00:00-05:00"]
    in_utc = [t.astimezone(UTC) for t in times]  # same-zone subtraction ignores fold
    assert {b - a for a, b in zip(in_utc, in_utc[1:])} == {timedelta(hours=1)}


def test_daily_interval_keeps_local_clock_time_across_dst():
    schedule = IntervalSchedule(datetime(2024, 3, 8, 9, tzinfo=NY), timedelta(days=1))
    assert iso(schedule.next(3, after=utc(2024, 3, 8, 15))) == [
        "2024-03-09T09:00:00-05:00", "2024-03-10T09:00:00-04:00", "2024-03-11T09:00:00-04:00"]
    assert iso(schedule.next(2, after=utc(2024, 11, 2, 14))) == [
        "2024-11-03T09:00:00-05:00", "2024-11-04T09:00:00-05:00"]


def test_daily_interval_in_the_spring_gap_moves_forward():
    schedule = IntervalSchedule(datetime(2024, 3, 1, 2, 30, tzinfo=NY), timedelta(days=1))
    assert iso(schedule.next(3, after=datetime(2024, 3, 9, tzinfo=NY))) == [
        "2024-03-09T02:30:00-05:00", "2024-03-10T03:30:00-04:00", "2024-03-11T02:30:00-04:00"]


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=-5)])
def test_non_positive_interval_raises_value_error(interval):
    with pytest.raises(ValueError, match="interval must be a positive timedelta"):
        IntervalClock(interval)


@pytest.mark.parametrize("interval", [None, 60, "1h"])
def test_non_timedelta_interval_raises_type_error(interval):
    with pytest.raises(TypeError, match="interval must be a datetime.timedelta"):
        IntervalSchedule(utc(2024, 1, 1), interval)


def test_end_before_start_and_bad_dates_are_rejected():
    with pytest.raises(ValueError, match="end_date .* is before start_date"):
        IntervalClock(timedelta(hours=1), utc(2024, 2, 1), end_date=utc(2024, 1, 1))
    with pytest.raises(TypeError, match="start_date must be a datetime.datetime"):
        IntervalClock(timedelta(hours=1), start_date="2024-01-01")
    with pytest.raises(TypeError, match="after must be a datetime.datetime"):
        IntervalSchedule(utc(2024, 1, 1), timedelta(hours=1)).next(1, after="now")


def test_after_defaults_to_now():
    before = datetime.now(UTC)
    [first] = IntervalSchedule(utc(2024, 1, 1), timedelta(minutes=1)).next(1)
    assert before < first <= datetime.now(UTC) + timedelta(minutes=1)


# ------------------------------------------------------------------- CronClock


def test_cron_schedule_next_n_in_utc_by_default():
    schedule = CronSchedule("0 9 * * 1-5")
    assert iso(schedule.next(3, after=utc(2024, 6, 6, 10))) == [  # a Thursday
        "2024-06-07T09:00:00+00:00", "2024-06-10T09:00:00+00:00", "2024-06-11T09:00:00+00:00"]


def test_cron_respects_start_date_inclusively_and_end_date():
    schedule = CronSchedule("0 0 * * *", start_date=utc(2024, 1, 5), end_date=utc(2024, 1, 7))
    assert schedule.next(10, after=utc(2024, 1, 1)) == [
        utc(2024, 1, 5), utc(2024, 1, 6), utc(2024, 1, 7)]


def test_cron_start_date_with_seconds_does_not_include_earlier_match():
    schedule = CronSchedule("0 * * * *", start_date=utc(2024, 1, 1, 0, 0, 30))
    assert schedule.next(1, after=utc(2023, 1, 1)) == [utc(2024, 1, 1, 1)]


def test_cron_day_or_controls_day_of_month_and_weekday():
    expr = "0 0 1 * 1"  # the 1st of the month, and/or Mondays
    after = utc(2024, 1, 1)  # itself a Monday, the 1st
    either = CronSchedule(expr, day_or=None).next(2, after=after)
    both = CronSchedule(expr, day_or=False).next(2, after=after)
    assert either == [utc(2024, 1, 8), utc(2024, 1, 15)]
    assert both == [utc(2024, 4, 1), utc(2024, 7, 1)]
    assert CronClock(expr).day_or is True


def test_cron_that_never_matches_yields_nothing():
    assert CronSchedule("0 0 31 2 *").next(3, after=utc(2024, 1, 1)) == []


def test_cron_daily_keeps_local_time_across_both_dst_changes():
    schedule = CronSchedule("0 9 * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    assert iso(schedule.next(2, after=datetime(2024, 3, 9, 12, tzinfo=NY))) == [
        "2024-03-10T09:00:00-04:00", "2024-03-11T09:00:00-04:00"]
    assert iso(schedule.next(2, after=datetime(2024, 11, 2, 12, tzinfo=NY))) == [
        "2024-11-03T09:00:00-05:00", "2024-11-04T09:00:00-05:00"]


def test_cron_hourly_skips_the_missing_spring_hour():
    schedule = CronSchedule("0 * * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    assert iso(schedule.next(3, after=datetime(2024, 3, 10, 0, 30, tzinfo=NY))) == [
        "2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00", "2024-03-10T04:00:00-04:00"]


def test_cron_hourly_fires_once_per_local_hour_at_fall_back():
    schedule = CronSchedule("0 * * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    times = schedule.next(3, after=datetime(2024, 11, 3, 0, 30, tzinfo=NY))
    assert iso(times) == [
        "2024-11-03T01:00:00-04:00", "2024-11-03T02:00:00-05:00", "2024-11-03T03:00:00-05:00"]
    assert times[1].astimezone(UTC) - times[0] == timedelta(hours=2)  # the two-hour pause


def test_cron_after_inside_the_repeated_hour():
    schedule = CronSchedule("30 * * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    after = datetime(2024, 11, 3, 1, 10, fold=1, tzinfo=NY)  # 1:10 EST, second pass
    assert iso(schedule.next(1, after=after)) == ["2024-11-03T02:30:00-05:00"]


def test_cron_time_inside_spring_gap_runs_after_the_gap():
    schedule = CronSchedule("30 2 * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    assert iso(schedule.next(3, after=datetime(2024, 3, 9, tzinfo=NY))) == [
        "2024-03-09T02:30:00-05:00", "2024-03-10T03:30:00-04:00", "2024-03-11T02:30:00-04:00"]


def test_cron_gap_shift_never_duplicates_a_following_match():
    schedule = CronSchedule("0,30 2,3 * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    times = schedule.next(4, after=datetime(2024, 3, 10, tzinfo=NY))
    assert iso(times) == [
        "2024-03-10T03:00:00-04:00", "2024-03-10T03:30:00-04:00",
        "2024-03-11T02:00:00-04:00", "2024-03-11T02:30:00-04:00"]


def test_cron_fixed_offset_timezone():
    tz = timezone(timedelta(hours=5, minutes=30))
    schedule = CronSchedule("0 6 * * *", start_date=datetime(2024, 1, 1, tzinfo=tz))
    assert iso(schedule.next(2, after=utc(2024, 1, 1))) == [
        "2024-01-01T06:00:00+05:30", "2024-01-02T06:00:00+05:30"]  # 00:30 UTC is after


@pytest.mark.parametrize("cron", ["0 0 * *", "61 * * * *", "hello", ""])
def test_invalid_cron_raises_value_error_quoting_it(cron):
    with pytest.raises(ValueError) as info:
        CronSchedule(cron)
    message = str(info.value)
    assert f"Invalid cron string {cron!r}:" in message
    assert len(message) > len(f"Invalid cron string {cron!r}: ")  # croniter's reason


def test_non_string_cron_raises_type_error():
    with pytest.raises(TypeError, match="cron must be a string"):
        CronClock(None)


# ------------------------------------------------------------------ DatesClock


def test_dates_clock_sorts_dedupes_and_respects_after():
    clock = DatesClock([utc(2024, 3, 1), datetime(2024, 1, 1), utc(2024, 3, 1)], {"p": 1}, ["x"])
    assert clock.start_date == utc(2024, 1, 1) and clock.end_date == utc(2024, 3, 1)
    events = list(clock.events(after=utc(2023, 1, 1)))
    assert [e.start_time for e in events] == [utc(2024, 1, 1), utc(2024, 3, 1)]
    assert all(e.parameter_defaults == {"p": 1} and e.labels == ["x"] for e in events)
    assert list(clock.events(after=utc(2024, 1, 1))) == [utc(2024, 3, 1)]


def test_dates_clock_needs_dates():
    with pytest.raises(ValueError, match="at least one date"):
        DatesClock([])


def test_base_clock_events_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        clocks.Clock()


# -------------------------------------------------------------------- Schedule


def test_multiple_clocks_merge_sorted_and_keep_parameters():
    schedule = Schedule(clocks=[
        daily(utc(2024, 1, 1, 12), parameter_defaults={"who": "noon"}, labels=["n"]),
        CronClock("0 6 * * *", parameter_defaults={"who": "six"}),
    ])
    events = schedule.next(4, after=utc(2024, 1, 1), return_events=True)
    assert [(e.start_time.hour, e.parameter_defaults["who"]) for e in events] == [
        (6, "six"), (12, "noon"), (6, "six"), (12, "noon")]
    assert events[1].labels == ["n"] and events[0].labels == []
    assert schedule.next(2, after=utc(2024, 1, 1)) == [utc(2024, 1, 1, 6), utc(2024, 1, 1, 12)]


def test_same_time_events_dedupe_only_when_identical():
    start = utc(2024, 1, 1)
    schedule = Schedule(clocks=[
        daily(start, parameter_defaults={"x": 1}),
        daily(start, parameter_defaults={"x": 2}),
        daily(start, parameter_defaults={"x": 1}),
        CronClock("0 0 * * *", start_date=start, parameter_defaults={"x": 2}),
    ])
    events = schedule.next(3, after=utc(2023, 12, 31), return_events=True)
    assert [(e.start_time.day, e.parameter_defaults) for e in events] == [
        (1, {"x": 1}), (1, {"x": 2}), (2, {"x": 1})]  # ties keep clock order


def test_identical_times_across_timezones_are_one_event():
    schedule = Schedule(clocks=[
        CronClock("0 12 * * *"),
        CronClock("0 7 * * *", start_date=datetime(2024, 1, 1, tzinfo=NY)),
    ])
    assert schedule.next(2, after=utc(2024, 1, 1, 13)) == [utc(2024, 1, 2, 12), utc(2024, 1, 3, 12)]


def test_schedule_start_and_end_dates():
    schedule = Schedule(clocks=[DatesClock([utc(2024, 5, 1)]), daily(utc(2024, 2, 1))])
    assert schedule.start_date == utc(2024, 2, 1) and schedule.end_date is None
    bounded = Schedule(clocks=[DatesClock([utc(2024, 5, 1), utc(2024, 6, 1)])])
    assert bounded.end_date == utc(2024, 6, 1)
    assert Schedule(clocks=[CronClock("* * * * *")]).start_date is None


def test_emit_events_is_a_lazy_generator():
    events = Schedule(clocks=[daily(utc(2024, 1, 1))]).emit_events(after=utc(2024, 1, 1))
    assert next(events) == utc(2024, 1, 2) and next(events) == utc(2024, 1, 3)


def test_next_zero_and_bad_n():
    schedule = IntervalSchedule(utc(2024, 1, 1), timedelta(hours=1))
    assert schedule.next(0, after=utc(2024, 1, 1)) == []
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="n must be a non-negative integer"):
            schedule.next(bad, after=utc(2024, 1, 1))


def test_a_filter_that_never_passes_ends_the_search():
    schedule = Schedule(clocks=[CronClock("* * * * *")], filters=[lambda dt: False])
    assert schedule.next(1, after=utc(2024, 1, 1)) == []


@pytest.mark.parametrize("bad, error, message", [
    ([], ValueError, "at least one clock"),
    (daily(utc(2024, 1, 1)), TypeError, r"wrap a single clock"),
    (["0 * * * *"], TypeError, "must contain Clock objects"),
    (None, TypeError, "clocks must be a list"),
])
def test_schedule_rejects_bad_clocks(bad, error, message):
    with pytest.raises(error, match=message):
        Schedule(clocks=bad)


def test_schedule_rejects_non_callable_filters():
    with pytest.raises(TypeError, match="not_filters must be a list of functions"):
        Schedule(clocks=[CronClock("* * * * *")], not_filters=[time(9)])


def hourly_schedule(**kwargs) -> Schedule:
    return Schedule(clocks=[IntervalClock(timedelta(hours=1), utc(2024, 1, 1))], **kwargs)


def test_all_filters_must_pass():
    schedule = hourly_schedule(filters=[filters.is_weekday, filters.at_time(time(10))])
    assert schedule.next(2, after=utc(2024, 6, 1)) == [utc(2024, 6, 3, 10), utc(2024, 6, 4, 10)]


def test_or_filters_need_one_to_pass():
    schedule = hourly_schedule(or_filters=[filters.at_time(time(3)), filters.at_time(time(15))])
    assert [t.hour for t in schedule.next(3, after=utc(2024, 1, 1))] == [3, 15, 3]


def test_not_filters_must_all_fail():
    schedule = hourly_schedule(
        filters=[filters.between_times(time(8), time(12))],
        not_filters=[filters.at_time(time(9)), filters.at_time(time(11))],
    )
    assert [t.hour for t in schedule.next(4, after=utc(2024, 1, 1))] == [8, 10, 12, 8]


def test_filters_adjustments_and_parameters_combine():
    clock = IntervalClock(timedelta(days=1), utc(2024, 6, 1, 9), parameter_defaults={"k": 1})
    schedule = Schedule(
        clocks=[clock],
        filters=[filters.is_weekend],
        adjustments=[adjustments.add(timedelta(hours=1)), adjustments.next_weekday],
    )
    events = schedule.next(3, after=utc(2024, 6, 1), return_events=True)
    assert [e.start_time for e in events] == [utc(2024, 6, 3, 10)] * 2 + [utc(2024, 6, 10, 10)]
    assert all(e.parameter_defaults == {"k": 1} for e in events)


# --------------------------------------------------------------------- filters


def test_on_datetime_matches_the_instant_in_any_zone():
    only = filters.on_datetime(datetime(2024, 1, 1, 17))
    assert only(datetime(2024, 1, 1, 12, tzinfo=NY)) and not only(utc(2024, 1, 1, 17, 1))


def test_on_date_matches_every_year():
    christmas = filters.on_date(12, 25)
    assert christmas(utc(2030, 12, 25, 23)) and not christmas(utc(2030, 12, 24))
    with pytest.raises(ValueError, match="invalid month/day"):
        filters.on_date(2, 30)


def test_at_time_uses_local_wall_clock():
    four = filters.at_time(time(4))
    assert four(datetime(2024, 1, 1, 4, tzinfo=NY)) and not four(utc(2024, 1, 1, 4, 0, 1))
    with pytest.raises(ValueError, match="must be a naive datetime.time"):
        filters.at_time(time(4, tzinfo=UTC))
    with pytest.raises(TypeError, match="must be a datetime.time"):
        filters.at_time(4)


def test_between_datetimes_is_inclusive():
    window = filters.between_datetimes(datetime(2024, 1, 1), utc(2024, 1, 2))
    assert window(utc(2024, 1, 1)) and window(utc(2024, 1, 2))
    assert window(datetime(2024, 1, 1, 19, tzinfo=NY))  # 2024-01-02T00:00Z
    assert not window(datetime(2024, 1, 1, 19, 1, tzinfo=NY))
    assert not window(utc(2024, 1, 2, 0, 0, 1)) and not window(utc(2023, 12, 31, 23, 59))


@pytest.mark.parametrize("dt, expected", [
    (utc(2024, 10, 14), False), (utc(2024, 10, 15), True), (utc(2024, 12, 31), True),
    (utc(2025, 1, 1), True), (utc(2025, 3, 31, 23), True), (utc(2025, 4, 1), False),
])
def test_between_dates_wraps_over_new_year(dt, expected):
    assert filters.between_dates(10, 15, 3, 31)(dt) is expected


def test_between_dates_plain_range_and_errors():
    summer = filters.between_dates(6, 1, 8, 31)
    assert summer(utc(2024, 7, 4)) and not summer(utc(2024, 9, 1)) and not summer(utc(2024, 5, 31))
    assert filters.between_dates(2, 29, 2, 29)(utc(2024, 2, 29))
    with pytest.raises(ValueError, match="month must be 1-12"):
        filters.between_dates(13, 1, 1, 1)


@pytest.mark.parametrize("hour, minute, expected", [
    (21, 59, False), (22, 0, True), (23, 30, True), (0, 0, True), (2, 0, True), (2, 1, False),
])
def test_between_times_wraps_over_midnight(hour, minute, expected):
    assert filters.between_times(time(22), time(2))(utc(2024, 1, 1, hour, minute)) is expected


def test_between_times_plain_range():
    office = filters.between_times(time(9), time(17))
    assert office(utc(2024, 1, 1, 9)) and office(utc(2024, 1, 1, 17))
    assert not office(utc(2024, 1, 1, 8, 59)) and not office(utc(2024, 1, 1, 17, 0, 1))


def test_weekday_weekend_month_start_and_end():
    saturday, monday = utc(2024, 6, 1), utc(2024, 6, 3)
    assert filters.is_weekend(saturday) and not filters.is_weekday(saturday)
    assert filters.is_weekday(monday) and not filters.is_weekend(monday)
    assert filters.is_month_start(saturday) and not filters.is_month_start(monday)
    assert filters.is_month_end(utc(2024, 2, 29)) and filters.is_month_end(utc(2023, 2, 28))
    assert not filters.is_month_end(utc(2024, 2, 28)) and filters.is_month_end(utc(2024, 12, 31))


# ----------------------------------------------------------------- adjustments


def test_add_adjustment():
    assert adjustments.add(timedelta(hours=2))(datetime(2024, 1, 1)) == utc(2024, 1, 1, 2)
    assert adjustments.add(timedelta(days=-1))(utc(2024, 3, 1)) == utc(2024, 2, 29)
    with pytest.raises(TypeError, match="interval must be a datetime.timedelta"):
        adjustments.add(3600)


def test_add_days_keep_local_time_and_hours_are_elapsed_across_dst():
    saturday_9am = datetime(2024, 3, 9, 9, tzinfo=NY)
    assert adjustments.add(timedelta(days=1))(saturday_9am).isoformat() == "2024-03-10T09:00:00-04:00"
    one_am = datetime(2024, 3, 10, 1, 30, tzinfo=NY)
    assert adjustments.add(timedelta(hours=1))(one_am).isoformat() == "2024-03-10T03:30:00-04:00"


@pytest.mark.parametrize("day, expected_day", [(7, 7), (8, 10), (9, 10), (10, 10)])
def test_next_weekday(day, expected_day):
    moved = adjustments.next_weekday(datetime(2024, 6, day, 9, 15, tzinfo=NY))
    assert moved == datetime(2024, 6, expected_day, 9, 15, tzinfo=NY)
