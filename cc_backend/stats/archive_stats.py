"""Archive-wide job statistics: DuckDB queries over an :class:`ArchiveIndex`.

The questions are those of cc-backend's ``jobsStatistics``: totals overall or per user,
project, cluster or subcluster, histograms of duration and job size, and histograms of a
metric's per-job value; every one of them over any list of
:class:`~cc_backend.domain.filters.JobFilter` (see :mod:`cc_backend.stats.index_filters`).
Results are small frozen dataclasses (:mod:`cc_backend.stats.stats_results`).

Each call reads the index manifest, so it sees the latest upserts and compactions; if a
file disappears under a running query (a compaction finished), the query is retried on
the new state. The base files are scanned by every query (DuckDB caches their footers:
index files are never modified in place); the newest rows of the delta files are read
once per index state into a small in-memory table. Durations are the stored ones:
archived jobs have finished. Hours are not rounded (cc-backend rounds them to integers
for its GraphQL fields).
"""

from __future__ import annotations

import enum
import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import duckdb

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import BackendUnavailable, InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter, check_metric_name
from cc_backend.stats.archive_index import ArchiveIndex
from cc_backend.stats.index_filters import SqlFilter, filter_sql
from cc_backend.stats.index_manifest import IndexSnapshot
from cc_backend.stats.index_rows import STATS, stat_column
from cc_backend.stats.stats_results import (
    GroupBy,
    HistoPoint,
    JobTotals,
    MetricBin,
    MetricHistogram,
    SortBy,
)

#: ``numDurationBins`` -> (bin width in seconds, number of bins), as in cc-backend.
DURATION_BINS: dict[str, tuple[int, int]] = {
    "1m": (60, 60),
    "10m": (600, 72),
    "1h": (3600, 48),
    "6h": (21600, 12),
    "12h": (43200, 14),
    "24h": (3600, 24),
}
DEFAULT_DURATION_BINS = "24h"
DEFAULT_METRIC_BINS = 10
#: Jobs shorter than this many seconds count as short (cc-backend's default).
SHORT_JOB_SECONDS = 300
_RETRIES = 3

Stat = Literal["avg", "min", "max"]
_E = TypeVar("_E", bound=enum.StrEnum)
_R = TypeVar("_R")


_GROUP_COLUMNS = {
    GroupBy.USER: "user",
    GroupBy.PROJECT: "project",
    GroupBy.CLUSTER: "cluster",
    GroupBy.SUBCLUSTER: "sub_cluster",
}
_SORT_COLUMNS = {
    SortBy.TOTALWALLTIME: "walltime_hours",
    SortBy.TOTALJOBS: "jobs",
    SortBy.TOTALUSERS: "users",
    SortBy.TOTALNODES: "nodes",
    SortBy.TOTALNODEHOURS: "node_hours",
    SortBy.TOTALCORES: "cores",
    SortBy.TOTALCOREHOURS: "core_hours",
    SortBy.TOTALACCS: "accs",
    SortBy.TOTALACCHOURS: "acc_hours",
}
_TOTALS = """count(*) AS jobs, count(DISTINCT user) AS users,
    count(*) FILTER (WHERE state = 'running') AS running_jobs,
    count(*) FILTER (WHERE duration < $q_short) AS short_jobs,
    coalesce(sum(duration), 0) / 3600.0 AS walltime_hours,
    coalesce(sum(num_nodes), 0) AS nodes,
    coalesce(sum(node_hours), 0.0) AS node_hours,
    coalesce(sum(num_hwthreads), 0) AS cores,
    coalesce(sum(duration * num_hwthreads), 0) / 3600.0 AS core_hours,
    coalesce(sum(num_acc), 0) AS accs,
    coalesce(sum(duration * num_acc), 0) / 3600.0 AS acc_hours"""


Rows = list[tuple[Any, ...]]


class ArchiveStats:
    """Statistics over the archive index ``index`` (one in-process DuckDB database).

    Safe to share between threads. ``clock`` gives "now" for named time ranges.
    """

    def __init__(
        self,
        index: ArchiveIndex,
        *,
        threads: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config: dict[str, Any] = {"preserve_insertion_order": False}
        if threads is not None:
            config["threads"] = threads
        self.index = index
        self._clock = clock
        self._con = duckdb.connect(config=config)
        self._con.execute("SET GLOBAL parquet_metadata_cache = true")
        index.register(self._con)
        self._local = threading.local()
        self._delta_lock = threading.Lock()
        self._delta_tables: dict[tuple[str, ...], str] = {}
        self._serial = itertools.count(1)

    def close(self) -> None:
        """Close the DuckDB database."""
        self._con.close()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
        return cursor

    def _deltas_table(self, snap: IndexSnapshot) -> str | None:
        """A table with the resolved delta rows of ``snap``, made once per state from the
        table of an earlier state plus the delta files added since. The tables of all but
        the two newest states are dropped."""
        if not snap.deltas:
            return None
        with self._delta_lock:
            found = self._delta_tables.get(snap.deltas)
            if found is not None:
                return found
            earlier = [k for k in self._delta_tables if snap.deltas[: len(k)] == k]
            start = max(earlier, key=len, default=())
            name = f"index_deltas_{next(self._serial)}"
            source, params = self.index.resolved_deltas(
                snap.deltas[len(start) :], self._delta_tables.get(start)
            )
            self._cursor().execute(f"CREATE TABLE {name} AS SELECT * FROM {source}", params)
            self._delta_tables[snap.deltas] = name
            while len(self._delta_tables) > 2:
                oldest = next(iter(self._delta_tables))
                self._cursor().execute(f"DROP TABLE IF EXISTS {self._delta_tables.pop(oldest)}")
            return name

    def _fetch(
        self,
        filters: Sequence[JobFilter],
        build: Callable[[IndexSnapshot], tuple[str, dict[str, Any]]],
    ) -> Rows:
        """Run the query ``build(snapshot)`` gives and return its rows.

        ``{jobs}`` in the query expands to ``<index relation> WHERE <filters>``, so the
        query goes on with ``AND ...``, ``GROUP BY`` and so on. Retries on a newer state
        when a file vanished (a compaction finished) or a delta table was replaced."""
        previous: IndexSnapshot | None = None
        error: duckdb.Error | None = None
        for _ in range(_RETRIES):
            snap = self.index.snapshot()
            if snap == previous and isinstance(error, duckdb.IOException):
                break  # the same state again: a file is really missing
            template, extra = build(snap)
            try:
                relation, params = self.index.relation(snap, self._deltas_table(snap))
                where = filter_sql(filters, snap.footprints, now=self._clock())
                sql = template.replace("{jobs}", f"{relation} WHERE {where.where()}")
                return self._cursor().execute(sql, {**params, **where.params, **extra}).fetchall()
            except (duckdb.IOException, duckdb.CatalogException) as exc:
                previous, error = snap, exc
        raise BackendUnavailable(f"archive index at {self.index.location}: {error}")

    # -- totals -------------------------------------------------------------------------

    def totals(
        self, filters: Sequence[JobFilter] = (), *, short_seconds: int = SHORT_JOB_SECONDS
    ) -> JobTotals:
        """Totals over all jobs matching ``filters``."""

        def build(_: IndexSnapshot) -> tuple[str, dict[str, Any]]:
            return f"SELECT NULL, {_TOTALS} FROM {{jobs}}", {"q_short": short_seconds}

        return _totals(self._fetch(filters, build)[0])

    def grouped(
        self,
        group_by: GroupBy | str,
        filters: Sequence[JobFilter] = (),
        *,
        sort_by: SortBy | str | None = None,
        limit: int | None = None,
        offset: int = 0,
        short_seconds: int = SHORT_JOB_SECONDS,
    ) -> list[JobTotals]:
        """Totals per user, project, cluster or subcluster of the jobs matching ``filters``.

        Sorted by ``sort_by`` largest first (ties and the unsorted case by group name),
        then ``offset`` groups skipped and at most ``limit`` returned.
        """
        column = _GROUP_COLUMNS[_enum(GroupBy, group_by)]
        order = "id"
        if sort_by is not None:
            order = f"{_SORT_COLUMNS[_enum(SortBy, sort_by)]} DESC, id"
        if (limit is not None and limit < 0) or offset < 0:
            raise InvalidInput("limit and offset must not be negative")

        def build(_: IndexSnapshot) -> tuple[str, dict[str, Any]]:
            sql = (
                f"SELECT {column} AS id, {_TOTALS} FROM {{jobs}} GROUP BY {column} "
                f"ORDER BY {order} LIMIT $q_limit OFFSET $q_offset"
            )
            return sql, {"q_short": short_seconds, "q_limit": limit, "q_offset": offset}

        return [_totals(row) for row in self._fetch(filters, build)]

    def job_counts(
        self, group_by: GroupBy | str, filters: Sequence[JobFilter] = ()
    ) -> dict[str, int]:
        """Only the number of matching jobs per group, by group name (cheaper than
        :meth:`grouped`)."""
        column = _GROUP_COLUMNS[_enum(GroupBy, group_by)]

        def build(_: IndexSnapshot) -> tuple[str, dict[str, Any]]:
            return f"SELECT {column}, count(*) FROM {{jobs}} GROUP BY {column}", {}

        return {str(name): int(n) for name, n in self._fetch(filters, build)}

    # -- histograms ---------------------------------------------------------------------

    def duration_histogram(
        self, filters: Sequence[JobFilter] = (), num_duration_bins: str | None = None
    ) -> list[HistoPoint]:
        """Jobs per duration bin, binned as cc-backend's ``numDurationBins`` does.

        ``"1m"`` (60 bins of a minute), ``"10m"`` (72 of 10 minutes), ``"1h"`` (48 of an
        hour), ``"6h"`` (12 of 6 hours), ``"12h"`` (14 of 12 hours) or ``"24h"`` (the
        default: 24 of an hour). A job of ``d`` seconds falls in bin ``d // width + 1``;
        point ``i`` has the value ``i * width`` (seconds) and every bin is returned, empty
        ones with count 0; longer jobs are not counted.
        """
        key = num_duration_bins or DEFAULT_DURATION_BINS
        if key not in DURATION_BINS:
            raise InvalidInput(
                f"numDurationBins: unknown value {key!r} ({', '.join(DURATION_BINS)})"
            )
        width, count = DURATION_BINS[key]

        def build(_: IndexSnapshot) -> tuple[str, dict[str, Any]]:
            sql = (
                "SELECT duration // $q_width + 1 AS bin, count(*) FROM {jobs} "
                "AND duration // $q_width + 1 <= $q_count GROUP BY bin"
            )
            return sql, {"q_width": width, "q_count": count}

        counts: dict[int, int] = {int(b): int(c) for b, c in self._fetch(filters, build)}
        return [HistoPoint(i * width, counts.get(i, 0)) for i in range(1, count + 1)]

    def value_histogram(
        self,
        column: Literal["num_nodes", "num_hwthreads", "num_acc"],
        filters: Sequence[JobFilter] = (),
    ) -> list[HistoPoint]:
        """Jobs per distinct value of ``column``, sorted by value (no empty points)."""
        if column not in ("num_nodes", "num_hwthreads", "num_acc"):
            raise InvalidInput(f"no histogram of {column!r}")

        def build(_: IndexSnapshot) -> tuple[str, dict[str, Any]]:
            sql = f"SELECT {column} AS v, count(*) FROM {{jobs}} GROUP BY v ORDER BY v"
            return sql, {}

        return [HistoPoint(int(v), int(n)) for v, n in self._fetch(filters, build)]

    def num_nodes_histogram(self, filters: Sequence[JobFilter] = ()) -> list[HistoPoint]:
        """Jobs per number of nodes (cc-backend's ``histNumNodes``)."""
        return self.value_histogram("num_nodes", filters)

    def metrics(self) -> dict[str, str]:
        """The metrics the index has statistics of, with their units."""
        return dict(self.index.snapshot().metrics)

    def metric_histogram(
        self,
        metric: str,
        filters: Sequence[JobFilter] = (),
        *,
        num_metric_bins: int = DEFAULT_METRIC_BINS,
        stat: Stat = "avg",
        cluster: Cluster | Sequence[Cluster] | None = None,
    ) -> MetricHistogram:
        """Histogram of the jobs' ``stat`` (``avg``: the job average) of ``metric``.

        Each bin has the number of jobs and the sum of their node hours. With ``cluster``
        (one or several) the range is 0 to the metric's largest peak there, and values
        beyond it count as ``outside``; without, or if that peak is 0, the range is the
        smallest to the largest value among the matching jobs. A value equal to the top
        of the range falls into the last bin; if all values are equal, into the first.
        InvalidInput for an unknown metric or statistic or fewer than one bin.
        """
        check_metric_name(metric)
        if stat not in STATS:
            raise InvalidInput(f"unknown statistic {stat!r} (avg, min, max)")
        if num_metric_bins < 1:
            raise InvalidInput("numMetricBins must be at least 1")
        peak, unit = _peak(metric, cluster)
        n = num_metric_bins
        known: dict[str, str] = {}

        def build(snap: IndexSnapshot) -> tuple[str, dict[str, Any]]:
            if metric not in snap.metrics:
                names = ", ".join(sorted(snap.metrics)) or "none"
                raise InvalidInput(f"unknown metric {metric!r} (the archive has: {names})")
            known.update(snap.metrics)
            ranged = peak is not None
            bounds = "$q_lo AS lo, $q_hi AS hi" if ranged else "min(x) AS lo, max(x) AS hi FROM v"
            sql = f"""WITH v AS (SELECT {stat_column(metric, stat)} AS x, node_hours AS w
                FROM {{jobs}}), r AS (SELECT {bounds})
                SELECT CASE WHEN x IS NULL THEN -1 WHEN x < lo OR x > hi THEN 0
                    WHEN hi = lo THEN 1
                    ELSE least(CAST(floor((x - lo) / (hi - lo) * $q_n) AS BIGINT) + 1, $q_n)
                    END AS bin, count(*), coalesce(sum(w), 0.0), any_value(lo), any_value(hi)
                FROM v, r GROUP BY bin"""
            params: dict[str, Any] = {"q_n": n}
            if ranged:
                params |= {"q_lo": 0.0, "q_hi": peak}
            return sql, params

        rows = self._fetch(filters, build)
        by_bin = {int(b): (int(c), float(w)) for b, c, w, _, _ in rows}
        lo, hi = (0.0, peak) if peak is not None else rows[0][3:] if rows else (None, None)
        bins: tuple[MetricBin, ...] = ()
        if lo is not None and hi is not None:
            edges = [lo + (hi - lo) * i / n for i in range(n)] + [hi]
            bins = tuple(
                MetricBin(i, edges[i - 1], edges[i], *by_bin.get(i, (0, 0.0)))
                for i in range(1, n + 1)
            )
        return MetricHistogram(
            metric=metric,
            stat=stat,
            unit=unit or known.get(metric, ""),
            min=lo,
            max=hi,
            bins=bins,
            outside=by_bin.get(0, (0, 0.0))[0],
            missing=by_bin.get(-1, (0, 0.0))[0],
        )

    # -- queries composed elsewhere (index_source, index_coverage) ------------------------

    def snapshot(self) -> IndexSnapshot:
        """The index's current state; pass it to :meth:`fetch_at` to read exactly that
        state. NotFound if no index has been built."""
        return self.index.snapshot()

    def fetch_at(
        self,
        snapshot: IndexSnapshot,
        template: str,
        where: SqlFilter,
        params: Mapping[str, Any] | None = None,
        *,
        tables: Mapping[str, Any] | None = None,
    ) -> Rows:
        """The rows of ``template`` over the jobs of exactly ``snapshot``.

        ``{jobs}`` in the template expands as in the built-in statistics: to the index
        relation followed by ``WHERE`` and the conditions of ``where`` (made with
        :func:`~cc_backend.stats.index_filters.filter_sql` and friends), so the template
        goes on with ``AND ...`` or ``GROUP BY``. ``tables`` (Arrow tables) are visible to
        the query under their keys. Unlike the built-in statistics this never moves to a
        newer state: when a file of ``snapshot`` is gone (two builds or compactions
        replaced it) it raises :class:`BackendUnavailable`, and the caller starts over
        with a new snapshot.
        """
        return self._execute_at(
            snapshot, template, where, params, tables=tables, fetch=lambda c: c.fetchall()
        )

    def arrays_at(
        self,
        snapshot: IndexSnapshot,
        template: str,
        where: SqlFilter,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Like :meth:`fetch_at`, but the result as one NumPy array per column, by name."""
        return self._execute_at(
            snapshot, template, where, params, tables=None, fetch=lambda c: c.fetchnumpy()
        )

    def delta_rows(self, names: Sequence[str]) -> Rows:
        """``(cluster, job_id, start_time, deleted, version)`` of every row in the delta
        files ``names``, oldest version first (what changed between two states)."""
        if not names:
            return []
        urls = [self.index.url(name) for name in names]
        sql = (
            "SELECT cluster, job_id, start_time, _deleted, _version "
            "FROM read_parquet($files, union_by_name = true) ORDER BY _version"
        )
        try:
            return self._cursor().execute(sql, {"files": urls}).fetchall()
        except duckdb.Error as exc:
            raise BackendUnavailable(f"archive index at {self.index.location}: {exc}") from exc

    def _execute_at(
        self,
        snapshot: IndexSnapshot,
        template: str,
        where: SqlFilter,
        params: Mapping[str, Any] | None,
        *,
        tables: Mapping[str, Any] | None,
        fetch: Callable[[duckdb.DuckDBPyConnection], _R],
    ) -> _R:
        cursor = self._cursor()
        registered = []
        try:
            relation, bound = self.index.relation(snapshot, self._deltas_table(snapshot))
            sql = template.replace("{jobs}", f"{relation} WHERE {where.where()}")
            for name, table in (tables or {}).items():
                cursor.register(name, table)
                registered.append(name)
            return fetch(cursor.execute(sql, {**bound, **where.params, **(params or {})}))
        except (duckdb.IOException, duckdb.CatalogException) as exc:
            raise BackendUnavailable(f"archive index at {self.index.location}: {exc}") from exc
        finally:
            for name in registered:
                cursor.unregister(name)


def _enum(kind: type[_E], value: _E | str) -> _E:
    try:
        return kind(value.upper() if isinstance(value, str) else value)
    except ValueError:
        known = ", ".join(kind)
        raise InvalidInput(f"unknown {kind.__name__} {value!r} ({known})") from None


def _totals(row: tuple[Any, ...]) -> JobTotals:
    ident, jobs, users, running, short, wall, nodes, nh, cores, ch, accs, ah = row
    return JobTotals(
        id=ident,
        jobs=int(jobs),
        users=int(users),
        running_jobs=int(running),
        short_jobs=int(short),
        walltime_hours=float(wall),
        nodes=int(nodes),
        node_hours=float(nh),
        cores=int(cores),
        core_hours=float(ch),
        accs=int(accs),
        acc_hours=float(ah),
    )


def _peak(metric: str, cluster: Cluster | Sequence[Cluster] | None) -> tuple[float | None, str]:
    """The largest positive peak of ``metric`` on the given clusters (None: use the data's
    range) and its unit; InvalidInput if no given cluster configures the metric."""
    if cluster is None:
        return None, ""
    clusters = [cluster] if isinstance(cluster, Cluster) else list(cluster)
    configs = []
    for c in clusters:
        try:
            configs.append(c.metric(metric))
        except NotFound:
            continue
    if not configs:
        names = ", ".join(c.name for c in clusters)
        raise InvalidInput(f"metric {metric!r} is not configured on cluster {names}")
    best = max(configs, key=lambda mc: mc.peak)
    peak = best.peak if best.peak > 0 and math.isfinite(best.peak) else None
    return peak, str(best.unit)
