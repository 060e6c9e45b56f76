"""The user view's data: one user's totals, histograms and newest jobs.

Who may open the view (:func:`user_view_access`): the user themself, support and admins
for anybody, managers for the users whose jobs they see (the jobs of their projects; the
store counts them, :attr:`UserStore.forbidden` when there are none); nobody else. Every
number covers only jobs the viewer may see: the site applies its visibility rule.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import param

from app.stores.base import Store
from app.stores.settings import HISTOGRAM_METRICS, setting
from cc_backend.client.base import DEFAULT_DURATION_BINS, JobsHistograms
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest, StringInput
from cc_backend.domain.job import Job
from cc_backend.domain.user import Role, User
from cc_backend.stats.statistics_results import JobsStatistics

__all__ = [
    "DURATION_BIN_CHOICES",
    "METRIC_BIN_CHOICES",
    "TIME_RANGES",
    "Access",
    "UserStore",
    "footprint_metrics",
    "statistics_filters",
    "user_view_access",
]

#: Start-time windows offered by the filters: label -> cc-backend's named range ("" all).
TIME_RANGES: dict[str, str] = {
    "All time": "",
    "Last 6 hours": "last6h",
    "Last 24 hours": "last24h",
    "Last 7 days": "last7d",
    "Last 30 days": "last30d",
}
#: Widths of the duration histogram's bins (cc-backend's choices).
DURATION_BIN_CHOICES = ("1m", "10m", "1h", "6h", "12h")
#: Numbers of bins of the metric histograms (cc-backend's choices).
METRIC_BIN_CHOICES = (10, 20, 50, 100)


class Access(enum.Enum):
    """Whether a viewer may open a user's view."""

    ALLOWED = "allowed"
    #: Only if the viewer sees some of the user's jobs (a manager: their projects' jobs).
    IF_JOBS_VISIBLE = "if-jobs-visible"
    DENIED = "denied"


def user_view_access(viewer: User, username: str) -> Access:
    """The rule of the user view (see the module docstring)."""
    if viewer.username == username or viewer.sees_all_jobs:
        return Access.ALLOWED
    if viewer.has_role(Role.MANAGER):
        return Access.IF_JOBS_VISIBLE
    return Access.DENIED


def statistics_filters(cluster: str = "", start_time: str = "") -> list[JobFilter]:
    """The filters of the statistics pages: one cluster (``""``: all) and a named
    start-time range (``""``: any time)."""
    filters = []
    if cluster:
        filters.append(JobFilter(cluster=StringInput(eq=cluster)))
    if start_time:
        filters.append(JobFilter.model_validate({"startTime": {"range": start_time}}))
    return filters


def footprint_metrics(clusters: list[Cluster], cluster: str = "") -> list[str]:
    """The footprint metrics of ``cluster``'s subclusters (``""``: of every cluster), in
    the order the clusters list them, each once."""
    names: dict[str, None] = {}
    for c in clusters:
        if cluster and c.name != cluster:
            continue
        for sub in c.sub_clusters:
            names.update(dict.fromkeys(c.resolved_subcluster(sub.name).footprint or []))
    return list(names)


class UserStore(Store):
    """One user's statistics for the filters ``cluster`` and ``start_time``.

    ``histogram_metrics`` picks the footprint metrics to histogram; left ``None``, the
    user's setting (``userView_histogramMetrics[:<cluster>]``) or else every footprint
    metric of the selected clusters is used. ``check_access`` makes :meth:`load` count
    the user's jobs the viewer sees first and stop with ``forbidden`` when there are none.
    """

    username = param.String(default="", doc="Whose view this is.")
    cluster = param.String(default="", doc="Only jobs of this cluster (empty: all).")
    start_time: str = param.Selector(  # type: ignore[assignment]
        default="", objects=list(TIME_RANGES.values()), doc="Named start-time range."
    )
    duration_bins: str = param.Selector(  # type: ignore[assignment]
        default=DEFAULT_DURATION_BINS, objects=list(DURATION_BIN_CHOICES), doc="Bin width."
    )
    metric_bins: int = param.Selector(  # type: ignore[assignment]
        default=10, objects=list(METRIC_BIN_CHOICES), doc="Bins per metric histogram."
    )
    histogram_metrics = param.List(
        default=None, allow_None=True, item_type=str, doc="Metrics to histogram (None: set)."
    )
    newest = param.Integer(default=10, bounds=(1, 100), doc="Newest jobs listed.")
    check_access = param.Boolean(default=False, doc="Count the visible jobs first.")

    person = param.ClassSelector(class_=User, allow_None=True, doc="Name and email.")
    totals = param.ClassSelector(class_=JobsStatistics, allow_None=True)
    histograms = param.ClassSelector(class_=JobsHistograms, allow_None=True)
    jobs = param.List(default=[], item_type=Job, doc="The newest jobs, newest first.")
    clusters = param.List(default=[], item_type=Cluster, doc="The site's clusters.")
    metric_choices = param.List(default=[], item_type=str, doc="Footprint metrics to pick.")
    shown_metrics = param.List(default=[], item_type=str, doc="The metrics histogrammed.")
    forbidden = param.Boolean(default=False, doc="The viewer may not see this user.")
    loaded = param.Boolean(default=False, doc="A load has finished.")

    def filters(self) -> list[JobFilter]:
        """The user's jobs within the selected cluster and time range."""
        mine = JobFilter(user=StringInput(eq=self.username))
        return [mine, *statistics_filters(self.cluster, self.start_time)]

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters (those of cc-backend's job list)."""
        query = {"cluster": self.cluster, "startTime": self.start_time}
        return {key: value for key, value in query.items() if value}

    async def load(self) -> None:
        """Fetch everything shown (the parts side by side); a failure of a part leaves
        its result empty and sets ``error``."""
        self.error = ""
        try:
            if self.check_access and not await self._jobs_visible():
                self.forbidden = True
                return
            clusters = await self.fetch("clusters", self.client.clusters)
            self.clusters = clusters or []
            self.metric_choices = footprint_metrics(self.clusters, self.cluster)
            chosen = self.histogram_metrics
            metrics = chosen if chosen is not None else await self._configured_metrics()
            self.shown_metrics = [m for m in metrics if m in self.metric_choices]
            person, totals, histograms, jobs = await asyncio.gather(
                self._person(), self._totals(), self._histograms(), self._newest()
            )
            self.person, self.totals, self.histograms = person, totals, histograms
            self.jobs = jobs
        finally:
            self.loaded = True

    async def _jobs_visible(self) -> bool:
        mine = [JobFilter(user=StringInput(eq=self.username))]
        count = await self.fetch(("visible", self.username), lambda: self.client.count_jobs(mine))
        return bool(count)

    async def _configured_metrics(self) -> list[str]:
        config = await self.optional(self.client.user_config, dict[str, Any]())
        chosen = setting(config, HISTOGRAM_METRICS, self.cluster)
        return list(chosen) if chosen else list(self.metric_choices)

    async def _person(self) -> User | None:
        return await self.fetch(
            ("person", self.username), lambda: self.client.lookup_user(self.username)
        )

    async def _totals(self) -> JobsStatistics | None:
        filters = self.filters()
        found = await self.fetch(
            ("totals", *self._key()), lambda: self.client.jobs_statistics(filters)
        )
        return found[0] if found else None

    async def _histograms(self) -> JobsHistograms | None:
        filters, metrics = self.filters(), list(self.shown_metrics)
        options: dict[str, Any] = {
            "metrics": metrics,
            "duration_bins": self.duration_bins,
            "metric_bins": self.metric_bins,
        }
        key = ("histograms", *self._key(), tuple(metrics), self.duration_bins, self.metric_bins)
        return await self.fetch(key, lambda: self.client.jobs_histograms(filters, **options))

    async def _newest(self) -> list[Job]:
        filters = self.filters()
        order = OrderBy.model_validate({"field": "start_time", "order": "DESC"})
        page = PageRequest.model_validate({"itemsPerPage": self.newest, "page": 1})
        found = await self.fetch(
            ("jobs", *self._key(), self.newest),
            lambda: self.client.jobs(filters, order=order, page=page),
        )
        return found.items if found is not None else []

    def _key(self) -> tuple[str, str, str]:
        return (self.username, self.cluster, self.start_time)
