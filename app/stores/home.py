"""The home page's data: the site notice and each cluster's running and total job counts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import param

from app.stores.base import Store
from cc_backend.domain.filters import JobFilter, StringInput
from cc_backend.domain.job import JobState

__all__ = ["ClusterCounts", "HomeStore"]


@dataclass(frozen=True)
class ClusterCounts:
    """Jobs of one cluster that the user may see: running now, and all."""

    name: str
    running: int
    total: int


class HomeStore(Store):
    """Loads the notice and :class:`ClusterCounts` for every cluster (by name)."""

    notice = param.String(default="", doc="The site notice (empty: none).")
    clusters = param.List(default=[], item_type=ClusterCounts, doc="Counts per cluster.")
    loaded = param.Boolean(default=False, doc="The first load has finished.")

    async def load(self) -> None:
        """Fetch the notice and the counts (the counts of all clusters side by side)."""
        try:
            notice = await self.fetch("notice", self.client.notice)
            clusters = await self.fetch("clusters", self.client.clusters)
            if clusters is None:
                return
            counted = await asyncio.gather(*(self._counts(c.name) for c in clusters))
            if notice is not None:
                self.notice = notice
            self.clusters = [c for c in counted if c is not None]
        finally:
            self.loaded = True

    async def _counts(self, cluster: str) -> ClusterCounts | None:
        on_cluster = JobFilter(cluster=StringInput(eq=cluster))
        running = JobFilter(state=[JobState.RUNNING])
        total, now = await asyncio.gather(
            self.fetch(("total", cluster), lambda: self.client.count_jobs([on_cluster])),
            self.fetch(("running", cluster), lambda: self.client.count_jobs([on_cluster, running])),
        )
        if total is None or now is None:
            return None
        return ClusterCounts(cluster, now, total)
