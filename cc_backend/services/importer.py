"""Filling the job database from the job archive (``init-db``) and importing single jobs.

:func:`import_archive` streams every job of an archive into the ``job`` table, as
cc-backend's ``-init-db`` does: each job gets its subcluster (from its first node if none is
named), its footprint and energy when its meta data lacks them (see
:mod:`cc_backend.domain.footprint`) and the monitoring status "archiving successful"; the
tags of its meta data (scope ``global`` unless given) are created when missing and attached.

Jobs are written in batches (1,000 by default); a batch's rows and tag links are one
transaction, so an interruption leaves whole batches only. Jobs already stored (same job
id, cluster and start time) are skipped: a second run adds nothing, an interrupted one can
be repeated. Tags are created before the batch that needs them, in transactions of their
own: a rolled-back batch may leave an unused tag, never a half-written job.

``rebuild=True`` empties the ``job`` and ``jobtag`` tables in the transaction of the first
batch (for an empty archive: on their own). An interrupted rebuild thus leaves either the
old table untouched (stopped before the first commit) or a consistent partial table of whole
batches of new jobs. Tags are kept (cc-backend deletes them) so user-made tags keep their ids.

Jobs that cannot be imported are counted and listed with their location; the rest is
imported. The planner statistics are refreshed at the end.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cc_backend.archive.codec import decode_data, decode_meta
from cc_backend.archive.layout import JobRef
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import AlreadyExists, CCError, InvalidInput, NotFound
from cc_backend.domain.footprint import FootprintPlan, job_subcluster
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE
from cc_backend.domain.user import Role, User
from cc_backend.progress import job_progress

if TYPE_CHECKING:
    from cc_backend.archive.base import JobArchive
    from cc_backend.repository.jobs import JobRepository
    from cc_backend.repository.tags import TagRepository

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ImportInterrupted",
    "ImportProblem",
    "ImportReport",
    "JobImportResult",
    "import_archive",
    "import_job_files",
    "prepare_job",
]

#: Jobs written per transaction.
DEFAULT_BATCH_SIZE = 1000
#: The user on whose behalf global and admin tags are created.
IMPORTER_USER = User.build("cc-backend-importer", [Role.API])


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A job (by its location in the archive) that could not be imported, or a tag of it
    that could not be attached, and why."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


@dataclass
class ImportReport:
    """What :func:`import_archive` did. Counts cover committed batches only."""

    #: Jobs written to the database.
    imported: int = 0
    #: Jobs skipped because the database already holds them.
    skipped: int = 0
    #: Jobs that could not be imported.
    failed: list[ImportProblem] = field(default_factory=list)
    #: Tags that could not be attached to an imported job (the job itself was imported).
    warnings: list[ImportProblem] = field(default_factory=list)
    tags_attached: int = 0
    #: Archive entries read so far (including those of a batch not yet written).
    scanned: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True if every job of the archive is now in the database."""
        return not self.failed

    @property
    def jobs_per_second(self) -> float:
        """Archive entries processed per second of wall time."""
        return self.scanned / self.seconds if self.seconds > 0 else math.nan


class ImportInterrupted(CCError):
    """The import was interrupted (Ctrl-C); ``report`` tells what was committed before."""

    code = "INTERRUPTED"

    def __init__(self, report: ImportReport) -> None:
        if report.rebuilt and report.imported == 0:
            state = "before the first batch was committed: the job table is unchanged"
        else:
            state = (
                f"after {report.imported} jobs were committed in whole batches; nothing of "
                "the batch in progress was written"
            )
        super().__init__(f"import interrupted {state}; run it again to finish it")
        self.report = report


#: Called after each archive entry with the report so far.
ProgressCallback = Callable[[ImportReport], None]


def prepare_job(
    job: Job, cluster: Cluster, *, data: JobData | None = None, plan: FootprintPlan | None = None
) -> Job:
    """The database form of an archived ``job``, checked as cc-backend checks imports.

    ``plan`` (the footprint plan of the job's subcluster) saves deriving it again.
    Raises :class:`InvalidInput` when the job is not of ``cluster`` or the number of its
    resources differs from ``numNodes``, :class:`NotFound` for an unknown subcluster.
    """
    if job.cluster != cluster.name:
        raise InvalidInput(f"job of cluster {job.cluster!r} checked against {cluster.name!r}")
    if len(job.resources) != job.num_nodes:
        raise InvalidInput(
            f"{len(job.resources)} resources but numNodes is {job.num_nodes}: not imported"
        )
    plan = plan or FootprintPlan.of(cluster, job_subcluster(job, cluster))
    update = plan.updates(job, data=data)
    update |= {"id": None, "monitoring_status": MonitoringStatus.ARCHIVING_SUCCESSFUL}
    return job.model_copy(update=update)


def _actor_for(scope: str) -> User:
    """Who may write tags of ``scope``: the importer for global/admin, else the owner."""
    if scope in (GLOBAL_SCOPE, ADMIN_SCOPE):
        return IMPORTER_USER
    return User.build(scope, [Role.USER])


class _Tags:
    """Tag ids by (type, name, scope), created on first use; failures remembered."""

    def __init__(self, repo: TagRepository) -> None:
        self.repo = repo
        self.ids: dict[tuple[str, str, str], int] = {}
        self.failures: dict[tuple[str, str, str], str] = {}

    def resolve(self, jobs: Sequence[Job]) -> None:
        """Look up (or create) every tag of ``jobs`` not seen yet."""
        for job in jobs:
            for tag in job.tags or ():
                key = (tag.type, tag.name, tag.scope)
                if key in self.ids or key in self.failures:
                    continue
                try:
                    found = self.repo.get_or_create(*key, actor=_actor_for(tag.scope))
                except AlreadyExists:
                    self.failures[key] = "a tag of this type and name exists in another scope"
                except CCError as exc:
                    self.failures[key] = exc.message
                else:
                    assert found.id is not None
                    self.ids[key] = found.id

    def links(
        self, location: str, job: Job, db_id: int, warnings: list[ImportProblem]
    ) -> list[tuple[int, int]]:
        """(job id, tag id) pairs of ``job``; tags that failed are added to ``warnings``."""
        result = []
        for tag in job.tags or ():
            key = (tag.type, tag.name, tag.scope)
            if key in self.ids:
                result.append((db_id, self.ids[key]))
            else:
                label = f"{tag.type}:{tag.name} (scope {tag.scope})"
                warnings.append(
                    ImportProblem(location, f"tag {label} not attached: {self.failures[key]}")
                )
        return result


class _Writer:
    """Writes batches of prepared jobs, one transaction each."""

    def __init__(self, jobs: JobRepository, tags: _Tags, report: ImportReport, rebuild: bool):
        self.jobs = jobs
        self.tags = tags
        self.report = report
        self.clear_first = rebuild

    def write(self, batch: Sequence[tuple[str, Job]]) -> None:
        self.tags.resolve([job for _, job in batch])
        warnings: list[ImportProblem] = []
        with self.jobs.db.engine.begin() as conn:
            if self.clear_first:
                self.jobs.delete_all(conn)
            ids = self.jobs.insert_many(conn, [job for _, job in batch], skip_existing=True)
            links = [
                link
                for (location, job), db_id in zip(batch, ids, strict=True)
                if db_id is not None and job.tags
                for link in self.tags.links(location, job, db_id, warnings)
            ]
            attached = self.jobs.link_tags(conn, links)
        inserted = sum(1 for db_id in ids if db_id is not None)
        self.clear_first = False
        self.report.imported += inserted
        self.report.skipped += len(batch) - inserted
        self.report.tags_attached += attached
        self.report.warnings += warnings


def _load_clusters(archive: JobArchive, report: ImportReport) -> dict[str, Cluster]:
    clusters: dict[str, Cluster] = {}
    for name in archive.clusters():
        try:
            clusters[name] = archive.load_cluster(name)
        except (InvalidInput, NotFound) as exc:
            report.warnings.append(ImportProblem(f"{name}/cluster.json", exc.message))
    return clusters


class _Preparer:
    """:func:`prepare_job` for the jobs of a scan, with one footprint plan per subcluster."""

    def __init__(self, clusters: Mapping[str, Cluster]) -> None:
        self.clusters = clusters
        self.plans: dict[tuple[str, str], FootprintPlan] = {}

    def __call__(self, job: Job) -> Job:
        cluster = self.clusters.get(job.cluster)
        if cluster is None:
            raise InvalidInput(f"no such cluster: {job.cluster!r} (no usable cluster.json)")
        key = (job.cluster, job.sub_cluster)
        plan = self.plans.get(key)
        if plan is None:
            plan = FootprintPlan.of(cluster, job_subcluster(job, cluster))
            if job.sub_cluster:  # without one, the subcluster depends on the job's hosts
                self.plans[key] = plan
        return prepare_job(job, cluster, plan=plan)


def import_archive(
    archive: JobArchive,
    jobs_repo: JobRepository,
    tags_repo: TagRepository,
    *,
    rebuild: bool = False,
    progress: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 4,
    on_progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import every job of ``archive`` into the job database (see the module docs).

    ``rebuild`` empties the job table first; ``progress`` draws a progress bar on stderr;
    ``on_progress`` is called after each archive entry. Raises :class:`ImportInterrupted`
    (carrying the report of what was committed) on KeyboardInterrupt.
    """
    if batch_size < 1:
        raise InvalidInput(f"batch size must be positive, got {batch_size}")
    started = time.perf_counter()
    report = ImportReport(rebuilt=rebuild)
    clusters = _load_clusters(archive, report)
    writer = _Writer(jobs_repo, _Tags(tags_repo), report, rebuild)
    prepare = _Preparer(clusters)
    batch: list[tuple[str, Job]] = []
    entries = archive.iter_jobs(with_data=False, workers=workers)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects, no cycles: collection only costs time
    try:
        with job_progress("importing", enabled=progress) as advance:
            for entry in entries:
                report.scanned += 1
                if entry.meta is None:
                    report.failed.append(ImportProblem(entry.location, entry.error or "unreadable"))
                else:
                    try:
                        batch.append((entry.location, prepare(entry.meta)))
                    except CCError as exc:
                        report.failed.append(ImportProblem(entry.location, exc.message))
                if len(batch) >= batch_size:
                    writer.write(batch)
                    batch = []
                advance()
                if on_progress is not None:
                    on_progress(report)
            if batch or writer.clear_first:
                writer.write(batch)
    except KeyboardInterrupt:
        report.seconds = time.perf_counter() - started
        raise ImportInterrupted(report) from None
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()
        if gc_was_enabled:
            gc.enable()
    jobs_repo.db.refresh_planner_statistics()
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True, slots=True)
class JobImportResult:
    """What :func:`import_job_files` did with one job."""

    ref: JobRef
    #: The job's database id (also when it was already stored).
    db_id: int
    #: False if the database already held the job.
    inserted: bool
    #: False if the archive already held the job.
    archived: bool
    #: Tags of the job that could not be attached, with the reason.
    warnings: tuple[str, ...] = ()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read: {exc.strerror or exc}") from None


def import_job_files(
    meta_path: str | Path,
    data_path: str | Path,
    archive: JobArchive,
    jobs_repo: JobRepository,
    tags_repo: TagRepository,
) -> JobImportResult:
    """Import one finished job from a meta.json and a data.json (or data.json.gz) file.

    The job is checked and completed like an archived job (statistics derived from the
    data when the meta data has none), written to the archive unless it holds the job
    already, and inserted into the database unless it is stored there already: running
    it twice changes nothing. Raises :class:`InvalidInput` for unreadable or invalid files
    and a cluster the archive does not know.
    """
    meta_path, data_path = Path(meta_path), Path(data_path)
    meta = decode_meta(_read(meta_path), where=str(meta_path))
    data = decode_data(_read(data_path), where=str(data_path))
    try:
        cluster = archive.load_cluster(meta.cluster)
    except NotFound:
        raise InvalidInput(
            f"{meta_path}: cluster {meta.cluster!r} has no cluster.json in the archive"
        ) from None
    if meta.statistics is None:
        meta = meta.model_copy(update={"statistics": data.meta_statistics(meta.num_nodes)})
    job = prepare_job(meta, cluster, data=data)
    ref = JobRef.of(job)
    archived = not archive.exists(ref)
    if archived:
        archive.import_job(job, data)
    tags = _Tags(tags_repo)
    tags.resolve([job])
    warnings: list[ImportProblem] = []
    with jobs_repo.db.engine.begin() as conn:
        (db_id,) = jobs_repo.insert_many(conn, [job], skip_existing=True)
        if db_id is not None:
            jobs_repo.link_tags(conn, tags.links(str(ref), job, db_id, warnings))
    if db_id is None:
        (stored,) = jobs_repo.find(job.job_id, job.cluster, job.start_time)
        assert stored.id is not None
        return JobImportResult(ref, stored.id, inserted=False, archived=archived)
    notes = tuple(w.message for w in warnings)
    return JobImportResult(ref, db_id, inserted=True, archived=archived, warnings=notes)
