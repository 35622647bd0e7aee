"""States: deduplicated by ``(flow_run_id, event_id)``, a shorter key than 0007's.

An event id names one change of one run, so the task run id (57 characters) need not be
in the unique index that every recorded state writes: without it the index entry is
about half as long. A history (a run's own states, or one task run's) is read through
the same index as the run's states filtered by task run.

Revision ID: 0009
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # one change per (run, event id) is all a client sends; should two rows share one, keep the first
    op.execute("DELETE FROM states WHERE id NOT IN (SELECT min(id) FROM states GROUP BY flow_run_id, event_id)")
    op.drop_index("ux_states_run_task_event", table_name="states")
    op.create_index("ux_states_run_event", "states", ["flow_run_id", "event_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_states_run_event", table_name="states")
    op.create_index("ux_states_run_task_event", "states", ["flow_run_id", "task_run_id", "event_id"], unique=True)
