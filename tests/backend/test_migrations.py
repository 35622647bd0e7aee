"""Schema migrations that change stored data, run on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import command

from perfect_nb.client.reporter import task_run_key
from perfect_nb.server.db import Database
from perfect_nb.server.db import migrate
from perfect_nb.server.db.schema import flow_runs, logs, states, task_runs


def _to(db: Database, revision: str, down: bool = False) -> None:
    migrate._run(db, command.downgrade if down else command.upgrade, revision)


def test_task_runs_recorded_with_uuid_ids_are_renamed_with_their_states_and_logs(database_url):
    """A database recorded before revision 0006 (task run ids were name-based UUIDs) is
    upgraded so that its task runs have the ids the reporter now gives them, states and
    logs following, so a restart of an old run updates the same rows; a downgrade gives
    the UUIDs back."""
    db = Database(database_url)
    _to(db, "0005")
    run = str(uuid.uuid4())
    old = {(slug, index): str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{slug}/{index}")) for slug, index in [("inc", 0), ("inc", 1), ("total", -1)]}
    with db.write() as conn:
        conn.execute(flow_runs.insert(), dict(id=run, flow_name="f", name="f", parameters={}, labels=[], state="Failed", scheduled_start_time=1.0, created=1.0, updated=1.0))
        conn.execute(task_runs.insert(), [dict(id=tid, flow_run_id=run, task_slug=slug, task_name=slug, map_index=index, state="Success", seq=1, updated=1.0)
                                          for (slug, index), tid in old.items()])
        conn.execute(states.insert(), [dict(event_id=f"s-{tid}", flow_run_id=run, task_run_id=tid, state="Success", timestamp=1.0) for tid in old.values()]
                     + [dict(event_id="s-flow", flow_run_id=run, task_run_id=None, state="Failed", timestamp=2.0)])
        conn.execute(logs.insert(), [dict(event_id=f"l-{tid}", flow_run_id=run, task_run_id=tid, level=20, name="x", message=tid, timestamp=1.0) for tid in old.values()])
    _to(db, "head")
    with db.read() as conn:
        ids = {(r.task_slug, r.map_index): r.id for r in conn.execute(sa.select(task_runs))}
        state_ids = sorted(r.task_run_id or "" for r in conn.execute(sa.select(states.c.task_run_id)))
        log_rows = {r.message: r.task_run_id for r in conn.execute(sa.select(logs.c.message, logs.c.task_run_id))}
    assert ids == {(slug, index): task_run_key(run, slug, None if index == -1 else index) for slug, index in old}
    assert state_ids == sorted(["", *ids.values()])
    assert log_rows == {old[key]: ids[key] for key in old}
    _to(db, "0005", down=True)
    with db.read() as conn:
        assert {(r.task_slug, r.map_index): r.id for r in conn.execute(sa.select(task_runs))} == old
        assert sorted(r.task_run_id or "" for r in conn.execute(sa.select(states.c.task_run_id))) == sorted(["", *old.values()])
    db.dispose()


def test_states_copied_by_0007_keep_their_history_and_new_ones_are_deduplicated_after_them(database_url):
    """Revision 0007 copies the states table (a flow run's own states get task_run_id '');
    the histories read back as before, a state recorded afterwards is numbered after the
    copied ones and stored once when sent twice, and a downgrade gives the NULLs back."""
    from perfect_nb.server.db import queries
    from perfect_nb.server.db.ingest import ingest

    db = Database(database_url)
    _to(db, "0006")
    run = str(uuid.uuid4())
    tid = task_run_key(run, "inc", None)
    with db.write() as conn:
        conn.execute(flow_runs.insert(), dict(id=run, flow_name="f", name="f", parameters={}, labels=[], state="Running", scheduled_start_time=1.0, created=1.0, updated=1.0))
        conn.execute(task_runs.insert(), dict(id=tid, flow_run_id=run, task_slug="inc", task_name="inc", map_index=-1, state="Running", seq=2, updated=1.0))
        conn.execute(states.insert(), [dict(event_id="e1", flow_run_id=run, task_run_id=None, state="Scheduled", timestamp=1.0),
                                       dict(event_id="e2", flow_run_id=run, task_run_id=None, state="Running", timestamp=2.0),
                                       dict(event_id="e3", flow_run_id=run, task_run_id=tid, state="Running", timestamp=3.0)])
    _to(db, "head")
    later = {"id": "p-4", "type": "states", "flow_run_id": run, "prefix": "p", "tasks": [[tid, "inc", "inc", None]],
             "rows": [[0, "Success", None, True, 4, 4.0, None, None], [-1, "Success", None, True, 5, 5.0, None, None]]}
    for _ in range(2):
        with db.write() as conn:
            ingest(conn, [later])
    with db.read() as conn:
        flow_history = [(s["state"], s["task_run_id"]) for s in queries.list_states(conn, run)]
        task_history = [s["state"] for s in queries.list_states(conn, run, task_run_id=tid)]
    assert flow_history == [("Scheduled", None), ("Running", None), ("Success", None)]
    assert task_history == ["Running", "Success"]
    _to(db, "0006", down=True)
    with db.read() as conn:
        rows = conn.execute(sa.text("SELECT event_id, task_run_id FROM states ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("e1", None), ("e2", None), ("e3", tid), ("p-4", tid), ("p-5", None)]
    db.dispose()


def test_graphs_stored_in_runs_before_0008_are_kept_once_per_shape_and_given_back_on_downgrade(database_url):
    """Revision 0008 moves each run's graph into ``graphs``, one row per distinct graph;
    a run's API answer has its graph as before (a run without one has None), retention
    deletes a graph with the last run that shows it, and a downgrade puts them back."""
    from perfect_nb.server.db import queries

    db = Database(database_url)
    _to(db, "0007")
    old_runs = sa.table("flow_runs", *(sa.column(c) for c in ("id", "flow_name", "name", "state", "scheduled_start_time", "created", "updated")),
                        *(sa.column(c, sa.JSON) for c in ("parameters", "labels", "graph")))
    small = {"tasks": [{"slug": "a", "name": "a", "type": "FunctionTask"}], "edges": [], "reference_tasks": []}
    big = {"tasks": small["tasks"] + [{"slug": "b", "name": "b", "type": "FunctionTask"}], "edges": [], "reference_tasks": []}
    shown = {"r1": small, "r2": small, "r3": big, "r4": None}
    with db.write() as conn:
        conn.execute(old_runs.insert(), [dict(id=run, flow_name="f", name="f", parameters={}, labels=[], state="Success", scheduled_start_time=1.0,
                                              created=float(i), updated=1.0, graph=graph) for i, (run, graph) in enumerate(shown.items())])
    _to(db, "head")
    with db.read() as conn:
        assert {run: queries.get_flow_run(conn, run)["graph"] for run in shown} == shown
        assert conn.execute(sa.text("SELECT count(*) FROM graphs")).scalar() == 2
    with db.write() as conn:
        assert queries.delete_old_runs(conn, before=1.5) == 2  # r1 and r2: the small graph goes with them
        assert conn.execute(sa.text("SELECT count(*) FROM graphs")).scalar() == 1
    _to(db, "0007", down=True)
    with db.read() as conn:
        rows = conn.execute(sa.select(old_runs.c.id, old_runs.c.graph).order_by(old_runs.c.id)).all()
    assert [tuple(r) for r in rows] == [("r3", big), ("r4", None)]
    db.dispose()
