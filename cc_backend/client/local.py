"""The in-process client: the site's services called directly, acting as one user.

This is what the web app's pages use when they are served by the same process as the
API. Blocking work (SQL, archive reads) runs in the event loop's default executor, so a
page never holds up the Tornado IOLoop. Visibility and role rules are the services' own,
exactly those the REST and GraphQL APIs apply.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from cc_backend.client.base import (
    DEFAULT_DURATION_BINS,
    DisplayConfig,
    JobLinks,
    JobList,
    JobsHistograms,
)
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics, ScopedStatistics
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import Role, User
from cc_backend.repository.nodes import NodeFilter, StatesOverTime
from cc_backend.services.cluster_status import (
    ClusterMetrics,
    require_node_data_role,
    state_column,
)
from cc_backend.services.concurrent_jobs import concurrent_jobs
from cc_backend.services.job_changes import ApiTag
from cc_backend.services.node_overview import (
    NodeMetricsPage,
    NodeReport,
    StateChange,
    jobs_on_node,
)
from cc_backend.services.user_admin import (
    NewUser,
    SiteNotice,
    UserAdmin,
    UserChange,
    UserSettings,
    site_token_signer,
)
from cc_backend.stats.statistics_results import (
    Footprints,
    JobsStatistics,
    JobStats,
    RooflineGrid,
)
from cc_backend.stats.stats_results import GroupBy, SortBy

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = ["DEFAULT_PAGE", "LOOKUP_ROLES", "LocalClient"]

T = TypeVar("T")

log = logging.getLogger(__name__)

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

    def prefetch_job_data(self, db_id: int) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on an event loop: nothing runs in the background
            return
        backends, user = self.backends, self.user

        def read() -> None:
            try:
                backends.job_metric_data.prefetch(backends.jobs.get(db_id, actor=user))
            except Exception:  # the page's own requests meet it again and report it
                log.debug("prefetching the data of job %s failed", db_id, exc_info=True)

        loop.run_in_executor(None, read)

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

    # -- the job view ----------------------------------------------------------------------

    async def job_scoped_stats(
        self,
        db_id: int,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
    ) -> ScopedStatistics:
        def load() -> ScopedStatistics:
            job = self.backends.jobs.get(db_id, actor=self.user)
            return self.backends.job_metric_data.load_scoped_stats(job, metrics, list(scopes))

        return await self._run(load)

    async def concurrent_jobs(self, db_id: int) -> JobLinks:
        def load() -> JobLinks:
            job = self.backends.jobs.get(db_id, actor=self.user)
            return concurrent_jobs(self.backends.jobs, job, self.user) or JobLinks()

        return await self._run(load)

    async def add_job_tags(self, db_id: int, tags: Sequence[Tag]) -> list[Tag]:
        named = [ApiTag(type=t.type, name=t.name, scope=t.scope) for t in tags]

        def add() -> list[Tag]:
            return self.backends.job_changes.add_tags(db_id, named, self.user).tags or []

        return await self._run(add)

    async def remove_job_tags(self, db_id: int, tag_ids: Sequence[int]) -> list[Tag]:
        changes = self.backends.job_changes
        return await self._run(lambda: changes.detach_tags(db_id, tag_ids, self.user))

    async def display_config(self) -> DisplayConfig:
        main = self.backends.config.main
        return DisplayConfig(
            emission_constant=main.emission_constant,
            resampling=self.backends.job_metric_data.resampling,
            short_running_seconds=main.short_running_jobs_duration,
        )

    # -- statistics, tags and administration (user, users, tags and settings pages) -------

    async def jobs_statistics(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        group_by: GroupBy | None = None,
        sort_by: SortBy | None = None,
        page: PageRequest | None = None,
    ) -> list[JobsStatistics]:
        service = self.backends.job_statistics

        def load() -> list[JobsStatistics]:
            if group_by is None:
                return [service.totals(filters, actor=self.user)]
            return service.grouped(group_by, filters, actor=self.user, sort_by=sort_by, page=page)

        return await self._run(load)

    async def jobs_histograms(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        metrics: Sequence[str] = (),
        duration_bins: str = DEFAULT_DURATION_BINS,
        metric_bins: int | None = None,
    ) -> JobsHistograms:
        service, user = self.backends.job_statistics, self.user

        def load() -> JobsHistograms:
            durations = service.duration_histogram(
                filters, actor=user, num_duration_bins=duration_bins
            )
            by_metric = service.metric_histograms(
                metrics, filters, actor=user, num_metric_bins=metric_bins
            )
            return JobsHistograms(
                duration=tuple(durations),
                num_nodes=tuple(service.value_histogram("num_nodes", filters, actor=user)),
                num_cores=tuple(service.value_histogram("num_hwthreads", filters, actor=user)),
                num_accs=tuple(service.value_histogram("num_acc", filters, actor=user)),
                metrics=tuple(by_metric),
            )

        return await self._run(load)

    async def tag_counts(self) -> dict[int, int]:
        return await self._run(self.backends.tags.counts, self.user)

    async def delete_tags(self, tags: Sequence[Tag]) -> int:
        named = [ApiTag(type=t.type, name=t.name, scope=t.scope) for t in tags]
        changes = self.backends.job_changes
        removal = await self._run(changes.remove_tags_globally, named, self.user)
        return removal.removed

    async def lookup_user(self, username: str) -> User | None:
        if username != self.user.username and not self.user.has_any_role(LOOKUP_ROLES):
            raise PermissionDenied(f"{self.user.username!r} may not look up other users")

        def find() -> User | None:
            try:
                found = self.backends.users.get(username)
            except NotFound:
                return None
            return User(username=found.username, name=found.name, email=found.email)

        return await self._run(find)

    def _user_admin(self) -> UserAdmin:
        backends = self.backends
        return UserAdmin(backends.users, site_token_signer(backends.config, backends.secrets))

    async def users(self) -> list[User]:
        found = await self._run(self._user_admin().list_users, self.user)
        return [u if u.password_hash is None else replace(u, password_hash=None) for u in found]

    async def create_user(self, form: NewUser) -> User:
        return await self._run(self._user_admin().create_user, self.user, form)

    async def change_user(self, username: str, change: UserChange) -> str:
        return await self._run(self._user_admin().change_user, self.user, username, change)

    async def delete_user(self, username: str) -> None:
        await self._run(self._user_admin().delete_user, self.user, username)

    async def set_notice(self, text: str) -> str:
        notice = SiteNotice.of_site(self.backends.config)
        return await self._run(notice.write, self.user, text)

    async def api_token(self, username: str | None = None) -> str:
        wanted = self.user.username if username is None else username
        return await self._run(self._user_admin().token_for, self.user, wanted)

    # -- job comparison ----------------------------------------------------------------------

    async def job_metric_stats(
        self, filters: Sequence[JobFilter] = (), metrics: Sequence[str] | None = None
    ) -> list[JobStats]:
        service = self.backends.job_metric_stats
        wanted = None if metrics is None else list(metrics)
        return await self._run(service.job_metric_stats, filters, actor=self.user, metrics=wanted)

    # -- analysis ----------------------------------------------------------------------------

    async def jobs_footprints(
        self, metrics: Sequence[str], filters: Sequence[JobFilter] = ()
    ) -> Footprints:
        service = self.backends.job_statistics
        return await self._run(service.footprints, list(metrics), filters, actor=self.user)

    async def roofline_heatmap(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = ()
    ) -> list[list[float]]:
        service = self.backends.roofline_heatmaps
        return await self._run(service.roofline_heatmap, grid, filters, actor=self.user)

    # -- cluster status (status dashboards) ------------------------------------------------

    async def allocated_nodes(self, cluster: str) -> dict[str, int]:
        return await self._run(self.backends.jobs.allocated_hosts, cluster)

    async def node_states_timed(
        self, cluster: str, kind: str = "node", since: int | None = None
    ) -> list[StatesOverTime]:
        require_node_data_role(self.user)
        column = state_column(kind)
        wanted = NodeFilter.model_validate(
            {"cluster": {"eq": cluster}, **({} if since is None else {"timeStart": since})}
        )
        return await self._run(self.backends.nodes.state_counts_over_time, [wanted], column)

    async def node_metric_data(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        start: int,
        stop: int,
        hosts: Sequence[str] | None = None,
    ) -> dict[str, JobData]:
        reader = self.backends.cluster_status
        return await self._run(
            reader.node_data, cluster, metrics, start=start, stop=stop, hosts=hosts, actor=self.user
        )

    async def cluster_metrics(
        self, cluster: str, metrics: Sequence[str] | None, start: int, stop: int
    ) -> ClusterMetrics:
        reader = self.backends.cluster_status
        return await self._run(
            reader.cluster_metrics, cluster, metrics, start=start, stop=stop, actor=self.user
        )

    # -- systems and node views (support and admins) ---------------------------------------

    async def node_list(
        self,
        cluster: str,
        *,
        start: int,
        stop: int,
        subcluster: str = "",
        state: str = "all",
        host_filter: str = "",
        metrics: Sequence[str] | None = None,
        page: int = 1,
        items_per_page: int = 10,
        resolution: int | None = None,
    ) -> NodeMetricsPage:
        return await self._run(
            self.backends.node_overview.node_list,
            cluster,
            actor=self.user,
            start=start,
            stop=stop,
            subcluster=subcluster,
            state=state,
            host_filter=host_filter,
            metrics=None if metrics is None else list(metrics),
            page=page,
            items_per_page=items_per_page,
            resolution=resolution or 0,
        )

    async def node_reports(
        self, cluster: str, hosts: Sequence[str] | None = None
    ) -> list[NodeReport]:
        overview = self.backends.node_overview
        return await self._run(overview.reports, cluster, actor=self.user, hosts=hosts)

    async def node_state_history(
        self, cluster: str, host: str, since: int | None = None
    ) -> list[StateChange]:
        overview = self.backends.node_overview
        return await self._run(overview.state_history, cluster, host, actor=self.user, since=since)

    async def node_jobs(self, cluster: str, host: str, start: int, stop: int) -> list[Job]:
        jobs = self.backends.jobs

        async def ask(filters: Sequence[JobFilter], order: OrderBy, page: PageRequest) -> list[Job]:
            found = await self._run(jobs.query, filters, actor=self.user, order=order, page=page)
            return found.items

        return await jobs_on_node(ask, cluster, host, start, stop, now=int(time.time()))
