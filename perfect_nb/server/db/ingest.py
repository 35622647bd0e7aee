"""Event ingestion: a batch of the engine's events, stored in one transaction.

Three kinds of event arrive, each with an ``id`` the server deduplicates on:

- ``flow_run``: a run began (``flow_run_id``, ``flow_name``, ``flow_id`` when
  the flow is registered, ``parameters``, ``labels``, ``graph``, ``ts``);
- ``state``: a flow run (``task_run_id`` null) or a task run changed state
  (``task_slug``, ``task_name``, ``map_index``, ``state``, ``message``,
  ``finished``, ``seq``, ``ts``; ``map_size``, the number of children, with a
  task run's ``Mapped`` state);
- ``log``: a log record (``level``, ``name``, ``message``, ``ts``);
- ``location``: where a task run's result was stored (``task_run_id``,
  ``location``, and from a run process ``preview``, a short repr of the value
  for the task run's page), sent before the flow run's final state and again by
  a run process once it is over, so that a restart can reuse it (a state event
  may go out before the result is written).

Every state event goes into the history; it becomes the current state of its
run only when it carries the run's current ``lease`` (see
:mod:`~perfect_nb.server.db.schema`) and its ``seq`` is newer than the one
stored, so a batch sent twice, replayed late from a spool file, or sent by a
process that lost the run changes nothing. A run being cancelled
(``Cancelling``) changes only to a finished state.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from perfect_nb.server.db.schema import flow_runs, logs, states, task_runs

__all__ = ["ingest", "upsert"]

PREVIEW_LIMIT = 1000  # characters of a result's preview kept (the run process sends ~200)


def upsert(conn: sa.Connection, table: sa.Table):
    """The dialect's ``INSERT`` that can say ``ON CONFLICT``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _new_runs(events: list[dict], now: float) -> list[dict]:
    rows = {}
    for e in events:
        if e["type"] == "flow_run":
            rows[e["flow_run_id"]] = dict(
                id=e["flow_run_id"], flow_id=e.get("flow_id"), flow_name=e.get("flow_name") or "?", name=e.get("name") or e.get("flow_name") or "?",
                parameters=e.get("parameters") or {}, labels=e.get("labels") or [], graph=e.get("graph"), state="Scheduled",
                scheduled_start_time=e.get("ts", now), created=e.get("ts", now), updated=now,
            )
        elif e["type"] in ("state", "log") and e["flow_run_id"] not in rows:  # its flow_run event was sent earlier, or lost
            rows[e["flow_run_id"]] = dict(
                id=e["flow_run_id"], flow_id=None, flow_name="?", name="?", parameters={}, labels=[], graph=None, state="Scheduled",
                scheduled_start_time=e.get("ts", now), created=e.get("ts", now), updated=now, _placeholder=True,
            )
    return list(rows.values())


def _latest(rows: list[dict], key: str) -> dict[str, dict]:
    """Per run id: the newest state event, the first Running time and the last finish time."""
    out: dict[str, dict] = {}
    for e in rows:
        run_id = e[key]
        cur = out.get(run_id)
        if cur is None:
            cur = out[run_id] = {"seq": -1, "start": None}
        if e["state"] == "Running" and cur["start"] is None:
            cur["start"] = e["ts"]
        if isinstance(e.get("map_size"), int):  # a task run's Mapped state: how many children it has
            cur["map_size"] = e["map_size"]
        if e.get("seq", 0) > cur["seq"]:
            cur.update(seq=e.get("seq", 0), event=e)
    return out


def _apply_flow_states(conn: sa.Connection, latest: dict[str, dict], now: float) -> None:
    for run_id, info in latest.items():
        e = info["event"]
        values: dict[str, Any] = dict(state=e["state"], message=e.get("message"), seq=e["seq"], updated=now, version=flow_runs.c.version + 1)
        values["end_time"] = e["ts"] if e.get("finished") else None
        if info["start"] is not None:
            values["start_time"] = sa.func.coalesce(flow_runs.c.start_time, info["start"])
        where = [flow_runs.c.id == run_id, flow_runs.c.seq < e["seq"], flow_runs.c.lease == e.get("lease", 0)]
        if not e.get("finished"):
            where.append(flow_runs.c.state != "Cancelling")
        conn.execute(flow_runs.update().where(*where).values(**values))


def _apply_task_states(conn: sa.Connection, latest: dict[str, dict], now: float) -> None:
    rows = []
    for run_id, info in latest.items():
        e = info["event"]
        rows.append(dict(
            id=run_id, flow_run_id=e["flow_run_id"], task_slug=e.get("task_slug") or "?", task_name=e.get("task_name") or e.get("task_slug") or "?",
            map_index=-1 if e.get("map_index") is None else e["map_index"], state=e["state"], message=e.get("message"), seq=e["seq"],
            start_time=info["start"], end_time=e["ts"] if e.get("finished") else None, updated=now, lease=e.get("lease", 0),
            result_location=e.get("location"), map_size=info.get("map_size"),
        ))
    if not rows:
        return
    _executemany(conn, _TASK_UPSERT, [tuple(r[c] for c in _TASK_COLUMNS) for r in rows])


_TASK_COLUMNS = ("id", "flow_run_id", "task_slug", "task_name", "map_index", "state", "message", "seq", "start_time", "end_time", "updated", "lease", "result_location", "map_size")
_TASK_UPSERT = (
    f"INSERT INTO task_runs ({', '.join(_TASK_COLUMNS)}) VALUES ({{marks}}) ON CONFLICT (id) DO UPDATE SET "
    "state = excluded.state, message = excluded.message, seq = excluded.seq, end_time = excluded.end_time, updated = excluded.updated, "
    "lease = excluded.lease, result_location = excluded.result_location, "
    "result_preview = CASE WHEN excluded.result_location IS NULL THEN NULL ELSE task_runs.result_preview END, "
    "start_time = CASE WHEN excluded.lease > task_runs.lease AND excluded.start_time IS NOT NULL THEN excluded.start_time "  # a new attempt (a restart)
    "ELSE coalesce(task_runs.start_time, excluded.start_time) END, "
    "map_size = coalesce(excluded.map_size, task_runs.map_size) "
    "WHERE task_runs.lease < excluded.lease OR task_runs.seq < excluded.seq"
)
_STATE_COLUMNS = ("event_id", "flow_run_id", "task_run_id", "state", "message", "timestamp")
_STATE_INSERT = f"INSERT INTO states ({', '.join(_STATE_COLUMNS)}) VALUES ({{marks}}) ON CONFLICT (event_id) DO NOTHING"
_LOG_COLUMNS = ("event_id", "flow_run_id", "task_run_id", "level", "name", "message", "timestamp")
_LOG_INSERT = f"INSERT INTO logs ({', '.join(_LOG_COLUMNS)}) VALUES ({{marks}}) ON CONFLICT (event_id) DO NOTHING"


def _executemany(conn: sa.Connection, template: str, rows: list[tuple]) -> int:
    """One statement for many rows, straight to the driver (the hot path: SQLAlchemy's
    per-row parameter processing cost as much as SQLite itself). Values are still bound
    parameters; the statement text is ours, the same on SQLite and PostgreSQL but for the
    placeholder style. Returns the rows changed (-1 when the driver does not say)."""
    if not rows:
        return 0
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = template.format(marks=", ".join([mark] * len(rows[0])))
    return conn.exec_driver_sql(sql, rows).rowcount


def _current(conn: sa.Connection, events: list[dict]) -> list[dict]:
    """The events that carry their flow run's current lease (the others are history only)."""
    if not events or all(not e.get("lease") for e in events) and not any(e.get("task_run_id") for e in events):
        return events  # unleased flow-level events: the update's own condition checks the lease
    ids = sorted({e["flow_run_id"] for e in events})
    leases = dict(conn.execute(sa.select(flow_runs.c.id, flow_runs.c.lease).where(flow_runs.c.id.in_(ids))).all())
    return [e for e in events if leases.get(e["flow_run_id"], 0) == e.get("lease", 0)]


def ingest(conn: sa.Connection, events: list[dict]) -> dict:
    """Store a batch of events; return what was new: ``{"states": n, "logs": n, "runs": [ids]}``."""
    now = time.time()
    runs = _new_runs(events, now)
    if runs:
        real = [{k: v for k, v in r.items() if k != "_placeholder"} for r in runs if not r.get("_placeholder")]
        holders = [{k: v for k, v in r.items() if k != "_placeholder"} for r in runs if r.get("_placeholder")]
        if real:  # a real flow_run event fills in a placeholder made from an earlier batch
            stmt = upsert(conn, flow_runs)
            ex = stmt.excluded
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["id"], set_=dict(flow_id=ex.flow_id, flow_name=ex.flow_name, name=ex.name, parameters=ex.parameters, labels=ex.labels, graph=ex.graph),
                where=flow_runs.c.flow_name == "?",
            ), real)
        if holders:
            conn.execute(upsert(conn, flow_runs).on_conflict_do_nothing(index_elements=["id"]), holders)
    state_events = [e for e in events if e["type"] == "state"]
    new_states = 0
    if state_events:
        rows = [(e["id"], e["flow_run_id"], e.get("task_run_id"), e["state"], e.get("message"), e["ts"]) for e in state_events]
        new_states = _executemany(conn, _STATE_INSERT, rows)
        state_events = _current(conn, state_events)
        _apply_flow_states(conn, _latest([e for e in state_events if not e.get("task_run_id")], "flow_run_id"), now)
        _apply_task_states(conn, _latest([e for e in state_events if e.get("task_run_id")], "task_run_id"), now)
    log_events = [e for e in events if e["type"] == "log"]
    new_logs = 0
    if log_events:
        rows = [(e["id"], e["flow_run_id"], e.get("task_run_id"), int(e.get("level", 20)), str(e.get("name", ""))[:200], str(e.get("message", "")), e["ts"]) for e in log_events]
        new_logs = _executemany(conn, _LOG_INSERT, rows)
    located = _current(conn, [e for e in events if e["type"] == "location"])
    if located:
        conn.execute(task_runs.update().where(task_runs.c.id == sa.bindparam("tid")).values(result_location=sa.bindparam("loc")),
                     [{"tid": e["task_run_id"], "loc": str(e["location"])} for e in located])
        previews = [{"tid": e["task_run_id"], "text": str(e["preview"])[:PREVIEW_LIMIT]} for e in located if e.get("preview") is not None]
        if previews:
            conn.execute(task_runs.update().where(task_runs.c.id == sa.bindparam("tid")).values(result_preview=sa.bindparam("text")), previews)
    return {"states": max(new_states, 0), "logs": max(new_logs, 0), "runs": sorted({e["flow_run_id"] for e in events})}
