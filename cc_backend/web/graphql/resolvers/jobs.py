"""``job`` and ``jobs``, and the values of the ``Job`` type.

Which jobs a caller sees is the repository's visibility rule (``actor=``): a user their own
jobs, a manager also those of their projects, support, admins and pure API clients all.
The tags of a job are those the caller may read.

A job reaches the schema as a plain dict keyed by GraphQL field name
(:func:`job_values`), so the ``Job`` type has no field resolvers: graphql-core's default
resolver reads the values (the handler's executor reads plain values without calling a
resolver at all). For a job list, what costs queries is loaded for the whole page in the
same trip to the database, and only when the query selects it: the tags, the owners'
``userData``. A value not prepared that way (``concurrentJobs``, the tags and owner of a
single job, the footprints of a list that does not ask for them) is a callable in the
dict, which the default resolver calls when, and only when, the field is selected.
A list's ``count`` runs on a database connection of its own while the page is read and
completed; it is awaited as the field's value, so a failing count fails that field only.
A list that asks for neither ``items`` nor ``hasNextPage`` reads no page at all.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, TypeVar

from ariadne import ObjectType, QueryType

from cc_backend.domain.errors import PermissionDenied
from cc_backend.domain.filters import (
    JobFilter,
    OrderBy,
    PageRequest,
)
from cc_backend.domain.job import Job, SharedMode
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import Contact
from cc_backend.repository.jobs import JobPage
from cc_backend.services.concurrent_jobs import concurrent_jobs, has_concurrent_jobs
from cc_backend.web.graphql.context import GraphQLContext, Info, context_of
from cc_backend.web.graphql.resolvers.common import (
    parse_id,
    selected_fields,
    validated,
    validated_list,
)
from cc_backend.web.graphql.resolvers.users import user_data

__all__ = ["DEFAULT_PAGE", "job_type", "job_values", "query"]

T = TypeVar("T")

query = QueryType()
#: The ``Job`` type: no field resolvers, its values come from :func:`job_values`.
job_type = ObjectType("Job")

#: The page of a ``jobs`` query that names none (cc-backend's default).
DEFAULT_PAGE = PageRequest.model_validate({"itemsPerPage": 50, "page": 1})

#: What ``userData`` holds for an owner: their public data, ``None`` for an unknown user,
#: or the error the caller gets for looking them up.
OwnerValue = dict[str, str] | PermissionDenied | None


@query.field("job")
async def resolve_job(_: Any, info: Info, id: str) -> dict[str, Any]:
    context = context_of(info)
    job = await context.run(context.backends.jobs.get, parse_id(id), actor=context.user)
    return job_values(job)


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
    asked = selected_fields(info)
    with_count, with_page = "count" in asked, bool(asked & {"items", "hasNextPage"})
    fields = selected_fields(info, "items")
    with_tags, with_owners = "tags" in fields, "userData" in fields
    backends, user = context.backends, context.user

    def load() -> tuple[JobPage, dict[int, list[Tag]], dict[str, Contact | None]]:
        found = backends.jobs.query(filters, actor=user, order=ordering, page=paging)
        ids = [j.id for j in found.items if j.id is not None]
        tags = backends.tags.tags_of_jobs(ids, user) if with_tags and ids else {}
        names = {j.user for j in found.items} - context.contacts.keys() if with_owners else ()
        return found, tags, _find_contacts(context, names)

    if not with_page and ordering is not None:
        backends.jobs.check_order(ordering)  # refused even where no page is read
    # The count runs on a connection of its own while the page is read and completed; it
    # is handed over first, as it usually takes longest.
    counting = (
        _started(context.submit(backends.jobs.count, filters, actor=user)) if with_count else None
    )
    if not with_page:  # a count alone: no page to read
        return {
            "items": [],
            "offset": paging.offset,
            "limit": paging.limit,
            "count": counting,
            "hasNextPage": None,
        }
    try:
        result, tags, contacts = await context.run(load)
    except BaseException:
        if counting is not None:
            counting.cancel()
        raise
    context.job_tags.update(tags)
    context.contacts.update(contacts)
    owners = await _owner_values(context, {j.user for j in result.items}) if with_owners else {}
    items = [
        job_values(
            job,
            tags=tags.get(job.id, []) if with_tags and job.id is not None else None,
            owner=owners.get(job.user, _LAZY),
            selected=fields,
        )
        for job in (result.items if "items" in asked else ())
    ]
    return {
        "items": items,
        "offset": result.offset,
        "limit": result.limit,
        "count": counting,
        "hasNextPage": result.has_next_page,
    }


def _started(work: Awaitable[T]) -> asyncio.Future[T]:
    """``work`` running on its own; the value of a field that graphql-core awaits.

    Should the field never be completed (an error elsewhere ends the request first), a
    failure of ``work`` is dropped rather than reported as never retrieved.
    """
    future = asyncio.ensure_future(work)
    future.add_done_callback(lambda done: done.cancelled() or done.exception())
    return future


def _find_contacts(context: GraphQLContext, names: Collection[str]) -> dict[str, Contact | None]:
    """Name and e-mail of the users called ``names`` (``None`` for a name that is no
    user), in one query; blocking."""
    found = context.backends.users.contacts(names) if names else {}
    return {name: found.get(name) for name in names}


async def _owner_values(context: GraphQLContext, names: Iterable[str]) -> dict[str, OwnerValue]:
    """``userData`` of each owner in ``names``, with :func:`user_data`'s rule; the users are
    already in the request's cache, so this does not wait for the database."""
    values: dict[str, OwnerValue] = {}
    for name in names:
        try:
            values[name] = await user_data(context, name)
        except PermissionDenied as exc:
            values[name] = exc
    return values


# -- the values of the Job type ------------------------------------------------------------

#: Marks a value that is not prepared and is resolved by a callable when selected.
_LAZY: Any = object()


def job_values(
    job: Job,
    *,
    tags: list[Tag] | None = None,
    owner: OwnerValue = _LAZY,
    selected: Collection[str] | None = None,
) -> dict[str, Any]:
    """The values of the ``Job`` type for ``job``, keyed by GraphQL field name.

    ``tags`` (the tags the caller may read) and ``owner`` (the ``userData`` value) are used
    when given; otherwise those fields load on demand. ``selected`` names the fields the
    query asks for (``None``: any): resources and footprints are prepared only when asked for.
    """

    def wanted(name: str) -> bool:
        return selected is None or name in selected

    def lazy(fn: Callable[..., Any], *args: Any) -> Callable[..., Any]:
        return functools.partial(fn, *args)

    return {
        "id": str(job.id),
        "jobId": job.job_id,
        "user": job.user,
        "project": job.project,
        "cluster": job.cluster,
        "subCluster": job.sub_cluster,
        "startTime": job.start_time,
        "duration": job.duration,
        "walltime": job.walltime,
        "numNodes": job.num_nodes,
        "numHWThreads": job.num_hwthreads,
        "numAcc": job.num_acc,
        "energy": job.energy,
        "SMT": job.smt,
        "shared": SharedMode(job.shared).value,
        "partition": job.partition,
        "arrayJobId": job.array_job_id,
        "monitoringStatus": int(job.monitoring_status),
        "state": job.job_state,
        "resources": (
            resource_values(job) if wanted("resources") else lazy(_on_demand, resource_values, job)
        ),
        "metaData": job.meta_data,
        "footprint": (
            footprint_values(job.footprint)
            if wanted("footprint")
            else lazy(_on_demand, footprint_values, job.footprint)
        ),
        "energyFootprint": (
            energy_footprint_values(job.energy_footprint)
            if wanted("energyFootprint")
            else lazy(_on_demand, energy_footprint_values, job.energy_footprint)
        ),
        "tags": tags if tags is not None else lazy(_tags_of, job),
        "userData": owner if owner is not _LAZY else lazy(_user_data_of, job.user),
        "concurrentJobs": lazy(_concurrent_jobs_of, job),
    }


def _on_demand(fn: Callable[[Any], Any], value: Any, _info: Info) -> Any:
    return fn(value)


async def _tags_of(job: Job, info: Info) -> list[Tag]:
    context = context_of(info)
    if job.id is None:
        return []
    if job.id in context.job_tags:
        return context.job_tags[job.id]
    found = await context.run(context.backends.tags.tags_of_jobs, [job.id], context.user)
    context.job_tags.update(found)
    return found.get(job.id, [])


async def _user_data_of(username: str, info: Info) -> dict[str, str] | None:
    return await user_data(context_of(info), username)


async def _concurrent_jobs_of(job: Job, info: Info) -> dict[str, Any] | None:
    if not has_concurrent_jobs(job):
        return None
    context = context_of(info)
    found = await context.run(concurrent_jobs, context.backends.jobs, job, context.user)
    if found is None:
        return None
    items = [{"id": str(link.id), "jobId": link.job_id} for link in found.items]
    return {"listQuery": found.list_query, "items": items, "count": len(items)}


def resource_values(job: Job) -> list[dict[str, Any]]:
    """The nodes of ``job`` as ``Resource`` values."""
    return [
        {
            "hostname": r.hostname,
            "hwthreads": r.hwthreads,
            "accelerators": r.accelerators,
            "configuration": r.configuration,
        }
        for r in job.resources
    ]


def footprint_values(footprint: dict[str, float] | None) -> list[dict[str, Any]] | None:
    """``{name, stat, value}`` per footprint value; ``mem_used_max`` is mem_used, max."""
    if footprint is None:
        return None
    entries = []
    for key, value in footprint.items():
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


def energy_footprint_values(energy: dict[str, float] | None) -> list[dict[str, Any]] | None:
    """``{hardware, metric, value}`` per energy metric."""
    if energy is None:
        return None
    return [
        {
            "hardware": next((kind for rx, kind in _HARDWARE if rx.search(metric)), "Other"),
            "metric": metric,
            "value": value,
        }
        for metric, value in energy.items()
    ]
