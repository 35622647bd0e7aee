"""The reaper's judgement, on a real database with the clock given: who is requeued, who fails, and when."""

from __future__ import annotations

import pytest

from perfect_nb.server.db import orchestration as o
from perfect_nb.server.db import queries as q
from perfect_nb.server.db.orchestration import STARTUP_GRACE

HB = 1.0
T = 1_800_000_000.0


@pytest.fixture
def db(database_url):
    from perfect_nb.server.db import Database
    from perfect_nb.server.db.migrate import upgrade

    database = Database(database_url)
    upgrade(database)
    with database.write() as conn:
        q.create_project(conn, "p")
        flow = q.register_flow(conn, "p", "f", "k", b"x", "bk", {}, [], {})
        q.create_flow_run(conn, flow, {}, scheduled_start_time=T - 100)
    yield database
    database.dispose()


def _claim(db, now):
    with db.write() as conn:
        agent = o.register_agent(conn, "a", [], "host-a", 1, 1, now=now)
        (run,) = o.claim_runs(conn, agent["id"], 1, now=now)
        o.run_heartbeat(conn, run["id"], run["lease"], "host-a", 42, now=now)
    return agent, run


def _reap(db, now, max_claims=3):
    with db.write() as conn:
        return o.reap(conn, now, HB, max_claims, up_since=T - 1000)


def _run(db, run_id):
    with db.read() as conn:
        return q.get_flow_run(conn, run_id)


def test_a_run_whose_agent_and_process_fell_silent_is_requeued_then_failed_after_max_claims(db):
    now = T
    for attempt in (1, 2, 3):
        agent, run = _claim(db, now)
        assert _reap(db, now + 2.9 * HB) == [], "silent for less than three heartbeats: left alone"
        (changed,) = _reap(db, now + 3.1 * HB)
        row = _run(db, run["id"])
        if attempt < 3:
            assert row["state"] == "Scheduled" and f"hand-out {attempt} of 3" in changed["message"] and row["agent_id"] is None
        else:
            assert row["state"] == "Failed" and "Given to agents 3 times" in row["message"]
        assert row["lease"] > run["lease"], "the old process's lease is void"
        now += 10 * HB


def test_a_silent_process_of_a_living_agent_fails_and_a_heartbeating_one_is_never_taken(db):
    agent, run = _claim(db, T)
    with db.write() as conn:
        o.agent_heartbeat(conn, agent["id"], {run["id"]: run["lease"]}, now=T + 3.5 * HB)
        o.run_heartbeat(conn, run["id"], run["lease"], "host-a", 42, now=T + 2 * HB)
    assert _reap(db, T + 3.5 * HB) == [], "heartbeating within three intervals"
    with db.write() as conn:
        o.agent_heartbeat(conn, agent["id"], {run["id"]: run["lease"]}, now=T + 7.5 * HB)
    assert _reap(db, T + 7.5 * HB) == [], "silent for 5.5 intervals: its living agent has the time to report the exit itself"
    (changed,) = _reap(db, T + 8.5 * HB)
    assert changed["state"] == "Failed" and "while agent a lives" in changed["message"] and "host-a (pid 42)" in changed["message"]
    with db.write() as conn:
        with pytest.raises(q.Conflict, match="no longer this process's"):
            o.run_heartbeat(conn, run["id"], run["lease"], "host-a", 42, now=T + 9 * HB)
        assert o.agent_heartbeat(conn, agent["id"], {run["id"]: run["lease"]}, now=T + 9 * HB) == {"stop": [run["id"]]}


def test_a_claimed_run_has_a_startup_grace_and_nothing_is_judged_right_after_the_server_starts(db):
    with db.write() as conn:
        agent = o.register_agent(conn, "a", [], "h", 1, 1, now=T)
        (run,) = o.claim_runs(conn, agent["id"], 1, now=T)
    assert _reap(db, T + STARTUP_GRACE + 2 * HB) == [], "its process has not heartbeated yet, but may still be starting"
    assert len(_reap(db, T + STARTUP_GRACE + 3.5 * HB)) == 1
    with db.write() as conn:
        assert o.reap(conn, T + 1000, HB, 3, up_since=T + 999) == [], "a server up for one second judges no one"


def test_claims_respect_labels_and_time(db):
    with db.write() as conn:
        flow = q.find_flow(conn, "f")
        later = q.create_flow_run(conn, flow, {}, scheduled_start_time=T + 60)
        gpu = q.create_flow_run(conn, flow, {}, labels=["gpu"], scheduled_start_time=T - 10)
        plain = o.register_agent(conn, "plain", [], "h", 1, 5, now=T)
        big = o.register_agent(conn, "big", ["gpu", "x"], "h", 2, 5, now=T)
        first = {r["id"] for r in o.claim_runs(conn, plain["id"], 5, now=T)}
        second = {r["id"] for r in o.claim_runs(conn, big["id"], 5, now=T)}
        third = {r["id"] for r in o.claim_runs(conn, big["id"], 5, now=T + 61)}
    assert gpu["id"] not in first and later["id"] not in first and len(first) == 1
    assert second == {gpu["id"]} and third == {later["id"]}
