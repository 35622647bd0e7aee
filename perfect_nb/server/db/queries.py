"""Reads and writes of the API, one function each, all with bound parameters.

Each takes a connection (``Database.read()`` or ``.write()``) and returns
plain dicts. A missing row raises :class:`NotFound`, a stale write
:class:`Conflict`; the routes turn them into 404 and 409.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from perfect_nb.server.db.ingest import upsert
from perfect_nb.server.db.schema import flow_blobs, flow_runs, flows, graphs, logs, projects, states, task_runs

__all__ = [
    "Conflict", "NotFound", "create_flow_run", "create_project", "delete_old_runs", "delete_scheduled_runs", "get_flow", "get_flow_blob", "get_flow_run",
    "get_project", "get_task_run", "list_flow_runs", "list_flows", "list_logs", "list_projects", "list_states", "register_flow",
    "set_flow_run_state",
]

MAX_PAGE = 1000


class NotFound(LookupError):
    """No row has that id or name."""


class Conflict(RuntimeError):
    """The write lost a race: the row changed (or exists) since the caller read it."""


def _row(row: Any) -> dict:
    return dict(row._mapping)


def _new_id() -> str:
    return str(uuid.uuid4())


# --- projects ------------------------------------------------------------
def create_project(conn: sa.Connection, name: str, description: str = "") -> dict:
    if conn.execute(sa.select(projects.c.id).where(projects.c.name == name)).first():
        raise Conflict(f"Project {name!r} already exists.")
    row = dict(id=_new_id(), name=name, description=description or "", created=time.time())
    conn.execute(projects.insert(), row)
    return row


def get_project(conn: sa.Connection, name_or_id: str) -> dict:
    row = conn.execute(sa.select(projects).where(sa.or_(projects.c.name == name_or_id, projects.c.id == name_or_id))).first()
    if row is None:
        raise NotFound(f"No project {name_or_id!r}; create it with `perfect create project {name_or_id}`.")
    return _row(row)


def list_projects(conn: sa.Connection, search: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    query = sa.select(projects).order_by(projects.c.name).limit(min(limit, MAX_PAGE)).offset(offset)
    if search:
        query = query.where(projects.c.name.ilike(f"%{search}%"))
    return [_row(r) for r in conn.execute(query)]


# --- flows ---------------------------------------------------------------
_FLOW_COLUMNS = [c for c in flows.c if c.name != "blob_key"]


def register_flow(conn: sa.Connection, project: str, name: str, key: str, blob: bytes, blob_key: str, meta: dict, parameters: list, graph: dict,
                  schedule: Any = None, labels: list | None = None, idempotency_key: str | None = None, force: bool = False) -> dict:
    """Store a flow version; an unchanged flow (same key, or same idempotency key) keeps its version."""
    project_id = get_project(conn, project)["id"]
    latest = conn.execute(
        sa.select(*_FLOW_COLUMNS).where(flows.c.project_id == project_id, flows.c.name == name).order_by(flows.c.version.desc()).limit(1)
    ).first()
    if latest is not None and not force:
        same_key = idempotency_key is not None and latest.idempotency_key == idempotency_key
        if same_key or (idempotency_key is None and latest.key == key):
            return {**_row(latest), "unchanged": True}
    conn.execute(upsert(conn, flow_blobs).on_conflict_do_nothing(index_elements=["key"]), {"key": blob_key, "data": blob})
    version = 1 if latest is None else latest.version + 1
    older = [r.id for r in conn.execute(sa.select(flows.c.id).where(flows.c.project_id == project_id, flows.c.name == name, flows.c.archived == sa.false()))]
    if older:
        conn.execute(flows.update().where(flows.c.id.in_(older)).values(archived=True))
        delete_scheduled_runs(conn, older)
    row = dict(id=_new_id(), project_id=project_id, name=name, version=version, key=key, blob_key=blob_key, archived=False, meta=meta,
               parameters=parameters, graph=graph, schedule=schedule, labels=list(labels or []), idempotency_key=idempotency_key, created=time.time(),
               schedule_active=True if latest is None else bool(latest.schedule_active))
    conn.execute(flows.insert(), row)
    row.pop("blob_key")
    return {**row, "unchanged": False}


def get_flow(conn: sa.Connection, flow_id: str) -> dict:
    row = conn.execute(sa.select(*_FLOW_COLUMNS, projects.c.name.label("project")).join(projects).where(flows.c.id == flow_id)).first()
    if row is None:
        raise NotFound(f"No flow with id {flow_id!r}.")
    return _row(row)


def find_flow(conn: sa.Connection, name: str, project: str | None = None) -> dict:
    """The newest unarchived version of the flow called ``name`` (in ``project``)."""
    query = sa.select(flows.c.id, projects.c.name.label("project")).join(projects).where(flows.c.name == name, flows.c.archived == sa.false())
    if project:
        query = query.where(projects.c.name == project)
    rows = conn.execute(query).all()
    if not rows:
        where = f" in project {project!r}" if project else ""
        raise NotFound(f"No registered flow {name!r}{where}; register it with flow.register(project_name=...).")
    if len(rows) > 1:
        raise Conflict(f"Flow {name!r} is registered in several projects ({', '.join(sorted(r.project for r in rows))}); name one with --project.")
    return get_flow(conn, rows[0].id)


def get_flow_blob(conn: sa.Connection, flow_id: str) -> bytes:
    row = conn.execute(sa.select(flow_blobs.c.data).join(flows, flows.c.blob_key == flow_blobs.c.key).where(flows.c.id == flow_id)).first()
    if row is None:
        raise NotFound(f"No flow with id {flow_id!r}.")
    return bytes(row.data)


def list_flows(conn: sa.Connection, project: str | None = None, name: str | None = None, search: str | None = None,
               archived: bool = False, limit: int = 100, offset: int = 0) -> list[dict]:
    query = sa.select(*_FLOW_COLUMNS, projects.c.name.label("project")).join(projects)
    if not archived:
        query = query.where(flows.c.archived == sa.false())
    if project:
        query = query.where(projects.c.name == project)
    if name:
        query = query.where(flows.c.name == name)
    if search:
        query = query.where(flows.c.name.ilike(f"%{search}%"))
    query = query.order_by(flows.c.name, flows.c.version.desc()).limit(min(limit, MAX_PAGE)).offset(offset)
    return [_row(r) for r in conn.execute(query)]


# --- flow runs -------------------------------------------------------------
def create_flow_run(conn: sa.Connection, flow: dict, parameters: dict, name: str | None = None, labels: list | None = None,
                    idempotency_key: str | None = None, scheduled_start_time: float | None = None, auto_scheduled: bool = False) -> dict:
    """A Scheduled run of a registered flow (an existing run for a repeated idempotency key)."""
    if idempotency_key is not None:
        old = conn.execute(sa.select(flow_runs.c.id).where(flow_runs.c.flow_id == flow["id"], flow_runs.c.idempotency_key == idempotency_key)).first()
        if old is not None:
            return {**get_flow_run(conn, old.id), "existing": True}
    now = time.time()
    row = dict(id=_new_id(), flow_id=flow["id"], flow_name=flow["name"], name=name or flow["name"], parameters=parameters,
               labels=list(labels if labels is not None else flow.get("labels") or []), state="Scheduled", message=None, version=0, seq=0,
               idempotency_key=idempotency_key, scheduled_start_time=scheduled_start_time or now, start_time=None, end_time=None, created=now, updated=now,
               auto_scheduled=auto_scheduled)
    conn.execute(flow_runs.insert(), row)
    conn.execute(states.insert(), dict(event_id=_new_id(), flow_run_id=row["id"], task_run_id="", state="Scheduled", message=None, timestamp=now))
    return {**row, "graph": None, "existing": False}


_RUN_FIELDS = [c for c in flow_runs.c if c.name != "graph_key"]  # what a run's API answer has, but for its graph


def get_flow_run(conn: sa.Connection, run_id: str, with_tasks: bool = False) -> dict:
    """A run with its DAG as ``graph`` (None for a run of a registered flow: its flow has it)."""
    query = sa.select(*_RUN_FIELDS, graphs.c.data.label("graph")).outerjoin(graphs, graphs.c.key == flow_runs.c.graph_key)
    row = conn.execute(query.where(flow_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"No flow run with id {run_id!r}.")
    out = _row(row)
    if with_tasks:
        query = sa.select(task_runs).where(task_runs.c.flow_run_id == run_id).order_by(task_runs.c.start_time.is_(None), task_runs.c.start_time, task_runs.c.task_slug, task_runs.c.map_index)
        out["task_runs"] = [_row(r) for r in conn.execute(query)]
    return out


def list_flow_runs(conn: sa.Connection, flow_id: str | None = None, flow_name: str | None = None, state: list[str] | None = None,
                   since: float | None = None, until: float | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    """Newest first, within [since, until) of creation (the last 30 days unless given)."""
    until = until if until is not None else time.time() + 1
    since = since if since is not None else until - 30 * 86400
    query = sa.select(*_RUN_FIELDS).where(flow_runs.c.created >= since, flow_runs.c.created < until)
    if flow_id:
        query = query.where(flow_runs.c.flow_id == flow_id)
    if flow_name:
        query = query.where(flow_runs.c.flow_name == flow_name)
    if state:
        query = query.where(flow_runs.c.state.in_(state))
    query = query.order_by(flow_runs.c.created.desc()).limit(min(limit, MAX_PAGE)).offset(offset)
    return [_row(r) for r in conn.execute(query)]


def set_flow_run_state(conn: sa.Connection, run_id: str, state: str, message: str | None, version: int, finished: bool) -> dict:
    """Set the state if the run is still at ``version`` (else Conflict); return the run.

    The run's lease moves on, so a process still running it is told to stop at its next heartbeat."""
    now = time.time()
    values: dict[str, Any] = dict(state=state, message=message, version=flow_runs.c.version + 1, updated=now, end_time=now if finished else None,
                                  lease=flow_runs.c.lease + 1, seq=0)
    if state == "Running":
        values["start_time"] = sa.func.coalesce(flow_runs.c.start_time, now)
    done = conn.execute(flow_runs.update().where(flow_runs.c.id == run_id, flow_runs.c.version == version).values(**values)).rowcount
    if not done:
        current = get_flow_run(conn, run_id)  # NotFound when there is no such run
        raise Conflict(f"Flow run {run_id} is at version {current['version']} ({current['state']}), not {version}; read it again and retry.")
    conn.execute(states.insert(), dict(event_id=_new_id(), flow_run_id=run_id, task_run_id="", state=state, message=message, timestamp=now))
    return get_flow_run(conn, run_id)


def list_states(conn: sa.Connection, flow_run_id: str, task_run_id: str | None = None, limit: int = 1000) -> list[dict]:
    """The state history of flow run ``flow_run_id`` itself, or of its task run ``task_run_id``."""
    query = sa.select(states.c.state, states.c.message, states.c.timestamp, states.c.task_run_id)
    query = query.where(states.c.flow_run_id == flow_run_id, states.c.task_run_id == (task_run_id or ""))  # '': the flow run's own
    return [{**_row(r), "task_run_id": r.task_run_id or None} for r in conn.execute(query.order_by(states.c.id).limit(min(limit, 10 * MAX_PAGE)))]


def get_task_run(conn: sa.Connection, task_run_id: str) -> dict:
    row = conn.execute(sa.select(task_runs).where(task_runs.c.id == task_run_id)).first()
    if row is None:
        raise NotFound(f"No task run with id {task_run_id!r}.")
    return {**_row(row), "states": list_states(conn, row.flow_run_id, task_run_id=task_run_id)}


def list_logs(conn: sa.Connection, flow_run_id: str, level: int = 0, after_id: int = 0, task_run_id: str | None = None, limit: int = 1000,
              search: str | None = None) -> list[dict]:
    """A run's log lines in order; ``search``: only those whose message contains it (any case, % and _ as typed)."""
    query = sa.select(logs.c.id, logs.c.task_run_id, logs.c.level, logs.c.name, logs.c.message, logs.c.timestamp).where(
        logs.c.flow_run_id == flow_run_id, logs.c.id > after_id, logs.c.level >= level)
    if task_run_id:
        query = query.where(logs.c.task_run_id == task_run_id)
    if search:
        query = query.where(logs.c.message.icontains(search, autoescape=True))
    return [_row(r) for r in conn.execute(query.order_by(logs.c.id).limit(min(limit, 10 * MAX_PAGE)))]


def delete_scheduled_runs(conn: sa.Connection, flow_ids: list[str]) -> int:
    """Delete the not yet started runs that the server's scheduler made for these flow versions."""
    ids = [r.id for r in conn.execute(sa.select(flow_runs.c.id).where(
        flow_runs.c.flow_id.in_(flow_ids), flow_runs.c.auto_scheduled == sa.true(), flow_runs.c.state == "Scheduled"))]
    if ids:
        conn.execute(states.delete().where(states.c.flow_run_id.in_(ids)))
        conn.execute(flow_runs.delete().where(flow_runs.c.id.in_(ids)))
    return len(ids)


# --- retention -------------------------------------------------------------
def delete_old_runs(conn: sa.Connection, before: float, batch: int = 500) -> int:
    """Delete up to ``batch`` flow runs created before ``before``, with their task runs, states and logs."""
    rows = conn.execute(sa.select(flow_runs.c.id, flow_runs.c.graph_key).where(flow_runs.c.created < before).limit(batch)).all()
    ids = [r.id for r in rows]
    if ids:
        for table in (logs, states, task_runs):
            conn.execute(table.delete().where(table.c.flow_run_id.in_(ids)))
        conn.execute(flow_runs.delete().where(flow_runs.c.id.in_(ids)))
        keys = sorted({r.graph_key for r in rows if r.graph_key})
        still_shown = sa.exists().where(flow_runs.c.graph_key == graphs.c.key)
        conn.execute(graphs.delete().where(graphs.c.key.in_(keys), ~still_shown))  # the graphs no run left shows
    return len(ids)
