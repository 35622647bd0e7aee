"""Orchestration: agents, leases and heartbeats of flow runs, result locations, schedules on and off.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)
Id = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("concurrency", sa.Integer, nullable=False),
        sa.Column("heartbeat", Time, nullable=False),
        sa.Column("created", Time, nullable=False),
    )
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("lease", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("claims", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("agent_id", Id))
        batch.add_column(sa.Column("host", sa.String(200)))
        batch.add_column(sa.Column("pid", sa.Integer))
        batch.add_column(sa.Column("heartbeat", Time))
        batch.add_column(sa.Column("auto_scheduled", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("lease", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("result_location", sa.Text))
    with op.batch_alter_table("flows") as batch:
        batch.add_column(sa.Column("schedule_active", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("schedule_active")
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("result_location")
        batch.drop_column("lease")
    with op.batch_alter_table("flow_runs") as batch:
        for name in ("auto_scheduled", "heartbeat", "pid", "host", "agent_id", "claims", "lease"):
            batch.drop_column(name)
    op.drop_table("agents")
