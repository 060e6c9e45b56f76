"""Metric data through cc-metric-store's query API: an external store or the built-in one.

One implementation serves both ``kind: "cc-metric-store"`` (queries sent over HTTP to
``<url>/api/query/`` with the configured token, as cc-backend sends them) and
``kind: "cc-metric-store-internal"`` (the same queries answered in process by
:class:`~cc_backend.metricstore.store.MetricStore`). Which queries load which scopes is
decided by :func:`cc_backend.metricdata.scopes.build_queries`; this module turns their
answers into the domain's :class:`~cc_backend.domain.jobdata.JobData`.

``metricRenamings`` (``{"name in ClusterCockpit": "name in the store"}``) rename metrics on
the way to the store and back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import orjson
import urllib3

from cc_backend.domain.cluster import Cluster, MetricConfig, MetricScope
from cc_backend.domain.errors import BackendUnavailable, InvalidInput, NotFound
from cc_backend.domain.footprint import job_subcluster
from cc_backend.domain.job import Job, JobState, Resource
from cc_backend.domain.jobdata import (
    JobData,
    JobMetric,
    MetricStatistics,
    ScopedStatistics,
    Series,
    SeriesStatistics,
)
from cc_backend.metricdata.base import (
    MetricDataRepository,
    NodeData,
    NodeListPage,
    all_hosts,
    host_page,
)
from cc_backend.metricdata.scopes import ScopeQuery, build_queries
from cc_backend.metricstore.models import (
    ApiMetricData,
    ApiQuery,
    ApiQueryRequest,
    ApiQueryResponse,
)

__all__ = ["CCMetricStoreData", "HttpQueryTransport", "QueryTransport"]

log = logging.getLogger(__name__)

#: Sends a query request to a store and returns its answer; raises BackendUnavailable.
QueryTransport = Callable[[ApiQueryRequest], ApiQueryResponse]


class HttpQueryTransport:
    """Queries an external cc-metric-store over HTTP (keep-alive connections, a timeout)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.endpoint = url.rstrip("/") + "/api/query/"
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout), retries=False, maxsize=8
        )

    def __call__(self, request: ApiQueryRequest) -> ApiQueryResponse:
        body = orjson.dumps(request.model_dump(by_alias=True, exclude_none=True))
        try:
            response = self._pool.request("GET", self.endpoint, body=body, headers=self.headers)
        except urllib3.exceptions.HTTPError as exc:
            raise BackendUnavailable(f"metric store {self.endpoint}: {_failure(exc)}") from None
        if response.status != 200:
            text = response.data[:200].decode(errors="replace")
            raise BackendUnavailable(
                f"metric store {self.endpoint} answered {response.status}: {text}"
            )
        try:
            return _parse_response(response.data)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                f"metric store {self.endpoint}: unreadable answer ({exc})"
            ) from None

    def close(self) -> None:
        self._pool.clear()


def _failure(exc: urllib3.exceptions.HTTPError) -> str:
    """Why a request got no answer, without urllib3's connection object in the text."""
    cause = exc.__cause__
    if isinstance(exc, urllib3.exceptions.NewConnectionError) and isinstance(cause, OSError):
        return f"cannot connect ({cause.strerror or cause})"
    return str(exc)


def _parse_response(raw: bytes) -> ApiQueryResponse:
    """The answer of an external store; ValueError (among others) if it is not one."""
    document = orjson.loads(raw)
    results = [
        [
            ApiMetricData(
                error=item.get("error"),
                data=_samples(item["data"]) if item.get("data") else None,
                from_=int(item.get("from", 0)),
                to=int(item.get("to", 0)),
                resolution=int(item.get("resolution", 0)),
                avg=_number(item.get("avg")),
                min=_number(item.get("min")),
                max=_number(item.get("max")),
            )
            for item in row or []
        ]
        for row in document.get("results") or []
    ]
    return ApiQueryResponse(results=results)


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _samples(values: Any) -> npt.NDArray[np.float64]:
    """A flat float array of JSON numbers and nulls (NaN); ValueError for anything else."""
    if not isinstance(values, list):
        raise ValueError("data is not a list")
    array = np.array(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError("data is not a flat list")
    return array


class CCMetricStoreData(MetricDataRepository):
    """Metric data of one or more clusters from a store that speaks cc-metric-store's API."""

    kind: ClassVar[str] = "cc-metric-store"

    def __init__(
        self,
        cluster_of: Callable[[str], Cluster],
        transport: QueryTransport,
        *,
        renamings: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cluster_of = cluster_of
        self.transport = transport
        self.renamings = dict(renamings or {})
        self.clock = clock

    def close(self) -> None:
        """Close the transport's connections (an in-process transport has none)."""
        close = getattr(self.transport, "close", None)
        if callable(close):
            close()

    # -- jobs -----------------------------------------------------------------------------

    def load_data(
        self,
        job: Job,
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        resolution: int = 0,
    ) -> JobData:
        cluster, queries = self._job_queries(job, metrics, scopes)
        answers = self._ask(job.cluster, *self._window(job), queries, resolution)
        failures: list[str] = []
        data = self._job_data(cluster, job_subcluster(job, cluster), queries, answers, failures)
        _log_missing(failures)
        return data

    def load_stats(
        self, job: Job, metrics: Sequence[str]
    ) -> dict[str, dict[str, MetricStatistics]]:
        _, queries = self._job_queries(job, metrics, [MetricScope.NODE])
        answers = self._ask(job.cluster, *self._window(job), queries, 0, with_data=False)
        stats: dict[str, dict[str, MetricStatistics]] = {}
        for query, results in zip(queries, answers, strict=True):
            for result in results:
                if result.error is None:
                    stats.setdefault(query.metric, {})[query.hostname] = _statistics(result)
        return stats

    def load_scoped_stats(
        self, job: Job, metrics: Sequence[str] | None, scopes: Sequence[MetricScope]
    ) -> ScopedStatistics:
        _, queries = self._job_queries(job, metrics, scopes)
        answers = self._ask(job.cluster, *self._window(job), queries, 0, with_data=False)
        stats: ScopedStatistics = {}
        for query, results in zip(queries, answers, strict=True):
            for series_id, result in zip(query.series_ids, results, strict=False):
                if result.error is not None:
                    continue
                value = _statistics(result)
                stats.setdefault(query.metric, {}).setdefault(query.scope, []).append(
                    SeriesStatistics(query.hostname, series_id, value.avg, value.min, value.max)
                )
        return stats

    # -- nodes ----------------------------------------------------------------------------

    def load_node_data(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        hosts: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        *,
        start: int,
        stop: int,
    ) -> NodeData:
        found = self.cluster_of(cluster)
        names = list(hosts) if hosts is not None else all_hosts(found)
        per_host = self._node_queries(found, names, metrics, scopes)
        queries = [q for _, qs in per_host for q in qs]
        answers = self._ask(cluster, start, stop, queries, 0)
        data: NodeData = {}
        failures: list[str] = []
        position = 0
        for (host, subcluster), host_queries in per_host:
            chunk = answers[position : position + len(host_queries)]
            position += len(host_queries)
            data[host] = self._job_data(found, subcluster, host_queries, chunk, failures)
        _log_missing(failures)
        return data

    def load_node_list(
        self,
        cluster: str,
        *,
        subcluster: str | None,
        host_filter: str | None,
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        resolution: int,
        start: int,
        stop: int,
        page: int,
        items_per_page: int,
        only_hosts: Collection[str] | None = None,
    ) -> NodeListPage:
        found = self.cluster_of(cluster)
        paged = host_page(
            found,
            subcluster=subcluster,
            host_filter=host_filter,
            only_hosts=only_hosts,
            page=page,
            items_per_page=items_per_page,
        )
        per_host = self._node_queries(found, paged.hosts, metrics, scopes)
        queries = [q for _, qs in per_host for q in qs]
        answers = self._ask(cluster, start, stop, queries, resolution) if queries else []
        nodes: dict[str, JobData] = {}
        failures: list[str] = []
        position = 0
        for (host, sc_name), host_queries in per_host:
            chunk = answers[position : position + len(host_queries)]
            position += len(host_queries)
            nodes[host] = self._job_data(found, sc_name, host_queries, chunk, failures)
        _log_missing(failures)
        return NodeListPage(nodes=nodes, total=paged.total, has_next_page=paged.has_next_page)

    # -- helpers --------------------------------------------------------------------------

    def _job_queries(
        self, job: Job, metrics: Sequence[str] | None, scopes: Sequence[MetricScope]
    ) -> tuple[Cluster, list[ScopeQuery]]:
        try:
            cluster = self.cluster_of(job.cluster)
            subcluster = job_subcluster(job, cluster)
        except NotFound as exc:
            raise InvalidInput(f"job {job.id}: {exc.message}") from exc
        return cluster, build_queries(job.resources, cluster, subcluster, metrics, scopes)

    def _node_queries(
        self,
        cluster: Cluster,
        hosts: Sequence[str],
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
    ) -> list[tuple[tuple[str, str], list[ScopeQuery]]]:
        """Per host (with its subcluster): the queries for the whole node."""
        result = []
        for host in hosts:
            try:
                subcluster = cluster.subcluster_of(host)
            except NotFound:
                log.info("host %s belongs to no subcluster of %s; skipped", host, cluster.name)
                continue
            accelerators = subcluster.topology.accelerator_ids() or None
            node = Resource(hostname=host, accelerators=accelerators)
            queries = build_queries([node], cluster, subcluster.name, metrics, scopes)
            result.append(((host, subcluster.name), queries))
        return result

    def _window(self, job: Job) -> tuple[int, int]:
        if job.job_state is JobState.RUNNING:
            return job.start_time, max(int(self.clock()), job.start_time)
        return job.start_time, job.start_time + job.duration

    def _ask(
        self,
        cluster: str,
        start: int,
        stop: int,
        queries: Sequence[ScopeQuery],
        resolution: int,
        *,
        with_data: bool = True,
    ) -> list[list[ApiMetricData]]:
        """One request for all ``queries``; the answers in query order."""
        if not queries:
            return []
        request = ApiQueryRequest.model_validate(
            {
                "cluster": cluster,
                "from": start,
                "to": stop,
                "with-stats": True,
                "with-data": with_data,
                "queries": [self._wire(q, resolution) for q in queries],
            }
        )
        response = self.transport(request)
        if len(response.results) != len(queries):
            raise BackendUnavailable(
                f"metric store answered {len(response.results)} results for {len(queries)} queries"
            )
        return response.results

    def _wire(self, query: ScopeQuery, resolution: int) -> ApiQuery:
        body = query.to_json(resolution)
        body["metric"] = self.renamings.get(query.metric, query.metric)
        return ApiQuery.model_validate(body)

    def _job_data(
        self,
        cluster: Cluster,
        subcluster: str,
        queries: Sequence[ScopeQuery],
        answers: Sequence[Sequence[ApiMetricData]],
        failures: list[str],
    ) -> JobData:
        """Answers grouped into metric -> scope -> series; series the store had no data
        for are skipped and named in ``failures``.

        The answers hold arrays made by the built-in store or checked when an external
        store's answer was read, so the series are built without validating them again.
        """
        grouped: dict[str, dict[MetricScope, JobMetric]] = {}
        configs: dict[str, MetricConfig] = {}
        for query, results in zip(queries, answers, strict=True):
            config = configs.get(query.metric)
            if config is None:
                config = configs[query.metric] = cluster.metric_config(subcluster, query.metric)
            for series_id, result in zip(query.series_ids, results, strict=False):
                if result.error is not None:
                    failures.append(f"{query.metric}@{query.hostname}: {result.error}")
                    continue
                samples = result.data if result.data is not None else np.empty(0)
                target = grouped.setdefault(query.metric, {}).get(query.scope)
                if target is None:
                    target = JobMetric(
                        unit=config.unit,
                        timestep=result.resolution or config.timestep,
                        series=[],
                    )
                    grouped[query.metric][query.scope] = target
                target.series.append(
                    Series.trusted(query.hostname, series_id, _statistics(result), samples)
                )
        return JobData(grouped)


def _log_missing(failures: Sequence[str]) -> None:
    """One log line for the series of a request that the store had no data for."""
    if failures:
        log.info(
            "metric store: %d series without data (%s%s)",
            len(failures),
            "; ".join(failures[:3]),
            ", ..." if len(failures) > 3 else "",
        )


def _statistics(result: ApiMetricData) -> MetricStatistics:
    return MetricStatistics(avg=result.avg, min=result.min, max=result.max)
