"""Statistics parts from the job table (SQL), for SQLite and PostgreSQL.

The queries are those of cc-backend's ``stats.go`` (grouped sums, duration bins, value
counts, footprint bins), with the job filters of :mod:`cc_backend.repository.job_filters`
and the visibility rule of :mod:`cc_backend.repository.visibility`. Sums are taken as
integers and grouped by (group, user), so that the parts of this source and of the archive
index add up exactly (:mod:`cc_backend.stats.statistics_parts`).

A source may be restricted to a set of database ids (the jobs the archive index does not
hold); an empty set answers without asking the database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cc_backend.domain.filters import JobFilter, check_metric_name
from cc_backend.domain.job import JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.job_filters import Condition, all_conditions
from cc_backend.repository.rows import state_to_db
from cc_backend.repository.schema import hpc_user, job
from cc_backend.repository.visibility import job_visibility
from cc_backend.stats.statistics_parts import (
    GroupPart,
    HistColumn,
    JobColumns,
    RooflineCounts,
    add_group_parts,
)
from cc_backend.stats.stats_results import GroupBy

_GROUP_COLUMNS: dict[GroupBy, sa.ColumnElement[Any]] = {
    GroupBy.USER: job.c.hpc_user,
    GroupBy.PROJECT: job.c.project,
    GroupBy.CLUSTER: job.c.cluster,
    GroupBy.SUBCLUSTER: job.c.subcluster,
}
_VALUE_COLUMNS: dict[str, sa.ColumnElement[Any]] = {
    "num_nodes": job.c.num_nodes,
    "num_hwthreads": sa.func.coalesce(job.c.num_hwthreads, 0),
    "num_acc": sa.func.coalesce(job.c.num_acc, 0),
}
_WITHOUT_DATA = (int(MonitoringStatus.DISABLED), int(MonitoringStatus.ARCHIVING_FAILED))


def visible_conditions(
    db: Database, filters: Sequence[JobFilter], actor: User | None, now: int
) -> list[Condition]:
    """The visibility rule for ``actor`` (None: no restriction) and every filter, as SQL
    conditions. Raises PermissionDenied or InvalidInput as the rule and filters do."""
    conditions = [] if actor is None else [job_visibility(actor)]
    conditions += all_conditions(filters, db.dialect, now)
    return [c for c in conditions if c is not None]


def _ids_condition(ids: Collection[int], dialect_name: str) -> Condition:
    """``job.id`` is one of ``ids``, as one bound parameter (a JSON array on SQLite, an
    array on PostgreSQL) however many ids there are."""
    values = sorted(ids)
    if dialect_name == "postgresql":
        array = sa.bindparam("only_ids", values, type_=postgresql.ARRAY(sa.BigInteger))
        return job.c.id == sa.any_(array)
    listed = sa.func.json_each(sa.bindparam("only_ids", orjson.dumps(values).decode()))
    return job.c.id.in_(sa.select(listed.table_valued("value").c.value))


def _to_int(value: Any, dialect_name: str) -> sa.ColumnElement[Any]:
    """The integer part of a float (truncated towards zero, as SQLite's CAST does)."""
    if dialect_name == "postgresql":
        return sa.cast(sa.func.trunc(value), sa.BigInteger)
    return sa.cast(value, sa.Integer)


class JobTableSource:
    """Statistics over the job rows matching ``filters`` that ``actor`` may see.

    ``only_ids`` restricts them to those database ids (None: no restriction). ``now`` (Unix
    seconds) resolves named time ranges and the duration of running jobs.
    """

    def __init__(
        self,
        db: Database,
        filters: Sequence[JobFilter],
        actor: User | None,
        now: int,
        *,
        only_ids: Collection[int] | None = None,
    ) -> None:
        self.db = db
        self.now = now
        self._empty = only_ids is not None and not only_ids
        self._conditions = visible_conditions(db, filters, actor, now)
        if only_ids:
            self._conditions.append(_ids_condition(only_ids, db.dialect))

    def _rows(self, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        if self._empty:
            return []
        with self.db.engine.connect() as conn:
            rows = conn.execute(query.where(*self._conditions)).all()
        return cast("list[tuple[Any, ...]]", rows)

    def _elapsed(self) -> sa.ColumnElement[Any]:
        """A job's duration, for a running job the time since its start."""
        now = sa.bindparam("now", self.now, type_=sa.BigInteger)
        running = job.c.job_state == state_to_db(JobState.RUNNING)
        return sa.case((running, now - job.c.start_time), else_=job.c.duration)

    def group_parts(self, group_by: GroupBy | None, short_seconds: int) -> list[GroupPart]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        elapsed = self._elapsed()
        group = _GROUP_COLUMNS[group_by] if group_by is not None else sa.null()
        threads = sa.func.coalesce(job.c.num_hwthreads, 0)
        accs = sa.func.coalesce(job.c.num_acc, 0)
        running = job.c.job_state == state_to_db(JobState.RUNNING)
        short = job.c.duration < sa.bindparam("short", short_seconds, type_=sa.Integer)
        sums = (
            sa.func.count(),
            sa.func.sum(sa.case((running, 1), else_=0)),
            sa.func.sum(sa.case((short, 1), else_=0)),
            sa.func.sum(elapsed),
            sa.func.sum(job.c.num_nodes),
            sa.func.sum(elapsed * job.c.num_nodes),
            sa.func.sum(threads),
            sa.func.sum(elapsed * threads),
            sa.func.sum(accs),
            sa.func.sum(elapsed * accs),
        )
        keys = [job.c.hpc_user] if group_by is None else [group, job.c.hpc_user]
        query = sa.select(group, job.c.hpc_user, *sums).group_by(*keys)
        return add_group_parts(
            GroupPart(
                None if g is None else str(g),
                frozenset((str(user),)),
                *(int(v or 0) for v in values),
            )
            for g, user, *values in self._rows(query)
        )

    def duration_counts(self, width: int) -> dict[int, int]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        width_param = sa.bindparam("width", width, type_=sa.BigInteger)
        binned = (self._elapsed() // width_param + 1).label("bin")
        query = sa.select(binned, sa.func.count()).group_by(binned)
        return {int(b): int(n) for b, n in self._rows(query)}

    def value_counts(self, column: HistColumn) -> dict[int, int]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        value = _VALUE_COLUMNS[column].label("value")
        query = sa.select(value, sa.func.count()).group_by(value)
        return {int(v): int(n) for v, n in self._rows(query)}

    def _footprint(self, key: str) -> sa.ColumnElement[Any]:
        """Footprint value ``key`` of a job (NULL without one, or with unreadable JSON)."""
        value = dialect.json_number(job.c.footprint, check_metric_name(key), self.db.dialect)
        if self.db.dialect == "sqlite":  # json_extract fails on malformed text
            return sa.case((sa.func.json_valid(job.c.footprint) == 1, value), else_=sa.null())
        return value

    def metric_bin_counts(self, key: str, peak: float, bins: int) -> dict[int, int]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        value = self._footprint(key)
        top = sa.bindparam("peak", peak, type_=sa.Float)
        below_top = sa.bindparam("below_peak", peak * 0.999999999, type_=sa.Float)
        count = sa.bindparam("bins", bins, type_=sa.Integer)
        scaled = sa.case((value == top, below_top), else_=value) / top * count
        binned = (_to_int(scaled, self.db.dialect) + 1).label("bin")
        query = (
            sa.select(binned, sa.func.count())
            .where(value.is_not(None), value <= top)
            .group_by(binned)
        )
        return {int(b): int(n) for b, n in self._rows(query)}

    def job_columns(self, metrics: Sequence[str]) -> JobColumns:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`; a job's average
        of a metric is its footprint value ``<metric>_avg``."""
        averages = [self._footprint(f"{m}_avg") for m in metrics]
        query = sa.select(
            job.c.duration,
            job.c.num_nodes,
            sa.func.coalesce(job.c.num_hwthreads, 0),
            sa.func.coalesce(job.c.num_acc, 0),
            *averages,
        ).where(job.c.monitoring_status.not_in(_WITHOUT_DATA))
        rows = self._rows(query.order_by(job.c.id))
        if not rows:
            return JobColumns.empty(metrics)
        table = np.array(rows, dtype=object)
        return JobColumns(
            duration=table[:, 0].astype(np.int64),
            num_nodes=table[:, 1].astype(np.int64),
            num_hwthreads=table[:, 2].astype(np.int64),
            num_acc=table[:, 3].astype(np.int64),
            averages={
                m: np.array([np.nan if v is None else v for v in table[:, 4 + i]], np.float64)
                for i, m in enumerate(metrics)
            },
        )

    def roofline_counts(self) -> RooflineCounts:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`: the job table
        holds no time steps, so its jobs with metric data (running jobs, jobs waiting for
        archiving or for their index row) are only counted as ``uncounted``."""
        query = sa.select(sa.func.count()).where(job.c.monitoring_status.not_in(_WITHOUT_DATA))
        rows = self._rows(query)
        return RooflineCounts(uncounted=int(rows[0][0] or 0) if rows else 0)

    def job_list(self) -> list[tuple[Any, ...]]:
        """``id, job_id, start_time, duration, cluster, subcluster, num_nodes,
        num_hwthreads, num_acc`` of every job, by start time (then id)."""
        query = sa.select(
            job.c.id,
            job.c.job_id,
            job.c.start_time,
            job.c.duration,
            job.c.cluster,
            job.c.subcluster,
            job.c.num_nodes,
            sa.func.coalesce(job.c.num_hwthreads, 0),
            sa.func.coalesce(job.c.num_acc, 0),
        ).order_by(job.c.start_time, job.c.id)
        return self._rows(query)


def user_display_names(db: Database, usernames: Collection[str]) -> Mapping[str, str]:
    """The display name (``hpc_user.name``) of each of ``usernames`` that has one."""
    if not usernames:
        return {}
    query = sa.select(hpc_user.c.username, hpc_user.c.name).where(
        hpc_user.c.username.in_(sorted(usernames))
    )
    with db.engine.connect() as conn:
        return {str(u): str(n) for u, n in conn.execute(query) if n}
