"""Nodes of the clusters and the history of their states (tables ``node`` and ``node_state``).

A node row is created the first time a host is reported; every state update adds one
``node_state`` row per node, so the history is kept and the latest row is the current state.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import StringInput
from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.job_filters import string_condition
from cc_backend.repository.schema import job, node, node_state

__all__ = [
    "HealthState",
    "NodeFilter",
    "NodeInfo",
    "NodeRepository",
    "NodeStateRow",
    "NodeStatus",
    "SchedulerState",
    "StatesOverTime",
]

log = logging.getLogger(__name__)


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


class NodeFilter(BaseModel):
    """One filter of the node queries (GraphQL's ``NodeFilter``); all filters of a list hold.

    ``hostname``, ``cluster`` and ``subcluster`` match the node, ``schedulerState`` and
    ``healthState`` a state report, ``timeStart`` keeps reports after that Unix time.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    hostname: StringInput | None = None
    cluster: StringInput | None = None
    subcluster: StringInput | None = None
    scheduler_state: SchedulerState | None = Field(default=None, alias="schedulerState")
    health_state: HealthState | None = Field(default=None, alias="healthState")
    time_start: int | None = Field(default=None, alias="timeStart")


@dataclass(frozen=True, slots=True)
class StatesOverTime:
    """How many nodes reported one state, at each report time (oldest first)."""

    state: str
    times: list[int]
    counts: list[int]


#: The state columns :meth:`NodeRepository.state_counts_over_time` can count.
StateColumn = Literal["node_state", "health_state"]


def _node_conditions(filters: Sequence[NodeFilter], dialect_name: str) -> list[Any]:
    """Conditions of ``filters`` on the ``node`` table (host, cluster, subcluster)."""
    conditions: list[Any] = []
    for item in filters:
        for cond, column in (
            (item.hostname, node.c.hostname),
            (item.cluster, node.c.cluster),
            (item.subcluster, node.c.subcluster),
        ):
            if cond is not None:
                condition = string_condition(column, cond, dialect_name)
                if condition is not None:
                    conditions.append(condition)
    return conditions


def _state_conditions(filters: Sequence[NodeFilter], states: Any) -> list[Any]:
    """Conditions of ``filters`` on state reports (``states`` has node_state's columns)."""
    conditions: list[Any] = []
    for item in filters:
        if item.scheduler_state is not None:
            conditions.append(states.c.node_state == SchedulerState(item.scheduler_state).value)
        if item.health_state is not None:
            conditions.append(states.c.health_state == HealthState(item.health_state).value)
        if item.time_start is not None:
            conditions.append(states.c.time_stamp > item.time_start)
    return conditions


def _latest_reports() -> Any:
    """Each node's latest state report (largest time stamp, then last stored) as subquery."""
    rank = (
        sa.func.row_number()
        .over(
            partition_by=node_state.c.node_id,
            order_by=(node_state.c.time_stamp.desc(), node_state.c.id.desc()),
        )
        .label("rank")
    )
    return sa.select(node_state, rank).subquery("latest")


def _decode_meta(raw: str | bytes | None, node_id: int) -> Any:
    if raw is None or raw in ("", b""):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.warning("node %d: meta_data is not valid JSON; ignored", node_id)
        return None


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
        with self.db.begin() as conn:
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
        with self.db.begin() as conn:
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
        with self.db.connect() as conn:
            return [_node_info(row) for row in conn.execute(query)]

    def latest_states(self, cluster: str | None = None) -> list[NodeStatus]:
        """The most recent state of every node that has one (of ``cluster`` if given).

        "Most recent" is the largest time stamp; of equal time stamps the row stored last.
        Ordered by cluster and host name; nodes never reported are left out.
        """
        return self._latest(node.c.cluster == cluster if cluster is not None else None)

    def state_history(self, cluster: str, hostname: str) -> list[tuple[int, SchedulerState]]:
        """Time stamp and scheduler state of every report of one node, oldest first."""
        query = (
            sa.select(node_state.c.time_stamp, node_state.c.node_state)
            .join(node, node.c.id == node_state.c.node_id)
            .where(node.c.cluster == cluster, node.c.hostname == hostname)
            .order_by(node_state.c.time_stamp, node_state.c.id)
        )
        with self.db.connect() as conn:
            return [(int(ts), SchedulerState(state)) for ts, state in conn.execute(query)]

    def latest_matching(
        self, filters: Sequence[NodeFilter] = (), *, node_id: int | None = None
    ) -> list[NodeStatus]:
        """The latest state of every node whose node and latest report match all ``filters``
        (and whose id is ``node_id``, if given).

        Unlike :meth:`latest_states`, a scheduler or health state filter applies to the
        latest report only, so a node is listed with its current state or not at all.
        Ordered by cluster and host name; nodes never reported are left out.
        """
        conditions = [*_node_conditions(filters, self.db.dialect)]
        if node_id is not None:
            conditions.append(node.c.id == node_id)
        return self._latest(*conditions, state_filters=filters)

    def _latest(
        self, *conditions: Any, state_filters: Sequence[NodeFilter] = ()
    ) -> list[NodeStatus]:
        """Nodes matching ``conditions`` with their latest report, if it matches
        ``state_filters``; ordered by cluster and host name."""
        latest = _latest_reports()
        query = (
            sa.select(
                node.c.id,
                node.c.hostname,
                node.c.cluster,
                node.c.subcluster,
                latest.c.time_stamp,
                latest.c.node_state,
                latest.c.health_state,
                latest.c.cpus_allocated,
                latest.c.memory_allocated,
                latest.c.gpus_allocated,
                latest.c.jobs_running,
            )
            .join(latest, latest.c.node_id == node.c.id)
            .where(
                latest.c.rank == 1,
                *(c for c in conditions if c is not None),
                *_state_conditions(state_filters, latest),
            )
            .order_by(node.c.cluster, node.c.hostname)
        )
        with self.db.connect() as conn:
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

    def state_counts_over_time(
        self, filters: Sequence[NodeFilter], column: StateColumn
    ) -> list[StatesOverTime]:
        """For each value of ``column`` (scheduler or health state): at every report time,
        how many of the nodes matching ``filters`` reported it.

        Every report counts, not only the latest; ``timeStart`` limits the reports to those
        after it. Ordered by state name; times ascending. Raises :class:`InvalidInput` for
        an unknown column.
        """
        if column not in ("node_state", "health_state"):
            raise InvalidInput(f"cannot count nodes by {column!r}")
        state = node_state.c[column]
        query = (
            sa.select(state, node_state.c.time_stamp, sa.func.count())
            .join(node, node.c.id == node_state.c.node_id)
            .where(
                *_node_conditions(filters, self.db.dialect),
                *_state_conditions(filters, node_state),
            )
            .group_by(state, node_state.c.time_stamp)
            .order_by(state, node_state.c.time_stamp)
        )
        series: dict[str, StatesOverTime] = {}
        with self.db.connect() as conn:
            for value, time_stamp, count in conn.execute(query):
                entry = series.setdefault(str(value), StatesOverTime(str(value), [], []))
                entry.times.append(int(time_stamp))
                entry.counts.append(int(count))
        return list(series.values())

    def meta_data_of(self, node_ids: Sequence[int]) -> dict[int, Any]:
        """The decoded ``meta_data`` of each of ``node_ids`` (``None`` where there is none,
        or it is not valid JSON; unknown ids are left out)."""
        if not node_ids:
            return {}
        query = sa.select(node.c.id, node.c.meta_data).where(node.c.id.in_(list(node_ids)))
        with self.db.connect() as conn:
            return {int(i): _decode_meta(raw, int(i)) for i, raw in conn.execute(query)}

    def partitions(self, cluster: str) -> list[str]:
        """The scheduler partitions that jobs of ``cluster`` ran in, sorted (empty ones left
        out): the partitions of the cluster's nodes as the job table knows them."""
        query = (
            sa.select(job.c.cluster_partition)
            .where(job.c.cluster == cluster, job.c.cluster_partition.is_not(None))
            .distinct()
        )
        with self.db.connect() as conn:
            return sorted({str(p) for (p,) in conn.execute(query) if p})

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
