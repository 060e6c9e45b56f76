"""The jobs that shared a node with a job while it ran (cc-backend's ``concurrentJobs``).

One rule for the GraphQL field ``Job.concurrentJobs`` and the web app's job view: only a
job that shares its nodes (``shared`` other than ``none``) and ran longer than
:data:`CONCURRENT_MIN_DURATION` has concurrent jobs. Those are the jobs the caller may
see on the job's first node that, as cc-backend decides it, overlapped its run:

* a finished job that started in the run (from 10 s after its start to 200 s before its
  end), ended in it (from 200 s after its start to 200 s before its end), or spans it;
* a running job that started in the run or before the job.

The slack keeps jobs that merely followed each other on a node (the scheduler's
hand-over) out of the list.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cc_backend.domain.filters import JobFilter, OrderBy, SortDirection, StringInput, TimeRange
from cc_backend.domain.job import Job, JobState, SharedMode
from cc_backend.domain.user import User
from cc_backend.repository.jobs import JobRepository

__all__ = [
    "CONCURRENT_MIN_DURATION",
    "JobLink",
    "JobLinks",
    "concurrent_jobs",
    "has_concurrent_jobs",
]

#: Shared jobs that ran no longer than this (seconds) have no concurrent jobs listed.
CONCURRENT_MIN_DURATION = 600
#: Slack at the start and at the end of a job's run (seconds).
_OVERLAP_START, _OVERLAP_END = 10, 200


@dataclass(frozen=True)
class JobLink:
    """A job named by its database id and its scheduler's job id."""

    id: int
    job_id: int


@dataclass(frozen=True)
class JobLinks:
    """Jobs related to another one, and the job list query (``cluster=..&jobId=..``)
    that selects them."""

    items: list[JobLink] = field(default_factory=list)
    list_query: str = ""


def has_concurrent_jobs(job: Job) -> bool:
    """Whether ``job`` can have concurrent jobs: it shares its nodes and ran longer than
    :data:`CONCURRENT_MIN_DURATION`."""
    return SharedMode(job.shared) is not SharedMode.NONE and job.duration > CONCURRENT_MIN_DURATION


def concurrent_jobs(
    jobs: JobRepository, job: Job, actor: User, now: float | None = None
) -> JobLinks | None:
    """The jobs ``actor`` may see that shared the first node of ``job`` while it ran
    (see the module docstring); ``None`` for a job that cannot have any
    (:func:`has_concurrent_jobs`). Finished jobs come first, each group by database id.

    ``now`` (Unix seconds; default: the clock) ends the run of a job still running.
    """
    if not has_concurrent_jobs(job):
        return None
    start = job.start_time
    stop = int(now if now is not None else time.time())
    if job.job_state is not JobState.RUNNING:
        stop = start + job.duration
    tail_start, tail_stop = start + _OVERLAP_START, stop - _OVERLAP_END
    front = start + _OVERLAP_END
    candidates = jobs.query(
        [
            JobFilter(
                cluster=StringInput(eq=job.cluster),
                node=StringInput(eq=job.resources[0].hostname),
                start_time=TimeRange(to=datetime.fromtimestamp(max(tail_stop, start), UTC)),
            )
        ],
        actor=actor,
        order=OrderBy(field="id", type="col", order=SortDirection.ASC),
    ).items

    def overlaps(other: Job) -> bool:
        began = other.start_time
        if other.job_state is JobState.RUNNING:
            return tail_start <= began <= tail_stop or began < start
        ended = began + other.duration
        return (
            tail_start <= began <= tail_stop
            or front <= ended <= tail_stop
            or (began < start and ended > stop)
        )

    found = [c for c in candidates if c.id is not None and c.id != job.id and overlaps(c)]
    found.sort(key=lambda c: (c.job_state is JobState.RUNNING, c.id or 0))
    links = [JobLink(c.id or 0, c.job_id) for c in found]
    list_query = "&".join([f"cluster={job.cluster}", *(f"jobId={c.job_id}" for c in found)])
    return JobLinks(links, list_query)
