"""The client contract: what the web app and notebooks may ask of a site.

One :class:`Client` protocol, two implementations with the same behaviour:

- :class:`~cc_backend.client.local.LocalClient` calls the site's services in the same
  process, acting as one :class:`~cc_backend.domain.user.User` (the web app's pages);
- :class:`~cc_backend.client.http.HttpClient` talks to a running server over its GraphQL
  and REST API with an API token (notebooks, scripts).

Every method is a coroutine, except the hint :meth:`Client.prefetch_job_data`. Results are
the domain's types (:class:`Job`, :class:`Cluster`, :class:`Tag`, :class:`JobData`, ...),
so code written against one implementation runs against the other. Failures are the
domain's errors (:mod:`cc_backend.domain.errors`): :class:`NotFound` for a job that does
not exist *or* that the acting user may not see, :class:`PermissionDenied` for a role that
is missing, :class:`InvalidInput` for a malformed filter, :class:`Unauthenticated` for a
refused token, :class:`BackendUnavailable` when the server cannot be reached, and
:class:`NotSupported` for the few questions that only the in-process client can answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import CCError
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics, ScopedStatistics
from cc_backend.domain.tag import Tag
from cc_backend.metricdata.resample import ResamplingPolicy
from cc_backend.repository.nodes import StatesOverTime
from cc_backend.services.cluster_status import ClusterMetrics
from cc_backend.services.concurrent_jobs import JobLink, JobLinks
from cc_backend.services.node_overview import NodeMetricsPage, NodeReport, StateChange
from cc_backend.stats.statistics_results import (
    Footprints,
    JobsStatistics,
    JobStats,
    MetricHistoPoints,
    RooflineGrid,
)
from cc_backend.stats.stats_results import GroupBy, HistoPoint, SortBy

if TYPE_CHECKING:
    from cc_backend.domain.user import User
    from cc_backend.services.user_admin import NewUser, UserChange

__all__ = [
    "DEFAULT_DURATION_BINS",
    "Client",
    "DisplayConfig",
    "JobLink",
    "JobLinks",
    "JobList",
    "JobsHistograms",
    "NotSupported",
]

#: Width of the duration histogram's bins when none is named (cc-backend's API default).
DEFAULT_DURATION_BINS = "1h"


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

    def prefetch_job_data(self, db_id: int) -> None:
        """Start reading job ``db_id``'s metric data in the background, so that the
        :meth:`job_metrics` and :meth:`job_stats` asked for next find it read. Returns at
        once and never fails: what goes wrong is reported by those calls. A hint only; a
        client that cannot act on it ignores it."""
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

    # -- the job view ----------------------------------------------------------------------

    async def job_scoped_stats(
        self,
        db_id: int,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
    ) -> ScopedStatistics:
        """Average, minimum and maximum of every series of ``metrics`` (``None``: all) at
        ``scopes``: metric -> scope -> one entry per host (and scope id)."""
        ...

    async def concurrent_jobs(self, db_id: int) -> JobLinks:
        """The jobs the user may see that shared a node with job ``db_id`` while it ran
        (none for jobs that had their nodes to themselves or ran only briefly)."""
        ...

    async def add_job_tags(self, db_id: int, tags: Sequence[Tag]) -> list[Tag]:
        """Attach ``tags`` (by type, name and scope; missing ones are created) to job
        ``db_id``; the job's tags afterwards. :class:`PermissionDenied` for a scope the
        user may not write, changing nothing."""
        ...

    async def remove_job_tags(self, db_id: int, tag_ids: Sequence[int]) -> list[Tag]:
        """Detach the tags ``tag_ids`` from job ``db_id``; the job's tags afterwards.
        :class:`NotFound` for a tag the user may not read, :class:`PermissionDenied` for
        one whose scope the user may not write, changing nothing."""
        ...

    async def display_config(self) -> DisplayConfig:
        """The site's settings for showing jobs: CO2 per kWh and the resampling policy of
        metric plots (:class:`NotSupported` where the server offers no route for them)."""
        ...

    # -- statistics, tags and administration (user, users, tags and settings pages) -------

    async def jobs_statistics(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        group_by: GroupBy | None = None,
        sort_by: SortBy | None = None,
        page: PageRequest | None = None,
    ) -> list[JobsStatistics]:
        """Totals over the jobs matching all ``filters`` that the user may see: one row
        (``id`` empty) without ``group_by``, else one row per user, project, cluster or
        subcluster with jobs, sorted by ``sort_by`` (largest first; ties and no sort by
        ``id``) and paged by ``page``. A user row's ``name`` is the user's display name.
        Over HTTP the ``*_seconds`` sums are whole hours (the API's precision): the
        ``total_*`` hour properties are the same from both clients."""
        ...

    async def jobs_histograms(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        metrics: Sequence[str] = (),
        duration_bins: str = DEFAULT_DURATION_BINS,
        metric_bins: int | None = None,
    ) -> JobsHistograms:
        """How the matching jobs the user may see are distributed: by duration (bins of
        ``duration_bins``: ``1m``, ``10m``, ``1h``, ``6h``, ``12h`` or ``24h``), by number
        of nodes, hardware threads and accelerators, and by the footprint value of each
        of ``metrics`` (``metric_bins`` bins up to the metric's peak, 10 by default).
        :class:`InvalidInput` for an unknown bin width or a metric without a footprint."""
        ...

    async def tag_counts(self) -> dict[int, int]:
        """Per tag the user may read (by id): how many of the jobs they may see carry it
        (tags on none of them count 0)."""
        ...

    async def delete_tags(self, tags: Sequence[Tag]) -> int:
        """Delete the global and admin tags among ``tags`` (named by type, name and
        scope) with their links to jobs; private tags are skipped. Returns how many were
        deleted. Deletes nothing and raises :class:`NotFound` for a tag that does not
        exist, :class:`PermissionDenied` for one the user may not write (admins may)."""
        ...

    async def lookup_user(self, username: str) -> User | None:
        """``username`` with their name and email only (no roles or projects), ``None``
        if there is no such user. Anybody may look up themselves; managers, support and
        admins anybody (:class:`PermissionDenied` otherwise)."""
        ...

    async def users(self) -> list[User]:
        """Every user with roles, projects, name and email (no password); admins only."""
        ...

    async def create_user(self, form: NewUser) -> User:
        """Create the user that ``form`` describes (cc-backend's form rules); admins only.
        :class:`InvalidInput` for a refused form, :class:`Conflict` for a taken name."""
        ...

    async def change_user(self, username: str, change: UserChange) -> str:
        """Apply the first change ``change`` names (add or remove a role or project) to
        ``username``; cc-backend's success message. Admins only."""
        ...

    async def delete_user(self, username: str) -> None:
        """Delete ``username`` and their settings; admins only."""
        ...

    async def set_notice(self, text: str) -> str:
        """Replace the site notice (empty: none); cc-backend's success message. Admins
        only; :class:`InvalidInput` for a text over cc-backend's limit."""
        ...

    async def api_token(self, username: str | None = None) -> str:
        """A signed API token (JWT) for ``username`` (``None``: the user themself) with
        that user's roles and projects; admins may ask for anybody, others only for
        themselves (:class:`PermissionDenied`). :class:`ConfigError` when the site has
        no signing key."""
        ...

    # -- job comparison ----------------------------------------------------------------------

    async def job_metric_stats(
        self, filters: Sequence[JobFilter] = (), metrics: Sequence[str] | None = None
    ) -> list[JobStats]:
        """Every matching job the user may see, by start time, with the job-wide
        minimum, average and maximum of ``metrics`` (``None``: every metric there are
        statistics of), all in one answer (GraphQL's ``jobsMetricStats``). A job without
        archived statistics (a running one) comes with empty ``stats``. Unbounded:
        callers limit the jobs with their filters (e.g. ``dbId``)."""
        ...

    # -- cluster status (status dashboards); node data is for support and admins ---------

    async def allocated_nodes(self, cluster: str) -> dict[str, int]:
        """Per subcluster of ``cluster`` with running jobs: how many distinct nodes those
        jobs occupy (GraphQL's ``allocatedNodes``)."""
        ...

    async def node_states_timed(
        self, cluster: str, kind: str = "node", since: int | None = None
    ) -> list[StatesOverTime]:
        """Per scheduler state (``kind`` ``"node"``) or health state (``"health"``): how
        many nodes of ``cluster`` reported it at each report time after ``since`` (Unix
        seconds; ``None``: all), oldest first (GraphQL's ``nodeStatesTimed``).
        :class:`InvalidInput` for another ``kind``; support and admins only."""
        ...

    async def node_metric_data(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        start: int,
        stop: int,
        hosts: Sequence[str] | None = None,
    ) -> dict[str, JobData]:
        """Per host of ``cluster`` (``hosts``; ``None``: every host with data): its
        node-scope series of ``metrics`` (``None``: all) from ``start`` to ``stop`` (Unix
        seconds), independent of jobs (GraphQL's ``nodeMetrics``). Support and admins
        only; :class:`NotFound` for an unknown cluster."""
        ...

    async def cluster_metrics(
        self, cluster: str, metrics: Sequence[str] | None, start: int, stop: int
    ) -> ClusterMetrics:
        """The series of all nodes of ``cluster`` combined per metric, summed or averaged
        by the metric's aggregation, from ``start`` to ``stop`` (GraphQL's
        ``clusterMetrics``). Support and admins only."""
        ...

    # -- analysis ----------------------------------------------------------------------------

    async def jobs_footprints(
        self, metrics: Sequence[str], filters: Sequence[JobFilter] = ()
    ) -> Footprints:
        """Every matching job's average of each of ``metrics`` (NaN where a job has none)
        and its time weights, aligned, over all matching jobs the user may see that have
        metric data (GraphQL's ``jobsFootprints``, without a job limit).
        :class:`InvalidInput` for a malformed metric name."""
        ...

    async def roofline_heatmap(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = ()
    ) -> list[list[float]]:
        """How many node time steps of the matching jobs the user may see fall into each
        tile of ``grid`` (GraphQL's ``rooflineHeatmap``): ``grid.rows`` lists of
        ``grid.cols`` counts, row 0 the lowest flop rates; x is the arithmetic intensity
        (``flops_any / mem_bw``), y the flop rate, both on log scales. Counted from the
        statistics index, so running jobs and jobs not yet indexed are left out.
        :class:`InvalidInput` for a grid without tiles or with bounds that are not
        positive and increasing."""
        ...

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
        """One page of the configured nodes of ``cluster`` (of ``subcluster``, if given),
        sorted by host name, whose name contains ``host_filter`` and whose latest state
        matches ``state`` (``all``, a scheduler state, or ``notindb`` for nodes the
        scheduler never reported), each with its node-scope series of ``metrics``
        (``None``: all) from ``start`` to ``stop`` (GraphQL's ``nodeMetricsList``;
        ``resolution``: seconds per point, ``None`` native). :class:`NotFound` for an
        unknown cluster or subcluster, :class:`InvalidInput` for an unknown state filter."""
        ...

    async def node_reports(
        self, cluster: str, hosts: Sequence[str] | None = None
    ) -> list[NodeReport]:
        """The latest scheduler report (states, allocated cpus, memory and gpus, running
        jobs) of each node of ``cluster`` (of ``hosts``, if given) that was ever reported,
        by host name (GraphQL's ``nodes``)."""
        ...

    async def node_state_history(
        self, cluster: str, host: str, since: int | None = None
    ) -> list[StateChange]:
        """Every scheduler state that ``host`` of ``cluster`` reported after ``since``
        (Unix seconds; ``None``: all), oldest first."""
        ...

    async def node_jobs(self, cluster: str, host: str, start: int, stop: int) -> list[Job]:
        """The jobs the user may see that ran on ``host`` of ``cluster`` at some time from
        ``start`` to ``stop`` (Unix seconds), by start time."""
        ...


@dataclass(frozen=True)
class DisplayConfig:
    """How the site shows jobs: ``emission_constant`` (g CO2 per kWh; ``None``: no
    estimate), the ``resampling`` policy of metric plots (``None``: off) and
    ``short_running_seconds``, the site's ``short-running-jobs-duration``: job lists leave
    out jobs that started less than this long ago unless the user asks for them
    (0: they show every job)."""

    emission_constant: float | None = None
    resampling: ResamplingPolicy | None = None
    short_running_seconds: int = 0


@dataclass(frozen=True)
class JobsHistograms:
    """Distributions of a set of jobs (cc-backend's histograms of ``jobsStatistics``):
    jobs per duration bin (``value``: the bin's upper end in seconds; every bin), per
    number of nodes, hardware threads and accelerators (``value``: the number; values
    without jobs left out) and per footprint-value bin of each metric asked for."""

    duration: tuple[HistoPoint, ...] = ()
    num_nodes: tuple[HistoPoint, ...] = ()
    num_cores: tuple[HistoPoint, ...] = ()
    num_accs: tuple[HistoPoint, ...] = ()
    metrics: tuple[MetricHistoPoints, ...] = ()
