"""The in-process client: the site's services called directly, acting as one user.

This is what the web app's pages use when they are served by the same process as the
API. Blocking work (SQL, archive reads) runs in the event loop's default executor, so a
page never holds up the Tornado IOLoop. Visibility and role rules are the services' own,
exactly those the REST and GraphQL APIs apply.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from cc_backend.client.base import JobList
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import InvalidInput, PermissionDenied
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import Role, User
from cc_backend.services.user_admin import SiteNotice, UserSettings

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = ["DEFAULT_PAGE", "LOOKUP_ROLES", "LocalClient"]

T = TypeVar("T")

#: The page of a job list that names none (as the GraphQL ``jobs`` query).
DEFAULT_PAGE = PageRequest.model_validate({"itemsPerPage": 50, "page": 1})
#: Roles that may look other people up.
LOOKUP_ROLES = (Role.ADMIN, Role.SUPPORT, Role.MANAGER)


class LocalClient:
    """:class:`~cc_backend.client.base.Client` over ``backends``, acting as ``user``."""

    def __init__(self, backends: Backends, user: User) -> None:
        self.backends = backends
        self.user = user

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    # -- jobs ----------------------------------------------------------------------------

    async def jobs(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        order: OrderBy | None = None,
        page: PageRequest | None = None,
        with_count: bool = False,
    ) -> JobList:
        def load() -> JobList:
            found = self.backends.jobs.query(
                filters,
                actor=self.user,
                order=order,
                page=page or DEFAULT_PAGE,
                with_count=with_count,
            )
            return JobList(
                self._with_tags(found.items), found.has_next_page, found.count, tuple(filters)
            )

        return await self._run(load)

    async def count_jobs(self, filters: Sequence[JobFilter] = ()) -> int:
        return await self._run(self.backends.jobs.count, filters, actor=self.user)

    async def job(self, db_id: int) -> Job:
        def load() -> Job:
            return self._with_tags([self.backends.jobs.get(db_id, actor=self.user)])[0]

        return await self._run(load)

    def _with_tags(self, jobs: list[Job]) -> list[Job]:
        ids = [j.id for j in jobs if j.id is not None]
        tags = self.backends.tags.tags_of_jobs(ids, self.user) if ids else {}
        return [j.model_copy(update={"tags": tags.get(j.id or -1) or None}) for j in jobs]

    # -- metric data ---------------------------------------------------------------------

    async def job_metrics(
        self,
        db_id: int,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
        resolution: int | None = None,
    ) -> JobData:
        if resolution is not None and resolution < 0:
            raise InvalidInput(f"resolution must not be negative, got {resolution}")

        def load() -> JobData:
            backends = self.backends
            job = backends.jobs.get(db_id, actor=self.user)
            return backends.job_metric_data.load(job, metrics, list(scopes), resolution)

        return await self._run(load)

    async def job_stats(
        self, db_id: int, metrics: Sequence[str] | None = None
    ) -> dict[str, MetricStatistics]:
        def load() -> dict[str, MetricStatistics]:
            backends = self.backends
            job = backends.jobs.get(db_id, actor=self.user)
            cluster = backends.clusters.get(job.cluster)
            subcluster = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
            units = {m.name: m.unit for m in cluster.metrics_for(subcluster)}
            stats = backends.job_metric_data.job_stats(job, metrics, units)
            return {
                name: MetricStatistics(avg=s.avg, min=s.min, max=s.max) for name, s in stats.items()
            }

        return await self._run(load)

    # -- site ----------------------------------------------------------------------------

    async def clusters(self) -> list[Cluster]:
        catalog = self.backends.clusters
        return await self._run(lambda: [catalog.get(name) for name in catalog.names()])

    async def tags(self) -> list[Tag]:
        return await self._run(self.backends.tags.list, self.user)

    async def notice(self) -> str:
        return await self._run(SiteNotice.of_site(self.backends.config).read)

    # -- the user ------------------------------------------------------------------------

    async def user_config(self) -> dict[str, Any]:
        return await self._run(self.backends.user_config.get_all, self.user.username)

    async def set_user_config(self, key: str, value: Any) -> None:
        try:
            text = orjson.dumps(value).decode()
        except TypeError as exc:
            raise InvalidInput(f"setting {key[:80]!r} has no JSON form: {exc}") from None
        settings = UserSettings(self.backends.user_config)
        await self._run(settings.update, self.user, key, text)

    async def find_users(self, name_part: str) -> list[str]:
        if not self.user.has_any_role(LOOKUP_ROLES):
            raise PermissionDenied("looking up other users needs the role manager or higher")
        wanted = name_part.strip().casefold()

        def load() -> list[str]:
            return [
                u.username
                for u in self.backends.users.list()
                if wanted and wanted in u.name.casefold()
            ]

        return await self._run(load)
