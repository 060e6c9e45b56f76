"""Metric data from a Prometheus server (``metricDataRepository.kind: "prometheus"``).

The keys of ``clusters[].metricDataRepository`` are those cc-backend reads for Prometheus:

- ``url``: the server; queries go to ``<url>/api/v1/query_range``;
- ``username``: sent with HTTP basic auth. The password is ``password`` in the config or,
  as cc-backend expects it, the environment variable ``PROMETHEUS_PASSWORD``; a username
  without a password (or a password without a username) is a configuration error;
- ``suffix``: what Prometheus appends to a host name in its host label (e.g. ``:9100`` or
  ``.cluster.example.org``), removed again from the answers;
- ``query-templates`` (also accepted as ``templates``): metric name -> PromQL, where
  ``{{.Nodes}}`` stands for a regular expression that matches exactly the wanted hosts
  (with the suffix), e.g. ``node_load1{exported_instance=~"{{.Nodes}}"}``.

Metrics without a configured template use :data:`DEFAULT_TEMPLATES` (node exporter metrics
for ``cpu_load``, ``mem_used``, ``cpu_user`` and ``net_bw``; cc-backend has no defaults).
A metric of the cluster with neither is simply absent from the answers.

How data is loaded: one range query per metric (per subcluster, for node lists) over all
hosts, from the job's start to its end (or now, while it runs), with ``step`` = the larger
of the requested resolution and the metric's time step (raised further, to a multiple of the
time step, where the window would exceed Prometheus' 11,000 points per series). Sample
``i`` of a series is the value Prometheus evaluates at ``start + i * step``; a time without
a value is NaN. Each series of the answer is assigned to the host in its
``exported_instance`` label (``instance`` if it has none) less the suffix; a template must
therefore return one series per host, labelled so. Statistics (avg/min/max) are computed
from the loaded samples, ignoring NaN.

Scopes: Prometheus templates yield one series per node, so every metric is delivered at
node scope, whichever scopes are requested (a finer scope cannot be derived from a node
series; a coarser one does not exist). cc-backend likewise serves node scope only.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import orjson
import urllib3
from pydantic import SecretStr

from cc_backend.config.clusters import MetricDataRepository as RepositoryConfig
from cc_backend.domain.cluster import Cluster, MetricConfig, MetricScope
from cc_backend.domain.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from cc_backend.domain.footprint import job_subcluster
from cc_backend.domain.job import Job, JobState
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

__all__ = [
    "DEFAULT_TEMPLATES",
    "PASSWORD_ENV",
    "PrometheusClient",
    "PrometheusData",
    "QueryTemplate",
    "RangeSeries",
    "hosts_regex",
    "prometheus_from_config",
]

log = logging.getLogger(__name__)

#: Queries for metrics that have no template in the config (node exporter metric names).
DEFAULT_TEMPLATES: Mapping[str, str] = {
    "cpu_load": 'node_load1{exported_instance=~"{{.Nodes}}"}',
    "mem_used": 'node_memory_MemTotal_bytes{exported_instance=~"{{.Nodes}}"}'
    ' - node_memory_MemAvailable_bytes{exported_instance=~"{{.Nodes}}"}',
    "cpu_user": "100 * avg by (exported_instance) (rate(node_cpu_seconds_total"
    '{mode="user", exported_instance=~"{{.Nodes}}"}[2m]))',
    "net_bw": "sum by (exported_instance) (rate(node_network_receive_bytes_total"
    '{device!="lo", exported_instance=~"{{.Nodes}}"}[2m]))'
    " + sum by (exported_instance) (rate(node_network_transmit_bytes_total"
    '{device!="lo", exported_instance=~"{{.Nodes}}"}[2m]))',
}

#: Prometheus refuses range queries with more points per series than this.
MAX_POINTS = 11_000
#: The environment variable cc-backend reads the basic-auth password from.
PASSWORD_ENV = "PROMETHEUS_PASSWORD"
_KNOWN_KEYS = {"username", "password", "suffix", "query-templates", "templates"}
_PLACEHOLDER = re.compile(r"\{\{\s*\.Nodes\s*\}\}")
#: Regex characters written as a one-character class: no backslash, which a PromQL string
#: in double quotes would read as an escape sequence.
_AS_CLASS = frozenset(".+*?()|{}$")
_HOST_LABELS = ("exported_instance", "instance")


# -- queries ------------------------------------------------------------------------------


def _literal(text: str) -> str:
    """``text`` as a regular expression that matches it literally."""
    parts = []
    for char in text:
        if char in _AS_CLASS:
            parts.append(f"[{char}]")
        elif char in "\\[]^":
            parts.append("\\" + char)
        else:
            parts.append(char)
    return "".join(parts)


def hosts_regex(hosts: Iterable[str], suffix: str = "") -> str:
    """A regular expression (PromQL matches it against the whole label value) for exactly
    the label values ``host + suffix`` of ``hosts``.

    A plain alternation of the names (cc-backend folds them into a trie first; both match
    the same values).
    """
    alternatives = "|".join(_literal(host) for host in dict.fromkeys(hosts))
    return f"(?:{alternatives}){_literal(suffix)}"


@dataclass(frozen=True)
class QueryTemplate:
    """The PromQL of one metric, with ``{{.Nodes}}`` where the hosts' regex goes.

    Only that placeholder is understood (cc-backend's templates use no other);
    :class:`ConfigError` for a template with any other ``{{ ... }}`` action.
    """

    metric: str
    text: str

    def __post_init__(self) -> None:
        rest = _PLACEHOLDER.sub("", self.text)
        if "{{" in rest or "}}" in rest:
            raise ConfigError(
                [
                    f"metricDataRepository.query-templates.{self.metric}: only the "
                    f"placeholder {{{{.Nodes}}}} is supported in {self.text!r}"
                ]
            )
        if not self.text.strip():
            raise ConfigError([f"metricDataRepository.query-templates.{self.metric}: empty"])

    def render(self, nodes: str) -> str:
        """The query for the hosts matched by the regular expression ``nodes``."""
        return _PLACEHOLDER.sub(lambda _: nodes, self.text)


# -- HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeSeries:
    """One series of a range query's answer: its labels and its (time, value) samples."""

    labels: dict[str, str]
    timestamps: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]


class PrometheusClient:
    """Sends range queries to Prometheus' HTTP API (keep-alive connections, a timeout).

    Every failure to get an answer raises :class:`BackendUnavailable`: no connection, a
    status other than 200, an error answer (its ``error`` text is in the message), or a
    body that is not a range query's answer.
    """

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.endpoint = url.rstrip("/") + "/api/v1/query_range"
        self.headers: dict[str, str] = {}
        if username is not None and password is not None:
            self.headers.update(urllib3.make_headers(basic_auth=f"{username}:{password}"))
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=timeout), retries=False, maxsize=8
        )

    def query_range(self, query: str, start: int, end: int, step: int) -> list[RangeSeries]:
        """The series ``query`` gives, evaluated at ``start``, ``start + step``, ... ``end``."""
        fields = {"query": query, "start": str(start), "end": str(end), "step": str(step)}
        try:
            response = self._pool.request_encode_body(
                "POST", self.endpoint, fields=fields, headers=self.headers, encode_multipart=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise BackendUnavailable(f"Prometheus {self.endpoint}: {_reason(exc)}") from None
        try:
            document = orjson.loads(response.data)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict) and document.get("status") == "error":
            raise BackendUnavailable(
                f"Prometheus {self.endpoint} refused the query {_shortened(query)!r}: "
                f"{document.get('errorType', 'error')}: {document.get('error', '')}"
            )
        if response.status != 200:
            text = response.data[:200].decode(errors="replace").strip()
            raise BackendUnavailable(
                f"Prometheus {self.endpoint} answered {response.status}: {text}"
            )
        try:
            return _matrix(document)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                f"Prometheus {self.endpoint}: unreadable answer ({exc})"
            ) from None

    def close(self) -> None:
        self._pool.clear()


def _shortened(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    """Why a request got no answer, without urllib3's connection object in the text."""
    cause = exc.__cause__
    if isinstance(exc, urllib3.exceptions.NewConnectionError) and isinstance(cause, OSError):
        return f"cannot connect ({cause.strerror or cause})"
    return str(exc)


def _matrix(document: Any) -> list[RangeSeries]:
    """The series of a successful range query's answer; ValueError (among others) if
    ``document`` is not one."""
    if not isinstance(document, dict) or document.get("status") != "success":
        raise ValueError("not a Prometheus API answer")
    for warning in document.get("warnings") or []:
        log.warning("Prometheus: %s", warning)
    data = document["data"]
    if data.get("resultType") != "matrix":
        raise ValueError(f"result type {data.get('resultType')!r} instead of a matrix")
    result = []
    for item in data["result"]:
        pairs = item.get("values") or []
        result.append(
            RangeSeries(
                labels={str(k): str(v) for k, v in item["metric"].items()},
                timestamps=np.array([float(p[0]) for p in pairs], dtype=np.float64),
                values=np.array([float(p[1]) for p in pairs], dtype=np.float64),
            )
        )
    return result


# -- the backend --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """The time range of a request (Unix seconds) and its wanted resolution (0: native)."""

    start: int
    stop: int
    resolution: int = 0


@dataclass(frozen=True)
class _MetricAnswer:
    """One metric's samples for a group of hosts (host -> samples, in host order)."""

    config: MetricConfig
    step: int
    samples: dict[str, npt.NDArray[np.float64]]

    def job_metric(self, hosts: Iterable[str]) -> JobMetric:
        series = [
            Series.trusted(host, None, MetricStatistics.of(self.samples[host]), self.samples[host])
            for host in hosts
            if host in self.samples
        ]
        return JobMetric(unit=self.config.unit, timestep=self.step, series=series)


class PrometheusData(MetricDataRepository):
    """Metric data of one or more clusters from one Prometheus server (node scope only)."""

    kind: ClassVar[str] = "prometheus"

    def __init__(
        self,
        cluster_of: Callable[[str], Cluster],
        client: PrometheusClient,
        *,
        templates: Mapping[str, str] | None = None,
        suffix: str = "",
        clock: Callable[[], float] = time.time,
        max_points: int = MAX_POINTS,
    ) -> None:
        self.cluster_of = cluster_of
        self.client = client
        self.suffix = suffix
        self.clock = clock
        self.max_points = max_points
        merged = {**DEFAULT_TEMPLATES, **(templates or {})}
        self.templates = {name: QueryTemplate(name, text) for name, text in merged.items()}
        self._reported: set[str] = set()

    def close(self) -> None:
        self.client.close()

    # -- jobs -----------------------------------------------------------------------------

    def load_data(
        self,
        job: Job,
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        resolution: int = 0,
    ) -> JobData:
        self._check_scopes(scopes)
        cluster, subcluster = self._job_cluster(job)
        hosts = [r.hostname for r in job.resources]
        start, stop = self._window(job)
        window = _Window(start, stop, resolution)
        answers = self._query(cluster, subcluster, hosts, metrics, window)
        return JobData(
            {
                answer.config.name: {MetricScope.NODE: answer.job_metric(hosts)}
                for answer in answers
                if answer.samples
            }
        )

    def load_stats(
        self, job: Job, metrics: Sequence[str]
    ) -> dict[str, dict[str, MetricStatistics]]:
        data = self.load_data(job, metrics, [MetricScope.NODE])
        return {
            metric: {s.hostname: s.statistics for s in data[metric][MetricScope.NODE].series}
            for metric in data.metrics()
        }

    def load_scoped_stats(
        self, job: Job, metrics: Sequence[str] | None, scopes: Sequence[MetricScope]
    ) -> ScopedStatistics:
        data = self.load_data(job, metrics, scopes)
        stats: ScopedStatistics = {}
        for metric in data.metrics():
            stats[metric] = {
                MetricScope.NODE: [
                    SeriesStatistics(
                        s.hostname, None, s.statistics.avg, s.statistics.min, s.statistics.max
                    )
                    for s in data[metric][MetricScope.NODE].series
                ]
            }
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
        self._check_scopes(scopes)
        found = self.cluster_of(cluster)
        names = list(hosts) if hosts is not None else all_hosts(found)
        return self._nodes(found, names, metrics, _Window(start, stop))

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
        self._check_scopes(scopes)
        found = self.cluster_of(cluster)
        paged = host_page(
            found,
            subcluster=subcluster,
            host_filter=host_filter,
            only_hosts=only_hosts,
            page=page,
            items_per_page=items_per_page,
        )
        nodes = self._nodes(found, paged.hosts, metrics, _Window(start, stop, resolution))
        return NodeListPage(nodes=nodes, total=paged.total, has_next_page=paged.has_next_page)

    # -- helpers --------------------------------------------------------------------------

    def _job_cluster(self, job: Job) -> tuple[Cluster, str]:
        if not job.resources:
            raise InvalidInput(f"job {job.id}: it has no resources to query metrics for")
        try:
            cluster = self.cluster_of(job.cluster)
            return cluster, job_subcluster(job, cluster)
        except NotFound as exc:
            raise InvalidInput(f"job {job.id}: {exc.message}") from exc

    def _window(self, job: Job) -> tuple[int, int]:
        if job.job_state is JobState.RUNNING:
            return job.start_time, max(int(self.clock()), job.start_time)
        return job.start_time, job.start_time + job.duration

    def _check_scopes(self, scopes: Sequence[MetricScope]) -> None:
        """InvalidInput for an unknown scope; every known one is served at node scope."""
        for scope in scopes:
            try:
                MetricScope(scope)
            except ValueError:
                known = ", ".join(s.value for s in MetricScope)
                raise InvalidInput(f"unknown metric scope {scope!r} (known: {known})") from None

    def _nodes(
        self,
        cluster: Cluster,
        hosts: Sequence[str],
        metrics: Sequence[str] | None,
        window: _Window,
    ) -> NodeData:
        """Host -> its node-scope data, one query per metric and subcluster of the hosts."""
        groups: dict[str, list[str]] = {}
        for host in hosts:
            try:
                groups.setdefault(cluster.subcluster_of(host).name, []).append(host)
            except NotFound:
                log.info("host %s belongs to no subcluster of %s; skipped", host, cluster.name)
        data: dict[str, dict[str, dict[MetricScope, JobMetric]]] = {}
        for subcluster, members in groups.items():
            for host in members:
                data[host] = {}
            answers = self._query(cluster, subcluster, members, metrics, window)
            for answer in answers:
                for host in answer.samples:
                    data[host][answer.config.name] = {MetricScope.NODE: answer.job_metric([host])}
        return {host: JobData(data[host]) for host in hosts if host in data}

    def _query(
        self,
        cluster: Cluster,
        subcluster: str,
        hosts: Sequence[str],
        metrics: Sequence[str] | None,
        window: _Window,
    ) -> list[_MetricAnswer]:
        """One range query per metric (that has a template) over ``hosts``."""
        nodes = hosts_regex(hosts, self.suffix)
        answers = []
        for config in self._metric_configs(cluster, subcluster, metrics):
            template = self.templates.get(config.name)
            if template is None:
                self._report_once(config.name)
                continue
            step = self._step(config.timestep, window.resolution, window.stop - window.start)
            query = template.render(nodes)
            try:
                series = self.client.query_range(query, window.start, window.stop, step)
            except BackendUnavailable as exc:
                raise BackendUnavailable(f"metric {config.name}: {exc.message}") from None
            count = (window.stop - window.start) // step + 1
            samples = self._by_host(
                config.name, series, hosts, start=window.start, step=step, count=count
            )
            answers.append(_MetricAnswer(config, step, samples))
        return answers

    def _metric_configs(
        self, cluster: Cluster, subcluster: str, metrics: Sequence[str] | None
    ) -> list[MetricConfig]:
        """The metrics to load on ``subcluster``: all of them for ``None``; named ones that
        are removed for it are skipped; InvalidInput for one the cluster does not know."""
        available = {mc.name: mc for mc in cluster.metrics_for(subcluster)}
        if metrics is None:
            return list(available.values())
        configs = []
        for name in dict.fromkeys(metrics):
            if name in available:
                configs.append(available[name])
            elif not any(mc.name == name for mc in cluster.metrics):
                raise InvalidInput(
                    f"metric {name!r} is not configured for cluster {cluster.name!r}"
                )
        return configs

    def _step(self, timestep: int, resolution: int, span: int) -> int:
        """The query step: resolution or time step, raised (to a multiple of the time step)
        until the window fits into ``max_points`` points."""
        native = max(timestep, 1)
        step = max(resolution, native)
        if span // step + 1 > self.max_points:
            needed = -(-span // (self.max_points - 1))
            step = -(-needed // native) * native
        return step

    def _by_host(
        self,
        metric: str,
        series: Sequence[RangeSeries],
        hosts: Sequence[str],
        *,
        start: int,
        step: int,
        count: int,
    ) -> dict[str, npt.NDArray[np.float64]]:
        """The samples of each wanted host (NaN where Prometheus has no value)."""
        wanted = set(hosts)
        found: dict[str, npt.NDArray[np.float64]] = {}
        repeated: set[str] = set()
        for one in series:
            host = self._hostname(one.labels)
            if host not in wanted:
                continue
            if host in found:
                repeated.add(host)
                continue
            samples = np.full(count, np.nan)
            index = np.rint((one.timestamps - start) / step).astype(np.int64)
            inside = (index >= 0) & (index < count)
            samples[index[inside]] = one.values[inside]
            found[host] = samples
        if repeated:
            log.warning(
                "Prometheus: the query of %s returns several series for %s; the first is used "
                "(the template should aggregate by host)",
                metric,
                ", ".join(sorted(repeated)),
            )
        return {host: found[host] for host in hosts if host in found}

    def _hostname(self, labels: Mapping[str, str]) -> str:
        value = next((labels[name] for name in _HOST_LABELS if name in labels), "")
        if self.suffix and value.endswith(self.suffix):
            return value[: -len(self.suffix)]
        return value

    def _report_once(self, metric: str) -> None:
        if metric not in self._reported:
            self._reported.add(metric)
            log.info("Prometheus: no query template for metric %s; it has no data", metric)


# -- configuration ------------------------------------------------------------------------


def prometheus_from_config(
    cluster_of: Callable[[str], Cluster],
    settings: RepositoryConfig,
    *,
    environ: Mapping[str, str] | None = None,
) -> PrometheusData:
    """The backend ``settings`` (a ``metricDataRepository`` of kind ``prometheus``) describe.

    ``environ`` (default ``os.environ``) is where ``PROMETHEUS_PASSWORD`` is looked up when
    the config names a ``username`` but no ``password`` (without a username it is unused).
    Raises :class:`ConfigError` for a username without a password (or the reverse), keys
    of the wrong type, and templates it cannot render.
    """
    extra = dict(settings.model_extra or {})
    environment = os.environ if environ is None else environ
    problems: list[str] = []
    username = _text(extra, "username", problems)
    password = _text(extra, "password", problems)
    suffix = _text(extra, "suffix", problems) or ""
    if password and not username:
        problems.append("metricDataRepository.password: given without a username")
    if username and not password:
        password = environment.get(PASSWORD_ENV) or None
        if password is None:
            problems.append(
                f"metricDataRepository.username: given, but no password "
                f"(set password, or {PASSWORD_ENV} in the environment)"
            )
    templates: dict[str, str] = {}
    for key in ("templates", "query-templates"):
        templates.update(_templates(extra, key, problems))
    if problems:
        raise ConfigError(problems)
    for key in sorted(set(extra) - _KNOWN_KEYS):
        log.warning("metricDataRepository of kind prometheus: unknown key %r ignored", key)
    if settings.url is None:
        raise ConfigError(["metricDataRepository.url: required when kind is 'prometheus'"])
    client = PrometheusClient(settings.url, username=username, password=password)
    return PrometheusData(cluster_of, client, templates=templates, suffix=suffix)


def _text(extra: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = extra.get(key)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None or isinstance(value, str):
        return value
    problems.append(f"metricDataRepository.{key}: must be a string")
    return None


def _templates(extra: Mapping[str, Any], key: str, problems: list[str]) -> dict[str, str]:
    value = extra.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        problems.append(f"metricDataRepository.{key}: must map metric names to PromQL strings")
        return {}
    return dict(value)
