"""The users and projects lists' data: job totals per user or per project.

One store serves both lists (``group_by``). The totals are the site's
``jobsStatistics`` grouped by user or project over the jobs the viewer may see, for one
cluster (or all) and a start-time range (the last 30 days unless the URL says otherwise,
as cc-backend's lists). ``name_filter`` narrows the rows shown without asking the site.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import param

from app.stores.base import Store
from app.stores.user import TIME_RANGES, statistics_filters
from cc_backend.client import Client
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.filters import JobFilter
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy, SortBy

__all__ = ["DEFAULT_TIME_RANGE", "GroupListStore"]

#: The start-time range of a list opened without one (cc-backend's lists: 30 days).
DEFAULT_TIME_RANGE = "last30d"


class GroupListStore(Store):
    """Totals per user or project (``rows``, most jobs first)."""

    group_by: GroupBy = param.Selector(  # type: ignore[assignment]
        default=GroupBy.USER, objects=[GroupBy.USER, GroupBy.PROJECT], doc="Users or projects."
    )
    cluster = param.String(default="", doc="Only jobs of this cluster (empty: all).")
    start_time: str = param.Selector(  # type: ignore[assignment]
        default=DEFAULT_TIME_RANGE, objects=list(TIME_RANGES.values()), doc="Named range."
    )
    name_filter = param.String(default="", doc="Show rows whose id or name contains this.")

    rows = param.List(default=[], item_type=JobsStatistics, doc="One row per group.")
    clusters = param.List(default=[], item_type=Cluster, doc="The site's clusters.")
    loaded = param.Boolean(default=False, doc="A load has finished.")

    @classmethod
    def from_query(
        cls, client: Client, group_by: GroupBy, query: Mapping[str, Sequence[str]]
    ) -> GroupListStore:
        """A store with the filters of a URL query (``cluster``, ``startTime``; an
        unknown range falls back to the default)."""
        start = _first(query, "startTime", DEFAULT_TIME_RANGE)
        if start not in TIME_RANGES.values():
            start = DEFAULT_TIME_RANGE
        return cls(
            client,
            group_by=group_by,
            cluster=_first(query, "cluster", ""),
            start_time=start,
        )

    @property
    def kind(self) -> str:
        """``"user"`` or ``"project"``."""
        return "user" if self.group_by is GroupBy.USER else "project"

    def filters(self) -> list[JobFilter]:
        """The selected cluster and time range."""
        return statistics_filters(self.cluster, self.start_time)

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters (those of cc-backend's job list)."""
        query = {"cluster": self.cluster, "startTime": self.start_time}
        return {key: value for key, value in query.items() if value}

    def visible_rows(self) -> list[JobsStatistics]:
        """The rows whose id or (user) name contains ``name_filter``, any case."""
        wanted = self.name_filter.strip().casefold()
        if not wanted:
            return list(self.rows)
        return [r for r in self.rows if wanted in r.id.casefold() or wanted in r.name.casefold()]

    async def load(self) -> None:
        """Fetch the clusters (once) and the grouped totals."""
        self.error = ""
        try:
            clusters = await self.fetch("clusters", self.client.clusters)
            self.clusters = clusters or []
            filters = self.filters()
            key = ("rows", self.group_by, self.cluster, self.start_time)
            rows = await self.fetch(
                key,
                lambda: self.client.jobs_statistics(
                    filters, group_by=self.group_by, sort_by=SortBy.TOTALJOBS
                ),
            )
            self.rows = rows if rows is not None else []
        finally:
            self.loaded = True


def _first(query: Mapping[str, Sequence[str]], name: str, default: str) -> str:
    values = query.get(name)
    return values[0] if values else default
