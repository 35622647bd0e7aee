"""The JSON API under ``/api``: projects, flows, flow runs, task runs, logs, events.

Every list is paginated (``limit`` at most 1000, ``offset``); flow-run lists
are also bounded in time. Errors are JSON ``{"detail": "..."}`` that say what
to do: 404 names the id, 409 a stale version or a duplicate, 422 a bad value.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from perfect_nb.core.parameter_spec import check_parameters
from perfect_nb.errors import ParameterError
from perfect_nb.server.db import queries as q
from perfect_nb.server.db.orchestration import FINISHED, STATE_NAMES
from perfect_nb.server.db.ingest import CHANGE_FIELDS, BadEvents, ingest

__all__ = ["router"]

router = APIRouter(prefix="/api")



def _db(request: Request):
    return request.app.state.db


# --- bodies ------------------------------------------------------------------
class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""


class FlowIn(BaseModel):
    project: str
    name: str = Field(min_length=1, max_length=200)
    key: str = Field(min_length=1, max_length=64)
    blob: str = Field(description="the cloudpickled flow, base64")
    meta: dict = {}
    parameters: list[dict] = []
    graph: dict = {}
    schedule: Any = None
    labels: list[str] = []
    idempotency_key: str | None = None
    force: bool = False


class FlowRunIn(BaseModel):
    flow_id: str | None = None
    flow_name: str | None = None
    project: str | None = None
    parameters: dict = {}
    name: str | None = None
    labels: list[str] | None = None
    idempotency_key: str | None = None
    scheduled_start_time: float | None = None


class StateIn(BaseModel):
    state: str
    message: str | None = None
    version: int


class EventsIn(BaseModel):
    events: list[dict]


# --- helpers -----------------------------------------------------------------
async def _call(request: Request, fn, *args, write: bool = False, **kwargs):
    """Run a query in the thread pool; map NotFound/Conflict/ParameterError to 404/409/422."""
    db = _db(request)

    def work():
        with (db.write() if write else db.read()) as conn:
            return fn(conn, *args, **kwargs)

    try:
        return await run_in_threadpool(work)
    except q.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except q.Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except ParameterError as exc:
        raise HTTPException(422, str(exc)) from None


# --- routes ------------------------------------------------------------------
@router.get("/health")
async def health(request: Request) -> dict:
    from perfect_nb import __version__

    return {"ok": True, "version": __version__, "database": _db(request).dialect}


@router.post("/projects", status_code=201)
async def create_project(body: ProjectIn, request: Request) -> dict:
    return await _call(request, q.create_project, body.name, body.description, write=True)


@router.get("/projects")
async def list_projects(request: Request, search: str | None = None, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> list[dict]:
    return await _call(request, q.list_projects, search, limit, offset)


@router.get("/projects/{name_or_id}")
async def get_project(name_or_id: str, request: Request) -> dict:
    return await _call(request, q.get_project, name_or_id)


@router.post("/flows", status_code=201)
async def register_flow(body: FlowIn, request: Request) -> dict:
    try:
        blob = base64.b64decode(body.blob, validate=True)
    except ValueError:
        raise HTTPException(422, "blob must be the flow's cloudpickle bytes in base64.") from None
    blob_key = hashlib.sha256(blob).hexdigest()
    row = await _call(request, q.register_flow, body.project, body.name, body.key, blob, blob_key, body.meta, body.parameters, body.graph,
                      body.schedule, body.labels, body.idempotency_key, body.force, write=True)
    request.app.state.schedule_now.set()
    return row


@router.get("/flows")
async def list_flows(request: Request, project: str | None = None, name: str | None = None, search: str | None = None, archived: bool = False,
                     limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> list[dict]:
    return await _call(request, q.list_flows, project, name, search, archived, limit, offset)


@router.get("/flows/{flow_id}")
async def get_flow(flow_id: str, request: Request) -> dict:
    return await _call(request, q.get_flow, flow_id)


@router.get("/flows/{flow_id}/blob")
async def get_flow_blob(flow_id: str, request: Request) -> Response:
    return Response(await _call(request, q.get_flow_blob, flow_id), media_type="application/octet-stream")


def _create_run(conn, body: FlowRunIn) -> dict:
    if body.flow_id:
        flow = q.get_flow(conn, body.flow_id)
    elif body.flow_name:
        flow = q.find_flow(conn, body.flow_name, body.project)
    else:
        raise ParameterError("Give flow_id, or flow_name (and project).")
    params = check_parameters(flow["parameters"], body.parameters)
    return q.create_flow_run(conn, flow, params, body.name, body.labels, body.idempotency_key, body.scheduled_start_time)


@router.post("/flow_runs", status_code=201)
async def create_flow_run(body: FlowRunIn, request: Request) -> dict:
    run = await _call(request, _create_run, body, write=True)
    _publish(request, [{"type": "state", "flow_run_id": run["id"], "task_run_id": None, "state": run["state"], "ts": run["created"]}])
    request.app.state.wakeup.notify()
    return _late(request, run)


@router.get("/flow_runs")
async def list_flow_runs(request: Request, flow_id: str | None = None, flow_name: str | None = None, state: list[str] | None = Query(None),
                         since: float | None = None, until: float | None = None, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> list[dict]:
    return [_late(request, r) for r in await _call(request, q.list_flow_runs, flow_id, flow_name, state, since, until, limit, offset)]


@router.get("/flow_runs/{run_id}")
async def get_flow_run(run_id: str, request: Request) -> dict:
    return _late(request, await _call(request, q.get_flow_run, run_id, with_tasks=True))


@router.get("/flow_runs/{run_id}/states")
async def flow_run_states(run_id: str, request: Request) -> list[dict]:
    await _call(request, q.get_flow_run, run_id)
    return await _call(request, q.list_states, flow_run_id=run_id)


@router.post("/flow_runs/{run_id}/state")
async def set_flow_run_state(run_id: str, body: StateIn, request: Request) -> dict:
    if body.state not in STATE_NAMES:
        raise HTTPException(422, f"{body.state!r} is not a state; use one of {sorted(STATE_NAMES)}.")
    run = await _call(request, q.set_flow_run_state, run_id, body.state, body.message, body.version, body.state in FINISHED, write=True)
    _publish(request, [{"type": "state", "flow_run_id": run_id, "task_run_id": None, "state": body.state, "message": body.message, "ts": run["updated"]}])
    return run


@router.get("/flow_runs/{run_id}/logs")
async def flow_run_logs(run_id: str, request: Request, level: int = 0, after_id: int = 0, task_run_id: str | None = None,
                        limit: int = Query(1000, ge=1, le=10000), search: str | None = Query(None, max_length=200)) -> list[dict]:
    """Log lines after ``after_id`` at ``level`` or above; ``search``: only those containing that text (any case)."""
    await _call(request, q.get_flow_run, run_id)
    return await _call(request, q.list_logs, run_id, level, after_id, task_run_id, limit, search)


@router.get("/task_runs/{task_run_id}")
async def get_task_run(task_run_id: str, request: Request) -> dict:
    return await _call(request, q.get_task_run, task_run_id)


_EVENT_KEYS = {"flow_run": ("id", "flow_run_id"), "state": ("id", "flow_run_id", "state", "ts"), "states": ("id", "flow_run_id", "prefix", "tasks", "rows"),
               "log": ("id", "flow_run_id", "ts"), "location": ("id", "flow_run_id", "task_run_id", "location"), "graph": ("id", "flow_run_id", "graph")}


@router.post("/events", openapi_extra={"requestBody": {"content": {"application/json": {"schema": EventsIn.model_json_schema()}}, "required": True}})
async def post_events(request: Request) -> dict:
    """Store a batch of engine events (see :mod:`perfect_nb.server.db.ingest`); the body is
    parsed as plain JSON, not through a model, since this is the hot path."""
    try:
        events = orjson.loads(await request.body())["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise HTTPException(422, 'The body must be JSON {"events": [{...}, ...]}.') from None
    for i, event in enumerate(events):
        needed = _EVENT_KEYS.get(event.get("type"))
        if needed is None:
            raise HTTPException(422, f"events[{i}]: type must be one of {sorted(_EVENT_KEYS)}, got {event.get('type')!r}.")
        missing = [k for k in needed if k not in event]
        if missing:
            raise HTTPException(422, f"events[{i}] ({event['type']}) lacks {', '.join(missing)}.")
    try:
        out = await _call(request, ingest, events, write=True)
    except BadEvents as exc:  # nothing of the batch was stored
        raise HTTPException(422, str(exc)) from None
    broadcaster = request.app.state.broadcaster
    if broadcaster.listening:
        broadcaster.publish([dict(zip(CHANGE_FIELDS, c)) for c in out["changes"]])
    return {"states": out["states"], "logs": out["logs"], "received": len(events), "graph_keys": out["graph_keys"], "missing_graphs": out["missing_graphs"]}


def _late(request: Request, run: dict) -> dict:
    """``late``: still Scheduled ``late_after_seconds`` after its scheduled start."""
    after = request.app.state.settings.late_after_seconds
    run["late"] = run["state"] == "Scheduled" and run["scheduled_start_time"] < time.time() - after
    return run


def _publish(request: Request, events: list[dict]) -> None:
    if events:
        request.app.state.broadcaster.publish(events)


_STREAM_KEYS = ("flow_run_id", "task_run_id", "task_slug", "task_name", "map_index", "map_size", "state", "message", "finished", "ts")


@router.get("/stream")
async def stream(request: Request, flow_run_id: str | None = None, batch: bool = False) -> StreamingResponse:
    """Server-sent events: one ``data:`` line of JSON per state change (of one run, or of all):
    ``flow_run_id``, ``task_run_id`` (null for the flow run's own state), ``task_slug``, ``task_name``,
    ``map_index``, ``map_size`` (a mapped task's number of children, with its Mapped state),
    ``state``, ``message``, ``finished``, ``ts``. With ``batch=true`` each ``data:`` line is a JSON
    list of the changes that were waiting (at most 1,000): what the web UI's run page reads, so a
    5,000-item map is a few messages a second, not thousands."""
    broadcaster = request.app.state.broadcaster
    queue = broadcaster.subscribe(flow_run_id)

    async def events():
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except asyncio.TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                if not batch:
                    yield f"data: {json.dumps({k: event.get(k) for k in _STREAM_KEYS})}\n\n"
                    continue
                items = [event]
                while len(items) < 1000 and not queue.empty():
                    items.append(queue.get_nowait())
                yield f"data: {json.dumps([{k: e.get(k) for k in _STREAM_KEYS} for e in items])}\n\n"
        finally:
            broadcaster.unsubscribe(queue)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
