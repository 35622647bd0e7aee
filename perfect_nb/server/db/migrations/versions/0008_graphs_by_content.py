"""A run's DAG is stored once per shape, in ``graphs``, keyed by its content.

Every recorded run of a flow that is not registered used to carry its graph in
``flow_runs.graph`` (~300 kB of JSON for 2,000 tasks, the same for every run of the
flow). Now ``flow_runs.graph_key`` names a row of ``graphs``; the reporter sends a
graph once and then only its key. The graphs already stored are moved there.

Revision ID: 0008
"""

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _loaded(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def upgrade() -> None:
    graphs = op.create_table("graphs", sa.Column("key", sa.String(64), primary_key=True), sa.Column("data", sa.JSON, nullable=False))
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("graph_key", sa.String(64)))
    conn = op.get_bind()
    stored: set[str] = set()
    for run_id, graph in conn.execute(sa.text("SELECT id, graph FROM flow_runs WHERE graph IS NOT NULL")).all():
        data = _loaded(graph)
        if data is None:  # a run of a registered flow: JSON null
            continue
        key = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        if key not in stored:
            stored.add(key)
            conn.execute(graphs.insert().values(key=key, data=data))
        conn.execute(sa.text("UPDATE flow_runs SET graph_key = :key WHERE id = :id"), {"key": key, "id": run_id})
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("graph")
        batch.create_index("ix_flow_runs_graph", ["graph_key"])


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("graph", sa.JSON))
    conn = op.get_bind()
    runs = sa.table("flow_runs", sa.column("id"), sa.column("graph", sa.JSON))
    for run_id, data in conn.execute(sa.text("SELECT r.id, g.data FROM flow_runs r JOIN graphs g ON g.key = r.graph_key")).all():
        conn.execute(runs.update().where(runs.c.id == run_id).values(graph=_loaded(data)))
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index("ix_flow_runs_graph")
        batch.drop_column("graph_key")
    op.drop_table("graphs")
