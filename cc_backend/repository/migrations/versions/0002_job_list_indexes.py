"""Indexes for the job list, and JSON columns normalised to text.

The job list filters by user, project, cluster, partition and state, always within a start
time window, and sorts by start time; each index ends in ``start_time`` so that the filter
and the sort are served by one index range. SQLite databases written by cc-backend keep JSON
in BLOB columns; they are rewritten as TEXT (same bytes) so JSON functions behave the same
on every SQLite version.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_job_start_time": ("job", ["start_time"]),
    "ix_job_user_start_time": ("job", ["hpc_user", "start_time"]),
    "ix_job_user_state_start_time": ("job", ["hpc_user", "job_state", "start_time"]),
    "ix_job_project_start_time": ("job", ["project", "start_time"]),
    "ix_job_project_state_start_time": ("job", ["project", "job_state", "start_time"]),
    "ix_job_cluster_start_time": ("job", ["cluster", "start_time"]),
    "ix_job_cluster_state_start_time": ("job", ["cluster", "job_state", "start_time"]),
    "ix_job_cluster_partition_start_time": ("job", ["cluster", "cluster_partition", "start_time"]),
    "ix_job_state_start_time": ("job", ["job_state", "start_time"]),
    "ix_job_array_job_id": ("job", ["array_job_id"]),
    "ix_job_duration": ("job", ["duration"]),
    "ix_job_num_nodes": ("job", ["num_nodes"]),
    "ix_jobtag_tag_job": ("jobtag", ["tag_id", "job_id"]),
    "ix_tag_scope": ("tag", ["tag_scope"]),
}

_JSON_COLUMNS = {
    "job": ("meta_data", "resources", "footprint", "energy_footprint"),
    "node": ("meta_data",),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns, if_not_exists=True)
    if op.get_bind().dialect.name == "sqlite":
        for table, json_columns in _JSON_COLUMNS.items():
            for column in json_columns:
                op.execute(
                    f"UPDATE {table} SET {column} = CAST({column} AS TEXT) "
                    f"WHERE typeof({column}) = 'blob'"
                )


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table, if_exists=True)
