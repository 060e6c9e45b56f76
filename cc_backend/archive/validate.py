"""Checking the documents of a job archive: cluster.json, meta.json and data.json.

Each document is first read into its model (:class:`Cluster`, :class:`Job`,
:class:`JobData`); a document that does not parse is one problem. A parsed document is then
checked against what the archive says elsewhere:

* cluster.json: its name matches its folder; footprint and energy lists, and per-subcluster
  overrides, name metrics and subclusters that exist; the topology agrees with the socket,
  core and thread counts.
* meta.json: cluster and subcluster are known; as many resources as ``numNodes``; every
  host belongs to the cluster; the start time is plausible; the job has a final state; the
  statistics name metrics of the cluster; cluster, job id and start time match the folder.
* data.json: metrics are known to the cluster; each scope is the metric's native scope or a
  coarser one; series hosts are hosts of the job; series lengths agree with
  ``duration / timestep`` within :data:`LENGTH_TOLERANCE` samples.

``error`` problems make a job unusable or inconsistent (the importer rejects most of them);
``warning`` problems describe data cc-backend still shows, such as a metric the cluster
does not configure. A scan reports every problem and never stops at a broken file.
"""

from __future__ import annotations

import enum
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cc_backend.archive.layout import JobRef
from cc_backend.domain.cluster import Cluster, MetricConfig, MetricScope, SubCluster
from cc_backend.domain.errors import CCError, InvalidInput, NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.progress import job_progress

if TYPE_CHECKING:
    from cc_backend.archive.base import ArchiveEntry, JobArchive

__all__ = [
    "EARLIEST_START",
    "LENGTH_TOLERANCE",
    "Severity",
    "ValidationProblem",
    "ValidationReport",
    "validate_archive",
    "validate_cluster",
    "validate_data",
    "validate_entry",
    "validate_meta",
]

#: Series may be this many samples longer or shorter than ``duration / timestep``.
LENGTH_TOLERANCE = 2
#: Start times before this (2000-01-01T00:00:00Z) are not plausible.
EARLIEST_START = 946_684_800
#: Start times may lie this far in the future (clock skew between hosts).
FUTURE_SLACK_SECONDS = 86_400
#: A location ending in a job reference (``cluster/jobId@startTime``), as row keys do.
_KEYED = re.compile(r"(?P<cluster>[^/#\s]+)/(?P<id>\d+)@(?P<start>\d+)$")


class Severity(enum.StrEnum):
    """How bad a problem is."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """One problem: where (a job folder or row key, or ``<cluster>/cluster.json``), how bad,
    and what (the message starts with the document, e.g. ``meta.json: ...``)."""

    location: str
    severity: Severity
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message}"


@dataclass
class ValidationReport:
    """The outcome of :func:`validate_archive`."""

    clusters: int = 0
    jobs: int = 0
    problems: list[ValidationProblem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def errors(self) -> list[ValidationProblem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[ValidationProblem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when no problem is an error."""
        return not self.errors

    @property
    def broken_jobs(self) -> int:
        """Number of job locations with at least one error."""
        return len({p.location for p in self.errors if not p.location.endswith("cluster.json")})


class _Collector:
    """Gathers problems of one location."""

    def __init__(self, location: str, document: str) -> None:
        self.location = location
        self.document = document
        self.problems: list[ValidationProblem] = []

    def error(self, message: str) -> None:
        self.add(Severity.ERROR, message)

    def warning(self, message: str) -> None:
        self.add(Severity.WARNING, message)

    def add(self, severity: Severity, message: str) -> None:
        self.problems.append(
            ValidationProblem(self.location, severity, f"{self.document}: {message}")
        )


# -- cluster.json -------------------------------------------------------------------------


def validate_cluster(
    cluster: Cluster, folder: str | None = None, *, location: str | None = None
) -> list[ValidationProblem]:
    """Semantic problems of a parsed cluster.json.

    ``folder`` is the name of the cluster's folder, ``location`` where the file is (default
    ``<folder>/cluster.json``).
    """
    out = _Collector(location or f"{folder or cluster.name}/cluster.json", "cluster.json")
    if folder is not None and cluster.name != folder:
        out.error(f"name {cluster.name!r} differs from its folder {folder!r}")
    subclusters = {sc.name for sc in cluster.sub_clusters}
    for metric in cluster.metrics:
        for override in metric.sub_clusters or []:
            if override.name not in subclusters:
                out.warning(
                    f"metric {metric.name!r} overrides unknown subcluster {override.name!r}"
                )
    for sc in cluster.sub_clusters:
        _check_subcluster(cluster, sc, out)
    return out.problems


def _check_subcluster(cluster: Cluster, sc: SubCluster, out: _Collector) -> None:
    known = {m.name for m in cluster.metrics_for(sc.name)}
    for kind, names in (("footprint", sc.footprint), ("energyFootprint", sc.energy_footprint)):
        for name in names or []:
            if name not in known:
                out.error(f"subcluster {sc.name!r}: {kind} names unknown metric {name!r}")
    topo = sc.topology
    if len(topo.socket) != sc.sockets_per_node:
        out.warning(
            f"subcluster {sc.name!r}: topology has {len(topo.socket)} sockets, "
            f"socketsPerNode says {sc.sockets_per_node}"
        )
    threads = sc.sockets_per_node * sc.cores_per_socket * sc.threads_per_core
    if len(topo.node) != threads:
        out.warning(
            f"subcluster {sc.name!r}: topology has {len(topo.node)} hardware threads, "
            f"sockets x cores x threads says {threads}"
        )


# -- meta.json ----------------------------------------------------------------------------


def validate_meta(
    job: Job,
    clusters: Mapping[str, Cluster],
    location: str,
    *,
    now: float | None = None,
) -> list[ValidationProblem]:
    """Semantic problems of a parsed meta.json stored at ``location``."""
    out = _Collector(location, "meta.json")
    _check_location(job, location, out)
    if len(job.resources) != job.num_nodes:
        out.error(f"{len(job.resources)} resources but numNodes is {job.num_nodes}")
    _check_times(job, out, time.time() if now is None else now)
    if not job.job_state.is_final:
        out.error(f"job state {job.job_state.value!r} is not final")
    cluster = clusters.get(job.cluster)
    if cluster is None:
        out.error(f"unknown cluster {job.cluster!r}")
        return out.problems
    subcluster = _subcluster_of(job, cluster, out)
    _check_hosts(job, cluster, out)
    if job.statistics is None:
        out.warning("no statistics (the job-meta schema requires them)")
    elif subcluster is not None:
        known = {m.name for m in cluster.metrics_for(subcluster)}
        unknown = sorted(set(job.statistics) - known)
        if unknown:
            out.warning(f"statistics of metrics unknown to {job.cluster}/{subcluster}: {unknown}")
    return out.problems


def _ref_of_location(location: str) -> JobRef | None:
    """The job a location names: a job folder path, or a key ending in ``cluster/id@start``."""
    keyed = _KEYED.search(location)
    if keyed is not None:
        return JobRef(keyed["cluster"], int(keyed["id"]), int(keyed["start"]))
    try:
        return JobRef.from_directory("/".join(location.rstrip("/").split("/")[-4:]))
    except InvalidInput:
        return None


def _check_location(job: Job, location: str, out: _Collector) -> None:
    ref = _ref_of_location(location)
    if ref is not None and ref != JobRef.of(job):
        out.error(f"describes {JobRef.of(job)}, but is stored as {ref}")


def _check_times(job: Job, out: _Collector, now: float) -> None:
    if job.start_time < EARLIEST_START:
        out.error(f"start time {job.start_time} is before 2000")
    elif job.start_time > now + FUTURE_SLACK_SECONDS:
        out.error(f"start time {job.start_time} lies in the future")
    if job.duration == 0:
        out.warning("duration is 0 (the job-meta schema requires a positive duration)")
    if job.stop_time is not None and job.stop_time < job.start_time:
        out.error(f"stop time {job.stop_time} is before start time {job.start_time}")
    elif job.stop_time is not None and abs(job.stop_time - job.start_time - job.duration) > 1:
        span = job.stop_time - job.start_time
        out.warning(f"stop time - start time is {span} s, but duration is {job.duration} s")
    if job.submit_time and job.submit_time > job.start_time:
        out.warning(f"submit time {job.submit_time} is after start time {job.start_time}")


def _subcluster_of(job: Job, cluster: Cluster, out: _Collector) -> str | None:
    if job.sub_cluster:
        try:
            return cluster.subcluster(job.sub_cluster).name
        except NotFound:
            out.error(f"unknown subcluster {job.sub_cluster!r} of cluster {job.cluster!r}")
            return None
    out.warning("no subCluster (the job-meta schema requires it)")
    try:
        return cluster.subcluster_of(job.resources[0].hostname).name
    except NotFound as exc:
        out.error(exc.message)
        return None


def _check_hosts(job: Job, cluster: Cluster, out: _Collector) -> None:
    counts = Counter(job.hostnames)
    repeated = sorted(h for h, n in counts.items() if n > 1)
    if repeated:
        out.error(f"hosts listed more than once in resources: {repeated}")
    if any(sc.hosts.is_wildcard or not sc.nodes for sc in cluster.sub_clusters):
        return
    strangers = sorted(h for h in counts if not any(h in sc.hosts for sc in cluster.sub_clusters))
    if strangers:
        out.warning(f"hosts not in any node list of cluster {cluster.name!r}: {strangers[:5]}")


# -- data.json ----------------------------------------------------------------------------


def validate_data(
    data: JobData, job: Job, cluster: Cluster | None, location: str
) -> list[ValidationProblem]:
    """Problems of a parsed data.json against its job's meta data and cluster."""
    out = _Collector(location, "data.json")
    metrics: dict[str, MetricConfig] = {}
    if cluster is not None:
        try:
            name = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
            metrics = {m.name: m for m in cluster.metrics_for(name)}
        except NotFound:
            metrics = {m.name: m for m in cluster.metrics}
    hosts = set(job.hostnames)
    for metric, scopes in data.items():
        config = metrics.get(metric)
        if cluster is not None and config is None:
            out.warning(f"metric {metric!r} is not configured for the job's subcluster")
        for scope, values in scopes.items():
            where = f"{metric}/{scope.value}"
            if config is not None and scope.is_finer_than(config.scope):
                out.error(f"{where}: scope is finer than the metric's native scope {config.scope}")
            if values.timestep <= 0:
                out.error(f"{where}: timestep {values.timestep} is not positive")
                continue
            strangers = sorted({s.hostname for s in values.series} - hosts)
            if strangers:
                out.error(f"{where}: series of hosts not in the job's resources: {strangers[:5]}")
            if scope is not MetricScope.NODE and any(s.id is None for s in values.series):
                out.warning(f"{where}: series without an id below node scope")
            _check_lengths(
                where, values.timestep, job.duration, (len(s.data) for s in values.series), out
            )
    return out.problems


def _check_lengths(
    where: str, timestep: int, duration: int, lengths: Iterable[int], out: _Collector
) -> None:
    expected = duration / timestep
    off = sorted({n for n in lengths if abs(n - expected) > LENGTH_TOLERANCE})
    if off:
        out.warning(
            f"{where}: series of {off[:3]} samples, expected about {expected:.0f} "
            f"(duration {duration} s / timestep {timestep} s)"
        )


# -- whole archive ------------------------------------------------------------------------


def validate_entry(
    entry: ArchiveEntry, clusters: Mapping[str, Cluster], *, now: float | None = None
) -> list[ValidationProblem]:
    """Every problem of one scanned job: its read error, its meta data and its metric data."""
    problems: list[ValidationProblem] = []
    if entry.error is not None:
        problems.append(ValidationProblem(entry.location, Severity.ERROR, entry.error))
    if entry.meta is not None:
        problems += validate_meta(entry.meta, clusters, entry.location, now=now)
        if entry.data is not None:
            cluster = clusters.get(entry.meta.cluster)
            problems += validate_data(entry.data, entry.meta, cluster, entry.location)
    return problems


ProgressCallback = Callable[[int], None]


def validate_archive(
    archive: JobArchive,
    *,
    with_data: bool = True,
    progress: bool = False,
    on_job: ProgressCallback | None = None,
) -> ValidationReport:
    """Check every cluster.json and job of ``archive``; report all problems found.

    ``with_data`` also reads and checks every data.json (much slower). ``progress`` shows a
    progress bar on the terminal; ``on_job`` is called with the number of jobs checked so
    far. Broken documents are reported; only an unreachable archive raises.
    """
    started = time.perf_counter()
    report = ValidationReport()
    clusters: dict[str, Cluster] = {}
    for name in archive.clusters():
        report.clusters += 1
        where = f"{archive.location.rstrip('/')}/{name}/cluster.json"
        try:
            cluster = archive.load_cluster(name)
        except (InvalidInput, NotFound) as exc:
            report.problems.append(ValidationProblem(where, Severity.ERROR, exc.message))
            continue
        clusters[name] = cluster
        report.problems += validate_cluster(cluster, name, location=where)
    now = time.time()
    with job_progress("checking", enabled=progress) as advance:
        for entry in archive.iter_jobs(with_data=with_data):
            report.jobs += 1
            try:
                report.problems += validate_entry(entry, clusters, now=now)
            except CCError as exc:  # a check tripped over an odd document: report it
                report.problems.append(
                    ValidationProblem(entry.location, Severity.ERROR, exc.message)
                )
            advance()
            if on_job is not None:
                on_job(report.jobs)
    report.seconds = time.perf_counter() - started
    return report
