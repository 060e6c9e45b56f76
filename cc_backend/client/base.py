"""The client contract: what the web app and notebooks may ask of a site.

One :class:`Client` protocol, two implementations with the same behaviour:

- :class:`~cc_backend.client.local.LocalClient` calls the site's services in the same
  process, acting as one :class:`~cc_backend.domain.user.User` (the web app's pages);
- :class:`~cc_backend.client.http.HttpClient` talks to a running server over its GraphQL
  and REST API with an API token (notebooks, scripts).

Every method is a coroutine. Results are the domain's types (:class:`Job`,
:class:`Cluster`, :class:`Tag`, :class:`JobData`, ...), so code written against one
implementation runs against the other. Failures are the domain's errors
(:mod:`cc_backend.domain.errors`): :class:`NotFound` for a job that does not exist *or*
that the acting user may not see, :class:`PermissionDenied` for a role that is missing,
:class:`InvalidInput` for a malformed filter, :class:`Unauthenticated` for a refused token,
:class:`BackendUnavailable` when the server cannot be reached, and :class:`NotSupported`
for the few questions that only the in-process client can answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import CCError
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics
from cc_backend.domain.tag import Tag

__all__ = ["Client", "JobList", "NotSupported"]


class NotSupported(CCError):
    """The question cannot be asked through this client (e.g. the server's API offers no
    route for it); the in-process client answers every question."""

    code = "NOT_SUPPORTED"


@dataclass(frozen=True)
class JobList:
    """One page of a job list.

    ``items`` carry the tags the acting user may read (``Job.tags``, ``None`` for none).
    ``count`` is the number of matching jobs over all pages, set only when it was asked
    for; ``has_next_page`` is exact.
    """

    items: list[Job]
    has_next_page: bool
    count: int | None = None
    #: The filters the list was made with (for links and exports).
    filters: tuple[JobFilter, ...] = field(default=(), repr=False)


@runtime_checkable
class Client(Protocol):
    """What a page or a notebook may ask of a site, as one user (see the module docstring)."""

    async def jobs(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        order: OrderBy | None = None,
        page: PageRequest | None = None,
        with_count: bool = False,
    ) -> JobList:
        """The jobs matching all ``filters`` that the user may see, one ``page`` of them
        (default: the first 50), ordered by ``order`` (default: newest start first)."""
        ...

    async def count_jobs(self, filters: Sequence[JobFilter] = ()) -> int:
        """How many jobs match all ``filters`` among those the user may see."""
        ...

    async def job(self, db_id: int) -> Job:
        """The job with database id ``db_id``, with the user's tags; :class:`NotFound` if
        there is none or the user may not see it."""
        ...

    async def job_metrics(
        self,
        db_id: int,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
        resolution: int | None = None,
    ) -> JobData:
        """The job's series of ``metrics`` (``None``: all) at ``scopes``, from the metric
        store while it runs and from the archive after. ``resolution`` is seconds per
        point (``None``: the site's first-load resolution, ``0``: native)."""
        ...

    async def job_stats(
        self, db_id: int, metrics: Sequence[str] | None = None
    ) -> dict[str, MetricStatistics]:
        """Job-wide average, minimum and maximum per metric (``None``: all metrics)."""
        ...

    async def clusters(self) -> list[Cluster]:
        """Every cluster of the site, by name."""
        ...

    async def tags(self) -> list[Tag]:
        """The tags the user may read."""
        ...

    async def user_config(self) -> dict[str, Any]:
        """The user's own interface settings (key -> JSON value)."""
        ...

    async def set_user_config(self, key: str, value: Any) -> None:
        """Store one interface setting of the user; ``value`` must have a JSON form."""
        ...

    async def notice(self) -> str:
        """The site notice shown on the home page (empty if there is none)."""
        ...

    async def find_users(self, name_part: str) -> list[str]:
        """User names of the people whose full name contains ``name_part`` (any case);
        managers, support and admins only (:class:`PermissionDenied` otherwise)."""
        ...
