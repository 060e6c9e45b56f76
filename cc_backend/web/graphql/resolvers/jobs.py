"""``job`` and ``jobs``, and the fields of the ``Job`` type.

Which jobs a caller sees is the repository's visibility rule (``actor=``): a user their own
jobs, a manager also those of their projects, support, admins and pure API clients all.
The tags of a job are those the caller may read; for a job list they are loaded for the
whole page in one query.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from ariadne import ObjectType, QueryType

from cc_backend.domain.filters import (
    JobFilter,
    OrderBy,
    PageRequest,
    SortDirection,
    StringInput,
    TimeRange,
)
from cc_backend.domain.job import Job, JobState, SharedMode
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.repository.jobs import JobPage, JobRepository
from cc_backend.web.graphql.context import Info, context_of
from cc_backend.web.graphql.resolvers.common import parse_id, selects, validated, validated_list
from cc_backend.web.graphql.resolvers.users import user_data

__all__ = ["DEFAULT_PAGE", "concurrent_jobs", "job_type", "query"]

query = QueryType()
job_type = ObjectType("Job")

#: The page of a ``jobs`` query that names none (cc-backend's default).
DEFAULT_PAGE = PageRequest.model_validate({"itemsPerPage": 50, "page": 1})

#: Shared jobs shorter than this have no concurrent jobs listed (cc-backend's rule).
CONCURRENT_MIN_DURATION = 600
#: Slack at the start and end of a job when looking for jobs that overlap it (seconds).
_OVERLAP_START, _OVERLAP_END = 10, 200


@query.field("job")
async def resolve_job(_: Any, info: Info, id: str) -> Job:
    context = context_of(info)
    return await context.run(context.backends.jobs.get, parse_id(id), actor=context.user)


@query.field("jobs")
async def resolve_jobs(
    _: Any,
    info: Info,
    filter: list[dict[str, Any]] | None = None,
    page: dict[str, Any] | None = None,
    order: dict[str, Any] | None = None,
) -> dict[str, Any]:
    context = context_of(info)
    filters = validated_list(JobFilter, filter, "filter")
    paging = validated(PageRequest, page, "page") if page is not None else DEFAULT_PAGE
    ordering = validated(OrderBy, order, "order") if order is not None else None
    with_count = selects(info, "count")
    with_tags = selects(info, "items.tags")
    backends, user = context.backends, context.user

    def load() -> tuple[JobPage, dict[int, list[Tag]]]:
        found = backends.jobs.query(
            filters, actor=user, order=ordering, page=paging, with_count=with_count
        )
        ids = [j.id for j in found.items if j.id is not None]
        tags = backends.tags.tags_of_jobs(ids, user) if with_tags and ids else {}
        return found, tags

    result, tags = await context.run(load)
    context.job_tags.update(tags)
    return {
        "items": result.items,
        "offset": result.offset,
        "limit": result.limit,
        "count": result.count,
        "hasNextPage": result.has_next_page,
    }


# -- the Job type -------------------------------------------------------------------------

# user, project, cluster, duration, walltime, energy and partition share their names.
for _graphql, _python in (
    ("jobId", "job_id"),
    ("subCluster", "sub_cluster"),
    ("startTime", "start_time"),
    ("numNodes", "num_nodes"),
    ("numHWThreads", "num_hwthreads"),
    ("numAcc", "num_acc"),
    ("SMT", "smt"),
    ("arrayJobId", "array_job_id"),
    ("state", "job_state"),
    ("metaData", "meta_data"),
):
    job_type.set_alias(_graphql, _python)


@job_type.field("id")
def resolve_id(job: Job, _info: Info) -> str:
    return str(job.id)


@job_type.field("shared")
def resolve_shared(job: Job, _info: Info) -> str:
    return SharedMode(job.shared).value


@job_type.field("monitoringStatus")
def resolve_monitoring_status(job: Job, _info: Info) -> int:
    return int(job.monitoring_status)


@job_type.field("tags")
async def resolve_tags(job: Job, info: Info) -> list[Tag]:
    context = context_of(info)
    if job.id is None:
        return []
    if job.id in context.job_tags:
        return context.job_tags[job.id]
    found = await context.run(context.backends.tags.tags_of_jobs, [job.id], context.user)
    context.job_tags.update(found)
    return found.get(job.id, [])


@job_type.field("footprint")
def resolve_footprint(job: Job, _info: Info) -> list[dict[str, Any]] | None:
    """``{name, stat, value}`` per footprint value; ``mem_used_max`` is mem_used, max."""
    if job.footprint is None:
        return None
    entries = []
    for key, value in job.footprint.items():
        name, _, stat = key.rpartition("_")
        entries.append({"name": name, "stat": stat, "value": value})
    return entries


#: Which hardware an energy metric measures, judged by its name (first match wins).
_HARDWARE = (
    (re.compile("cpu", re.IGNORECASE), "CPU"),
    (re.compile("acc", re.IGNORECASE), "Accelerator"),
    (re.compile("mem", re.IGNORECASE), "Memory"),
    (re.compile("core", re.IGNORECASE), "Core"),
)


@job_type.field("energyFootprint")
def resolve_energy_footprint(job: Job, _info: Info) -> list[dict[str, Any]] | None:
    if job.energy_footprint is None:
        return None
    return [
        {
            "hardware": next((kind for rx, kind in _HARDWARE if rx.search(metric)), "Other"),
            "metric": metric,
            "value": value,
        }
        for metric, value in job.energy_footprint.items()
    ]


@job_type.field("userData")
async def resolve_user_data(job: Job, info: Info) -> dict[str, str] | None:
    return await user_data(context_of(info), job.user)


@job_type.field("concurrentJobs")
async def resolve_concurrent_jobs(job: Job, info: Info) -> dict[str, Any] | None:
    if SharedMode(job.shared) is SharedMode.NONE or job.duration <= CONCURRENT_MIN_DURATION:
        return None
    context = context_of(info)
    return await context.run(concurrent_jobs, context.backends.jobs, job, context.user)


def concurrent_jobs(
    jobs: JobRepository, job: Job, actor: User, now: float | None = None
) -> dict[str, Any]:
    """The jobs ``actor`` may see that shared the first node of ``job`` while it ran.

    cc-backend's rule: a finished job counts if it started in the job's run (10 s after its
    start to 200 s before its end), ended in it (200 s after its start to 200 s before its
    end), or spans it; a running job if it started in the run or before the job. Finished
    jobs are listed first, each group by database id. ``listQuery`` is the job list URL
    query selecting them.
    """
    start = job.start_time
    stop = int(now if now is not None else time.time())
    if job.job_state is not JobState.RUNNING:
        stop = start + job.duration
    tail_start, tail_stop, front = start + _OVERLAP_START, stop - _OVERLAP_END, start + _OVERLAP_END
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

    found = [c for c in candidates if c.id != job.id and overlaps(c)]
    found.sort(key=lambda c: (c.job_state is JobState.RUNNING, c.id or 0))
    links = [{"id": str(c.id), "jobId": c.job_id} for c in found]
    list_query = "&".join([f"cluster={job.cluster}", *(f"jobId={c.job_id}" for c in found)])
    return {"listQuery": list_query, "items": links, "count": len(links)}
