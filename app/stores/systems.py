"""The systems view's data: the nodes of a cluster, one page at a time, with the series of
the shown metrics in a time window, as a grid of one metric (the overview,
``/monitoring/systems/{cluster}``) or as a node list with each node's report, running jobs
and a few metrics (``/monitoring/systems/list/{cluster}[/{subcluster}]``).

The URL query holds the view (:class:`SystemsQuery`): the time window (``range=1h``, or
cc-backend's ``from``/``to`` as Unix seconds or RFC 3339 times), ``hostname`` (a part of
the host name), ``state`` (``all``, a scheduler state or ``notindb``), ``subCluster``,
``metric`` (repeated) and ``page``. Which nodes a filter selects is the site's rule
(:mod:`cc_backend.services.node_overview`); the store asks for one page of them.

Chosen metrics are the user's settings under cc-backend's keys
``nodeOverview_selectedMetric:<cluster>`` (the overview's metric) and
``nodeList_selectedMetrics:<cluster>`` (the list's metrics).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import param

from app.stores.base import Store
from cc_backend.client import Client
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import CCError, NotFound
from cc_backend.domain.filters import JobFilter, PageRequest, StringInput
from cc_backend.domain.job import Job, JobState
from cc_backend.services.node_overview import (
    ALL_STATES,
    STATE_FILTERS,
    NodeMetrics,
    NodeReport,
)

__all__ = [
    "DEFAULT_RANGE",
    "LIST_KEY",
    "LIST_PAGE_SIZE",
    "OVERVIEW_KEY",
    "OVERVIEW_PAGE_SIZE",
    "TIME_RANGES",
    "SystemsQuery",
    "SystemsStore",
    "TimeWindow",
    "parse_systems_query",
    "parse_window",
]

#: Named time windows ending now: name -> seconds.
TIME_RANGES: dict[str, int] = {
    "30m": 30 * 60,
    "1h": 3600,
    "4h": 4 * 3600,
    "12h": 12 * 3600,
    "24h": 24 * 3600,
}
#: The window of a view that names none (cc-backend's systems view: the last 4 hours).
DEFAULT_RANGE = "4h"
#: cc-backend's settings of the chosen metrics (``:<cluster>`` appended).
OVERVIEW_KEY = "nodeOverview_selectedMetric"
LIST_KEY = "nodeList_selectedMetrics"
#: Nodes per page: small plots of the overview, rows of the node list.
OVERVIEW_PAGE_SIZE = 48
LIST_PAGE_SIZE = 10
#: Metrics the node list shows when the user has chosen none (cc-backend: the first 3).
DEFAULT_LIST_METRICS = 3
#: Running jobs listed per page of nodes at most.
RUNNING_JOBS_LIMIT = 500


def _unix(text: str) -> int | None:
    """Unix seconds from digits or an RFC 3339 time; None if it is neither."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


@dataclass(frozen=True)
class TimeWindow:
    """A time window: a named one ending now (``range``), or fixed bounds (``range``
    empty, ``start`` to ``stop`` in Unix seconds)."""

    range: str = DEFAULT_RANGE
    start: int = 0
    stop: int = 0

    @property
    def is_custom(self) -> bool:
        return not self.range

    def bounds(self, now: float | None = None) -> tuple[int, int]:
        """``(start, stop)`` in Unix seconds; a named window ends at ``now``."""
        if self.is_custom:
            return self.start, self.stop
        current = int(time.time() if now is None else now)
        return current - TIME_RANGES[self.range], current

    def to_pairs(self) -> list[tuple[str, str]]:
        """The URL query of the window (empty for the default one)."""
        if self.is_custom:
            return [("from", str(self.start)), ("to", str(self.stop))]
        return [] if self.range == DEFAULT_RANGE else [("range", self.range)]

    @classmethod
    def fixed(cls, start: int, stop: int) -> TimeWindow:
        """The window from ``start`` to ``stop`` (swapped if given the wrong way round)."""
        return cls("", min(start, stop), max(start, stop))


def _first(query: Mapping[str, Sequence[str]], name: str) -> str:
    values = query.get(name) or []
    return values[0] if values else ""


def parse_window(
    query: Mapping[str, Sequence[str]], problems: list[str], default: str = DEFAULT_RANGE
) -> TimeWindow:
    """The time window a URL query names: ``from`` and ``to`` (both), else ``range``,
    else ``default``. What cannot be read is reported in ``problems`` and left out."""
    start_text, stop_text = _first(query, "from"), _first(query, "to")
    if start_text or stop_text:
        start, stop = _unix(start_text), _unix(stop_text)
        if start is not None and stop is not None:
            return TimeWindow.fixed(start, stop)
        problems.append(f"time window from {start_text!r} to {stop_text!r} ignored")
    named = _first(query, "range")
    if named:
        if named in TIME_RANGES:
            return TimeWindow(named)
        problems.append(f"unknown time range {named!r} ignored")
    return TimeWindow(default)


@dataclass(frozen=True)
class SystemsQuery:
    """What a systems view shows (see the module docstring)."""

    window: TimeWindow = field(default_factory=TimeWindow)
    host_filter: str = ""
    state: str = ALL_STATES
    subcluster: str = ""
    metrics: tuple[str, ...] = ()
    page: int = 1

    def to_pairs(self) -> list[tuple[str, str]]:
        """The URL query of the view, without its defaults."""
        pairs = self.window.to_pairs()
        if self.host_filter:
            pairs.append(("hostname", self.host_filter))
        if self.state != ALL_STATES:
            pairs.append(("state", self.state))
        if self.subcluster:
            pairs.append(("subCluster", self.subcluster))
        pairs.extend(("metric", m) for m in self.metrics)
        if self.page > 1:
            pairs.append(("page", str(self.page)))
        return pairs


def parse_systems_query(
    query: Mapping[str, Sequence[str]], subcluster: str = ""
) -> tuple[SystemsQuery, list[str]]:
    """The view a URL query names (``subcluster``: the one of the path, unless the query
    names one), and what in it could not be used."""
    problems: list[str] = []
    window = parse_window(query, problems)
    state = _first(query, "state").lower() or ALL_STATES
    if state not in STATE_FILTERS:
        problems.append(f"unknown node state {state!r} ignored")
        state = ALL_STATES
    page_text = _first(query, "page")
    page = int(page_text) if page_text.isdigit() and int(page_text) > 0 else 1
    if page_text and page_text != str(page):
        problems.append(f"page {page_text!r} ignored")
    metrics = tuple(dict.fromkeys(m for m in query.get("metric") or [] if m))
    found = SystemsQuery(
        window=window,
        host_filter=_first(query, "hostname").strip(),
        state=state,
        subcluster=_first(query, "subCluster") or subcluster,
        metrics=metrics,
        page=page,
    )
    return found, problems


def _running_on(jobs: Sequence[Job], hosts: Sequence[str]) -> dict[str, list[Job]]:
    """``hosts`` -> the jobs of ``jobs`` that run on each."""
    wanted = set(hosts)
    found: dict[str, list[Job]] = {h: [] for h in hosts}
    for job in jobs:
        for resource in job.resources:
            if resource.hostname in wanted:
                found[resource.hostname].append(job)
    return found


class SystemsStore(Store):
    """The nodes of cluster ``cluster_name`` as the overview or the node list shows them."""

    cluster_name = param.String(default="", doc="The cluster shown.")
    list_view = param.Boolean(default=False, doc="The node list (else the overview grid).")
    query = param.ClassSelector(class_=SystemsQuery, default=SystemsQuery(), doc="The view.")
    cluster = param.ClassSelector(class_=Cluster, default=None, allow_None=True)
    missing = param.Boolean(default=False, doc="There is no such cluster.")
    settings = param.Dict(default={}, doc="The user's settings.")
    nodes = param.List(default=[], item_type=NodeMetrics, doc="The nodes of the page.")
    total = param.Integer(default=0, doc="Nodes matching the filters, on all pages.")
    has_next_page = param.Boolean(default=False)
    window = param.Tuple(default=(0, 0), length=2, doc="Start and stop of the data shown.")
    reports = param.Dict(default={}, doc="Node list: host -> its latest NodeReport.")
    running = param.Dict(default={}, doc="Node list: host -> its running jobs.")
    revision = param.Integer(default=0, doc="Counts the loads of a page of nodes.")
    loaded = param.Boolean(default=False, doc="A page of nodes has been loaded.")

    def __init__(self, client: Client, **params: Any) -> None:
        super().__init__(client, **params)
        self._site_loaded = False
        self._generation = 0

    # -- derived ---------------------------------------------------------------------------

    @property
    def page_size(self) -> int:
        """Nodes per page of this view."""
        return LIST_PAGE_SIZE if self.list_view else OVERVIEW_PAGE_SIZE

    @property
    def subclusters(self) -> list[str]:
        """The names of the cluster's subclusters."""
        return [sc.name for sc in self.cluster.sub_clusters] if self.cluster else []

    @property
    def metric_names(self) -> list[str]:
        """The metrics of the shown subcluster (of any subcluster, for all), by name."""
        if self.cluster is None:
            return []
        chosen = self.query.subcluster
        names = [sc.name for sc in self.cluster.sub_clusters if chosen in ("", sc.name)]
        return sorted({m.name for name in names for m in self.cluster.metrics_for(name)})

    def _setting_key(self) -> str:
        return f"{LIST_KEY if self.list_view else OVERVIEW_KEY}:{self.cluster_name}"

    def shown_metrics(self) -> list[str]:
        """The metrics the view draws: the query's, else the user's choice for the
        cluster, else the first metric (the list: the first three), all known ones only."""
        known = self.metric_names
        chosen = list(self.query.metrics)
        if not chosen:
            saved = self.settings.get(self._setting_key())
            chosen = [saved] if isinstance(saved, str) else list(saved or [])
        chosen = [m for m in chosen if m in known]
        if not chosen:
            chosen = known[: DEFAULT_LIST_METRICS if self.list_view else 1]
        return chosen if self.list_view else chosen[:1]

    # -- loading ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the cluster and the user's settings (once), then the page of nodes."""
        try:
            await self._load_site()
            if self.cluster is not None:
                await self.load_nodes()
        finally:
            self.loaded = True

    async def _load_site(self) -> None:
        if self._site_loaded:
            return
        clusters, settings = await asyncio.gather(
            self.fetch("clusters", self.client.clusters), self._settings()
        )
        if clusters is None:
            return
        found = next((c for c in clusters if c.name == self.cluster_name), None)
        self.param.update(settings=settings, cluster=found, missing=found is None)
        if found is not None and self.query.subcluster not in ("", *self.subclusters):
            self.error = f"cluster {self.cluster_name} has no subcluster {self.query.subcluster!r}"
            self.query = replace(self.query, subcluster="")
        self._site_loaded = True

    async def _settings(self) -> dict[str, Any]:
        try:
            return dict(await self.client.user_config())
        except CCError:
            return {}

    async def load_nodes(self) -> None:
        """Fetch the page of nodes of the current query (for the list: with their reports
        and running jobs); a newer load wins over an older one still under way."""
        self._generation += 1
        generation = self._generation
        query = self.query
        start, stop = query.window.bounds()
        metrics = self.shown_metrics()
        page = await self.fetch(
            ("nodes", self.list_view, query, start, stop, tuple(metrics)),
            lambda: self.client.node_list(
                self.cluster_name,
                start=start,
                stop=stop,
                subcluster=query.subcluster,
                state=query.state,
                host_filter=query.host_filter,
                metrics=metrics,
                page=query.page,
                items_per_page=self.page_size,
            ),
        )
        if page is None or generation != self._generation:
            return
        reports: dict[str, NodeReport] = {}
        running: dict[str, list[Job]] = {}
        hosts = [n.host for n in page.items]
        if self.list_view and hosts:
            reports, running = await self._node_details(hosts)
            if generation != self._generation:
                return
        self.param.update(
            nodes=list(page.items),
            total=page.total,
            has_next_page=page.has_next_page,
            window=(start, stop),
            reports=reports,
            running=running,
        )
        self.revision += 1

    async def _node_details(
        self, hosts: list[str]
    ) -> tuple[dict[str, NodeReport], dict[str, list[Job]]]:
        filters = [
            JobFilter(cluster=StringInput(eq=self.cluster_name)),
            JobFilter(state=[JobState.RUNNING]),
            JobFilter(node=StringInput(in_=hosts)),
        ]
        page = PageRequest(items_per_page=RUNNING_JOBS_LIMIT)
        found, jobs = await asyncio.gather(
            self.fetch(("reports", tuple(hosts)), lambda: self.client.node_reports(
                self.cluster_name, hosts)),
            self.fetch(("running", tuple(hosts)), lambda: self.client.jobs(filters, page=page)),
        )  # fmt: skip
        reports = {r.hostname: r for r in found or []}
        return reports, _running_on(jobs.items if jobs else [], hosts)

    # -- changes ---------------------------------------------------------------------------

    async def update(self, **changes: Any) -> None:
        """Change the query (``window``, ``host_filter``, ``state``, ``subcluster``,
        ``metrics``; the list starts at page 1 again unless ``page`` is given) and load."""
        if "page" not in changes:
            changes["page"] = 1
        self.error = ""
        self.query = replace(self.query, **changes)
        await self.load_nodes()

    async def go_to_page(self, page: int) -> None:
        """Show page ``page`` (from 1) of the nodes."""
        await self.update(page=max(page, 1))

    async def refresh(self) -> None:
        """Load the page again from the site (a named window moves to end now)."""
        self.error = ""
        self.forget()
        await self.load_nodes()

    async def choose_metrics(self, names: Sequence[str]) -> None:
        """Show ``names`` (the overview: the first) and keep them as the user's choice
        for the cluster (where the client can)."""
        chosen = [n for n in names if n in self.metric_names]
        if not self.list_view:
            chosen = chosen[:1]
        if not chosen:
            return
        key = self._setting_key()
        value: Any = chosen if self.list_view else chosen[0]
        self.settings = {**self.settings, key: value}
        await self.optional(lambda: self.client.set_user_config(key, value), None)
        await self.update(metrics=tuple(chosen))

    def check_cluster(self) -> None:
        """Raise :class:`NotFound` if the cluster turned out not to exist."""
        if self.missing:
            raise NotFound(f"There is no cluster {self.cluster_name!r}.")
