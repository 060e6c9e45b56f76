"""cc-backend's job database schema, version 10.

A fresh database gets exactly the tables, constraints and indexes of cc-backend's schema
version 10 (and a ``schema_migrations`` row saying so), so cc-backend can open it too.
An existing cc-backend database at version 10 is stamped with this revision instead.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JOB_STATES = (
    "'boot_fail', 'cancelled', 'completed', 'deadline', 'failed', 'node_fail', "
    "'out-of-memory', 'pending', 'preempted', 'running', 'suspended', 'timeout'"
)


def _job_columns() -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("job_id", sa.BigInteger, nullable=False),
        sa.Column("cluster", sa.Text, nullable=False),
        sa.Column("subcluster", sa.Text, nullable=False),
        sa.Column("submit_time", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("start_time", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("hpc_user", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("cluster_partition", sa.Text),
        sa.Column("array_job_id", sa.BigInteger),
        sa.Column("duration", sa.Integer, nullable=False),
        sa.Column("walltime", sa.Integer, nullable=False),
        sa.Column("job_state", sa.Text, nullable=False),
        sa.Column("meta_data", sa.Text),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("num_nodes", sa.Integer, nullable=False),
        sa.Column("num_hwthreads", sa.Integer),
        sa.Column("num_acc", sa.Integer),
        sa.Column("smt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("shared", sa.Text, nullable=False),
        sa.Column("monitoring_status", sa.SmallInteger, nullable=False, server_default="1"),
        sa.Column("energy", sa.Float, nullable=False, server_default="0.0"),
        sa.Column("energy_footprint", sa.Text),
        sa.Column("footprint", sa.Text),
        sa.CheckConstraint(f"job_state IN ({_JOB_STATES})"),
        sa.CheckConstraint("shared IN ('none', 'single_user', 'multi_user')"),
        sa.CheckConstraint("monitoring_status IN (0, 1, 2, 3)"),
        sa.UniqueConstraint("job_id", "cluster", "start_time"),
    ]


def upgrade() -> None:
    op.create_table("job", *_job_columns())
    op.create_table("job_cache", *_job_columns())
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tag_type", sa.String(255), nullable=False),
        sa.Column("tag_name", sa.String(255), nullable=False),
        sa.Column("insert_ts", sa.Text, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.Column("tag_scope", sa.Text, nullable=False, server_default="global"),
        sa.UniqueConstraint("tag_type", "tag_name"),
    )
    op.create_table(
        "jobtag",
        sa.Column("job_id", sa.Integer, primary_key=True),
        sa.Column("tag_id", sa.Integer, primary_key=True),
        sa.Column("insert_ts", sa.Text, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tag_id"], ["tag.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "hpc_user",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("password", sa.String(255)),
        sa.Column("ldap", sa.SmallInteger, nullable=False, server_default="0"),
        sa.Column("name", sa.String(255)),
        sa.Column("roles", sa.String(255), nullable=False, server_default="[]"),
        sa.Column("email", sa.String(255)),
        sa.Column("projects", sa.String(255), nullable=False, server_default="[]"),
    )
    op.create_table(
        "configuration",
        sa.Column("username", sa.String(255), primary_key=True),
        sa.Column("confkey", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text),
        sa.ForeignKeyConstraint(["username"], ["hpc_user.username"], ondelete="CASCADE"),
    )
    op.create_table(
        "node",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("cluster", sa.String(255), nullable=False),
        sa.Column("subcluster", sa.String(255), nullable=False),
        sa.Column("meta_data", sa.Text),
        sa.UniqueConstraint("hostname", "cluster"),
    )
    op.create_table(
        "node_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("time_stamp", sa.BigInteger, nullable=False),
        sa.Column("jobs_running", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cpus_allocated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("memory_allocated", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("gpus_allocated", sa.Integer, nullable=False, server_default="0"),
        sa.Column("node_state", sa.String(255), nullable=False),
        sa.Column("health_state", sa.String(255), nullable=False),
        sa.Column("node_id", sa.Integer),
        sa.CheckConstraint(
            "node_state IN ('allocated', 'reserved', 'idle', 'mixed', 'down', 'unknown')"
        ),
        sa.CheckConstraint("health_state IN ('full', 'partial', 'failed')"),
        sa.ForeignKeyConstraint(["node_id"], ["node.id"]),
    )
    indexes = {
        "jobs_cluster_submittime": ("job", ["cluster", "submit_time"]),
        "jobs_cluster_partition_submittime": (
            "job",
            ["cluster", "cluster_partition", "submit_time"],
        ),
        "jobs_cluster_partition_jobstate_submittime": (
            "job",
            ["cluster", "cluster_partition", "job_state", "submit_time"],
        ),
        "jobs_cluster_jobstate_submittime": ("job", ["cluster", "job_state", "submit_time"]),
        "nodes_cluster": ("node", ["cluster"]),
        "nodes_cluster_subcluster": ("node", ["cluster", "subcluster"]),
        "nodestates_state": ("node_state", ["node_state"]),
        "nodestates_health": ("node_state", ["health_state"]),
        "nodestates_nodeid_state": ("node_state", ["node_id", "node_state"]),
        "nodestates_nodeid_health": ("node_state", ["node_id", "health_state"]),
        "tags_jobid": ("jobtag", ["job_id"]),
        "tags_tagid": ("jobtag", ["tag_id"]),
    }
    for name, (table, columns) in indexes.items():
        op.create_index(name, table, columns)
    migrations = op.create_table(
        "schema_migrations",
        sa.Column("version", sa.BigInteger),
        sa.Column("dirty", sa.Boolean),
    )
    op.create_index("version_unique", "schema_migrations", ["version"], unique=True)
    op.bulk_insert(migrations, [{"version": 10, "dirty": False}])


def downgrade() -> None:
    for table in (
        "schema_migrations",
        "node_state",
        "node",
        "configuration",
        "hpc_user",
        "jobtag",
        "tag",
        "job_cache",
        "job",
    ):
        op.drop_table(table)
