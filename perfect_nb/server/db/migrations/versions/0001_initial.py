"""The first schema: projects, flows and their pickles, flow runs, task runs, states, logs.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)
Id = sa.String(64)
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created", Time, nullable=False),
    )
    op.create_table("flow_blobs", sa.Column("key", sa.String(64), primary_key=True), sa.Column("data", sa.LargeBinary, nullable=False))
    op.create_table(
        "flows",
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
        sa.UniqueConstraint("project_id", "name", "version", name="uq_flows_version"),
    )
    op.create_index("ix_flows_project_name", "flows", ["project_id", "name", "archived"])
    op.create_table(
        "flow_runs",
        sa.Column("id", Id, primary_key=True),
        sa.Column("flow_id", Id, sa.ForeignKey("flows.id")),
        sa.Column("flow_name", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("graph", sa.JSON),
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
        sa.UniqueConstraint("flow_id", "idempotency_key", name="uq_flow_runs_idempotency"),
    )
    op.create_index("ix_flow_runs_created", "flow_runs", ["created"])
    op.create_index("ix_flow_runs_flow", "flow_runs", ["flow_id", "created"])
    op.create_index("ix_flow_runs_flow_name", "flow_runs", ["flow_name", "created"])
    op.create_index("ix_flow_runs_state", "flow_runs", ["state", "scheduled_start_time"])
    op.create_table(
        "task_runs",
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
    )
    op.create_index("ix_task_runs_flow_run", "task_runs", ["flow_run_id", "task_slug", "map_index"])
    op.create_table(
        "states",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("flow_run_id", Id, nullable=False),
        sa.Column("task_run_id", Id),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("timestamp", Time, nullable=False),
    )
    op.create_index("ix_states_flow_run", "states", ["flow_run_id", "id"])
    op.create_index("ix_states_task_run", "states", ["task_run_id"])
    op.create_table(
        "logs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("flow_run_id", Id, nullable=False),
        sa.Column("task_run_id", Id),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("timestamp", Time, nullable=False),
    )
    op.create_index("ix_logs_flow_run", "logs", ["flow_run_id", "id"])


def downgrade() -> None:
    for table in ("logs", "states", "task_runs", "flow_runs", "flows", "flow_blobs", "projects"):
        op.drop_table(table)
