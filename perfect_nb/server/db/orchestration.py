"""Who runs what: agents, claims, heartbeats, the reaper, cancel and restart.

A flow run moves through the server like this::

    Scheduled --claim--> Submitted --(its process reports)--> Running --> Success/Failed/...
        ^                    |                                   |
        +--- agent died -----+-----------------------------------+   (at most ``max_claims`` times)
    Submitted/Running --cancel--> Cancelling --(process ends)--> Cancelled
    Failed/Cancelled/... --restart--> Scheduled

Every hand-over bumps the run's ``lease`` (see :mod:`~perfect_nb.server.db.schema`):
a claim gives the agent a new lease, and a run taken back (dead agent, a state
set from outside, a restart) gets another, so a process that lost its run is
refused its next heartbeat and stops. A claim is one conditional update per
run (``WHERE state = 'Scheduled' AND lease = :seen``); on PostgreSQL the
candidates are read ``FOR UPDATE SKIP LOCKED``, so agents on several machines
never wait for each other and never take the same run.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from perfect_nb.engine import state as _state
from perfect_nb.server.db.queries import Conflict, NotFound, get_flow_run
from perfect_nb.server.db.schema import agents, flow_runs, states, task_runs

__all__ = [
    "ACTIVE", "FINISHED", "STATE_NAMES", "SUCCEEDED", "agent_heartbeat", "cancel_run", "claim_runs", "list_agents", "reap", "register_agent", "restart_run",
    "run_heartbeat", "end_run",
]

ACTIVE = ("Submitted", "Running", "Cancelling")
STATE_NAMES = {cls.__name__: cls for cls in vars(_state).values() if isinstance(cls, type) and issubclass(cls, _state.State)}
FINISHED = tuple(sorted(name for name, cls in STATE_NAMES.items() if issubclass(cls, _state.Finished)))
SUCCEEDED = tuple(sorted(name for name, cls in STATE_NAMES.items() if issubclass(cls, _state.Success)))
STARTUP_GRACE = 10.0  # seconds a claimed run's process has to start before its silence counts


def _transition(conn: sa.Connection, run_id: str, state: str, message: str | None, now: float, where: list | None = None, **values: Any) -> bool:
    """Set a run's state (bumping version, and lease unless given) if ``where`` holds; record it in the history."""
    values.setdefault("lease", flow_runs.c.lease + 1)
    done = conn.execute(
        flow_runs.update().where(flow_runs.c.id == run_id, *(where or [])).values(state=state, message=message, version=flow_runs.c.version + 1, updated=now, **values)
    ).rowcount
    if done:
        conn.execute(states.insert(), dict(event_id=str(uuid.uuid4()), flow_run_id=run_id, task_run_id="", state=state, message=message, timestamp=now))
    return bool(done)


# --- agents ------------------------------------------------------------------
def register_agent(conn: sa.Connection, name: str, labels: list[str], host: str, pid: int, concurrency: int, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    row = dict(id=str(uuid.uuid4()), name=name, labels=sorted(set(labels)), host=host, pid=pid, concurrency=concurrency, heartbeat=now, created=now)
    conn.execute(agents.insert(), row)
    return row


def _agent(conn: sa.Connection, agent_id: str) -> Any:
    row = conn.execute(sa.select(agents).where(agents.c.id == agent_id)).first()
    if row is None:
        raise NotFound(f"No agent with id {agent_id!r}; the agent registers again when it restarts.")
    return row


def agent_heartbeat(conn: sa.Connection, agent_id: str, running: dict[str, int], now: float | None = None) -> dict:
    """Note the agent alive; return the runs among ``running`` ({run id: lease}) it must stop:
    being cancelled, or no longer its own (lease moved on)."""
    now = time.time() if now is None else now
    if not conn.execute(agents.update().where(agents.c.id == agent_id).values(heartbeat=now)).rowcount:
        _agent(conn, agent_id)
    stop = []
    if running:
        rows = conn.execute(sa.select(flow_runs.c.id, flow_runs.c.lease, flow_runs.c.state).where(flow_runs.c.id.in_(sorted(running)))).all()
        found = {r.id: r for r in rows}
        for run_id, lease in running.items():
            row = found.get(run_id)
            if row is None or row.lease != lease or row.state == "Cancelling":
                stop.append(run_id)
    return {"stop": sorted(stop)}


def list_agents(conn: sa.Connection, now: float, heartbeat_seconds: float) -> list[dict]:
    """Every agent, newest first, with ``alive`` (a heartbeat within three intervals)."""
    rows = conn.execute(sa.select(agents).order_by(agents.c.created.desc()).limit(1000)).all()
    return [{**dict(r._mapping), "alive": now - r.heartbeat <= 3 * heartbeat_seconds} for r in rows]


def claim_runs(conn: sa.Connection, agent_id: str, limit: int, now: float | None = None) -> list[dict]:
    """Hand up to ``limit`` due Scheduled runs whose labels the agent has to it (Submitted, new lease)."""
    now = time.time() if now is None else now
    agent = _agent(conn, agent_id)
    conn.execute(agents.update().where(agents.c.id == agent_id).values(heartbeat=now))
    if limit <= 0:
        return []
    have = set(agent.labels or [])
    query = (sa.select(flow_runs.c.id, flow_runs.c.labels, flow_runs.c.lease).where(flow_runs.c.state == "Scheduled", flow_runs.c.scheduled_start_time <= now)
             .order_by(flow_runs.c.scheduled_start_time, flow_runs.c.created).limit(max(limit * 20, 200)))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row in conn.execute(query).all():
        if len(claimed) >= limit:
            break
        if not set(row.labels or []) <= have:
            continue
        message = f"Submitted to agent {agent.name} on {agent.host}."
        if _transition(conn, row.id, "Submitted", message, now, where=[flow_runs.c.state == "Scheduled", flow_runs.c.lease == row.lease],
                       agent_id=agent_id, host=agent.host, claims=flow_runs.c.claims + 1, heartbeat=now + STARTUP_GRACE, seq=0, pid=None):
            claimed.append(get_flow_run(conn, row.id))
    return claimed


# --- the run process ---------------------------------------------------------
def run_heartbeat(conn: sa.Connection, run_id: str, lease: int, host: str | None, pid: int | None, now: float | None = None) -> dict:
    """Note the run's process alive; Conflict if the run is no longer at ``lease`` (the process must stop)."""
    now = time.time() if now is None else now
    done = conn.execute(flow_runs.update().where(flow_runs.c.id == run_id, flow_runs.c.lease == lease).values(heartbeat=now, host=host, pid=pid)).rowcount
    run = get_flow_run(conn, run_id)
    if not done:
        raise Conflict(f"Flow run {run_id} is no longer this process's (lease {lease}, now {run['lease']}, {run['state']}); stop.")
    return {"state": run["state"], "cancel": run["state"] == "Cancelling"}


def end_run(conn: sa.Connection, run_id: str, lease: int, state: str, message: str, now: float | None = None) -> bool:
    """What an agent says of a run whose process ended without finishing it (it died, or was
    killed after a cancel): set ``state`` if the run is still at ``lease`` and not finished;
    its unfinished task runs end the same way."""
    now = time.time() if now is None else now
    done = _transition(conn, run_id, state, message, now, where=[flow_runs.c.lease == lease, flow_runs.c.state.notin_(FINISHED)], end_time=now)
    if done:
        _end_task_runs(conn, run_id, state, now)
    return done


def _end_task_runs(conn: sa.Connection, run_id: str, state: str, now: float) -> None:
    message = "Its flow run was cancelled." if state == "Cancelled" else "Its flow run's process ended before this task run finished."
    ids = [r.id for r in conn.execute(sa.select(task_runs.c.id).where(task_runs.c.flow_run_id == run_id, task_runs.c.state.notin_(FINISHED)))]
    if not ids:
        return
    conn.execute(task_runs.update().where(task_runs.c.id.in_(ids)).values(state=state, message=message, end_time=now, updated=now, seq=task_runs.c.seq + 1))
    conn.execute(states.insert(), [dict(event_id=str(uuid.uuid4()), flow_run_id=run_id, task_run_id=i, state=state, message=message, timestamp=now) for i in ids])


def reap(conn: sa.Connection, now: float, heartbeat_seconds: float, max_claims: int, up_since: float) -> list[dict]:
    """Runs whose process stopped heartbeating for three intervals: back to the queue when
    their agent is gone too (at most ``max_claims`` hand-outs, then Failed), Failed when the
    agent still lives after six (it lost a hung process), Cancelled when they were being cancelled.
    Nothing is judged in the first three intervals after the server started."""
    stale = now - 3 * heartbeat_seconds
    if up_since > stale:
        return []
    rows = conn.execute(
        sa.select(flow_runs.c.id, flow_runs.c.lease, flow_runs.c.state, flow_runs.c.claims, flow_runs.c.host, flow_runs.c.pid, flow_runs.c.heartbeat,
                  agents.c.name.label("agent"), agents.c.heartbeat.label("agent_heartbeat"))
        .select_from(flow_runs.outerjoin(agents, agents.c.id == flow_runs.c.agent_id))
        .where(flow_runs.c.state.in_(ACTIVE), flow_runs.c.agent_id.is_not(None), flow_runs.c.heartbeat < stale)
    ).all()
    changed = []
    for r in rows:
        silent = f"{now - r.heartbeat:.0f} s"
        agent_alive = r.agent_heartbeat is not None and r.agent_heartbeat >= stale
        if agent_alive and r.state != "Cancelling" and r.heartbeat >= now - 6 * heartbeat_seconds:
            continue  # a living agent reports its child's exit itself; if the agent died too, it is stale by then
        where = f" on {r.host}" + (f" (pid {r.pid})" if r.pid else "")
        if r.state == "Cancelling":
            state, message = "Cancelled", f"Cancelled: its process{where} stopped heartbeating {silent} ago."
        elif agent_alive:
            state, message = "Failed", f"No heartbeat from the flow run's process{where} for {silent} while agent {r.agent} lives; the process is lost."
        elif r.claims < max_claims:
            state, message = "Scheduled", f"Agent {r.agent or '?'}{where} stopped heartbeating {silent} ago; the run is back in the queue (hand-out {r.claims} of {max_claims})."
        else:
            state, message = "Failed", f"Given to agents {r.claims} times and each stopped heartbeating (last{where}); not retried (server max_claims = {max_claims})."
        extra: dict[str, Any] = {"agent_id": None, "scheduled_start_time": now} if state == "Scheduled" else {"end_time": now}
        if _transition(conn, r.id, state, message, now, where=[flow_runs.c.lease == r.lease, flow_runs.c.state.in_(ACTIVE)], **extra):
            if state != "Scheduled":
                _end_task_runs(conn, r.id, state, now)
            changed.append({"flow_run_id": r.id, "state": state, "message": message})
    return changed


# --- cancel and restart ---------------------------------------------------------
def cancel_run(conn: sa.Connection, run_id: str, now: float | None = None) -> dict:
    """A Scheduled run is Cancelled at once; a run an agent has becomes Cancelling (its agent
    stops the process); a finished run is a Conflict naming its state."""
    now = time.time() if now is None else now
    run = get_flow_run(conn, run_id)
    if run["state"] in FINISHED:
        raise Conflict(f"Flow run {run_id} has already finished ({run['state']}); there is nothing to cancel.")
    if run["state"] == "Cancelling":
        return run
    if run["state"] in ("Submitted", "Running") and run["agent_id"]:
        _transition(conn, run_id, "Cancelling", "Cancel requested; the agent stops the run's process.", now, where=[flow_runs.c.lease == run["lease"]], lease=run["lease"])
    elif run["state"] in ("Submitted", "Running"):  # started by hand (flow.run with the backend on): nobody to tell
        raise Conflict(f"Flow run {run_id} was started outside an agent (pid {run['pid'] or '?'}); stop it where it runs (Ctrl-C).")
    else:
        _transition(conn, run_id, "Cancelled", "Cancelled before it started.", now, where=[flow_runs.c.lease == run["lease"]], end_time=now)
    return get_flow_run(conn, run_id)


def restart_run(conn: sa.Connection, run_id: str, now: float | None = None) -> dict:
    """Queue a finished, unsuccessful run again; its task runs keep their states, and those
    that succeeded with a stored result are reused. ``rerun`` lists the succeeded task runs
    that kept no result and so run again."""
    now = time.time() if now is None else now
    run = get_flow_run(conn, run_id)
    if run["state"] not in FINISHED:
        raise Conflict(f"Flow run {run_id} is {run['state']}; only a finished run can be restarted (cancel it first).")
    if run["state"] in SUCCEEDED:
        raise Conflict(f"Flow run {run_id} succeeded ({run['state']}); start a new run instead of restarting it.")
    if not run["flow_id"]:
        raise Conflict(f"Flow run {run_id} is of a flow that is not registered; register it to restart its runs.")
    _transition(conn, run_id, "Scheduled", "Restarted: what did not succeed runs again.", now, where=[flow_runs.c.lease == run["lease"]],
                scheduled_start_time=now, start_time=None, end_time=None, agent_id=None, claims=0, heartbeat=None)
    lost = conn.execute(sa.select(task_runs.c.task_slug, task_runs.c.map_index).where(
        task_runs.c.flow_run_id == run_id, task_runs.c.state.in_(SUCCEEDED), task_runs.c.result_location.is_(None))).all()
    return {**get_flow_run(conn, run_id), "rerun": sorted(f"{r.task_slug}" + (f"[{r.map_index}]" if r.map_index >= 0 else "") for r in lost)}
