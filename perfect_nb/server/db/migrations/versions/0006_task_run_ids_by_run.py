"""Task run ids start with their flow run's id: ``RUN.HASH`` instead of a name-based UUID.

The reporter now names a task run ``<flow run id>.<first 20 hex digits of SHA-1 of
"SLUG/INDEX">``, so a run's task runs sit together in the indexes and recording a run
writes a few index pages instead of one per task run. This migration renames the task
runs already stored (and their states and logs), so a restart of a run recorded before
it updates the same rows (downgrade gives them their UUIDs back). The rules are written
out here, not imported, so this revision keeps meaning what it meant.

Revision ID: 0006
"""

import hashlib
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 5_000


def _new_id(flow_run_id: str, slug: str, map_index: int) -> str:
    return f"{flow_run_id}.{hashlib.sha1(f'{slug}/{map_index}'.encode()).hexdigest()[:20]}"


def _old_id(flow_run_id: str, slug: str, map_index: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{flow_run_id}/{slug}/{map_index}"))


def _rename(make_id, needs_rename) -> None:
    """Give every task run the id ``make_id(run, slug, index)``, in batches, with its states and logs."""
    conn = op.get_bind()
    task_runs, states, logs = (sa.table(name, sa.column("id"), sa.column("flow_run_id"), sa.column("task_run_id"), sa.column("task_slug"), sa.column("map_index"))
                               for name in ("task_runs", "states", "logs"))
    last = ""
    while True:
        rows = conn.execute(sa.select(task_runs.c.id, task_runs.c.flow_run_id, task_runs.c.task_slug, task_runs.c.map_index)
                            .where(task_runs.c.id > last).order_by(task_runs.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        renames = [{"old": r.id, "new": make_id(r.flow_run_id, r.task_slug, r.map_index), "run": r.flow_run_id} for r in rows if needs_rename(r)]
        if renames:
            for table in (states, logs):
                conn.execute(table.update().where(table.c.flow_run_id == sa.bindparam("run"), table.c.task_run_id == sa.bindparam("old"))
                             .values(task_run_id=sa.bindparam("new")), renames)
            conn.execute(task_runs.update().where(task_runs.c.id == sa.bindparam("old")).values(id=sa.bindparam("new")), renames)


def upgrade() -> None:
    _rename(_new_id, lambda r: not r.id.startswith(f"{r.flow_run_id}."))


def downgrade() -> None:
    _rename(_old_id, lambda r: r.id.startswith(f"{r.flow_run_id}."))
