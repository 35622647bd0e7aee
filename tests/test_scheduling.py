"""flow.run() on a schedule: one run per scheduled time, with the event's parameter defaults."""

import datetime as dt

import pytest

from perfect_nb import Flow, Parameter, context, task
from perfect_nb.schedules import Schedule, clocks


def _flow_with(clock_list):
    seen = []

    @task
    def record(n):
        seen.append((n, context.scheduled_start_time))
        return n

    with Flow("scheduled", schedule=Schedule(clocks=clock_list)) as flow:
        record(Parameter("n", default=1))
    return flow, seen


def test_runs_once_per_scheduled_time_with_parameter_defaults():
    now = dt.datetime.now(dt.timezone.utc)
    clock = clocks.IntervalClock(dt.timedelta(seconds=0.2), start_date=now, end_date=now + dt.timedelta(seconds=0.7), parameter_defaults={"n": 5})
    flow, seen = _flow_with([clock])
    state = flow.run()
    assert state.is_successful() and flow.last_run is state
    assert [n for n, _ in seen] == [5, 5, 5]
    times = [when for _, when in seen]
    assert times == sorted(times) and all(t > now for t in times)


def test_given_parameters_override_event_defaults():
    now = dt.datetime.now(dt.timezone.utc)
    clock = clocks.DatesClock([now + dt.timedelta(seconds=0.1)], parameter_defaults={"n": 5})
    flow, seen = _flow_with([clock])
    flow.run(n=9)
    assert [n for n, _ in seen] == [9]


def test_run_on_schedule_false_runs_once_now():
    far = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    flow, seen = _flow_with([clocks.DatesClock([far])])
    assert flow.run(run_on_schedule=False).is_successful()
    assert len(seen) == 1 and seen[0][1] < far


def test_interrupt_while_waiting_stops_the_schedule(monkeypatch):
    far = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    flow, seen = _flow_with([clocks.DatesClock([far])])

    def interrupted(_seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("perfect_nb.engine.scheduling.time.sleep", interrupted)
    state = flow.run()
    assert seen == [] and state.is_scheduled()


def test_schedule_errors_surface_at_build_time():
    with pytest.raises(ValueError, match="Invalid cron string"):
        clocks.CronClock("61 * * * *")
