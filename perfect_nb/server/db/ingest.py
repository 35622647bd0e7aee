"""Event ingestion: a batch of the engine's events, stored in one transaction.

The kinds of event, each with an ``id`` the server deduplicates on:

- ``flow_run``: a run began (``flow_run_id``, ``flow_name``, ``flow_id`` when
  the flow is registered, ``parameters``, ``labels``, ``ts``, and for a flow that
  is not registered its DAG: ``graph``, or ``graph_key`` when the server already
  has that graph; see :func:`ingest` for what the answer says about it);
- ``graph``: the DAG of a run whose ``flow_run`` event named a key the server
  did not have (``flow_run_id``, ``graph``);
- ``states``: what the reporter sends, the state changes of one flow run in a
  compact form: ``flow_run_id``, ``lease``, ``prefix``, ``tasks`` (the task runs
  the rows name, each ``[task_run_id, task_slug, task_name, map_index]``) and
  ``rows``, one per state change: ``[task, state, message, finished, seq, ts,
  location, map_size]`` where ``task`` indexes ``tasks`` (-1: the flow run's own
  state) and the change's event id is ``PREFIX-SEQ``; for example
  ``{"id": "p-1", "type": "states", "flow_run_id": "r", "prefix": "p", "lease": 0,
  "tasks": [["r.1", "inc", "inc", null]], "rows": [[-1, "Running", null, false, 1, 1.5, null, null],
  [0, "Success", "Task run succeeded.", true, 2, 1.6, null, null]]}``;
- ``state``: one state change as an object: a flow run's (``task_run_id`` null)
  or a task run's (``task_slug``, ``task_name``, ``map_index``, ``state``,
  ``message``, ``finished``, ``seq``, ``ts``, ``lease``, ``location``; ``map_size``,
  the number of children, with a task run's ``Mapped`` state);
- ``log``: a log record (``level``, ``name``, ``message``, ``ts``);
- ``location``: where a task run's result was stored (``task_run_id``,
  ``location``, and from a run process ``preview``, a short repr of the value
  for the task run's page), sent before the flow run's final state and again by
  a run process once it is over, so that a restart can reuse it (a state event
  may go out before the result is written).

Every state change goes into the history; it becomes the current state of its
run only when it carries the run's current ``lease`` (see
:mod:`~perfect_nb.server.db.schema`) and its ``seq`` is newer than the one
stored, so a batch sent twice, replayed late from a spool file, or sent by a
process that lost the run changes nothing. A run being cancelled
(``Cancelling``) changes only to a finished state.
"""

from __future__ import annotations

import hashlib
import operator
import time
from typing import Any

import orjson
import sqlalchemy as sa

from perfect_nb.server.db.schema import flow_runs, graphs, logs, task_runs

__all__ = ["BadEvents", "graph_key", "ingest", "state_changes", "upsert"]

PREVIEW_LIMIT = 1000  # characters of a result's preview kept (the run process sends ~200)

# A state change as ingestion handles it, whichever form it came in: a tuple of these fields.
EVENT_ID, RUN, TASK_RUN, SLUG, NAME, INDEX, STATE, MESSAGE, FINISHED, SEQ, TS, LEASE, LOCATION, MAP_SIZE = range(14)
CHANGE_FIELDS = ("id", "flow_run_id", "task_run_id", "task_slug", "task_name", "map_index", "state", "message", "finished", "seq", "ts", "lease", "location", "map_size")
_FLOW_RUN = (None, None, None, None)  # a ``states`` row with task -1: the flow run's own state


class BadEvents(ValueError):
    """A batch the server cannot read; the message names the event and says what was expected."""


def upsert(conn: sa.Connection, table: sa.Table):
    """The dialect's ``INSERT`` that can say ``ON CONFLICT``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def state_changes(events: list[dict]) -> list[tuple]:
    """Every state change of a batch as a tuple of :data:`CHANGE_FIELDS`, in order;
    :class:`BadEvents` for a ``states`` event that is not as described above.

    >>> [c[:3] + c[6:7] for c in state_changes([{"id": "p-1", "type": "states", "flow_run_id": "r", "prefix": "p",
    ...     "tasks": [["r.1", "inc", "inc", None]], "rows": [[0, "Running", None, False, 1, 1.5, None, None]]}])]
    [('p-1', 'r', 'r.1', 'Running')]
    """
    out: list[tuple] = []
    for i, e in enumerate(events):
        kind = e["type"]
        if kind == "states":
            out += _block_changes(e, f"events[{i}] (states)")
        elif kind == "state":
            out.append((e["id"], e["flow_run_id"], e.get("task_run_id"), e.get("task_slug"), e.get("task_name"), e.get("map_index"), e["state"],
                        e.get("message"), bool(e.get("finished")), e.get("seq", 0), e["ts"], e.get("lease") or 0, e.get("location"), e.get("map_size")))
    return out


def _block_changes(block: dict, where: str) -> list[tuple]:
    run, prefix, lease, tasks, rows = block["flow_run_id"], block["prefix"], block.get("lease") or 0, block["tasks"], block["rows"]
    if not isinstance(tasks, list) or not all(isinstance(t, list) and len(t) == 4 for t in tasks):
        raise BadEvents(f"{where}: tasks must be a list of [task_run_id, task_slug, task_name, map_index].")
    if not isinstance(rows, list):
        raise BadEvents(f"{where}: rows must be a list.")
    out = []
    for j, row in enumerate(rows):
        try:
            task, state, message, finished, seq, ts, location, map_size = row
            task_run, slug, name, index = tasks[task] if task >= 0 else _FLOW_RUN
            ok = type(state) is str and type(seq) is int and type(ts) in (float, int)
        except (TypeError, ValueError, IndexError):
            ok = False
        if not ok:
            raise BadEvents(f"{where} rows[{j}]: expected [task, state, message, finished, seq, ts, location, map_size], task being "
                            f"an index into tasks or -1 for the flow run, state a string, seq an integer, ts a number; got {str(row)[:200]}.")
        out.append((f"{prefix}-{seq}", run, task_run, slug, name, index, state, message, finished, seq, ts, lease, location, map_size))
    return out


def graph_key(graph: Any) -> str:
    """The key a run's DAG is stored under: its content's, so the runs of one flow share it.

    >>> graph_key({"tasks": [], "edges": []}) == graph_key({"edges": [], "tasks": []})
    True
    """
    return hashlib.sha256(orjson.dumps(graph, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _new_runs(events: list[dict], now: float) -> list[dict]:
    rows = {}
    for e in events:
        if e["type"] == "flow_run":
            graph = e.get("graph")
            rows[e["flow_run_id"]] = dict(
                id=e["flow_run_id"], flow_id=e.get("flow_id"), flow_name=e.get("flow_name") or "?", name=e.get("name") or e.get("flow_name") or "?",
                parameters=e.get("parameters") or {}, labels=e.get("labels") or [], state="Scheduled",
                graph_key=graph_key(graph) if graph is not None else e.get("graph_key"), _graph=graph,
                scheduled_start_time=e.get("ts", now), created=e.get("ts", now), updated=now,
            )
        elif e["type"] in ("state", "states", "log", "graph") and e["flow_run_id"] not in rows:  # its flow_run event was sent earlier, or lost
            rows[e["flow_run_id"]] = dict(
                id=e["flow_run_id"], flow_id=None, flow_name="?", name="?", parameters={}, labels=[], graph_key=None, _graph=None, state="Scheduled",
                scheduled_start_time=e.get("ts", now), created=e.get("ts", now), updated=now, _placeholder=True,
            )
    return list(rows.values())


def _check_graphs(events: list[dict]) -> None:
    """:class:`BadEvents` for a graph that is not the object a flow's graph is."""
    for i, e in enumerate(events):
        graph = e.get("graph") if e["type"] in ("flow_run", "graph") else None
        if graph is not None and not (isinstance(graph, dict) and isinstance(graph.get("tasks", []), list)):
            raise BadEvents(f"events[{i}] ({e['type']}): graph must be an object with a list of tasks (and edges), got {str(graph)[:100]}.")


def _point_at_graphs(conn: sa.Connection, events: list[dict], stored: dict[str, str]) -> None:
    """A ``graph`` event's run now has its graph."""
    for e in events:
        if e["type"] == "graph" and e["flow_run_id"] in stored:
            conn.execute(flow_runs.update().where(flow_runs.c.id == e["flow_run_id"]).values(graph_key=stored[e["flow_run_id"]]))


def _store_graphs(conn: sa.Connection, runs: list[dict], events: list[dict]) -> tuple[dict[str, str], list[str]]:
    """Store the graphs the batch carries, once per content. Returns ``{run id: key}`` for
    the runs that sent one, and the runs whose ``graph_key`` names a graph the server does
    not have (their key is cleared; the sender is to send a ``graph`` event)."""
    sent = {r["id"]: (r["graph_key"], r["_graph"]) for r in runs if r["_graph"] is not None}
    later = [e for e in events if e["type"] == "graph" and e.get("graph") is not None]
    sent.update((e["flow_run_id"], (graph_key(e["graph"]), e["graph"])) for e in later)
    if sent:
        rows = list({key: {"key": key, "data": graph} for key, graph in sent.values()}.values())
        conn.execute(upsert(conn, graphs).on_conflict_do_nothing(index_elements=["key"]), rows)
    named = {r["id"]: r["graph_key"] for r in runs if r["id"] not in sent and r["graph_key"]}
    missing: list[str] = []
    if named:
        known = set(conn.execute(sa.select(graphs.c.key).where(graphs.c.key.in_(sorted(set(named.values()))))).scalars())
        missing = sorted(run_id for run_id, key in named.items() if key not in known)
        for r in runs:
            if r["id"] in missing:
                r["graph_key"] = None
    return {run_id: key for run_id, (key, _) in sent.items()}, missing


def _latest(changes: list[tuple], key: int) -> dict[str, list]:
    """Per run id (``key`` is RUN or TASK_RUN): [the newest change, the first Running time, the map size].
    A batch's changes come in ``seq`` order (the sort is then one pass); of two with the same
    ``seq`` the later counts."""
    by_seq = sorted(changes, key=operator.itemgetter(SEQ))
    newest = {c[key]: c for c in by_seq}
    started = {c[key]: c[TS] for c in reversed(by_seq) if c[STATE] == "Running"}
    sizes = {c[key]: c[MAP_SIZE] for c in by_seq if type(c[MAP_SIZE]) is int}  # a task run's Mapped state: how many children it has
    return {run_id: [c, started.get(run_id), sizes.get(run_id)] for run_id, c in newest.items()}


# The newest change of each flow run, made current unless it is older than the stored one, from
# another lease, or not a finished state while the run is being cancelled.
_FLOW_UPDATE = (
    "UPDATE flow_runs SET state = {mark}, message = {mark}, seq = {mark}, updated = {mark}, version = version + 1, end_time = {mark}, "
    "start_time = coalesce(start_time, {mark}) WHERE id = {mark} AND seq < {mark} AND lease = {mark} AND ({mark} OR state != 'Cancelling')"
)


def _apply_flow_states(conn: sa.Connection, latest: dict[str, list], now: float) -> None:
    rows = [(c[STATE], c[MESSAGE], c[SEQ], now, c[TS] if c[FINISHED] else None, start, run_id, c[SEQ], c[LEASE], bool(c[FINISHED]))
            for run_id, (c, start, _) in latest.items()]
    _executemany(conn, _FLOW_UPDATE, rows)


def _apply_task_states(conn: sa.Connection, latest: dict[str, list], now: float) -> None:
    rows = [(task_run, c[RUN], c[SLUG] or "?", c[NAME] or c[SLUG] or "?", -1 if c[INDEX] is None else c[INDEX], c[STATE], c[MESSAGE], c[SEQ],
             start, c[TS] if c[FINISHED] else None, now, c[LEASE], c[LOCATION], map_size)
            for task_run, (c, start, map_size) in latest.items()]
    _executemany(conn, _TASK_UPSERT, rows)


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
_STATE_INSERT = f"INSERT INTO states ({', '.join(_STATE_COLUMNS)}) VALUES ({{marks}}) ON CONFLICT (flow_run_id, event_id) DO NOTHING"
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
    sql = template.format(marks=", ".join([mark] * len(rows[0])), mark=mark)
    return conn.exec_driver_sql(sql, rows).rowcount


def _current(conn: sa.Connection, changes: list[tuple]) -> list[tuple]:
    """The changes that carry their flow run's current lease (the others are history only)."""
    if not changes or all(not c[LEASE] and c[TASK_RUN] is None for c in changes):
        return changes  # unleased flow-level changes: the update's own condition checks the lease
    leases = _leases(conn, {c[RUN] for c in changes})
    return [c for c in changes if leases.get(c[RUN], 0) == c[LEASE]]


def _current_locations(conn: sa.Connection, events: list[dict]) -> list[dict]:
    """The location events that carry their flow run's current lease."""
    if not events:
        return events
    leases = _leases(conn, {e["flow_run_id"] for e in events})
    return [e for e in events if leases.get(e["flow_run_id"], 0) == (e.get("lease") or 0)]


def _leases(conn: sa.Connection, run_ids: set[str]) -> dict[str, int]:
    """The current lease of each of these flow runs (those that exist)."""
    return dict(conn.execute(sa.select(flow_runs.c.id, flow_runs.c.lease).where(flow_runs.c.id.in_(sorted(run_ids)))).all())


def ingest(conn: sa.Connection, events: list[dict]) -> dict:
    """Store a batch of events; return what was new, ``{"states": n, "logs": n, "runs": [ids],
    "changes": [...], "graph_keys": {run id: key}, "missing_graphs": [run ids]}``
    (``changes``: every state change, as :func:`state_changes` gives them; ``graph_keys``:
    the key each graph sent was stored under, which later runs of the flow may send
    instead; ``missing_graphs``: the runs that named a key the server does not have,
    whose sender should send a ``graph`` event)."""
    now = time.time()
    changes = state_changes(events)  # checked before anything is written
    _check_graphs(events)
    runs = _new_runs(events, now)
    stored_graphs, missing_graphs = _store_graphs(conn, runs, events) if runs else ({}, [])
    if runs:
        real = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs if not r.get("_placeholder")]
        holders = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs if r.get("_placeholder")]
        if real:  # a real flow_run event fills in a placeholder made from an earlier batch
            stmt = upsert(conn, flow_runs)
            ex = stmt.excluded
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["id"], set_=dict(flow_id=ex.flow_id, flow_name=ex.flow_name, name=ex.name, parameters=ex.parameters, labels=ex.labels, graph_key=ex.graph_key),
                where=flow_runs.c.flow_name == "?",
            ), real)
        if holders:
            conn.execute(upsert(conn, flow_runs).on_conflict_do_nothing(index_elements=["id"]), holders)
        _point_at_graphs(conn, events, stored_graphs)
    new_states = 0
    if changes:
        new_states = _executemany(conn, _STATE_INSERT, [(c[EVENT_ID], c[RUN], c[TASK_RUN] or "", c[STATE], c[MESSAGE], c[TS]) for c in changes])
        current = _current(conn, changes)
        _apply_flow_states(conn, _latest([c for c in current if c[TASK_RUN] is None], RUN), now)
        _apply_task_states(conn, _latest([c for c in current if c[TASK_RUN] is not None], TASK_RUN), now)
    log_events = [e for e in events if e["type"] == "log"]
    new_logs = 0
    if log_events:
        rows = [(e["id"], e["flow_run_id"], e.get("task_run_id"), int(e.get("level", 20)), str(e.get("name", ""))[:200], str(e.get("message", "")), e["ts"]) for e in log_events]
        new_logs = _executemany(conn, _LOG_INSERT, rows)
    located = _current_locations(conn, [e for e in events if e["type"] == "location"])
    if located:
        conn.execute(task_runs.update().where(task_runs.c.id == sa.bindparam("tid")).values(result_location=sa.bindparam("loc")),
                     [{"tid": e["task_run_id"], "loc": str(e["location"])} for e in located])
        previews = [{"tid": e["task_run_id"], "text": str(e["preview"])[:PREVIEW_LIMIT]} for e in located if e.get("preview") is not None]
        if previews:
            conn.execute(task_runs.update().where(task_runs.c.id == sa.bindparam("tid")).values(result_preview=sa.bindparam("text")), previews)
    return {"states": max(new_states, 0), "logs": max(new_logs, 0), "runs": sorted({e["flow_run_id"] for e in events}), "changes": changes,
            "graph_keys": stored_graphs, "missing_graphs": missing_graphs}
