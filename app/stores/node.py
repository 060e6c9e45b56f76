"""The node view's data (``/monitoring/node/{cluster}/{host}``): every metric of one node
over a time window, its history of scheduler states, its latest report, and the jobs that
ran on it in the window.

:meth:`NodeStore.load` fetches the cluster first; an unknown cluster, or a host that no
subcluster of it names, sets ``missing`` and nothing else is fetched. Then the series,
the history, the report and the jobs are fetched side by side. The window is a named one
ending now or fixed bounds (:class:`~app.stores.systems.TimeWindow`, in the URL as
``range`` or ``from``/``to``); the history starts :data:`HISTORY_LOOKBACK` seconds before
the window, so that the state at its start is known.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import param

from app.stores.base import Store
from app.stores.systems import TimeWindow
from cc_backend.client import Client
from cc_backend.domain.cluster import Cluster, MetricConfig, SubCluster
from cc_backend.domain.errors import CCError, NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.services.node_overview import NodeReport, StateChange

__all__ = ["DEFAULT_NODE_RANGE", "HISTORY_LOOKBACK", "NodeStore"]

T = TypeVar("T")

#: The window of a node view that names none (cc-backend's: the last 30 minutes).
DEFAULT_NODE_RANGE = "30m"
#: How long before the window the state history starts (seconds).
HISTORY_LOOKBACK = 24 * 3600


class NodeStore(Store):
    """Everything the node view shows of ``host`` of ``cluster_name``."""

    cluster_name = param.String(default="", doc="The node's cluster.")
    host = param.String(default="", doc="The node's host name.")
    window_choice = param.ClassSelector(
        class_=TimeWindow, default=TimeWindow(DEFAULT_NODE_RANGE), doc="The time window."
    )
    cluster = param.ClassSelector(class_=Cluster, default=None, allow_None=True)
    subcluster = param.ClassSelector(class_=SubCluster, default=None, allow_None=True)
    missing = param.Boolean(default=False, doc="No such cluster, or no such host in it.")
    data = param.ClassSelector(class_=JobData, default=JobData({}), doc="metric -> scope.")
    history = param.List(default=[], item_type=StateChange, doc="State reports, oldest first.")
    report = param.ClassSelector(class_=NodeReport, default=None, allow_None=True)
    jobs = param.List(default=[], item_type=Job, doc="Jobs that ran in the window.")
    window = param.Tuple(default=(0, 0), length=2, doc="Start and stop of the data shown.")
    revision = param.Integer(default=0, doc="Counts the loads of the node's data.")
    loaded = param.Boolean(default=False, doc="The node's data has been loaded.")

    def __init__(self, client: Client, **params: Any) -> None:
        super().__init__(client, **params)
        self._generation = 0

    @property
    def metric_configs(self) -> dict[str, MetricConfig]:
        """The metrics of the node's subcluster by name (overrides applied)."""
        if self.subcluster is None:
            return {}
        return {m.name: m for m in self.subcluster.metrics or []}

    async def load(self) -> None:
        """Fetch the cluster, then (for a known host) the node's data."""
        try:
            clusters = await self.fetch("clusters", self.client.clusters)
            if clusters is None:
                return
            found = next((c for c in clusters if c.name == self.cluster_name), None)
            try:
                if found is None:
                    raise NotFound(self.cluster_name)
                subcluster = found.resolved_subcluster(found.subcluster_of(self.host).name)
            except NotFound:
                self.missing = True
                return
            self.param.update(cluster=found, subcluster=subcluster)
            await self.load_data()
        finally:
            self.loaded = True

    async def load_data(self) -> None:
        """Fetch the node's series, history, report and jobs for the current window."""
        if self.cluster is None:
            return
        self._generation += 1
        generation = self._generation
        start, stop = self.window_choice.bounds()
        cluster, host = self.cluster_name, self.host
        self.error = ""
        data, history, reports, jobs = await asyncio.gather(
            self.fetch(("data", start, stop),
                       lambda: self.client.node_metric_data(cluster, None, start, stop, [host])),
            self._quiet(self.client.node_state_history(cluster, host, start - HISTORY_LOOKBACK),
                        list[StateChange]()),
            self._quiet(self.client.node_reports(cluster, [host]), list[NodeReport]()),
            self.fetch(("jobs", start, stop),
                       lambda: self.client.node_jobs(cluster, host, start, stop)),
        )  # fmt: skip
        if generation != self._generation:
            return
        self.param.update(
            data=(data or {}).get(host, JobData({})),
            history=list(history),
            report=reports[0] if reports else None,
            jobs=list(jobs or []),
            window=(start, stop),
        )
        self.revision += 1

    async def _quiet(self, ask: Awaitable[T], default: T) -> T:
        """``ask``'s answer; ``default`` (with ``error`` set) if it failed."""
        try:
            return await ask
        except CCError as exc:
            self.error = exc.message
            return default

    async def set_window(self, window: TimeWindow) -> None:
        """Show the node's data in ``window``."""
        self.window_choice = window
        await self.load_data()

    async def refresh(self) -> None:
        """Load the node's data anew (a named window moves to end now)."""
        self.forget()
        await self.load_data()
