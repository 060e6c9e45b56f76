"""Indexes for counting node states over time.

The status dashboards count the scheduler and the health states of a cluster's nodes per
report time over a recent window. cc-backend's indexes on ``node_state`` start with the
node or the state, so that count read every row ever reported. Each index here starts with
``time_stamp`` (the window is one index range) and holds the counted state and the node,
so the count never reads the table. The names are not cc-backend's, and an extra index
changes nothing cc-backend reads or writes: an adopted database stays usable by cc-backend.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES: dict[str, tuple[str, list[str]]] = {
    "node_state_time_state": ("node_state", ["time_stamp", "node_state", "node_id"]),
    "node_state_time_health": ("node_state", ["time_stamp", "health_state", "node_id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, if_not_exists=True)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table, if_exists=True)
