"""States: deduplicated within their run, so each recorded state writes two b-trees, not three.

An event id names the state change of one task run (or of the flow run itself), so
it only needs to be unique within ``(flow_run_id, task_run_id)``. One unique index,
``(flow_run_id, task_run_id, event_id)``, now both deduplicates and finds a run's or a
task run's history (a few rows, sorted by ``id``); the global unique index on
``event_id`` and ``ix_states_run_task`` are gone. A flow run's own states have
``task_run_id`` ``''`` instead of NULL, since a unique index treats NULLs as distinct.
The table is copied (SQLite cannot drop a column's UNIQUE in place), ids kept.

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Time = sa.Float(precision=53)
Id = sa.String(64)
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")
COLUMNS = "id, event_id, flow_run_id, task_run_id, state, message, timestamp"


def _copy(task_run_id: sa.Column, unique_event: bool, task_run_sql: str) -> None:
    """Make ``states`` anew with ``task_run_id`` as given, copying every row (ids kept)."""
    op.create_table(
        "states_copy",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=unique_event),
        sa.Column("flow_run_id", Id, nullable=False),
        task_run_id,
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("timestamp", Time, nullable=False),
    )
    op.execute(f"INSERT INTO states_copy ({COLUMNS}) SELECT {COLUMNS.replace('task_run_id', task_run_sql)} FROM states")
    op.drop_table("states")
    op.rename_table("states_copy", "states")
    if op.get_bind().dialect.name == "postgresql":  # new rows must be numbered after the copied ones
        op.execute("SELECT setval(pg_get_serial_sequence('states', 'id'), coalesce(max(id), 0) + 1, false) FROM states")


def upgrade() -> None:
    _copy(sa.Column("task_run_id", Id, nullable=False, server_default=""), False, "coalesce(task_run_id, '')")
    op.create_index("ux_states_run_task_event", "states", ["flow_run_id", "task_run_id", "event_id"], unique=True)


def downgrade() -> None:
    _copy(sa.Column("task_run_id", Id), True, "nullif(task_run_id, '')")
    op.create_index("ix_states_run_task", "states", ["flow_run_id", "task_run_id", "id"])
