"""What the pages read that the JSON API has no one call for (bound parameters, indexed, bounded).

Each function takes a connection from ``Database.read()`` and returns plain dicts.
Counts use ``ix_flow_runs_created``; every list has a limit.
"""

from __future__ import annotations

import sqlalchemy as sa

from perfect_nb.server.db.schema import flow_runs, flows, logs, projects, task_runs

__all__ = ["dashboard", "flow_counts", "flow_versions", "last_log_id", "project_names", "task_counts"]

_RUN_COLUMNS = [c for c in flow_runs.c if c.name not in ("graph_key", "parameters")]


def _rows(result) -> list[dict]:
    return [dict(r._mapping) for r in result]


def dashboard(conn: sa.Connection, now: float, late_after: float, limit: int = 20) -> dict:
    """Runs of the last 24 h by state, recent failures, running now, upcoming and late runs."""
    day = now - 86400
    counts = {r.state: r.n for r in conn.execute(
        sa.select(flow_runs.c.state, sa.func.count().label("n")).where(flow_runs.c.created >= day).group_by(flow_runs.c.state))}
    failed = _rows(conn.execute(sa.select(*_RUN_COLUMNS).where(flow_runs.c.created >= day, flow_runs.c.state.in_(("Failed", "TimedOut", "TriggerFailed", "ValidationFailed")))
                                .order_by(flow_runs.c.updated.desc()).limit(limit)))
    running = _rows(conn.execute(sa.select(*_RUN_COLUMNS).where(flow_runs.c.state.in_(("Submitted", "Running", "Cancelling")))
                                 .order_by(flow_runs.c.start_time.desc()).limit(limit)))
    scheduled = sa.select(*_RUN_COLUMNS).where(flow_runs.c.state == "Scheduled")
    late = _rows(conn.execute(scheduled.where(flow_runs.c.scheduled_start_time < now - late_after).order_by(flow_runs.c.scheduled_start_time).limit(limit)))
    upcoming = _rows(conn.execute(scheduled.where(flow_runs.c.scheduled_start_time >= now - late_after).order_by(flow_runs.c.scheduled_start_time).limit(limit)))
    return {"counts": dict(sorted(counts.items())), "total": sum(counts.values()), "failed": failed, "running": running, "late": late, "upcoming": upcoming}


def flow_versions(conn: sa.Connection, project_id: str, name: str) -> list[dict]:
    """Every version of a flow, newest first."""
    return _rows(conn.execute(sa.select(flows.c.id, flows.c.version, flows.c.archived, flows.c.created).where(
        flows.c.project_id == project_id, flows.c.name == name).order_by(flows.c.version.desc()).limit(200)))


def task_counts(conn: sa.Connection, flow_run_id: str) -> dict[str, int]:
    """Task runs of one run by state."""
    return {r.state: r.n for r in conn.execute(sa.select(task_runs.c.state, sa.func.count().label("n")).where(
        task_runs.c.flow_run_id == flow_run_id).group_by(task_runs.c.state))}


def last_log_id(conn: sa.Connection, flow_run_id: str) -> int:
    return conn.execute(sa.select(sa.func.max(logs.c.id)).where(logs.c.flow_run_id == flow_run_id)).scalar() or 0


def flow_counts(conn: sa.Connection) -> dict[str, int]:
    """Unarchived flows per project id."""
    return {r.project_id: r.n for r in conn.execute(sa.select(flows.c.project_id, sa.func.count().label("n")).where(
        flows.c.archived == sa.false()).group_by(flows.c.project_id))}


def project_names(conn: sa.Connection) -> dict[str, str]:
    return {r.id: r.name for r in conn.execute(sa.select(projects.c.id, projects.c.name).limit(1000))}
