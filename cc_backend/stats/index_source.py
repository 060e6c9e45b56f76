"""Statistics parts from the archive index (DuckDB), over one fixed state of the index.

The same questions as :mod:`cc_backend.stats.job_table_source` asks the job table, with the
same arithmetic (integer sums, truncating integer division, the same float expression for
metric bins), over the index rows that match the filters and that the acting user may see
(:func:`~cc_backend.stats.index_filters.add_visibility`). Footprint values are the index's
``fp_<key>`` columns; a job's average of a metric is its statistics average
(``stat_<metric>_avg``), or else its footprint value ``<metric>_avg``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from cc_backend.domain.filters import JobFilter, check_metric_name
from cc_backend.domain.job import JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.stats.archive_stats import ArchiveStats
from cc_backend.stats.index_filters import SqlFilter, add_visibility, filter_sql
from cc_backend.stats.index_manifest import IndexSnapshot
from cc_backend.stats.index_rows import ROOFLINE_COLUMN, footprint_column, stat_column
from cc_backend.stats.statistics_parts import (
    HIST_COLUMNS,
    GroupPart,
    HistColumn,
    JobColumns,
    RooflineCounts,
)
from cc_backend.stats.stats_results import GroupBy

_GROUP_COLUMNS = {
    GroupBy.USER: "user",
    GroupBy.PROJECT: "project",
    GroupBy.CLUSTER: "cluster",
    GroupBy.SUBCLUSTER: "sub_cluster",
}
_RUNNING = f"'{JobState.RUNNING.value}'"
_WITHOUT_DATA = f"({int(MonitoringStatus.DISABLED)}, {int(MonitoringStatus.ARCHIVING_FAILED)})"


def visible_filter(
    snapshot: IndexSnapshot, filters: Sequence[JobFilter], actor: User | None, now: int
) -> SqlFilter:
    """The conditions of ``filters`` and of what ``actor`` (None: no restriction) may see."""
    where = filter_sql(filters, snapshot.footprints, now=now)
    if actor is not None:
        add_visibility(where, actor)
    return where


def holds_running_jobs(stats: ArchiveStats, snapshot: IndexSnapshot) -> bool:
    """Whether any row of ``snapshot`` is a running job (an archive rarely has one)."""
    sql = f"SELECT count(*) FROM {{jobs}} AND state = {_RUNNING}"
    return bool(stats.fetch_at(snapshot, sql, SqlFilter())[0][0])


class IndexSource:
    """Statistics over the index rows of ``snapshot`` matching ``filters`` that ``actor``
    may see; ``now`` resolves named time ranges and the duration of running jobs.

    ``running_jobs`` False says that the state holds no running job (see
    :func:`holds_running_jobs`), which saves a query per question.
    """

    def __init__(
        self,
        stats: ArchiveStats,
        snapshot: IndexSnapshot,
        filters: Sequence[JobFilter],
        actor: User | None,
        now: int,
        *,
        running_jobs: bool = True,
    ) -> None:
        self.stats = stats
        self.snapshot = snapshot
        self.now = now
        self._running_jobs = running_jobs
        self._where = visible_filter(snapshot, filters, actor, now)

    def _fetch(self, template: str, **params: Any) -> list[tuple[Any, ...]]:
        return self.stats.fetch_at(self.snapshot, template, self._where, params)

    def _running(self, group: str) -> list[tuple[Any, ...]]:
        """``group, user, duration, start_time, num_nodes, threads, accs`` of the matching
        running jobs (an archive holds few or none). The main queries count every job by
        its stored duration, a plain column scan; these rows correct that for running jobs,
        which count with the time since their start."""
        if not self._running_jobs:
            return []
        sql = f"""SELECT {group}, user, duration, start_time, num_nodes,
                coalesce(num_hwthreads, 0), coalesce(num_acc, 0)
            FROM {{jobs}} AND state = {_RUNNING}"""
        return self._fetch(sql)

    def group_parts(self, group_by: GroupBy | None, short_seconds: int) -> list[GroupPart]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        group = _GROUP_COLUMNS[group_by] if group_by is not None else "NULL"
        users = "[user]" if group_by is GroupBy.USER else "list(DISTINCT user)"
        grouping = "" if group_by is None else "GROUP BY g"
        sql = f"""SELECT {group} AS g, {users}, count(*), 0,
                count(*) FILTER (WHERE duration < $q_short),
                sum(duration), sum(num_nodes), sum(duration * num_nodes),
                sum(coalesce(num_hwthreads, 0)), sum(duration * coalesce(num_hwthreads, 0)),
                sum(coalesce(num_acc, 0)), sum(duration * coalesce(num_acc, 0))
            FROM {{jobs}} {grouping}"""
        parts = {
            g: GroupPart(
                None if g is None else str(g),
                frozenset(str(u) for u in names or ()),
                *(int(v or 0) for v in values),
            )
            for g, names, *values in self._fetch(sql, q_short=short_seconds)
            if values[0]
        }
        for g, user, duration, start, nodes, threads, accs in self._running(group):
            extra = self.now - int(start) - int(duration)
            correction = GroupPart(
                parts[g].group,
                frozenset((str(user),)),
                running_jobs=1,
                walltime=extra,
                node_seconds=extra * int(nodes),
                core_seconds=extra * int(threads),
                acc_seconds=extra * int(accs),
            )
            parts[g] = parts[g].plus(correction)
        return list(parts.values())

    def duration_counts(self, width: int) -> dict[int, int]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        sql = "SELECT duration // $q_width + 1 AS bin, count(*) FROM {jobs} GROUP BY bin"
        counts = {int(b): int(n) for b, n in self._fetch(sql, q_width=width)}
        for _, _, duration, start, *_ in self._running("NULL"):
            counts[int(duration) // width + 1] -= 1
            elapsed = self.now - int(start)
            binned = _truncated_division(elapsed, width) + 1
            counts[binned] = counts.get(binned, 0) + 1
        return {b: n for b, n in counts.items() if n}

    def value_counts(self, column: HistColumn) -> dict[int, int]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        if column not in HIST_COLUMNS:
            raise ValueError(f"no histogram of {column!r}")
        sql = f"SELECT coalesce({column}, 0) AS v, count(*) FROM {{jobs}} GROUP BY v"
        return {int(v): int(n) for v, n in self._fetch(sql)}

    def metric_bin_counts(self, key: str, peak: float, bins: int) -> dict[int, int]:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        if check_metric_name(key) not in self.snapshot.footprints:
            return {}  # no archived job has this footprint value
        x = footprint_column(key)
        sql = f"""SELECT CAST(trunc((CASE WHEN {x} = $q_peak THEN $q_below ELSE {x} END)
                / $q_peak * $q_bins) AS BIGINT) + 1 AS bin, count(*)
            FROM {{jobs}} AND {x} IS NOT NULL AND {x} <= $q_peak GROUP BY bin"""
        rows = self._fetch(sql, q_peak=peak, q_below=peak * 0.999999999, q_bins=bins)
        return {int(b): int(n) for b, n in rows}

    def _average(self, metric: str) -> str:
        """SQL of a job's average of ``metric`` (NULL when the index has no value)."""
        check_metric_name(metric)
        found = []
        if metric in self.snapshot.metrics:
            found.append(stat_column(metric, "avg"))
        if f"{metric}_avg" in self.snapshot.footprints:
            found.append(footprint_column(f"{metric}_avg"))
        if not found:
            return "NULL::DOUBLE"
        return f"coalesce({', '.join(found)})::DOUBLE" if len(found) > 1 else found[0]

    def job_columns(self, metrics: Sequence[str]) -> JobColumns:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`."""
        averages = "".join(f", {self._average(m)} AS m{i}" for i, m in enumerate(metrics))
        sql = f"""SELECT duration, num_nodes, coalesce(num_hwthreads, 0) AS threads,
                coalesce(num_acc, 0) AS accs{averages}
            FROM {{jobs}} AND monitoring_status NOT IN {_WITHOUT_DATA}"""
        arrays = self.stats.arrays_at(self.snapshot, sql, self._where)

        def floats(name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
            column = np.ma.filled(np.ma.asarray(arrays[name], dtype=np.float64), np.nan)
            return np.asarray(column, dtype=np.float64)

        def ints(name: str) -> np.ndarray[Any, np.dtype[np.int64]]:
            return np.asarray(arrays[name], dtype=np.int64)

        return JobColumns(
            duration=ints("duration"),
            num_nodes=ints("num_nodes"),
            num_hwthreads=ints("threads"),
            num_acc=ints("accs"),
            averages={m: floats(f"m{i}") for i, m in enumerate(metrics)},
        )

    def roofline_counts(self) -> RooflineCounts:
        """See :class:`~cc_backend.stats.statistics_parts.StatisticsSource`: the sum of the
        stored counts of the matching jobs per fine cell, in one grouped query (its rows
        with cell -1 and -2 count the jobs with and without counts). Running jobs in the
        index (an archive rarely has one) have no counts."""
        r = ROOFLINE_COLUMN
        sql = f"""WITH j AS (SELECT {r} AS r FROM {{jobs}}
                AND monitoring_status NOT IN {_WITHOUT_DATA})
            SELECT c.cell::BIGINT AS cell, sum(c.n)::BIGINT AS n
                FROM (SELECT unnest(r) AS c FROM j) GROUP BY c.cell
            UNION ALL
            SELECT -1 - (r IS NULL)::BIGINT, count(*) FROM j GROUP BY ALL"""
        arrays = self.stats.arrays_at(self.snapshot, sql, self._where)
        cells = np.asarray(arrays["cell"], dtype=np.int64)
        counts = np.asarray(arrays["n"], dtype=np.int64)
        fine = cells >= 0
        jobs = int(counts[cells == -1].sum())
        uncounted = int(counts[cells == -2].sum())
        return RooflineCounts(cells[fine], counts[fine], jobs, uncounted)


_STATISTICS_OF = """SELECT k.position, {columns} FROM db_keys AS k JOIN
    (SELECT * FROM {{jobs}}) AS i
    ON k.cluster = i.cluster AND k.job_id = i.job_id AND k.start_time = i.start_time"""


def statistics_of(
    stats: ArchiveStats,
    snapshot: IndexSnapshot,
    keys: Sequence[tuple[str, int, int]],
    metrics: Sequence[str],
) -> dict[int, dict[str, tuple[float, float, float]]]:
    """Statistics (avg, min, max) of ``metrics`` of the jobs with ``keys``, by position in
    ``keys``; jobs the index does not hold and metrics a job has no statistics of are left
    out. Only metrics the index has statistics columns for can be found."""
    known = [check_metric_name(m) for m in metrics if m in snapshot.metrics]
    if not keys or not known:
        return {}
    columns = ", ".join(stat_column(m, s) for m in known for s in ("avg", "min", "max"))
    table = pa.table(
        {
            "position": pa.array(range(len(keys)), pa.int64()),
            "cluster": pa.array([k[0] for k in keys], pa.string()),
            "job_id": pa.array([k[1] for k in keys], pa.int64()),
            "start_time": pa.array([k[2] for k in keys], pa.int64()),
        }
    )
    rows = stats.fetch_at(
        snapshot, _STATISTICS_OF.format(columns=columns), SqlFilter(), tables={"db_keys": table}
    )
    found: dict[int, dict[str, tuple[float, float, float]]] = {}
    for position, *values in rows:
        per_metric = {
            m: (_float(values[3 * i]), _float(values[3 * i + 1]), _float(values[3 * i + 2]))
            for i, m in enumerate(known)
            if values[3 * i] is not None
        }
        if per_metric:
            found[int(position)] = per_metric
    return found


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _truncated_division(a: int, b: int) -> int:
    """``a / b`` rounded towards zero, as integer division in SQL."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient
