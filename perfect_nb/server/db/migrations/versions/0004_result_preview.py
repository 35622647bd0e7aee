"""The web UI: a short repr of a task run's persisted result (``task_runs.result_preview``), sent by the run process.

The server never unpickles a result: the run process, which has the value, sends
a bounded repr of it with the result's location.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("result_preview", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("result_preview")
