"""Tests for perfect_nb.schedules.serialize: schedules as plain JSON and back.

The round-trip test is ``from(to(s)).next(50, after=X) == s.next(50, after=X)``
(also with ``return_events=True``), with a JSON dumps/loads in between.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfect_nb.errors import SerializationError
from perfect_nb.schedules import schedules as schedules_module
from perfect_nb.schedules import CronSchedule, IntervalSchedule, Schedule, adjustments, filters
from perfect_nb.schedules._spec import SPEC_ATTRIBUTE
from perfect_nb.schedules.clocks import CronClock, DatesClock, IntervalClock
from perfect_nb.schedules.serialize import schedule_from_dict, schedule_to_dict

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
PLUS_0530 = timezone(timedelta(hours=5, minutes=30))


def through_json(schedule: Schedule) -> Schedule:
    data = schedule_to_dict(schedule)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    return schedule_from_dict(json.loads(text))


def assert_round_trip(schedule: Schedule, after: datetime, n: int = 50) -> Schedule:
    again = through_json(schedule)
    expected = schedule.next(n, after=after, return_events=True)
    got = again.next(n, after=after, return_events=True)
    assert got == expected
    # Same wall clock, offset and zone name, not only the same instants.
    assert [e.start_time.isoformat() for e in got] == [e.start_time.isoformat() for e in expected]
    assert [e.start_time.tzname() for e in got] == [e.start_time.tzname() for e in expected]
    assert again.next(n, after=after) == schedule.next(n, after=after)
    assert schedule_to_dict(again) == schedule_to_dict(schedule)
    return again


# ---------------------------------------------------------------------- clocks


def test_interval_clock_with_every_option_round_trips():
    clock = IntervalClock(
        timedelta(hours=7, minutes=13),
        start_date=datetime(2024, 3, 1, 0, 30, tzinfo=NY),
        end_date=datetime(2024, 12, 1, tzinfo=NY),
        parameter_defaults={"x": 1, "nested": {"b": [1, 2.5, None], "a": True}},
        labels=["prod", "eu"],
    )
    assert_round_trip(Schedule([clock]), after=datetime(2024, 3, 5), n=200)
    assert_round_trip(Schedule([clock]), after=datetime(2024, 10, 30), n=50)


def test_cron_clock_with_every_option_round_trips():
    clock = CronClock(
        "30 2 1-7 * 1",
        start_date=datetime(2024, 1, 1, tzinfo=NY),
        end_date=datetime(2026, 1, 1, tzinfo=NY),
        parameter_defaults={"mode": "weekly"},
        labels=["a"],
        day_or=False,
    )
    again = assert_round_trip(Schedule([clock]), after=datetime(2024, 1, 1))
    assert again.clocks[0].day_or is False
    assert_round_trip(CronSchedule("*/20 * * * *"), after=datetime(2024, 3, 10, 5))


def test_dates_clock_round_trips_and_keeps_zones_of_each_date():
    clock = DatesClock(
        [datetime(2024, 5, 2, 9, tzinfo=LONDON), datetime(2024, 5, 1), datetime(2024, 6, 1, tzinfo=PLUS_0530)],
        parameter_defaults={"p": "q"},
        labels=["x"],
    )
    again = assert_round_trip(Schedule([clock]), after=datetime(2024, 1, 1))
    assert [d.tzinfo for d in again.clocks[0].dates] == [UTC, LONDON, PLUS_0530]


def test_multiple_clocks_keep_their_order():
    schedule = Schedule([
        CronClock("0 9 * * *", start_date=datetime(2024, 1, 1, tzinfo=LONDON), parameter_defaults={"c": 1}),
        IntervalClock(timedelta(days=1), start_date=datetime(2024, 1, 1, 9, tzinfo=LONDON), labels=["i"]),
        DatesClock([datetime(2024, 3, 31, 9, tzinfo=LONDON)]),
    ])
    data = schedule_to_dict(schedule)
    assert [c["type"] for c in data["clocks"]] == ["CronClock", "IntervalClock", "DatesClock"]
    assert_round_trip(schedule, after=datetime(2024, 3, 20))


def test_interval_and_cron_schedule_factories_round_trip():
    assert_round_trip(IntervalSchedule(interval=timedelta(minutes=90)), after=datetime(2024, 1, 1))
    assert_round_trip(
        IntervalSchedule(datetime(2024, 1, 1), timedelta(seconds=1.5), end_date=datetime(2024, 1, 1, 0, 1)),
        after=datetime(2024, 1, 1),
    )


# ----------------------------------------------------------------------- zones


@pytest.mark.parametrize("after", [datetime(2024, 3, 9, 12), datetime(2024, 11, 2, 12)])
@pytest.mark.parametrize("make", [
    lambda: CronClock("*/30 * * * *", start_date=datetime(2024, 1, 1, tzinfo=NY)),
    lambda: CronClock("30 2 * * *", start_date=datetime(2024, 1, 1, tzinfo=NY)),
    lambda: IntervalClock(timedelta(minutes=45), start_date=datetime(2024, 1, 1, 1, 30, tzinfo=NY)),
    lambda: IntervalClock(timedelta(days=1), start_date=datetime(2024, 1, 1, 2, 30, tzinfo=NY)),
])
def test_new_york_across_spring_forward_and_fall_back(make, after):
    assert_round_trip(Schedule([make()]), after=after)


def test_nonexistent_and_second_fold_start_dates_are_kept_exactly():
    gap = datetime(2024, 3, 10, 2, 30, tzinfo=NY)  # does not exist
    second = datetime(2024, 11, 3, 1, 30, tzinfo=NY, fold=1)  # 1:30 EST
    for start in (gap, second):
        for interval in (timedelta(days=1), timedelta(hours=1)):
            again = assert_round_trip(Schedule([IntervalClock(interval, start_date=start)]), after=start - timedelta(days=1))
            assert again.clocks[0].start_date.fold == start.fold
            assert again.clocks[0].start_date.replace(tzinfo=None) == start.replace(tzinfo=None)
    data = schedule_to_dict(Schedule([IntervalClock(timedelta(hours=1), start_date=second)]))
    assert data["clocks"][0]["start_date"] == {"local": "2024-11-03T01:30:00", "fold": 1, "tz": "America/New_York"}


@pytest.mark.parametrize("tz, expected", [
    (LONDON, "Europe/London"),
    (UTC, "UTC"),
    (ZoneInfo("UTC"), "UTC"),
    (PLUS_0530, {"offset": 19800}),
    (timezone(timedelta(hours=-5), "EST"), {"offset": -18000, "name": "EST"}),
    (timezone(timedelta(seconds=1, microseconds=7)), {"offset": 1.000007}),
    (None, "UTC"),
])
def test_zone_kinds(tz, expected):
    start = datetime(2024, 3, 1, 8, 15, tzinfo=tz)
    schedule = CronSchedule("15 8 * * *", start_date=start)
    assert schedule_to_dict(schedule)["clocks"][0]["start_date"]["tz"] == expected
    assert_round_trip(schedule, after=datetime(2024, 3, 20))


def test_dateutil_fixed_zones_and_a_duck_typed_key():
    from dateutil import tz as dateutil_tz

    assert schedule_to_dict(CronSchedule("0 * * * *", start_date=datetime(2024, 1, 1, tzinfo=dateutil_tz.UTC)))[
        "clocks"][0]["start_date"]["tz"] == "UTC"
    off = dateutil_tz.tzoffset("X", 3600)
    assert schedule_to_dict(CronSchedule("0 * * * *", start_date=datetime(2024, 1, 1, tzinfo=off)))[
        "clocks"][0]["start_date"]["tz"] == {"offset": 3600, "name": "X"}

    class Keyed(type(NY)):  # a ZoneInfo subclass, like pendulum 3's Timezone
        pass

    keyed = Keyed("America/New_York")
    data = schedule_to_dict(CronSchedule("0 9 * * *", start_date=datetime(2024, 1, 1, tzinfo=keyed)))
    assert data["clocks"][0]["start_date"]["tz"] == "America/New_York"


def test_unsupported_zone_raises_serialization_error():
    from dateutil import tz as dateutil_tz

    local = dateutil_tz.tzlocal()
    with pytest.raises(SerializationError, match="zoneinfo.ZoneInfo"):
        schedule_to_dict(CronSchedule("0 9 * * *", start_date=datetime(2024, 1, 1, tzinfo=local)))


# ------------------------------------------------------- filters, adjustments


def _every_filter() -> list:
    return [
        filters.is_weekday, filters.is_weekend, filters.is_month_start, filters.is_month_end,
        filters.on_datetime(datetime(2024, 3, 10, 3, tzinfo=NY)),
        filters.on_datetime(datetime(2024, 3, 12, 6)),
        filters.on_date(3, 15),
        filters.at_time(time(9, 30)),
        filters.at_time(time(9, 30, 0, 5)),
        filters.between_datetimes(datetime(2024, 3, 1, tzinfo=LONDON), datetime(2024, 4, 1, tzinfo=PLUS_0530)),
        filters.between_dates(10, 15, 3, 31),
        filters.between_times(time(22), time(2)),
    ]


@pytest.fixture
def few_rejections(monkeypatch):
    """Searches give up after 300 rejected candidates (same for both schedules)."""
    monkeypatch.setattr(schedules_module, "MAX_REJECTED", 300)


@pytest.mark.parametrize("make", range(12))
def test_each_filter_round_trips_in_every_list(make, few_rejections):
    clock = IntervalClock(timedelta(minutes=30), start_date=datetime(2024, 1, 1, tzinfo=NY))
    for where in ("filters", "or_filters", "not_filters"):
        schedule = Schedule([clock], **{where: [_every_filter()[make]]})
        assert_round_trip(schedule, after=datetime(2024, 3, 9), n=20)


def test_each_adjustment_round_trips():
    adjs = [
        adjustments.next_weekday,
        adjustments.add(timedelta(days=1, hours=2)),
        adjustments.add(timedelta(minutes=-30)),
        adjustments.add(timedelta(microseconds=1)),
        adjustments.add(timedelta(days=10**6, microseconds=3)),
    ]
    clock = CronClock("0 9 * * *", start_date=datetime(2024, 1, 1, tzinfo=NY))
    for adj in adjs:
        assert_round_trip(Schedule([clock], adjustments=[adj]), after=datetime(2024, 3, 1))
    schedule = Schedule([clock], adjustments=adjs[:4])
    assert_round_trip(schedule, after=datetime(2024, 10, 25))
    data = schedule_to_dict(schedule)
    assert data["adjustments"][:3] == [
        {"fn": "next_weekday"},
        {"fn": "add", "args": {"interval": 93600}},
        {"fn": "add", "args": {"interval": -1800}},
    ]
    assert data["adjustments"][3] == {"fn": "add", "args": {"interval": 1e-06}}


def test_factories_record_their_arguments():
    f = filters.at_time(time(9, 30))
    assert getattr(f, SPEC_ATTRIBUTE) == ("at_time", {"t": time(9, 30)})
    assert getattr(adjustments.add(timedelta(1)), SPEC_ATTRIBUTE) == ("add", {"interval": timedelta(1)})
    assert getattr(filters.between_dates(1, 2, 3, 4), SPEC_ATTRIBUTE)[1] == {
        "start_month": 1, "start_day": 2, "end_month": 3, "end_day": 4,
    }


def test_filter_json_shape():
    schedule = Schedule(
        [CronClock("0 9 * * *")],
        filters=[filters.is_weekday, filters.between_times(time(8), time(17, 30))],
        or_filters=[filters.on_date(12, 25)],
        not_filters=[filters.between_datetimes(datetime(2024, 1, 1), datetime(2024, 1, 2, tzinfo=NY))],
    )
    data = schedule_to_dict(schedule)
    assert data["version"] == 1
    assert data["filters"] == [
        {"fn": "is_weekday"},
        {"fn": "between_times", "args": {"end": "17:30:00", "start": "08:00:00"}},
    ]
    assert data["or_filters"] == [{"fn": "on_date", "args": {"day": 25, "month": 12}}]
    assert data["not_filters"][0]["args"]["end"] == {"local": "2024-01-02T00:00:00", "fold": 0, "tz": "America/New_York"}


# ---------------------------------------------------------------- property test

ZONES = [NY, LONDON, UTC, PLUS_0530, ZoneInfo("Australia/Sydney")]
CRONS = ["0 9 * * *", "*/15 * * * *", "30 1 * * 0", "0 0 1 * *", "0 2 * * 1-5", "45 */3 * * *"]
# Filters that pass often, so next(50) never scans MAX_REJECTED candidates;
# ``filters`` only uses the first; ``or_filters`` always includes it.
PERMISSIVE = [
    filters.is_weekday, filters.is_weekend, filters.between_times(time(1), time(3)),
    filters.between_times(time(20), time(4)), filters.between_dates(3, 1, 11, 30),
]
SELECTIVE = [
    filters.is_month_start, filters.on_date(3, 10), filters.at_time(time(1, 30)),
    filters.on_datetime(datetime(2024, 11, 3, 6)),
    filters.between_datetimes(datetime(2024, 3, 9), datetime(2024, 3, 11)),
]
ADJUSTMENTS = [adjustments.next_weekday, adjustments.add(timedelta(hours=1)), adjustments.add(timedelta(days=1))]

starts = st.builds(
    lambda day, minute, fold, tz: datetime(2024, 1, 1, tzinfo=tz, fold=fold) + timedelta(days=day, minutes=minute),
    st.integers(0, 330), st.integers(0, 1439), st.integers(0, 1), st.sampled_from(ZONES),
)
common = st.fixed_dictionaries({
    "parameter_defaults": st.dictionaries(st.text(max_size=3), st.integers() | st.text(max_size=3) | st.none(), max_size=2),
    "labels": st.lists(st.text(max_size=3), max_size=2),
})
interval_clocks = st.builds(
    lambda interval, start, extra: IntervalClock(interval, start_date=start, **extra),
    st.sampled_from([timedelta(minutes=17), timedelta(hours=1), timedelta(days=1), timedelta(days=2, hours=3),
                     timedelta(seconds=3601, microseconds=250)]),
    starts, common,
)
cron_clocks = st.builds(
    lambda cron, start, day_or, extra: CronClock(cron, start_date=start, day_or=day_or, **extra),
    st.sampled_from(CRONS), starts | st.none(), st.booleans(), common,
)
dates_clocks = st.builds(lambda dates, extra: DatesClock(dates, **extra), st.lists(starts, min_size=1, max_size=5), common)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    clocks=st.lists(interval_clocks | cron_clocks | dates_clocks, min_size=1, max_size=3),
    keep=st.lists(st.sampled_from(PERMISSIVE[:1]), max_size=1),
    either=st.lists(st.sampled_from(PERMISSIVE + SELECTIVE), max_size=2).map(
        lambda fs: fs + [PERMISSIVE[0]] if fs else fs),
    drop=st.lists(st.sampled_from(SELECTIVE), max_size=2),
    adjust=st.lists(st.sampled_from(ADJUSTMENTS), max_size=2),
    after=st.sampled_from([datetime(2024, 3, 9, 12), datetime(2024, 10, 30), datetime(2024, 3, 30), datetime(2024, 6, 1)]),
)
def test_random_schedules_round_trip(clocks, keep, either, drop, adjust, after):
    schedule = Schedule(clocks, filters=keep, or_filters=either, not_filters=drop, adjustments=adjust)
    # A rarely passing combination would scan 10,000 candidates per search;
    # the same lower limit applies to both schedules, so the comparison holds.
    saved, schedules_module.MAX_REJECTED = schedules_module.MAX_REJECTED, 300
    try:
        assert_round_trip(schedule, after=after)
    finally:
        schedules_module.MAX_REJECTED = saved


# ----------------------------------------------------------------- determinism


def test_same_schedule_gives_same_dict_and_json_text():
    def build(params: dict) -> Schedule:
        return Schedule(
            [IntervalClock(timedelta(hours=1), start_date=datetime(2024, 1, 1, tzinfo=NY), parameter_defaults=params)],
            filters=[filters.between_times(time(9), time(17))],
        )

    a = build({"b": 1, "a": {"y": 2, "x": 3}})
    b = build({"a": {"x": 3, "y": 2}, "b": 1})
    assert schedule_to_dict(a) == schedule_to_dict(a) == schedule_to_dict(b)
    assert json.dumps(schedule_to_dict(a)) == json.dumps(schedule_to_dict(b))
    assert list(schedule_to_dict(a)["clocks"][0]["parameter_defaults"]) == ["a", "b"]
    assert set(schedule_to_dict(a)) == {"version", "clocks", "filters", "or_filters", "not_filters", "adjustments"}


# ---------------------------------------------------------------------- errors


def my_filter(dt: datetime) -> bool:
    return True


class MyClock(IntervalClock):
    pass


class MySchedule(Schedule):
    pass


def test_user_filters_and_adjustments_are_refused_with_advice():
    clock = CronClock("0 9 * * *")
    with pytest.raises(SerializationError, match=r"Schedule filter my_filter .* not one of perfect_nb\.schedules\.filters.*flow\.run\(\)"):
        schedule_to_dict(Schedule([clock], filters=[my_filter]))
    with pytest.raises(SerializationError, match="<lambda>"):
        schedule_to_dict(Schedule([clock], not_filters=[lambda dt: False]))
    with pytest.raises(SerializationError, match="partial"):
        schedule_to_dict(Schedule([clock], or_filters=[functools.partial(filters.between_times, time(1))]))
    with pytest.raises(SerializationError, match=r"Schedule adjustment .* not one of perfect_nb\.schedules\.adjustments"):
        schedule_to_dict(Schedule([clock], adjustments=[lambda dt: dt]))
    with pytest.raises(SerializationError, match="not one of perfect_nb.schedules.filters"):
        schedule_to_dict(Schedule([clock], filters=[adjustments.next_weekday]))


def test_a_wrapper_copying_the_spec_attribute_is_refused():
    inner = filters.at_time(time(9))

    @functools.wraps(inner)
    def wrapper(dt: datetime) -> bool:
        return not inner(dt)

    assert hasattr(wrapper, SPEC_ATTRIBUTE)
    with pytest.raises(SerializationError, match="not one of perfect_nb.schedules.filters"):
        schedule_to_dict(Schedule([CronClock("0 9 * * *")], filters=[wrapper]))


def test_clock_and_schedule_subclasses_are_refused():
    with pytest.raises(SerializationError, match=r"clocks\[0\].*MyClock.*flow\.run\(\)"):
        schedule_to_dict(Schedule([MyClock(timedelta(hours=1))]))
    with pytest.raises(SerializationError, match="MySchedule"):
        schedule_to_dict(MySchedule([CronClock("0 9 * * *")]))


@pytest.mark.parametrize("value, fragment", [
    ((1, 2), "use a list"),
    ({1: "a"}, "non-string key"),
    (float("nan"), "finite"),
    ({"ok": [datetime(2024, 1, 1)]}, r"at 'p'\['ok'\]\[0\]"),
    (object(), "builtins.object"),
])
def test_non_json_parameter_defaults_name_clock_and_parameter(value, fragment):
    clock = CronClock("0 9 * * *", parameter_defaults={"p": value})
    with pytest.raises(SerializationError, match=r"clocks\[0\].*parameter 'p'.*" + fragment):
        schedule_to_dict(Schedule([clock]))


def test_non_string_labels_and_parameter_names_are_refused():
    with pytest.raises(SerializationError, match="label 3"):
        schedule_to_dict(Schedule([CronClock("0 9 * * *", labels=[3])]))
    with pytest.raises(SerializationError, match="parameter names must be strings"):
        schedule_to_dict(Schedule([CronClock("0 9 * * *", parameter_defaults={1: 2})]))


def _valid() -> dict:
    return schedule_to_dict(Schedule(
        [IntervalClock(timedelta(hours=1), start_date=datetime(2024, 1, 1, tzinfo=NY))],
        filters=[filters.at_time(time(9))],
    ))


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.update(version=2), "version 1 only"),
    (lambda d: d.pop("version"), "version"),
    (lambda d: d.update(version="1"), "version"),
    (lambda d: d["filters"].append({"fn": "is_holiday"}), r"'is_holiday', which is not one of perfect_nb\.schedules\.filters"),
    (lambda d: d["adjustments"].append({"fn": "is_weekday"}), "not one of perfect_nb.schedules.adjustments"),
    (lambda d: d["clocks"][0].update(type="MonthlyClock"), "known clock types"),
    (lambda d: d["clocks"][0].update(interval="1h"), r"\['clocks'\]\[0\]\['interval'\]"),
    (lambda d: d["clocks"][0].update(interval=0), "positive"),
    (lambda d: d["clocks"][0]["start_date"].update(tz="Mars/Olympus"), "IANA"),
    (lambda d: d["clocks"][0]["start_date"].update(fold=2), "fold"),
    (lambda d: d["clocks"][0].update(extra=1), "unknown key"),
    (lambda d: d["clocks"].clear(), "at least one clock"),
    (lambda d: d["filters"][0]["args"].update(t=930), "time string"),
    (lambda d: d["filters"][0].pop("args"), "missing"),
    (lambda d: d.update(clocks="x"), "must be list"),
])
def test_bad_stored_data_raises_value_error(mutate, fragment):
    data = _valid()
    schedule_from_dict(data)  # valid as written
    mutate(data)
    with pytest.raises(ValueError, match=fragment):
        schedule_from_dict(data)
