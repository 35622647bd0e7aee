"""Server-side schedules, on a real database: the runs made over a simulated day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from perfect_nb import Flow, Parameter, task
from perfect_nb.schedules import Schedule, clocks, filters

T0 = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
HOUR = 3600


@pytest.fixture
def db(database_url):
    from perfect_nb.server.db import Database
    from perfect_nb.server.db.migrate import upgrade

    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


def _register(db, schedule, name="nightly", labels=None):
    from perfect_nb.client.register import registration_payload
    from perfect_nb.server.db import queries as q

    with Flow(name, schedule=schedule) as flow:
        n = Parameter("n", default=1)
        task(lambda n: n, name="use")(n)
    body = registration_payload(flow, "p", labels=labels)
    with db.write() as conn:
        if not q.list_projects(conn):
            q.create_project(conn, "p")
        return q.register_flow(conn, "p", body["name"], body["key"], b"blob", body["key"], body["meta"], body["parameters"], body["graph"],
                               body["schedule"], body["labels"])


def _runs(db, flow_id):
    from perfect_nb.server.db import queries as q

    with db.read() as conn:
        rows = q.list_flow_runs(conn, flow_id=flow_id, since=0, until=4e9, limit=1000)
    return sorted((r["scheduled_start_time"], r["parameters"].get("n", 1), tuple(r["labels"])) for r in rows)


def _simulate(db, hours=24, step=0.5, horizon=HOUR * 6, max_runs=10):
    from perfect_nb.server.db.scheduling import schedule_runs

    made = []
    for k in range(int(hours / step) + 1):
        now = T0.timestamp() + k * step * HOUR
        with db.write() as conn:
            made += schedule_runs(conn, now, horizon=horizon, max_runs=max_runs)
            assert schedule_runs(conn, now, horizon=horizon, max_runs=max_runs) == [], "asked again (a server restart): nothing new"
    return made


def test_a_simulated_day_makes_exactly_the_scheduled_runs(db):
    schedule = Schedule(clocks=[
        clocks.CronClock("0 * * * *", start_date=T0),
        clocks.IntervalClock(timedelta(hours=6), start_date=T0, parameter_defaults={"n": 5}, labels=["big"]),
    ], not_filters=[filters.between_times(datetime(2026, 1, 1, 2).time(), datetime(2026, 1, 1, 3).time())])
    flow = _register(db, schedule, labels=["etl"])
    made = _simulate(db)
    runs = _runs(db, flow["id"])
    assert len(made) == len(runs)
    # hourly from 01:00 to 30:00 (the last call, at 24:00, looks 6 h ahead), except 02:00 and 03:00 of each day
    hourly = [h for h in range(1, 31) if h % 24 not in (2, 3)]
    six = [6, 12, 18, 24, 30]
    expected = sorted([(T0.timestamp() + h * HOUR, 1, ("etl",)) for h in hourly] + [(T0.timestamp() + h * HOUR, 5, ("big",)) for h in six])
    assert runs == expected


def test_switching_a_schedule_off_deletes_its_future_runs_and_on_makes_them_again(db):
    from perfect_nb.server.db.scheduling import schedule_runs, set_schedule_active

    flow = _register(db, Schedule(clocks=[clocks.IntervalClock(timedelta(hours=1), start_date=T0)]))
    now = T0.timestamp()
    with db.write() as conn:
        assert len(schedule_runs(conn, now)) == 10
        assert set_schedule_active(conn, "nightly", None, False)["deleted_runs"] == 10
        assert schedule_runs(conn, now) == []
        set_schedule_active(conn, "nightly", "p", True)
        assert len(schedule_runs(conn, now)) == 10
    assert len(_runs(db, flow["id"])) == 10


def test_a_new_version_takes_over_the_schedule_without_doubling_runs(db):
    from perfect_nb.server.db.scheduling import schedule_runs, set_schedule_active

    first = _register(db, Schedule(clocks=[clocks.IntervalClock(timedelta(hours=1), start_date=T0)]))
    with db.write() as conn:
        schedule_runs(conn, T0.timestamp())
        set_schedule_active(conn, "nightly", None, False)
    second = _register(db, Schedule(clocks=[clocks.IntervalClock(timedelta(hours=2), start_date=T0)]))
    assert second["version"] == 2
    with db.write() as conn:
        assert schedule_runs(conn, T0.timestamp()) == [], "the schedule stays off for the new version"
        set_schedule_active(conn, "nightly", None, True)
        schedule_runs(conn, T0.timestamp())
    assert _runs(db, first["id"]) == [] and len(_runs(db, second["id"])) == 10


def test_a_schedule_the_server_cannot_evaluate_is_refused_at_registration():
    from perfect_nb.client.register import registration_payload
    from perfect_nb.errors import SerializationError

    def my_filter(dt):
        return dt.hour > 3

    with Flow("f", schedule=Schedule(clocks=[clocks.IntervalClock(timedelta(hours=1))], filters=[my_filter])) as flow:
        task(lambda: 1, name="one")()
    with pytest.raises(SerializationError, match="my_filter"):
        registration_payload(flow, "p")
