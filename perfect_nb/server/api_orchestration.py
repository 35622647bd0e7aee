"""The orchestration half of the API: agents claim and heartbeat, run processes heartbeat,
people cancel and restart runs and switch schedules (see :mod:`perfect_nb.server.db.orchestration`).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from perfect_nb.server.api import FINISHED, _call, _publish
from perfect_nb.server.db import orchestration as o
from perfect_nb.server.db.scheduling import set_schedule_active

__all__ = ["router"]

router = APIRouter(prefix="/api")


class AgentIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    labels: list[str] = []
    host: str = Field(min_length=1, max_length=200)
    pid: int
    concurrency: int = Field(ge=1, le=1000)


class AgentHeartbeatIn(BaseModel):
    running: dict[str, int] = {}


class ClaimIn(BaseModel):
    limit: int = Field(ge=0, le=1000)
    wait: float = Field(0.0, ge=0, le=30)


class RunHeartbeatIn(BaseModel):
    lease: int
    host: str | None = None
    pid: int | None = None


class EndIn(BaseModel):
    lease: int
    state: str
    message: str


class ScheduleIn(BaseModel):
    name: str
    project: str | None = None
    active: bool


def _settings(request: Request):
    return request.app.state.settings


def _state_event(run: dict) -> dict:
    return {"type": "state", "flow_run_id": run["id"], "task_run_id": None, "state": run["state"], "message": run.get("message"), "ts": run["updated"]}


@router.post("/agents", status_code=201)
async def register_agent(body: AgentIn, request: Request) -> dict:
    row = await _call(request, o.register_agent, body.name, body.labels, body.host, body.pid, body.concurrency, write=True)
    return {**row, "heartbeat_seconds": _settings(request).heartbeat_seconds}


@router.get("/agents")
async def list_agents(request: Request) -> list[dict]:
    return await _call(request, o.list_agents, time.time(), _settings(request).heartbeat_seconds)


@router.post("/agents/{agent_id}/heartbeat")
async def agent_heartbeat(agent_id: str, body: AgentHeartbeatIn, request: Request) -> dict:
    return await _call(request, o.agent_heartbeat, agent_id, body.running, write=True)


@router.post("/agents/{agent_id}/claim")
async def claim(agent_id: str, body: ClaimIn, request: Request) -> list[dict]:
    """Due runs for this agent; with ``wait``, hold the request until one is due (at most ``wait`` s)."""
    deadline = time.monotonic() + body.wait
    wakeup = request.app.state.wakeup
    while True:
        runs = await _call(request, o.claim_runs, agent_id, body.limit, write=True)
        left = deadline - time.monotonic()
        if runs or left <= 0 or body.limit == 0:
            _publish(request, [_state_event(r) for r in runs])
            return runs
        await wakeup.wait(min(left, 1.0))  # new runs wake us; scheduled ones come due within a second
        if await request.is_disconnected():
            return []


@router.post("/flow_runs/{run_id}/heartbeat")
async def run_heartbeat(run_id: str, body: RunHeartbeatIn, request: Request) -> dict:
    return await _call(request, o.run_heartbeat, run_id, body.lease, body.host, body.pid, write=True)


@router.post("/flow_runs/{run_id}/end")
async def end_run(run_id: str, body: EndIn, request: Request) -> dict:
    """An agent's word on a run whose process ended without finishing it."""
    if body.state not in FINISHED:
        raise HTTPException(422, f"{body.state!r} is not a finished state.")
    changed = await _call(request, o.end_run, run_id, body.lease, body.state, body.message, write=True)
    if changed:
        _publish(request, [{"type": "state", "flow_run_id": run_id, "task_run_id": None, "state": body.state, "message": body.message, "ts": time.time()}])
    return {"changed": changed}


@router.post("/flow_runs/{run_id}/cancel")
async def cancel(run_id: str, request: Request) -> dict:
    run = await _call(request, o.cancel_run, run_id, write=True)
    _publish(request, [_state_event(run)])
    return run


@router.post("/flow_runs/{run_id}/restart")
async def restart(run_id: str, request: Request) -> dict:
    run = await _call(request, o.restart_run, run_id, write=True)
    _publish(request, [_state_event(run)])
    request.app.state.wakeup.notify()
    return run


@router.post("/schedules")
async def schedule(body: ScheduleIn, request: Request) -> dict:
    """Switch a flow's schedule on (its runs are made within seconds) or off (its future runs are deleted)."""
    out = await _call(request, set_schedule_active, body.name, body.project, body.active, write=True)
    request.app.state.schedule_now.set()
    return out
