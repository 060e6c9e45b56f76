"""The built-in metric store (cc-backend's ``cc-metric-store-internal``).

:class:`MetricStore` keeps recent metric samples of every node in memory and answers
cc-metric-store's queries. Front ends (the HTTP write and query handlers, the NATS
subscriptions, the metric-data backend) call it; periodic work (retention, checkpoints)
calls :meth:`MetricStore.apply_retention` and :meth:`MetricStore.checkpoint`.

Concurrency: any number of threads may ingest and query at once. Each host has a lock that
covers its samples; ingestion additionally holds one store-wide lock while parsing (the
parser's cache is shared), and the map of hosts has its own short-lived lock. Queries never
wait for parsing, only for the host they read while a write to it is in progress.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cc_backend.config.services import MetricStoreConfig
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.metricstore import checkpoints
from cc_backend.metricstore.buffers import SeriesTable, describe_tables
from cc_backend.metricstore.catalog import Catalog
from cc_backend.metricstore.keys import SeriesKey, unsafe_name
from cc_backend.metricstore.lineprotocol import (
    LineError,
    LineProtocolParser,
    ParsedLines,
    Precision,
)
from cc_backend.metricstore.models import (
    ApiMetricData,
    ApiQuery,
    ApiQueryRequest,
    ApiQueryResponse,
    HealthReport,
    HealthStatus,
    IngestResult,
    RestoreReport,
)
from cc_backend.metricstore.query import NOT_FOUND, finish, levels_of, read_query
from cc_backend.metricstore.resample import Resampler, average
from cc_backend.metricstore.restore import restore_checkpoints

__all__ = ["MetricStore"]

log = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]


@dataclass(eq=False)
class _Host:
    """The samples of one host: a table per frequency, guarded by the host's lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    tables: dict[int, SeriesTable] = field(default_factory=dict)


class MetricStore:
    """In-memory time series of the clusters' nodes, with checkpoints on disk.

    ``clusters`` define what is accepted: lines for other clusters or metrics are refused,
    and each metric is kept at its ``timestep``. ``config`` supplies the retention and the
    checkpoint folder. ``clock`` returns the current Unix time (tests pass a fixed one);
    samples older than the retention or more than ``max_future`` ahead of it are refused.
    ``resampler`` coarsens results for queries asking for a lower resolution (default: the
    bucket average). A node is stale for :meth:`healthcheck` after ``stale_after`` time
    steps without a value. At most ``max_errors`` refused lines are listed per payload.

    The constructor does not touch the disk; :meth:`open` also restores the checkpoints.
    """

    def __init__(
        self,
        clusters: Iterable[Cluster],
        config: MetricStoreConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        resampler: Resampler = average,
        max_future: timedelta = timedelta(hours=1),
        stale_after: int = 5,
        max_errors: int = 1000,
    ) -> None:
        self.config = config if config is not None else MetricStoreConfig()
        self.catalog = Catalog(clusters)
        self.retention = int(self.config.retention_in_memory.total_seconds())
        self.max_errors = max_errors
        self._clock = clock
        self._resampler = resampler
        self._max_future = int(max_future.total_seconds())
        self._stale_after = stale_after
        self._parser = LineProtocolParser(self.catalog)
        self._ingest_lock = threading.Lock()
        self._tree_lock = threading.Lock()
        self._hosts: dict[str, dict[str, _Host]] = {}
        # Where the parser's keys are stored: table index and row, -1 until first used.
        self._key_table = np.full(0, -1, dtype=np.int64)
        self._key_row = np.full(0, -1, dtype=np.int64)
        self._tables: list[tuple[_Host, SeriesTable]] = []
        self._table_index: dict[SeriesTable, int] = {}
        self._parser_generation = self._parser.generation
        #: Time of the last successful :meth:`checkpoint` (None before the first).
        self.last_checkpoint: int | None = None

    @classmethod
    def open(
        cls, clusters: Iterable[Cluster], config: MetricStoreConfig, **options: Any
    ) -> MetricStore:
        """A store with the checkpoints of ``config.checkpoints.directory`` restored."""
        store = cls(clusters, config, **options)
        if config.checkpoints.file_format != "json":
            log.warning(
                "metric store: checkpoint format %r is not supported, JSON is used",
                config.checkpoints.file_format,
            )
        store.restore(config.checkpoints.directory)
        return store

    # -- ingestion -----------------------------------------------------------------------

    def ingest(
        self,
        payload: bytes | bytearray | memoryview,
        *,
        cluster: str | None = None,
        precision: Precision | None = None,
    ) -> IngestResult:
        """Store the samples of a line-protocol payload; refused lines are reported.

        ``cluster`` is assumed for lines without a cluster tag; ``precision`` is the unit of
        the timestamps (default: seconds, or the unit their size implies). Never raises for
        the payload's content; good lines are stored even when others are refused.
        """
        with self._ingest_lock:
            now = int(self._clock())
            parsed = self._parser.parse(
                payload, now=now, default_cluster=cluster, precision=precision
            )
            parsed = self._in_window(parsed, now)
            self._write(parsed)
        errors = parsed.errors
        return IngestResult(len(parsed), len(errors), errors[: self.max_errors])

    def _in_window(self, parsed: ParsedLines, now: int) -> ParsedLines:
        """Refuse samples older than the retention or too far ahead of ``now``."""
        stamps = parsed.timestamps
        early = stamps < now - self.retention if self.retention > 0 else np.zeros(len(stamps), bool)
        late = stamps > now + self._max_future
        if not (early.any() or late.any()):
            return parsed
        for line, stamp, too_old in zip(
            parsed.lines[early | late].tolist(),
            stamps[early | late].tolist(),
            early[early | late].tolist(),
            strict=True,
        ):
            why = "older than the retention" if too_old else "too far in the future"
            parsed.errors.append(LineError(line, f"timestamp {stamp} is {why}"))
        parsed.errors.sort(key=lambda error: error.line)
        return parsed.select(~(early | late))

    def _write(self, parsed: ParsedLines) -> None:
        """Store parsed samples (the ingest lock is held)."""
        if len(parsed) == 0:
            return
        if self._parser.generation != self._parser_generation:
            self._forget_locations()
            self._parser_generation = self._parser.generation
        keys = parsed.keys
        self._reserve(len(self._parser.keys))
        tables = self._key_table[keys]
        unbound = tables < 0
        if unbound.any():
            for key in np.unique(keys[unbound]).tolist():
                self._bind(key)
            tables = self._key_table[keys]
        rows = self._key_row[keys]
        stamps, values = parsed.timestamps, parsed.values
        if tables[0] == tables.min() == tables.max():
            self._write_table(int(tables[0]), rows, stamps, values)
            return
        order = np.argsort(tables, kind="stable")
        tables, rows, stamps, values = tables[order], rows[order], stamps[order], values[order]
        cuts = np.flatnonzero(tables[1:] != tables[:-1]) + 1
        for low, high in zip([0, *cuts.tolist()], [*cuts.tolist(), len(tables)], strict=True):
            self._write_table(int(tables[low]), rows[low:high], stamps[low:high], values[low:high])

    def _write_table(
        self, index: int, rows: IntArray, stamps: IntArray, values: npt.NDArray[np.float64]
    ) -> None:
        host, table = self._tables[index]
        with host.lock:
            table.write(rows, stamps, values)

    def _reserve(self, size: int) -> None:
        if len(self._key_table) >= size:
            return
        grown = max(size, 2 * len(self._key_table), 1024)
        extra = grown - len(self._key_table)
        self._key_table = np.concatenate([self._key_table, np.full(extra, -1, np.int64)])
        self._key_row = np.concatenate([self._key_row, np.full(extra, -1, np.int64)])

    def _bind(self, key_index: int) -> None:
        index, row = self._locate(self._parser.keys[key_index])
        self._key_table[key_index] = index
        self._key_row[key_index] = row

    def _locate(self, key: SeriesKey) -> tuple[int, int]:
        """Table index and row of ``key``, created if new (the ingest lock is held)."""
        info = self.catalog.metric(key.cluster, key.metric)
        assert info is not None, "the parser only passes known metrics"
        with self._tree_lock:
            hosts = self._hosts.setdefault(key.cluster, {})
            host = hosts.get(key.host)
            if host is None:
                host = hosts[key.host] = _Host()
        with host.lock:
            table = host.tables.get(info.frequency)
            if table is None:
                table = host.tables[info.frequency] = SeriesTable(info.frequency)
            row = table.row((key.path, key.metric))
        index = self._table_index.get(table)
        if index is None:
            index = self._table_index[table] = len(self._tables)
            self._tables.append((host, table))
        return index, row

    def _forget_locations(self) -> None:
        """Drop the key-to-row map (after series were removed or the parser reset)."""
        self._key_table[:] = -1
        self._key_row[:] = -1
        self._tables = []
        self._table_index = {}

    # -- queries -------------------------------------------------------------------------

    def hosts(self, cluster: str) -> list[str]:
        """The hosts of ``cluster`` that have data, sorted."""
        with self._tree_lock:
            return sorted(self._hosts.get(cluster, {}))

    def query(self, request: ApiQueryRequest) -> ApiQueryResponse:
        """Answer a cc-metric-store query request.

        Raises InvalidInput for ``from`` after ``to`` or ``for-all-nodes`` without a
        cluster, NotFound for an unknown cluster. Problems with single queries (unknown
        metric, no such series) become the ``error`` of their results.
        """
        if request.from_ > request.to:
            raise InvalidInput("invalid time range: 'from' must not be after 'to'")
        if request.for_all_nodes is not None and not request.cluster:
            raise InvalidInput("for-all-nodes needs a cluster")
        if self.catalog.cluster(request.cluster) is None:
            raise NotFound(f"unknown cluster {request.cluster!r}")
        generated = [
            ApiQuery(metric=metric, host=host)
            for host in self.hosts(request.cluster)
            for metric in request.for_all_nodes or ()
        ]
        results = [self._answer(request, q) for q in [*request.queries, *generated]]
        return ApiQueryResponse(queries=generated or None, results=results)

    def _answer(self, request: ApiQueryRequest, query: ApiQuery) -> list[ApiMetricData]:
        selections = levels_of(query)
        info = self.catalog.metric(request.cluster, query.metric)
        if info is None:
            return [ApiMetricData(error=f"unknown metric: {query.metric}") for _ in selections]
        host = self._host(request.cluster, query.host)
        if host is None:
            return [ApiMetricData(error=NOT_FOUND) for _ in selections]
        with host.lock:
            table = host.tables.get(info.frequency)
            picked = read_query(
                table,
                query.metric,
                selections,
                request.from_,
                request.to,
                aggregation=info.aggregation,
            )
        return [finish(item, info, query, request, self._resampler) for item in picked]

    def _host(self, cluster: str, host: str) -> _Host | None:
        with self._tree_lock:
            return self._hosts.get(cluster, {}).get(host)

    # -- health and inspection -----------------------------------------------------------

    def healthcheck(
        self, cluster: str, host: str, metrics: Sequence[str] | None = None
    ) -> HealthReport:
        """Which of ``metrics`` (default: those of the host's subcluster) ``host`` delivers.

        NotFound if the cluster is unknown; an unknown host is reported as ``failed``.
        """
        if self.catalog.cluster(cluster) is None:
            raise NotFound(f"unknown cluster {cluster!r}")
        expected = (
            list(metrics) if metrics is not None else self.catalog.expected_metrics(cluster, host)
        )
        newest = self._newest_values(cluster, host)
        now = self._clock()
        healthy, stale, missing = [], [], []
        for metric in expected:
            info = self.catalog.metric(cluster, metric)
            seen = newest.get(metric)
            if info is None or seen is None:
                missing.append(metric)
            elif now - seen > self._stale_after * info.frequency:
                stale.append(metric)
            else:
                healthy.append(metric)
        status: HealthStatus = (
            "full" if not (stale or missing) else "partial" if healthy else "failed"
        )
        return HealthReport(
            cluster=cluster,
            host=host,
            status=status,
            healthy=healthy,
            stale=stale,
            missing=missing,
            last_seen={m: t for m, t in newest.items() if m in expected},
        )

    def _newest_values(self, cluster: str, hostname: str) -> dict[str, int]:
        """Time of the newest value of each metric of a host, over all its series."""
        host = self._host(cluster, hostname)
        newest: dict[str, int] = {}
        if host is None:
            return newest
        with host.lock:
            for table in host.tables.values():
                for (_, metric), row in table.series():
                    if table.last[row] >= table.first[row]:
                        seen = table.time(int(table.last[row]))
                        newest[metric] = max(seen, newest.get(metric, seen))
        return newest

    def debug(self, cluster: str | None = None, host: str | None = None) -> dict[str, Any]:
        """What the store holds: ``{cluster: {host: level}}``, each level with ``metrics``
        (frequency, first and last time, number of values) and ``children`` by name.

        Restricted to a cluster, or a host of it; NotFound if that has no data.
        """
        with self._tree_lock:
            chosen = {
                name: dict(hosts)
                for name, hosts in self._hosts.items()
                if cluster is None or name == cluster
            }
        if cluster is not None and cluster not in chosen:
            raise NotFound(f"no data for cluster {cluster!r}")
        if host is not None:
            if cluster is None:
                raise InvalidInput("debug of a host needs its cluster")
            if host not in chosen[cluster]:
                raise NotFound(f"no data for host {host!r} of cluster {cluster!r}")
            chosen[cluster] = {host: chosen[cluster][host]}
        return {
            name: {hostname: _describe(h) for hostname, h in sorted(hosts.items())}
            for name, hosts in sorted(chosen.items())
        }

    # -- freeing -------------------------------------------------------------------------

    def free(self, before: int, *, cluster: str | None = None, host: str | None = None) -> int:
        """Drop values from before Unix time ``before`` (of one cluster or host if given).

        Series left without values are removed, then hosts without series. Returns the
        number of series removed.
        """
        with self._ingest_lock:
            with self._tree_lock:
                targets = [
                    (name, hostname, h)
                    for name, hosts in self._hosts.items()
                    if cluster is None or name == cluster
                    for hostname, h in hosts.items()
                    if host is None or hostname == host
                ]
            removed = 0
            for name, hostname, h in targets:
                with h.lock:
                    for frequency, table in list(h.tables.items()):
                        if table.origin is None:
                            continue
                        removed += len(table.free(table.cell(before)))
                        if len(table) == 0:
                            del h.tables[frequency]
                    empty = not h.tables
                if empty:
                    with self._tree_lock:
                        del self._hosts[name][hostname]
                        if not self._hosts[name]:
                            del self._hosts[name]
            if removed:
                self._forget_locations()
        return removed

    def apply_retention(self) -> int:
        """Drop values older than the retention; returns the number of series removed."""
        if self.retention <= 0:
            return 0
        before = int(self._clock()) - self.retention
        removed = self.free(before)
        log.info("metric store: freed data before %s (%d series removed)", _iso(before), removed)
        return removed

    # -- checkpoints ---------------------------------------------------------------------

    def checkpoint(self, directory: Path | None = None) -> int:
        """Save what changed since the last checkpoint; returns the number of files written.

        One file per host with changes, written atomically (see
        :mod:`cc_backend.metricstore.checkpoints`). Into ``config.checkpoints.directory``
        unless ``directory`` is given. A host whose file cannot be written keeps its changes
        for the next checkpoint; the first error is raised after all hosts were tried.
        """
        root = Path(directory) if directory is not None else self.config.checkpoints.directory
        now = int(self._clock())
        with self._tree_lock:
            targets = [
                (name, hostname, h)
                for name, hosts in self._hosts.items()
                for hostname, h in hosts.items()
            ]
        written, failure = 0, None
        for name, hostname, h in targets:
            with h.lock:
                taken = [(t, t.dirty_from) for t in h.tables.values() if t.dirty_from is not None]
                series = [s for t, _ in taken for s in checkpoints.changed_series(t)]
                for table, _ in taken:
                    table.mark_clean()
            if not series:
                continue
            start = min(s.start for s in series)
            stop = max(s.start + len(s.values) * s.frequency for s in series)
            document = checkpoints.build_document(series, start, stop)
            try:
                checkpoints.write_checkpoint(root / name / hostname, now, document)
                written += 1
            except OSError as exc:
                log.error("metric store: checkpoint of %s/%s failed: %s", name, hostname, exc)
                failure = failure or exc
                with h.lock:
                    for table, dirty in taken:
                        assert dirty is not None
                        now_dirty = table.dirty_from
                        table.dirty_from = dirty if now_dirty is None else min(dirty, now_dirty)
        if failure is not None:
            raise failure
        self.last_checkpoint = now
        log.info("metric store: checkpoint written to %s (%d files)", root, written)
        return written

    def restore(self, directory: Path | None = None, *, since: int | None = None) -> RestoreReport:
        """Load the checkpoints of ``directory`` (default: the configured folder).

        Values from before ``since`` are skipped; the default is now minus
        ``checkpoints.restore`` (or the retention when that is not set). Unreadable files
        are logged and skipped. Also reads checkpoints written by cc-metric-store in JSON.
        The restored values count as saved: the next checkpoint does not repeat them.
        """
        root = Path(directory) if directory is not None else self.config.checkpoints.directory
        if since is None:
            window = self.config.checkpoints.restore
            span = int(window.total_seconds()) if window else self.retention
            since = int(self._clock()) - span if span > 0 else 0
        report = restore_checkpoints(self, root, since)
        with self._tree_lock:
            hosts = [h for by_name in self._hosts.values() for h in by_name.values()]
        for host in hosts:
            with host.lock:
                for table in host.tables.values():
                    table.mark_clean()
        return report

    def load(self, key: SeriesKey, timestamps: IntArray, values: npt.NDArray[np.float64]) -> int:
        """Store ``values`` of series ``key`` at ``timestamps`` directly (no parsing).

        Values of unknown clusters or metrics, NaN values and values outside the accepted
        time window are left out; returns how many were stored. InvalidInput if a name in
        ``key`` would escape a path.
        """
        for name in (key.cluster, key.host, *key.path):
            problem = unsafe_name(name)
            if problem:
                raise InvalidInput(f"series name {name!r} {problem}")
        if self.catalog.metric(key.cluster, key.metric) is None:
            return 0
        now = int(self._clock())
        keep = ~np.isnan(values) & (timestamps <= now + self._max_future)
        if self.retention > 0:
            keep &= timestamps >= now - self.retention
        if not keep.any():
            return 0
        stamps, kept = timestamps[keep].astype(np.int64), values[keep].astype(np.float64)
        with self._ingest_lock:
            index, row = self._locate(key)
            self._write_table(index, np.full(len(kept), row, np.int64), stamps, kept)
        return len(kept)


def _describe(host: _Host) -> dict[str, Any]:
    with host.lock:
        return describe_tables(host.tables.values())


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
