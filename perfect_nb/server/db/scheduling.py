"""Server-side schedules: Scheduled runs made ahead of time from each flow's stored schedule.

A registered flow's schedule is stored as plain JSON
(:mod:`perfect_nb.schedules.serialize`), never as a pickle, so the server
evaluates it without running user code. :func:`schedule_runs` makes the
flow's next runs (at most ``max_runs`` of them, within ``horizon`` seconds),
each with the idempotency key ``auto:<UTC time>``, so calling it again, or
restarting the server, never makes a run twice (two clocks firing at one time
with different parameters or labels make two runs). Each run gets its clock's
parameter defaults (over the flow's) and labels (else the flow's).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone

import sqlalchemy as sa

from perfect_nb.core.parameter_spec import check_parameters
from perfect_nb.errors import ParameterError
from perfect_nb.server.db.queries import Conflict, NotFound, create_flow_run, delete_scheduled_runs, get_project
from perfect_nb.server.db.schema import flows

__all__ = ["schedule_runs", "set_schedule_active"]

logger = logging.getLogger("perfect_nb.server")


def schedule_runs(conn: sa.Connection, now: float, horizon: float = 86400.0, max_runs: int = 10) -> list[str]:
    """Create the missing Scheduled runs of every active schedule; return their ids."""
    from perfect_nb.schedules.serialize import schedule_from_dict

    rows = conn.execute(sa.select(flows).where(flows.c.archived == sa.false(), flows.c.schedule.is_not(None), flows.c.schedule_active == sa.true())).all()
    created = []
    after = datetime.fromtimestamp(now, timezone.utc)
    for flow in rows:
        spec = (flow.schedule or {}).get("spec")
        if not spec:
            continue
        try:
            events = schedule_from_dict(spec).next(max_runs, after=after, return_events=True)
        except Exception as exc:  # a stored schedule this version cannot read: say so, go on with the others
            logger.warning("Flow %r version %s: its schedule cannot be evaluated (%s); no runs made for it.", flow.name, flow.version, exc)
            continue
        for event in events:
            start = event.start_time.timestamp()
            if start > now + horizon:
                break
            try:
                params = check_parameters(flow.parameters, dict(event.parameter_defaults or {}))
            except ParameterError as exc:
                logger.warning("Flow %r: the scheduled run at %s is not made: %s", flow.name, event.start_time.isoformat(), exc)
                continue
            key = _run_key(start, event.parameter_defaults, event.labels)
            run = create_flow_run(conn, dict(flow._mapping), params, labels=list(event.labels) or None, idempotency_key=key,
                                  scheduled_start_time=start, auto_scheduled=True)
            if not run["existing"]:
                created.append(run["id"])
    return created


def _run_key(start: float, parameters: dict | None, labels: list | None) -> str:
    """``auto:<UTC time>``, plus a digest of the clock's parameters and labels when it has
    some, so two clocks firing at the same time with different values make two runs."""
    key = "auto:" + datetime.fromtimestamp(start, timezone.utc).isoformat()
    if parameters or labels:
        extra = json.dumps([parameters or {}, sorted(labels or [])], sort_keys=True, default=repr)
        key += ":" + hashlib.sha256(extra.encode()).hexdigest()[:12]
    return key


def set_schedule_active(conn: sa.Connection, name: str, project: str | None, active: bool) -> dict:
    """Switch the schedule of flow ``name`` on or off (every version); off deletes its not yet started scheduled runs."""
    query = sa.select(flows.c.id, flows.c.project_id, flows.c.schedule).where(flows.c.name == name)
    if project:
        query = query.where(flows.c.project_id == get_project(conn, project)["id"])
    rows = conn.execute(query).all()
    if not rows:
        raise NotFound(f"No registered flow {name!r}" + (f" in project {project!r}" if project else "") + ".")
    if len({r.project_id for r in rows}) > 1:
        raise Conflict(f"Flow {name!r} is registered in several projects; name one with --project.")
    ids = [r.id for r in rows]
    conn.execute(flows.update().where(flows.c.id.in_(ids)).values(schedule_active=active))
    deleted = 0 if active else delete_scheduled_runs(conn, ids)
    return {"flow": name, "active": active, "has_schedule": any(r.schedule for r in rows), "deleted_runs": deleted}
