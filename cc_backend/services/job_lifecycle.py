"""What the scheduler adapter drives: jobs starting and stopping, node states changing.

The REST and NATS front ends parse their payloads into a :class:`~cc_backend.domain.job.Job`,
a :class:`StopJobRequest` or a :class:`NodeStatesRequest` and call :class:`JobLifecycle`;
every failure is a domain error (:mod:`cc_backend.domain.errors`) for them to map.

The rules are cc-backend's:

- a start is refused for an unknown cluster or subcluster, a host of no subcluster, a
  resource list whose length is not ``numNodes``, or a job with the same ``jobId`` and
  cluster whose start time is later than 24 hours before this one (a duplicate);
- a stop applies to the running job with that ``jobId`` (and cluster and start time, when
  given) that started last; the stopped job is handed to the archiving queue unless
  monitoring is disabled for it;
- a node's scheduler state is the first of its state words that names a base state
  (allocated, reserved, idle, down, mixed), ``unknown`` otherwise; its health is ``full``
  as long as no metric store reports otherwise.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.tag import GLOBAL_SCOPE, Tag, can_write_scope
from cc_backend.domain.user import User
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.nodes import HealthState, NodeRepository, NodeStateRow, SchedulerState
from cc_backend.repository.tags import TagRepository
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.services.requests import NodeStatesRequest, StopJobRequest

__all__ = [
    "DUPLICATE_WINDOW_SECONDS",
    "ArchivingQueue",
    "JobLifecycle",
    "PendingArchiving",
    "scheduler_state",
]

log = logging.getLogger(__name__)

#: A start is a duplicate of a stored job with the same jobId and cluster that started
#: less than this many seconds before it (or after it).
DUPLICATE_WINDOW_SECONDS = 24 * 60 * 60

#: How often a stop is tried when concurrent starts keep changing the matching jobs.
_STOP_ATTEMPTS = 3

#: Scheduler state words (lower case) and the node state each stands for.
_STATE_WORDS = {
    "allocated": SchedulerState.ALLOCATED,
    "alloc": SchedulerState.ALLOCATED,
    "reserved": SchedulerState.RESERVED,
    "resv": SchedulerState.RESERVED,
    "idle": SchedulerState.IDLE,
    "down": SchedulerState.DOWN,
    "mixed": SchedulerState.MIXED,
    "mix": SchedulerState.MIXED,
}


def scheduler_state(states: Iterable[str]) -> SchedulerState:
    """The node state for a node's scheduler state words.

    Words are compared ignoring case and surrounding blanks; a word holding flags joined
    by ``+`` (``"IDLE+DRAIN"``) counts as those words in order. The first word naming a
    base state wins; flags alone (``DRAIN``, ``COMPLETING``, ``POWERED_DOWN``, ...) and an
    empty list give ``unknown``.
    """
    for entry in states:
        for word in entry.split("+"):
            found = _STATE_WORDS.get(word.strip().lower())
            if found is not None:
                return found
    return SchedulerState.UNKNOWN


class ArchivingQueue(Protocol):
    """Where stopped jobs go to be archived."""

    def enqueue(self, job: Job) -> None:
        """Take ``job`` (stopped, with its database id) for archiving; must not block long."""


class PendingArchiving:
    """A thread-safe in-memory :class:`ArchivingQueue` that only collects the jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[Job] = []

    def enqueue(self, job: Job) -> None:
        """Append ``job`` to the queue."""
        with self._lock:
            self._jobs.append(job)

    def drain(self) -> list[Job]:
        """Remove and return every queued job, oldest first."""
        with self._lock:
            jobs, self._jobs = self._jobs, []
        return jobs

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


class JobLifecycle:
    """Starts and stops jobs and records node states, as the scheduler adapter reports them."""

    def __init__(
        self,
        jobs: JobRepository,
        tags: TagRepository,
        nodes: NodeRepository,
        clusters: ClusterCatalog,
        archiving: ArchivingQueue,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.jobs = jobs
        self.tags = tags
        self.nodes = nodes
        self.clusters = clusters
        self.archiving = archiving
        self.clock = clock

    # -- start ----------------------------------------------------------------------------

    def start_job(self, job: Job, actor: User) -> Job:
        """Store ``job`` as running and attach its tags; return it as stored.

        The returned job has its database id, its subcluster (assigned from the first
        host's node list when the payload left it empty), state ``running`` and the tags
        ``actor`` may read.

        Raises :class:`InvalidInput` if the job carries a database id, its cluster or
        subcluster is unknown, its first host belongs to no subcluster or the number of
        resources differs from ``numNodes``; :class:`AlreadyExists` if the same job (same
        jobId and cluster, start within 24 hours) is stored; :class:`PermissionDenied` if
        ``actor`` may not write the scope of one of its tags (nothing is stored then);
        :class:`Conflict` if a tag's type and name are taken in another scope (the job is
        not kept then).
        """
        if job.id is not None:
            raise InvalidInput("a job to start must not have a database id ('id')")
        cluster = self._known_cluster(job.cluster)
        subcluster = self._subcluster_of(cluster, job)
        if len(job.resources) != job.num_nodes:
            raise InvalidInput(
                f"len(resources) does not equal numNodes ({len(job.resources)} vs {job.num_nodes})"
            )
        tags = list(job.tags or [])
        for tag in tags:
            if not can_write_scope(actor, tag.scope or GLOBAL_SCOPE):
                raise PermissionDenied(
                    f"{actor.username!r} may not add tags of scope {tag.scope!r} to jobs"
                )
        monitoring = job.monitoring_status
        if monitoring is not MonitoringStatus.DISABLED:
            monitoring = MonitoringStatus.RUNNING_OR_ARCHIVING
        to_store = job.model_copy(
            update={
                "sub_cluster": subcluster,
                "job_state": JobState.RUNNING,
                "monitoring_status": monitoring,
                "tags": None,
            }
        )
        db_id = self.jobs.add_unless_recent_duplicate(to_store, DUPLICATE_WINDOW_SECONDS)
        log.info(
            "new job (id %d): cluster=%s, jobId=%d, user=%s, startTime=%d",
            db_id,
            job.cluster,
            job.job_id,
            job.user,
            job.start_time,
        )
        if not tags:
            # The row holds exactly what was inserted: no need to read it back.
            return to_store.model_copy(update={"id": db_id, "tags": []})
        self._attach_new_job_tags(db_id, tags, actor)
        return self._stored(db_id, actor)

    def _attach_new_job_tags(self, db_id: int, tags: list[Tag], actor: User) -> None:
        """Create (if needed) and attach ``tags`` to the new job ``db_id``.

        On failure the job is removed again, so a start either stores the job with all its
        tags or nothing.
        """
        try:
            for item in tags:
                tag = self.tags.get_or_create(
                    item.type, item.name, item.scope or GLOBAL_SCOPE, actor
                )
                assert tag.id is not None
                self.tags.attach(db_id, tag.id, actor)
        except AlreadyExists as exc:
            self.jobs.delete([db_id])
            raise Conflict(f"cannot tag the job: {exc.message}") from exc
        except BaseException:
            self.jobs.delete([db_id])
            raise

    # -- stop -----------------------------------------------------------------------------

    def stop_job(self, request: StopJobRequest, actor: User) -> Job:
        """Mark the job ``request`` names as stopped and queue it for archiving.

        The job is the one with ``jobId`` (and cluster, and start time, when given) that is
        running and started last. Returns it as stored afterwards: final state, duration
        ``stopTime - startTime``, the tags ``actor`` may read.

        Raises :class:`InvalidInput` if ``jobId`` is missing or the state is not a final
        one; :class:`NotFound` if no such job exists; :class:`Conflict` if every such job
        has stopped already (also when a concurrent stop wins) or ``stopTime`` is before
        the job's start.
        """
        if request.job_id is None:
            raise InvalidInput("the field 'jobId' is required")
        if not request.job_state.is_final:
            raise InvalidInput(
                f"jobState {request.job_state.value!r} is not a final state "
                "(a stopped job cannot be pending, running or suspended)"
            )
        for _attempt in range(_STOP_ATTEMPTS):
            stopped = self.jobs.stop_newest_running(
                request.job_id,
                cluster=request.cluster,
                start_time=request.start_time,
                stop_time=request.stop_time,
                state=request.job_state,
            )
            if stopped is not None:
                break
            self._refuse_stop(request)
        else:
            raise Conflict(f"{self._describe(request)}: the job changed while stopping it")
        result = stopped.job.model_copy(update={"stop_time": request.stop_time})
        assert result.id is not None
        log.info(
            "stopped job (id %d): cluster=%s, jobId=%d, duration=%d, state=%s",
            result.id,
            result.cluster,
            result.job_id,
            result.duration,
            result.job_state.value,
        )
        if result.monitoring_status is not MonitoringStatus.DISABLED:
            # Only a stored stop may be archived (the stop may be part of a write batch).
            self.jobs.db.after_commit(functools.partial(self.archiving.enqueue, result))
        if not stopped.tagged:
            return result
        return self._with_readable_tags(result, actor)

    def _refuse_stop(self, request: StopJobRequest) -> None:
        """Raise the error that explains why no running job could be stopped for ``request``.

        Returns (and the stop is tried again) only when a matching running job that started
        early enough exists now, i.e. it was started while the stop was attempted.
        """
        assert request.job_id is not None
        matches = self.jobs.find(request.job_id, request.cluster, request.start_time)
        what = self._describe(request)
        running = [j for j in matches if j.job_state is JobState.RUNNING]
        if running:
            target = running[0]
            if request.stop_time < target.start_time:
                raise Conflict(
                    f"{what} (id {target.id}): stopTime {request.stop_time} must be larger "
                    f"than or equal to startTime {target.start_time}"
                )
            return
        if matches:
            newest = matches[0]
            raise Conflict(
                f"{what}: job has already been stopped "
                f"(id {newest.id}, state is: {newest.job_state.value})"
            )
        raise NotFound(f"no running job with {what}")

    # -- nodes ----------------------------------------------------------------------------

    def update_node_states(self, request: NodeStatesRequest, actor: User) -> int:
        """Record the reported state of each node of ``request``; return how many were stored.

        Each node gets one state row stamped with the time of the call; a node seen for the
        first time is created with the subcluster its host list names. Hosts that belong to
        no subcluster of the cluster are skipped (logged), as cc-backend does. A host
        reported twice counts once, with its last report.

        Raises :class:`InvalidInput` for an unknown cluster.
        """
        cluster = self._known_cluster(request.cluster)
        now = int(self.clock())
        reports: dict[str, NodeStateRow] = {}
        skipped: list[str] = []
        for payload in request.nodes:
            try:
                subcluster = cluster.subcluster_of(payload.hostname).name
            except NotFound:
                skipped.append(payload.hostname)
                continue
            reports[payload.hostname] = NodeStateRow(
                hostname=payload.hostname,
                subcluster=subcluster,
                time_stamp=now,
                node_state=scheduler_state(payload.states),
                health_state=HealthState.FULL,
                cpus_allocated=payload.cpus_allocated,
                memory_allocated=payload.memory_allocated,
                gpus_allocated=payload.gpus_allocated,
                jobs_running=payload.jobs_running,
            )
        if skipped:
            log.warning(
                "node states of cluster %s: %d host(s) of no subcluster skipped: %s",
                cluster.name,
                len(skipped),
                ", ".join(skipped[:10]),
            )
        stored = self.nodes.add_states(cluster.name, list(reports.values()))
        log.debug("node states of cluster %s: %d stored by %s", cluster.name, stored, actor)
        return stored

    # -- helpers --------------------------------------------------------------------------

    def _known_cluster(self, name: str) -> Cluster:
        try:
            return self.clusters.get(name)
        except NotFound as exc:
            raise InvalidInput(f"unknown cluster {name!r}") from exc

    @staticmethod
    def _subcluster_of(cluster: Cluster, job: Job) -> str:
        if job.sub_cluster:
            try:
                return cluster.subcluster(job.sub_cluster).name
            except NotFound as exc:
                raise InvalidInput(
                    f"unknown subcluster {job.sub_cluster!r} of cluster {cluster.name!r}"
                ) from exc
        host = job.resources[0].hostname
        try:
            return cluster.subcluster_of(host).name
        except NotFound as exc:
            raise InvalidInput(
                f"host {host!r} belongs to no subcluster of cluster {cluster.name!r}"
            ) from exc

    def _stored(self, db_id: int, actor: User | None) -> Job:
        stored = self.jobs.get(db_id)
        if actor is None:
            return stored
        return self._with_readable_tags(stored, actor)

    def _with_readable_tags(self, job: Job, actor: User) -> Job:
        assert job.id is not None
        tags = self.tags.tags_of_jobs([job.id], actor)[job.id]
        return job.model_copy(update={"tags": tags or None})

    @staticmethod
    def _describe(request: StopJobRequest) -> str:
        parts = [f"jobId {request.job_id}"]
        if request.cluster is not None:
            parts.append(f"cluster {request.cluster}")
        if request.start_time is not None:
            parts.append(f"startTime {request.start_time}")
        return ", ".join(parts)
