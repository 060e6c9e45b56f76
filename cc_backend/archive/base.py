"""The job archive contract.

Every backend (``file``/``s3``/``memory`` through fsspec, ``sqlite``) implements
:class:`JobArchive`; one contract test suite runs against all of them. Jobs are addressed by
:class:`~cc_backend.archive.layout.JobRef` (cluster, job id, start time); methods that take a
job accept a :class:`~cc_backend.domain.job.Job` as well.

Errors: a missing job, cluster or document raises :class:`NotFound`; a document that exists
but cannot be parsed raises :class:`InvalidInput` whose message starts with its location; an
unreachable storage raises :class:`BackendUnavailable`. Scans never raise for a broken job:
they yield an :class:`ArchiveEntry` carrying the problem instead.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from cc_backend.archive.layout import JobRef
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, ScopedStatistics, SeriesStatistics

if TYPE_CHECKING:
    from cc_backend.config import ArchiveConfig, Secrets

JobLike = Job | JobRef


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What an archive holds of one cluster."""

    name: str
    jobs: int
    first_start: int | None
    last_start: int | None
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """Summary of an archive: version and per-cluster figures."""

    version: int
    clusters: tuple[ClusterInfo, ...]

    @property
    def jobs(self) -> int:
        return sum(c.jobs for c in self.clusters)

    @property
    def size_bytes(self) -> int:
        return sum(c.size_bytes for c in self.clusters)


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """One job met while scanning an archive: its documents, or why they could not be read.

    ``location`` is where the job lives (a folder path or a row key); ``meta`` is ``None``
    exactly when ``error`` is set. ``data`` is loaded only when asked for; a job whose meta
    data reads but whose data does not is reported with ``meta`` set and ``error`` set.
    """

    location: str
    meta: Job | None = None
    data: JobData | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class CleanResult:
    """What :meth:`JobArchive.clean` removed."""

    removed: int
    refs: tuple[JobRef, ...] = field(default=(), repr=False)


class JobArchive(abc.ABC):
    """A job archive. Build one with :func:`cc_backend.archive.open_archive`."""

    #: The ``archive.kind`` config value that selects this backend.
    kind: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: ArchiveConfig, secrets: Secrets | None = None) -> Self:
        """Build the backend from the ``archive`` config section (not yet initialised)."""

    @classmethod
    @abc.abstractmethod
    def from_location(cls, location: str, **options: Any) -> Self:
        """Build the backend from a location as given on a command line (see
        :func:`cc_backend.archive.registry.open_archive_url`), not yet initialised."""

    # -- lifecycle --------------------------------------------------------------------

    @abc.abstractmethod
    def init(self) -> int:
        """Check the archive's layout version and return it.

        An empty location is bootstrapped (``version.txt`` written). Raises
        :class:`InvalidInput` for a version other than 3 (naming the version found and how
        to migrate) and :class:`BackendUnavailable` if the storage cannot be reached.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and file handles. The default does nothing."""

    @abc.abstractmethod
    def info(self) -> ArchiveInfo:
        """Per-cluster job counts, first and last start time and stored bytes."""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the archive is, for messages: a path, an ``s3://`` URL or a database file."""

    # -- clusters ---------------------------------------------------------------------

    @abc.abstractmethod
    def clusters(self) -> list[str]:
        """Names of the clusters that have a ``cluster.json``, sorted."""

    @abc.abstractmethod
    def load_cluster(self, name: str) -> Cluster:
        """The cluster's configuration. NotFound if absent, InvalidInput if broken."""

    @abc.abstractmethod
    def store_cluster(self, cluster: Cluster) -> None:
        """Write (or replace) the cluster's configuration."""

    # -- single jobs ------------------------------------------------------------------

    @abc.abstractmethod
    def exists(self, job: JobLike) -> bool:
        """Whether the archive holds meta data of ``job``."""

    @abc.abstractmethod
    def load_meta(self, job: JobLike) -> Job:
        """The archived meta data (meta.json). NotFound if absent, InvalidInput if broken."""

    @abc.abstractmethod
    def load_data(self, job: JobLike, *, metrics: Collection[str] | None = None) -> JobData:
        """The archived metric data (data.json or data.json.gz). NotFound / InvalidInput.

        ``metrics`` reads only those metrics (the ones the job has); the others are not
        validated, which makes reading a few metrics of a large document cheaper.
        """

    def load_scoped_statistics(self, job: JobLike) -> ScopedStatistics:
        """Per-series statistics of every metric and scope, taken from the metric data."""
        result: ScopedStatistics = {}
        for metric, scopes in self.load_data(job).items():
            for scope, job_metric in scopes.items():
                result.setdefault(metric, {})[scope] = [
                    SeriesStatistics(
                        hostname=series.hostname,
                        id=series.id,
                        avg=series.statistics.avg,
                        min=series.statistics.min,
                        max=series.statistics.max,
                    )
                    for series in job_metric.series
                ]
        return result

    @abc.abstractmethod
    def store_meta(self, job: Job) -> None:
        """Write (or replace) the meta data of ``job``, e.g. after its tags changed."""

    @abc.abstractmethod
    def import_job(self, meta: Job, data: JobData) -> None:
        """Write meta and metric data of a finished job, replacing what was there.

        Data larger than 2,000 bytes is stored gzip-compressed. The job is written so that
        a reader never sees meta data without its metric data.
        """

    # -- many jobs --------------------------------------------------------------------

    @abc.abstractmethod
    def iter_jobs(
        self,
        *,
        with_data: bool = False,
        clusters: Sequence[str] | None = None,
        workers: int = 4,
    ) -> Iterator[ArchiveEntry]:
        """Every job of the archive (of ``clusters`` if given), read by ``workers`` threads.

        The order is unspecified. A broken job yields an entry with ``error`` set; the scan
        goes on.
        """

    @abc.abstractmethod
    def delete(self, jobs: Iterable[JobLike]) -> int:
        """Remove jobs (meta and data); return how many were there. Absent ones are skipped."""

    def move(self, jobs: Iterable[JobLike], target: JobArchive) -> int:
        """Copy jobs to ``target`` and remove them here; return how many were moved.

        A job is removed here only after ``target`` holds it. The cluster configuration is
        copied to ``target`` when missing there.
        """
        moved = 0
        for item in jobs:
            ref = JobRef.of(item)
            if not self.exists(ref):
                continue
            if ref.cluster not in target.clusters():
                target.store_cluster(self.load_cluster(ref.cluster))
            target.import_job(self.load_meta(ref), self.load_data(ref))
            self.delete([ref])
            moved += 1
        return moved

    @abc.abstractmethod
    def clean(self, *, before: int | None = None, after: int | None = None) -> CleanResult:
        """Remove every job that started before ``before`` or after ``after`` (Unix seconds)."""

    @abc.abstractmethod
    def compress(self, jobs: Iterable[JobLike]) -> int:
        """Gzip the stored metric data of jobs larger than 2,000 bytes that is not yet
        compressed; return how many were compressed."""
