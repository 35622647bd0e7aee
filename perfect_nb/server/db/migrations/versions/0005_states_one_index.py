"""States: one index, (flow_run_id, task_run_id, id), instead of two.

Both ways states are read, a flow run's own history and one task run's history
(its flow run is always known), are a prefix of this index in ``id`` order, and
each state event recorded maintains one index fewer.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_states_run_task", "states", ["flow_run_id", "task_run_id", "id"])
    op.drop_index("ix_states_flow_run", "states")
    op.drop_index("ix_states_task_run", "states")


def downgrade() -> None:
    op.create_index("ix_states_flow_run", "states", ["flow_run_id", "id"])
    op.create_index("ix_states_task_run", "states", ["task_run_id"])
    op.drop_index("ix_states_run_task", "states")
