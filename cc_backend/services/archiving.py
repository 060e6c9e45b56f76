"""Archiving of stopped jobs: metric data into the job archive, footprints into the database.

A stopped job is queued (:meth:`Archiver.enqueue`, called by the job lifecycle) and archived
by worker threads, off the event loop:

1. load every metric of the job's subcluster at node scope, plus core scope for jobs of up
   to :data:`CORE_SCOPE_MAX_NODES` nodes and accelerator scope for jobs with accelerators,
   at the native resolution, from the cluster's metric data backend;
2. compute each metric's job statistics, the footprint and the energy
   (:mod:`cc_backend.domain.footprint`);
3. write ``meta.json`` and ``data.json`` through the job archive (and the statistics
   index, when the site keeps one);
4. record footprint, energy and monitoring status 3 (archived) in the database.

A backend that is unavailable is retried with exponential backoff (:class:`RetryPolicy`);
when the attempts are used up, or on any other error, the job gets monitoring status 2
(archiving failed) and the reason goes to the log. Nothing is lost when the process stops:
the queue only holds jobs whose database row still says "stopped, not yet archived"
(status 1), and :meth:`Archiver.start` queues every such job again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cc_backend.archive import JobArchive
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import BackendUnavailable, CCError
from cc_backend.domain.footprint import FootprintPlan, job_subcluster
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.services.clusters import ClusterCatalog

__all__ = [
    "CORE_SCOPE_MAX_NODES",
    "ArchiveOutcome",
    "Archiver",
    "RetryPolicy",
    "archive_scopes",
]

log = logging.getLogger(__name__)

#: Jobs with at most this many nodes are archived at core scope too (as cc-backend does).
CORE_SCOPE_MAX_NODES = 8

#: Sentinel that tells a worker to end.
_STOP = object()


def archive_scopes(job: Job) -> list[MetricScope]:
    """The scopes a job's metric data is archived at."""
    scopes = [MetricScope.NODE]
    if job.num_nodes <= CORE_SCOPE_MAX_NODES:
        scopes.append(MetricScope.CORE)
    if job.num_acc > 0:
        scopes.append(MetricScope.ACCELERATOR)
    return scopes


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and after which pauses, an unavailable metric data backend is retried."""

    attempts: int = 5
    first_delay: float = 1.0
    max_delay: float = 60.0

    def delays(self) -> list[float]:
        """The pauses between the attempts (one fewer than attempts)."""
        return [
            min(self.first_delay * 2**n, self.max_delay) for n in range(max(self.attempts - 1, 0))
        ]


@dataclass(frozen=True)
class ArchiveOutcome:
    """What happened to one job."""

    job_id: int
    status: MonitoringStatus
    attempts: int
    reason: str | None = None


@dataclass
class _Counters:
    archived: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Archiver:
    """Archives stopped jobs in worker threads; an :class:`ArchivingQueue` for the lifecycle.

    ``metric_data`` gives the metric data backend of a cluster by name. ``on_archived`` is
    called with each archived job's meta data (e.g. to update a statistics index); its
    errors are logged, never fatal. ``sleep`` is the pause between retries (tests pass a
    recorder).
    """

    def __init__(
        self,
        jobs: JobRepository,
        tags: TagRepository,
        archive: JobArchive,
        clusters: ClusterCatalog,
        metric_data: Callable[[str], MetricDataRepository],
        *,
        workers: int = 2,
        queue_size: int = 10_000,
        retry: RetryPolicy | None = None,
        on_archived: Callable[[Job], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.jobs = jobs
        self.tags = tags
        self.archive = archive
        self.clusters = clusters
        self.metric_data = metric_data
        self.workers = max(1, workers)
        self.retry = retry or RetryPolicy()
        self.on_archived = on_archived
        self.sleep = sleep
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._counters = _Counters()

    # -- the queue ------------------------------------------------------------------------

    def enqueue(self, job: Job) -> None:
        """Queue a stopped job (with its database id); never blocks.

        When the queue is full the job is left to the next :meth:`recover` (its row still
        says "not yet archived"), with a warning.
        """
        if job.id is None:
            raise ValueError("only stored jobs can be archived")
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            log.warning("archiving queue full: job %d is archived after the next recovery", job.id)

    def __len__(self) -> int:
        """Jobs waiting in the queue (not counting those being archived)."""
        return self._queue.qsize()

    def drain(self) -> list[Job]:
        """Take every waiting job out of the queue, oldest first, without archiving it
        (the database still lists them as awaiting archiving)."""
        taken: list[Job] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return taken
            self._queue.task_done()
            if isinstance(item, Job):
                taken.append(item)

    @property
    def archived(self) -> int:
        """Jobs archived since the start."""
        return self._counters.archived

    @property
    def failed(self) -> int:
        """Jobs whose archiving failed since the start."""
        return self._counters.failed

    # -- workers --------------------------------------------------------------------------

    def start(self, *, recover: bool = True) -> int:
        """Start the workers; with ``recover``, queue every job the database says awaits
        archiving (e.g. stopped before the last shutdown). Returns how many were queued."""
        if self._threads:
            raise RuntimeError("the archiver runs already")
        self._stopping.clear()
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"archiver-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.recover() if recover else 0

    def recover(self) -> int:
        """Queue the stopped jobs whose archiving never finished; return how many."""
        queued, after = 0, 0
        while True:
            batch = self.jobs.awaiting_archiving(after_id=after, limit=1000)
            if not batch:
                break
            for job in batch:
                self.enqueue(job)
            queued += len(batch)
            after = batch[-1].id or after
        if queued:
            log.info("archiving %d job(s) stopped before the last shutdown", queued)
        return queued

    def stop(self, timeout: float = 30.0) -> int:
        """Archive what is queued, for at most ``timeout`` seconds, then end the workers.

        Returns how many jobs were left in the queue (they stay "awaiting archiving" in the
        database and are archived after the next start).
        """
        deadline = time.monotonic() + timeout
        while self._threads and self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stopping.set()
        left = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            self._queue.task_done()
            left += item is not _STOP
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 1.0))
        self._threads.clear()
        if left:
            log.warning("%d job(s) not archived before shutdown; archived after restart", left)
        return left

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the queue is empty and no job is being archived; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._stopping.is_set():
                    continue
                assert isinstance(item, Job)
                self.archive_job(item)
            except Exception:  # a worker must survive anything one job does
                log.exception("archiving worker: unexpected error")
            finally:
                self._queue.task_done()

    # -- one job --------------------------------------------------------------------------

    def archive_job(self, job: Job) -> ArchiveOutcome:
        """Archive ``job`` now, in the calling thread, retrying an unavailable backend."""
        assert job.id is not None
        delays = self.retry.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                self._archive_once(job)
            except BackendUnavailable as exc:
                if attempt > len(delays) or self._stopping.is_set():
                    return self._failed(job, attempt, f"metric data unavailable: {exc.message}")
                delay = delays[attempt - 1]
                log.warning(
                    "archiving job %d: %s; attempt %d of %d in %.1f s",
                    job.id,
                    exc.message,
                    attempt + 1,
                    len(delays) + 1,
                    delay,
                )
                self.sleep(delay)
            except CCError as exc:
                return self._failed(job, attempt, exc.message)
            except Exception as exc:
                log.exception("archiving job %d failed unexpectedly", job.id)
                return self._failed(job, attempt, f"{type(exc).__name__}: {exc}")
            else:
                with self._counters.lock:
                    self._counters.archived += 1
                return ArchiveOutcome(job.id, MonitoringStatus.ARCHIVING_SUCCESSFUL, attempt)

    def _archive_once(self, job: Job) -> None:
        assert job.id is not None
        if job.job_state is JobState.RUNNING:
            raise CCError(f"job {job.id} is still running")
        cluster = self.clusters.get(job.cluster)
        subcluster = job_subcluster(job, cluster)
        data = self.metric_data(job.cluster).load_data(job, None, archive_scopes(job), 0)
        meta = self._meta(job, data)
        computed = FootprintPlan.of(cluster, subcluster).compute(meta, data)
        meta = meta.model_copy(
            update={
                "sub_cluster": subcluster,
                "footprint": computed.footprint,
                "energy_footprint": computed.energy_footprint,
                "energy": computed.energy,
                "monitoring_status": MonitoringStatus.ARCHIVING_SUCCESSFUL,
            }
        )
        self.archive.import_job(meta, data)
        self.jobs.mark_archived(
            job.id,
            MonitoringStatus.ARCHIVING_SUCCESSFUL,
            footprint=computed.footprint,
            energy_footprint=computed.energy_footprint,
            energy=computed.energy,
        )
        log.info(
            "archived job %d (cluster %s, jobId %d): %d metrics",
            job.id,
            job.cluster,
            job.job_id,
            len(data),
        )
        if self.on_archived is not None:
            try:
                self.on_archived(meta)
            except Exception:
                log.exception("job %d archived, but a follow-up step failed", job.id)

    def _meta(self, job: Job, data: JobData) -> Job:
        """The archived meta data: the job with its statistics and all of its tags."""
        assert job.id is not None
        tags = self.tags.all_tags_of_job(job.id)
        return job.model_copy(
            update={"statistics": data.meta_statistics(job.num_nodes), "tags": tags or None}
        )

    def _failed(self, job: Job, attempts: int, reason: str) -> ArchiveOutcome:
        assert job.id is not None
        log.error(
            "archiving job %d (cluster %s, jobId %d) failed after %d attempt(s): %s",
            job.id,
            job.cluster,
            job.job_id,
            attempts,
            reason,
        )
        try:
            self.jobs.mark_archived(job.id, MonitoringStatus.ARCHIVING_FAILED)
        except CCError as exc:
            log.error("job %d: recording the failed archiving failed too: %s", job.id, exc)
        with self._counters.lock:
            self._counters.failed += 1
        return ArchiveOutcome(job.id, MonitoringStatus.ARCHIVING_FAILED, attempts, reason)
