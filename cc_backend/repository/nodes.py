"""Nodes of the clusters and the history of their states (tables ``node`` and ``node_state``).

A node row is created the first time a host is reported; every state update adds one
``node_state`` row per node, so the history is kept and the latest row is the current state.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cc_backend.domain.errors import InvalidInput
from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.schema import node, node_state

__all__ = [
    "HealthState",
    "NodeInfo",
    "NodeRepository",
    "NodeStateRow",
    "NodeStatus",
    "SchedulerState",
]


class SchedulerState(enum.StrEnum):
    """A node's state as the scheduler sees it (the values ``node_state`` may hold)."""

    ALLOCATED = "allocated"
    RESERVED = "reserved"
    IDLE = "idle"
    MIXED = "mixed"
    DOWN = "down"
    UNKNOWN = "unknown"


class HealthState(enum.StrEnum):
    """How completely a node is monitored (the values ``health_state`` may hold)."""

    FULL = "full"
    PARTIAL = "partial"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class NodeStateRow:
    """One state report of one node, to be stored."""

    hostname: str
    #: Subcluster recorded when the node is seen for the first time.
    subcluster: str
    time_stamp: int
    node_state: SchedulerState
    health_state: HealthState = HealthState.FULL
    cpus_allocated: int = 0
    memory_allocated: int = 0
    gpus_allocated: int = 0
    jobs_running: int = 0


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A row of the ``node`` table."""

    id: int
    hostname: str
    cluster: str
    subcluster: str


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node with its most recent state report."""

    id: int
    hostname: str
    cluster: str
    subcluster: str
    time_stamp: int
    node_state: SchedulerState
    health_state: HealthState
    cpus_allocated: int
    memory_allocated: int
    gpus_allocated: int
    jobs_running: int


def _node_info(row: Any) -> NodeInfo:
    return NodeInfo(
        id=int(row.id), hostname=row.hostname, cluster=row.cluster, subcluster=row.subcluster
    )


class NodeRepository:
    """Reads and writes the ``node`` and ``node_state`` tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes ---------------------------------------------------------------------------

    def upsert_node(self, cluster: str, hostname: str, subcluster: str) -> int:
        """Return the id of node ``hostname`` of ``cluster``, creating the node if needed.

        An existing node keeps its subcluster. Safe against concurrent calls for the same
        node (both get the same id).
        """
        with self.db.engine.begin() as conn:
            ids = self._ensure_nodes(conn, cluster, {hostname: subcluster})
        return ids[hostname]

    def add_states(self, cluster: str, rows: Sequence[NodeStateRow]) -> int:
        """Store one state report per row for nodes of ``cluster``, creating unknown nodes.

        Everything is written in one transaction. Returns the number of state rows stored.
        Raises :class:`InvalidInput` if a host appears twice in ``rows``.
        """
        if not rows:
            return 0
        hosts = [row.hostname for row in rows]
        repeated = sorted({h for h in hosts if hosts.count(h) > 1})
        if repeated:
            raise InvalidInput(f"hosts reported more than once: {', '.join(repeated)}")
        with self.db.engine.begin() as conn:
            ids = self._ensure_nodes(conn, cluster, {r.hostname: r.subcluster for r in rows})
            values = [
                {
                    "node_id": ids[r.hostname],
                    "time_stamp": r.time_stamp,
                    "node_state": SchedulerState(r.node_state).value,
                    "health_state": HealthState(r.health_state).value,
                    "cpus_allocated": r.cpus_allocated,
                    "memory_allocated": r.memory_allocated,
                    "gpus_allocated": r.gpus_allocated,
                    "jobs_running": r.jobs_running,
                }
                for r in rows
            ]
            conn.execute(sa.insert(node_state), values)
        return len(values)

    # -- reads ----------------------------------------------------------------------------

    def list_nodes(self, cluster: str | None = None) -> list[NodeInfo]:
        """Every node (of ``cluster`` if given), ordered by cluster and host name."""
        query = sa.select(node.c.id, node.c.hostname, node.c.cluster, node.c.subcluster)
        if cluster is not None:
            query = query.where(node.c.cluster == cluster)
        query = query.order_by(node.c.cluster, node.c.hostname)
        with self.db.engine.connect() as conn:
            return [_node_info(row) for row in conn.execute(query)]

    def latest_states(self, cluster: str | None = None) -> list[NodeStatus]:
        """The most recent state of every node that has one (of ``cluster`` if given).

        "Most recent" is the largest time stamp; of equal time stamps the row stored last.
        Ordered by cluster and host name; nodes never reported are left out.
        """
        rank = (
            sa.func.row_number()
            .over(
                partition_by=node_state.c.node_id,
                order_by=(node_state.c.time_stamp.desc(), node_state.c.id.desc()),
            )
            .label("rank")
        )
        ranked = sa.select(node_state, rank).subquery("ranked")
        query = (
            sa.select(
                node.c.id,
                node.c.hostname,
                node.c.cluster,
                node.c.subcluster,
                ranked.c.time_stamp,
                ranked.c.node_state,
                ranked.c.health_state,
                ranked.c.cpus_allocated,
                ranked.c.memory_allocated,
                ranked.c.gpus_allocated,
                ranked.c.jobs_running,
            )
            .join(ranked, ranked.c.node_id == node.c.id)
            .where(ranked.c.rank == 1)
            .order_by(node.c.cluster, node.c.hostname)
        )
        if cluster is not None:
            query = query.where(node.c.cluster == cluster)
        with self.db.engine.connect() as conn:
            return [
                NodeStatus(
                    id=int(row.id),
                    hostname=row.hostname,
                    cluster=row.cluster,
                    subcluster=row.subcluster,
                    time_stamp=int(row.time_stamp),
                    node_state=SchedulerState(row.node_state),
                    health_state=HealthState(row.health_state),
                    cpus_allocated=int(row.cpus_allocated),
                    memory_allocated=int(row.memory_allocated),
                    gpus_allocated=int(row.gpus_allocated),
                    jobs_running=int(row.jobs_running),
                )
                for row in conn.execute(query)
            ]

    def state_history(self, cluster: str, hostname: str) -> list[tuple[int, SchedulerState]]:
        """Time stamp and scheduler state of every report of one node, oldest first."""
        query = (
            sa.select(node_state.c.time_stamp, node_state.c.node_state)
            .join(node, node.c.id == node_state.c.node_id)
            .where(node.c.cluster == cluster, node.c.hostname == hostname)
            .order_by(node_state.c.time_stamp, node_state.c.id)
        )
        with self.db.engine.connect() as conn:
            return [(int(ts), SchedulerState(state)) for ts, state in conn.execute(query)]

    # -- helpers --------------------------------------------------------------------------

    def _ensure_nodes(
        self, conn: Connection, cluster: str, subclusters: dict[str, str]
    ) -> dict[str, int]:
        """Ids of the nodes ``subclusters`` names (host -> subcluster), creating missing ones."""
        ids = self._node_ids(conn, cluster, list(subclusters))
        missing = [h for h in subclusters if h not in ids]
        if missing:
            insert = dialect.insert_ignoring_conflicts(
                node, [node.c.hostname, node.c.cluster], self.db.dialect
            )
            conn.execute(
                insert,
                [
                    {"hostname": h, "cluster": cluster, "subcluster": subclusters[h]}
                    for h in missing
                ],
            )
            ids.update(self._node_ids(conn, cluster, missing))
        return ids

    @staticmethod
    def _node_ids(conn: Connection, cluster: str, hostnames: list[str]) -> dict[str, int]:
        query = sa.select(node.c.hostname, node.c.id).where(
            node.c.cluster == cluster, node.c.hostname.in_(hostnames)
        )
        return {hostname: int(node_id) for hostname, node_id in conn.execute(query)}
