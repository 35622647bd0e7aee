"""``schedules.clocks.RRuleClock`` (Prefect 1's clock on a dateutil rrule) and its storage
for the backend's scheduler (issue 14, section 2).

Expectations were taken from running the same clocks on Prefect 1.4.1
(bench/.prefect1-venv); the docstrings quote what 1.4.1 gave.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule

from perfect_nb.errors import SerializationError
from perfect_nb.schedules import Schedule
from perfect_nb.schedules.clocks import RRuleClock
from perfect_nb.schedules.serialize import schedule_from_dict, schedule_to_dict

UTC = timezone.utc


def times(clock, after):
    return [e.start_time.isoformat() for e in clock.events(after=after)]


def test_naive_dtstart_reads_as_utc_and_events_are_strictly_after():
    """1.4.1: rrule(DAILY, dtstart=2024-01-01 09:00, count=5) after 2024-01-02 09:00 gave
    2024-01-03T09:00+00:00, 01-04, 01-05; start_date and end_date are None (not taken from the
    rule); with the default after (now) a rule that ended in 2024 gives nothing."""
    clock = RRuleClock(rrule.rrule(freq=rrule.DAILY, dtstart=datetime(2024, 1, 1, 9), count=5))
    assert clock.start_date is None and clock.end_date is None
    assert times(clock, datetime(2024, 1, 2, 9)) == [
        "2024-01-03T09:00:00+00:00", "2024-01-04T09:00:00+00:00", "2024-01-05T09:00:00+00:00"]
    assert list(clock.events()) == []


def test_start_and_end_date_bound_the_rule_and_schedule_next():
    """1.4.1: WEEKLY on MO and FR at 08:00 UTC from 2030-01-01, start_date 2030-01-10, end_date
    2030-01-25 gave 01-11, 01-14, 01-18, 01-21 (08:00+00:00); Schedule(clocks=[it]).next(3)
    gave the first three."""
    rule = rrule.rrule(rrule.WEEKLY, byweekday=(rrule.MO, rrule.FR), dtstart=datetime(2030, 1, 1, 8, tzinfo=UTC))
    clock = RRuleClock(rule, start_date=datetime(2030, 1, 10, tzinfo=UTC), end_date=datetime(2030, 1, 25, tzinfo=UTC))
    expected = ["2030-01-11T08:00:00+00:00", "2030-01-14T08:00:00+00:00", "2030-01-18T08:00:00+00:00", "2030-01-21T08:00:00+00:00"]
    assert times(clock, datetime(2029, 1, 1, tzinfo=UTC)) == expected
    assert [t.isoformat() for t in Schedule(clocks=[clock]).next(3, after=datetime(2029, 1, 1, tzinfo=UTC))] == expected[:3]


def test_rruleset_timezones_until_and_event_fields():
    """1.4.1: an rruleset of 3 days from 2030-01-01 minus exdate 01-02 gave 01-01 and 01-03; a
    rule with dtstart 2024-03-09 09:00 America/New_York kept 09:00 local across DST (-05:00 then
    -04:00); until 2024-01-03 after 2024-01-01 gave 01-02 and 01-03; parameter_defaults {'x': 1}
    and labels ['a'] are on each event; a string instead of a rule is a TypeError."""
    rs = rrule.rruleset()
    rs.rrule(rrule.rrule(rrule.DAILY, dtstart=datetime(2030, 1, 1), count=3))
    rs.exdate(datetime(2030, 1, 2))
    assert times(RRuleClock(rs), datetime(2029, 1, 1)) == ["2030-01-01T00:00:00+00:00", "2030-01-03T00:00:00+00:00"]
    ny = rrule.rrule(rrule.DAILY, dtstart=datetime(2024, 3, 9, 9, tzinfo=ZoneInfo("America/New_York")), count=3)
    assert times(RRuleClock(ny), datetime(2024, 1, 1)) == [
        "2024-03-09T09:00:00-05:00", "2024-03-10T09:00:00-04:00", "2024-03-11T09:00:00-04:00"]
    until = rrule.rrule(rrule.DAILY, dtstart=datetime(2024, 1, 1), until=datetime(2024, 1, 3))
    assert times(RRuleClock(until), datetime(2024, 1, 1)) == ["2024-01-02T00:00:00+00:00", "2024-01-03T00:00:00+00:00"]
    event = next(RRuleClock(rrule.rrule(rrule.HOURLY, dtstart=datetime(2030, 1, 1), count=3),
                            parameter_defaults={"x": 1}, labels=["a"]).events(after=datetime(2029, 1, 1)))
    assert (event.start_time, event.parameter_defaults, event.labels) == (datetime(2030, 1, 1, tzinfo=UTC), {"x": 1}, ["a"])
    with pytest.raises(TypeError, match="rrule"):
        RRuleClock("FREQ=DAILY")


def test_a_time_in_a_spring_forward_gap_fires_after_the_gap():
    """02:30 on 2024-03-10 in New York does not exist. 1.4.1 gave '2024-03-10T02:30:00-05:00',
    the instant 07:30 UTC; we give the same instant written as it exists, 03:30 -04:00, as our
    CronClock does."""
    rule = rrule.rrule(rrule.DAILY, dtstart=datetime(2024, 3, 9, 2, 30, tzinfo=ZoneInfo("America/New_York")), count=3)
    fired = RRuleClock(rule).events(after=datetime(2024, 1, 1))
    next(fired)
    second = next(fired).start_time
    assert second.isoformat() == "2024-03-10T03:30:00-04:00"
    assert second.astimezone(UTC) == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_stored_for_the_server_and_read_back_the_same():
    """The backend stores a flow's schedule as JSON (schedules/serialize.py) and its scheduler
    computes runs from it: an RRuleClock with a New York dtstart, an aware UNTIL, bounds,
    parameters and labels reads back giving the same 14 times; an rruleset cannot be stored
    (SerializationError saying to use one rrule per clock)."""
    ny = ZoneInfo("America/New_York")
    rule = rrule.rrule(rrule.WEEKLY, byweekday=(rrule.MO, rrule.FR), dtstart=datetime(2030, 1, 1, 8, tzinfo=ny),
                       until=datetime(2030, 3, 1, tzinfo=ny))
    schedule = Schedule(clocks=[RRuleClock(rule, end_date=datetime(2030, 2, 20), parameter_defaults={"x": 1}, labels=["a"])])
    data = schedule_to_dict(schedule)
    clock = data["clocks"][0]
    assert clock["type"] == "RRuleClock" and clock["rrule"] == "RRULE:FREQ=WEEKLY;UNTIL=20300301T050000Z;BYDAY=MO,FR"
    assert clock["dtstart"] == {"local": "2030-01-01T08:00:00", "fold": 0, "tz": "America/New_York"}
    again = schedule_from_dict(json.loads(json.dumps(data)))
    after = datetime(2029, 1, 1)
    assert again.next(30, after=after) == schedule.next(30, after=after) and len(schedule.next(30, after=after)) == 14
    assert again.next(1, after=after, return_events=True)[0].labels == ["a"]
    rs = rrule.rruleset()
    rs.rrule(rule)
    with pytest.raises(SerializationError, match="one RRuleClock per rrule"):
        schedule_to_dict(Schedule(clocks=[RRuleClock(rs)]))
    broken = json.loads(json.dumps(data))
    broken["clocks"][0]["rrule"] = "RRULE:FREQ=SOMETIMES"
    with pytest.raises(ValueError, match=r"\['rrule'\]"):
        schedule_from_dict(broken)
