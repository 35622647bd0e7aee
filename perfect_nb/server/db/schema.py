"""The backend's tables (SQLAlchemy Core); Alembic migrations build and upgrade them.

Times are seconds since the epoch (float), so SQLite and PostgreSQL order and
compare them alike. A task run's ``map_index`` is -1 when it is not a mapped child.
``seq`` is the reporting client's event number within a flow run: a state is
made current only by an event newer than the one that set the current state,
so events replayed from a spool file or sent twice change nothing.

``lease`` numbers the hands a flow run has been in: the server bumps it
whenever it hands the run to an agent or takes it back (a dead agent, a state
set through the API, a restart). The run process reports and heartbeats with
its lease; what comes with an older lease is kept in the history but changes
no current state, and a heartbeat with an older lease is refused, which tells
that process to stop. So a run is only ever driven by one process.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["agents", "flow_blobs", "flow_runs", "flows", "graphs", "logs", "metadata", "projects", "states", "task_runs"]

metadata = sa.MetaData()
Time = sa.Float(precision=53)
Id = sa.String(64)

projects = sa.Table(
    "projects", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created", Time, nullable=False),
)

flow_blobs = sa.Table(
    "flow_blobs", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

flows = sa.Table(
    "flows", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("project_id", Id, sa.ForeignKey("projects.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("blob_key", sa.String(64), sa.ForeignKey("flow_blobs.key"), nullable=False),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("graph", sa.JSON, nullable=False),
    sa.Column("schedule", sa.JSON),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("idempotency_key", sa.String(200)),
    sa.Column("created", Time, nullable=False),
    sa.Column("schedule_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.UniqueConstraint("project_id", "name", "version", name="uq_flows_version"),
    sa.Index("ix_flows_project_name", "project_id", "name", "archived"),
)

# The DAG of a run that is not of a registered flow, stored once per shape: the runs of one
# flow share it (a 2,000-task graph is ~300 kB of JSON). Keyed by its content (ingest.graph_key).
graphs = sa.Table(
    "graphs", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
)

flow_runs = sa.Table(
    "flow_runs", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("flow_id", Id, sa.ForeignKey("flows.id")),
    sa.Column("flow_name", sa.String(200), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("graph_key", sa.String(64)),  # the run's DAG in graphs (a run of a registered flow: its flow's graph instead)
    sa.Column("state", sa.String(40), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("idempotency_key", sa.String(200)),
    sa.Column("scheduled_start_time", Time, nullable=False),
    sa.Column("start_time", Time),
    sa.Column("end_time", Time),
    sa.Column("created", Time, nullable=False),
    sa.Column("updated", Time, nullable=False),
    sa.Column("lease", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claims", sa.Integer, nullable=False, server_default="0"),
    sa.Column("agent_id", Id),
    sa.Column("host", sa.String(200)),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat", Time),
    sa.Column("auto_scheduled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_flow_runs_created", "created"),
    sa.Index("ix_flow_runs_flow", "flow_id", "created"),
    sa.Index("ix_flow_runs_flow_name", "flow_name", "created"),
    sa.Index("ix_flow_runs_state", "state", "scheduled_start_time"),
    sa.Index("ix_flow_runs_graph", "graph_key"),  # is a graph still shown (retention)
    sa.UniqueConstraint("flow_id", "idempotency_key", name="uq_flow_runs_idempotency"),
)

task_runs = sa.Table(
    "task_runs", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("flow_run_id", Id, nullable=False),
    sa.Column("task_slug", sa.String(200), nullable=False),
    sa.Column("task_name", sa.String(200), nullable=False),
    sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
    sa.Column("state", sa.String(40), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("seq", sa.Integer, nullable=False, server_default="0"),
    sa.Column("start_time", Time),
    sa.Column("end_time", Time),
    sa.Column("updated", Time, nullable=False),
    sa.Column("lease", sa.Integer, nullable=False, server_default="0"),
    sa.Column("result_location", sa.Text),
    sa.Column("map_size", sa.Integer),
    sa.Column("result_preview", sa.Text),  # a bounded repr of the persisted result, from the run process (never unpickled here)  # a mapped task's (map_index -1) number of children, from its Mapped state
    sa.Index("ix_task_runs_flow_run", "flow_run_id", "task_slug", "map_index"),
)

states = sa.Table(
    "states", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("flow_run_id", Id, nullable=False),
    sa.Column("task_run_id", Id, nullable=False, server_default=""),  # '' for the flow run's own states
    sa.Column("state", sa.String(40), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("timestamp", Time, nullable=False),
    # deduplicates (an event id names one change of one run) and finds a run's states, of which a
    # history (the run's own, or one task run's) is a filter: a short key, since every state writes it
    sa.Index("ux_states_run_event", "flow_run_id", "event_id", unique=True),
)

logs = sa.Table(
    "logs", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("flow_run_id", Id, nullable=False),
    sa.Column("task_run_id", Id),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("timestamp", Time, nullable=False),
    sa.Index("ix_logs_flow_run", "flow_run_id", "id"),
)

agents = sa.Table(
    "agents", metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("host", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("concurrency", sa.Integer, nullable=False),
    sa.Column("heartbeat", Time, nullable=False),
    sa.Column("created", Time, nullable=False),
)
