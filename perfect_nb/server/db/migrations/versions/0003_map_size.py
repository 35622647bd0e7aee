"""The web UI: a mapped task run's number of children (``task_runs.map_size``), known as soon as it maps.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.add_column(sa.Column("map_size", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("task_runs") as batch:
        batch.drop_column("map_size")
