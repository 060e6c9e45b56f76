"""Table definitions of the job database.

The tables are cc-backend's (schema version 10) so that an existing cc-backend database opens
unchanged; the indexes beyond cc-backend's serve the job list's filter and sort combinations
and the node state counts over time. Migrations (``migrations/versions``) are the authority
on how a database gets here; this module is what the queries are written against.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: Job states as the database spells them (cc-backend's CHECK constraint uses a hyphen
#: for out-of-memory, while its JSON uses an underscore; the repository translates).
DB_JOB_STATES = (
    "boot_fail",
    "cancelled",
    "completed",
    "deadline",
    "failed",
    "node_fail",
    "out-of-memory",
    "pending",
    "preempted",
    "running",
    "suspended",
    "timeout",
)

job = sa.Table(
    "job",
    metadata,
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
    sa.UniqueConstraint("job_id", "cluster", "start_time"),
)

tag = sa.Table(
    "tag",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("tag_type", sa.String(255), nullable=False),
    sa.Column("tag_name", sa.String(255), nullable=False),
    sa.Column("insert_ts", sa.Text, server_default=sa.text("CURRENT_TIMESTAMP")),
    sa.Column("tag_scope", sa.Text, nullable=False, server_default="global"),
    sa.UniqueConstraint("tag_type", "tag_name"),
)

jobtag = sa.Table(
    "jobtag",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("job.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.Integer, sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("insert_ts", sa.Text, server_default=sa.text("CURRENT_TIMESTAMP")),
)

hpc_user = sa.Table(
    "hpc_user",
    metadata,
    sa.Column("username", sa.String(255), primary_key=True),
    sa.Column("password", sa.String(255)),
    sa.Column("ldap", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("name", sa.String(255)),
    sa.Column("roles", sa.String(255), nullable=False, server_default="[]"),
    sa.Column("email", sa.String(255)),
    sa.Column("projects", sa.String(255), nullable=False, server_default="[]"),
)

configuration = sa.Table(
    "configuration",
    metadata,
    sa.Column(
        "username",
        sa.String(255),
        sa.ForeignKey("hpc_user.username", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("confkey", sa.String(255), primary_key=True),
    sa.Column("value", sa.Text),
)

node = sa.Table(
    "node",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("subcluster", sa.String(255), nullable=False),
    sa.Column("meta_data", sa.Text),
    sa.UniqueConstraint("hostname", "cluster"),
)

node_state = sa.Table(
    "node_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("time_stamp", sa.BigInteger, nullable=False),
    sa.Column("jobs_running", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cpus_allocated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("memory_allocated", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("gpus_allocated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("node_state", sa.String(255), nullable=False),
    sa.Column("health_state", sa.String(255), nullable=False),
    sa.Column("node_id", sa.Integer, sa.ForeignKey("node.id")),
    # State counts over a time window (migration 0003): one index range, no table reads.
    sa.Index("node_state_time_state", "time_stamp", "node_state", "node_id"),
    sa.Index("node_state_time_health", "time_stamp", "health_state", "node_id"),
)

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.BigInteger),
    sa.Column("dirty", sa.Boolean),
)
