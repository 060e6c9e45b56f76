"""The job view's data: one job, its cluster, tags, statistics and metric series.

:meth:`JobStore.load` fetches the job first; a job that does not exist or that the user
may not see sets ``hidden`` and nothing else is fetched. Then everything the page shows
at once is fetched side by side: the cluster, the site's display settings, the jobs that
shared its nodes, the tags the user may read, job-wide statistics and the series of the
shown metrics at node scope (and accelerator scope for accelerator metrics), at the
site's first-load resolution. Per-series statistics for the statistics table follow.

Afterwards the views ask for more: another scope of one metric (:meth:`load_scope`),
finer data after a zoom (:meth:`zoom`, by the site's resampling policy), statistics at
another scope (:meth:`load_statistics`), tag changes (:meth:`add_tag`,
:meth:`remove_tag`) and, for a running job, fresh data (:meth:`refresh`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import param

from app.stores.base import Store
from app.stores.settings import (
    JOB_VIEW_PLOT_METRICS,
    PLOTS_PER_ROW,
    UI_DEFAULTS,
    scoped_key,
    stored_setting,
)
from cc_backend.client import Client
from cc_backend.client.base import DisplayConfig, JobLinks
from cc_backend.domain.cluster import Cluster, MetricConfig, MetricScope, SubCluster
from cc_backend.domain.errors import CCError, NotFound
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.jobdata import JobMetric, MetricStatistics, SeriesStatistics
from cc_backend.domain.tag import Tag

__all__ = ["DEFAULT_PLOTS_PER_ROW", "ROOFLINE_METRICS", "JobStore", "valid_scopes"]


#: The metrics the roofline plot needs (loaded at node scope even when not shown).
ROOFLINE_METRICS = ("flops_any", "mem_bw")
#: Plots per row of the job view's grid when the user has not chosen.
DEFAULT_PLOTS_PER_ROW: int = UI_DEFAULTS[PLOTS_PER_ROW]
#: cc-backend's keys of these settings before version 1.5, read when the current key is
#: not stored (databases of sites that used an older cc-backend).
LEGACY_PLOT_METRICS_KEY = "job_view_selectedMetrics"
LEGACY_PLOTS_PER_ROW_KEY = "plot_view_plotsPerRow"

#: CPU scopes from coarse to fine, as a metric's scope selector lists them.
_CPU_SCOPES = (
    MetricScope.NODE,
    MetricScope.SOCKET,
    MetricScope.MEMORY_DOMAIN,
    MetricScope.CORE,
    MetricScope.HWTHREAD,
)


def valid_scopes(config: MetricConfig, subcluster: SubCluster | None = None) -> list[MetricScope]:
    """The scopes ``config``'s metric can be shown at: node, then every scope down to its
    native one (accelerator metrics: node and accelerator). Memory domains are listed
    only for metrics measured per memory domain."""
    native = config.scope
    if native is MetricScope.ACCELERATOR:
        has_gpus = subcluster is None or bool(subcluster.topology.accelerators)
        return [MetricScope.NODE, MetricScope.ACCELERATOR] if has_gpus else [MetricScope.NODE]
    return [
        scope
        for scope in _CPU_SCOPES
        if not scope.is_finer_than(native)
        and (scope is not MetricScope.MEMORY_DOMAIN or native is MetricScope.MEMORY_DOMAIN)
    ]


class JobStore(Store):
    """Everything the job view shows of job ``db_id`` (see the module docstring)."""

    db_id = param.Integer(default=0, doc="Database id of the job.")
    job = param.ClassSelector(class_=Job, default=None, allow_None=True, doc="The job.")
    hidden = param.Boolean(default=False, doc="No such job, or the user may not see it.")
    cluster = param.ClassSelector(class_=Cluster, default=None, allow_None=True)
    display = param.ClassSelector(class_=DisplayConfig, default=DisplayConfig())
    concurrent = param.ClassSelector(class_=JobLinks, default=JobLinks())
    readable_tags = param.List(default=[], item_type=Tag, doc="Tags the user may read.")
    tag_error = param.String(default="", doc="Why the last tag change failed.")
    statistics = param.Dict(default={}, doc="Job-wide statistics: metric -> avg/min/max.")
    selected = param.List(default=[], item_type=str, doc="The metrics of the plot grid.")
    data = param.Dict(default={}, doc="Series: metric -> scope -> JobMetric.")
    resolution = param.Dict(default={}, doc="Seconds per point as loaded: metric -> int.")
    unavailable = param.Dict(default={}, doc="Scopes without data: metric -> [scopes].")
    stats_scope: MetricScope = param.Selector(  # type: ignore[assignment]
        default=MetricScope.NODE, objects=list(MetricScope), doc="The statistics table's scope."
    )
    scoped_stats = param.Dict(default={}, doc="Per-series statistics: metric -> [entries].")
    revision = param.Integer(default=0, doc="Counts the loads of the plot grid's data.")
    loaded = param.Boolean(default=False, doc="The job and its plots have been loaded.")
    stats_loaded = param.Boolean(default=False, doc="The statistics table has data.")

    def __init__(self, client: Client, **params: Any) -> None:
        super().__init__(client, **params)
        self._settings: dict[str, Any] = {}

    # -- derived -------------------------------------------------------------------------

    @property
    def subcluster(self) -> SubCluster | None:
        """The job's subcluster with its metrics resolved (None before loading)."""
        if self.job is None or self.cluster is None:
            return None
        try:
            name = (
                self.job.sub_cluster
                or self.cluster.subcluster_of(self.job.resources[0].hostname).name
            )
            return self.cluster.resolved_subcluster(name)
        except NotFound:
            return None

    @property
    def metric_configs(self) -> dict[str, MetricConfig]:
        """The metrics of the job's subcluster by name, overrides applied."""
        sub = self.subcluster
        return {m.name: m for m in (sub.metrics or [])} if sub is not None else {}

    def scopes_of(self, metric: str) -> list[MetricScope]:
        """The scopes a plot of ``metric`` may offer (without those found empty)."""
        config = self.metric_configs.get(metric)
        if config is None:
            return [MetricScope.NODE]
        missing = set(self.unavailable.get(metric, []))
        return [s for s in valid_scopes(config, self.subcluster) if s not in missing]

    def table_scopes(self) -> list[MetricScope]:
        """The scopes the statistics table may show (those of any shown metric)."""
        found = {s for name in self.selected for s in self.scopes_of(name)}
        return [s for s in list(MetricScope) if s in found]

    def running_duration(self) -> int:
        """The job's duration: so far for a running job, as recorded otherwise."""
        if self.job is None:
            return 0
        if self.job.job_state is JobState.RUNNING:
            return max(int(time.time()) - self.job.start_time, self.job.duration)
        return self.job.duration

    # -- loading -------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the job, then everything the page shows at once (module docstring)."""
        try:
            try:
                job = await self.client.job(self.db_id)
            except NotFound:
                self.hidden = True
                return
            except CCError as exc:
                self.error = exc.message
                return
            await asyncio.gather(self._show(job), self._load_extras(), self._load_job_stats())
        finally:
            self.loaded = True
        await self.load_statistics()

    async def _show(self, job: Job) -> None:
        """The job with its cluster, then the plot grid's data (the views draw the job
        while the series load)."""
        cluster, settings, display = await asyncio.gather(
            self.fetch("cluster", lambda: self._cluster(job.cluster)),
            self.optional(self.client.user_config, dict[str, Any]()),
            self.optional(self.client.display_config, DisplayConfig()),
        )
        self._settings = settings
        self.param.update(cluster=cluster, display=display, job=job)
        self.selected = self._initial_metrics()
        await self._load_grid()

    async def _load_extras(self) -> None:
        """What only the job's info tabs need: concurrent jobs and the readable tags."""
        links, tags = await asyncio.gather(
            self.fetch("concurrent", lambda: self.client.concurrent_jobs(self.db_id)),
            self.fetch("tags", self.client.tags),
        )
        self.param.update(concurrent=links or JobLinks(), readable_tags=tags or [])

    async def _cluster(self, name: str) -> Cluster:
        for cluster in await self.client.clusters():
            if cluster.name == name:
                return cluster
        raise NotFound(f"cluster {name!r} is not known")

    def _initial_metrics(self) -> list[str]:
        """The user's chosen metrics for the job's subcluster, cluster or all clusters
        (else all of the subcluster's)."""
        available = self.metric_configs
        job = self.job
        cluster, subcluster = (job.cluster, job.sub_cluster) if job is not None else ("", "")
        chosen = stored_setting(self._settings, JOB_VIEW_PLOT_METRICS, cluster, subcluster)
        if chosen is None:
            chosen = stored_setting(self._settings, LEGACY_PLOT_METRICS_KEY, cluster)
        if isinstance(chosen, list) and chosen:
            names = [str(n) for n in chosen if n in available]
            if names:
                return names
        return sorted(available)

    async def _load_grid(self) -> None:
        """The shown metrics and the roofline's at their first scopes, in one request."""
        configs = self.metric_configs
        names = list(
            dict.fromkeys([*self.selected, *(m for m in ROOFLINE_METRICS if m in configs)])
        )
        scopes = [MetricScope.NODE]
        if any(configs[n].scope is MetricScope.ACCELERATOR for n in names if n in configs):
            scopes.append(MetricScope.ACCELERATOR)
        data = await self.fetch(
            ("metrics", tuple(names), tuple(scopes), None),
            lambda: self.client.job_metrics(self.db_id, names, scopes),
        )
        if data is None:
            return
        self.resolution = {
            name: min((m.timestep for m in by_scope.values()), default=0)
            for name, by_scope in data.items()
        }
        self.data = {name: dict(by_scope) for name, by_scope in data.items()}
        self.revision += 1

    async def _load_job_stats(self) -> None:
        stats = await self.fetch("job-stats", lambda: self.client.job_stats(self.db_id))
        if stats is not None:
            self.statistics = stats

    @property
    def plots_per_row(self) -> int:
        """How many plots a row of the grid holds (the user's setting, 1 to 6)."""
        value = stored_setting(self._settings, PLOTS_PER_ROW)
        if value is None:
            value = stored_setting(self._settings, LEGACY_PLOTS_PER_ROW_KEY)
        if not isinstance(value, int) or isinstance(value, bool):
            return DEFAULT_PLOTS_PER_ROW
        return min(max(value, 1), 6)

    async def select_metrics(self, names: Sequence[str], *, remember: bool = False) -> None:
        """Show ``names`` in the grid, fetching those not loaded yet; ``remember``: keep
        the choice as the user's setting for the job's cluster (where the client can)."""
        selected = [n for n in names if n in self.metric_configs]
        missing = [n for n in selected if n not in self.data]
        if missing:
            loaded = await self.fetch(
                ("metrics", tuple(missing)),
                lambda: self.client.job_metrics(self.db_id, missing, [MetricScope.NODE]),
            )
            if loaded is not None:
                self.data = {**self.data, **{n: dict(s) for n, s in loaded.items()}}
                self.resolution = {
                    **self.resolution,
                    **{n: min(m.timestep for m in s.values()) for n, s in loaded.items() if s},
                }
        self.selected = selected
        self.revision += 1
        if remember and self.job is not None and selected:
            key = scoped_key(JOB_VIEW_PLOT_METRICS, self.job.cluster)
            await self.optional(lambda: self.client.set_user_config(key, selected), None)
            self._settings[key] = selected

    async def load_scope(self, metric: str, scope: MetricScope) -> JobMetric | None:
        """``metric`` at ``scope`` at its current resolution (fetched if not loaded yet).
        None, and ``scope`` listed in ``unavailable``, when the job has no such data."""
        present: dict[MetricScope, JobMetric] = self.data.get(metric, {})
        if scope in present:
            return present[scope]
        resolution = self.resolution.get(metric)
        answer = await self.fetch(
            ("scope", metric, scope, resolution),
            lambda: self.client.job_metrics(self.db_id, [metric], [scope], resolution),
        )
        if answer is None:
            return None
        found = answer.root.get(metric, {}).get(scope)
        if found is None:
            missing = [*self.unavailable.get(metric, []), scope]
            self.unavailable = {**self.unavailable, metric: missing}
            return None
        self.data = {**self.data, metric: {**present, scope: found}}
        return found

    async def zoom(self, metric: str, scope: MetricScope, start: float, end: float) -> bool:
        """After a zoom of ``metric``'s plot to ``start``..``end`` (Unix seconds), load the
        metric's loaded scopes at the resolution the site's policy picks for what is
        visible; True if finer data was loaded."""
        policy = self.display.resampling
        shown = self.data.get(metric, {}).get(scope)
        if policy is None or shown is None or shown.timestep <= 0:
            return False
        visible = max(int((end - start) // shown.timestep), 0)
        wanted = policy.zoom_resolution(shown.timestep, visible)
        if wanted is None or wanted == self.resolution.get(metric):
            return False
        scopes = list(self.data.get(metric, {}))
        answer = await self.fetch(
            ("zoom", metric, tuple(scopes), wanted),
            lambda: self.client.job_metrics(self.db_id, [metric], scopes, wanted),
        )
        if answer is None or metric not in answer:
            return False
        self.data = {**self.data, metric: {**self.data.get(metric, {}), **answer[metric]}}
        self.resolution = {**self.resolution, metric: wanted}
        return True

    async def load_statistics(self, scope: MetricScope | None = None) -> None:
        """Per-series statistics of the shown metrics at ``scope`` (default: the table's)."""
        if self.job is None:
            return
        if scope is not None:
            self.stats_scope = scope
        wanted = self.stats_scope
        names = [n for n in self.selected if wanted in self.scopes_of(n)]
        found = await self.fetch(
            ("scoped-stats", tuple(names), wanted),
            lambda: self.client.job_scoped_stats(self.db_id, names, [wanted]),
        )
        if found is None:
            return
        table: dict[str, list[SeriesStatistics]] = {
            name: by_scope[wanted] for name, by_scope in found.items() if wanted in by_scope
        }
        if wanted == self.stats_scope:
            self.scoped_stats = table
            self.stats_loaded = True

    async def refresh(self) -> None:
        """Fetch the job and its data again (for a running job's newest samples)."""
        self.forget()
        self.param.update(data={}, resolution={}, unavailable={}, stats_loaded=False)
        try:
            job = await self.client.job(self.db_id)
        except CCError as exc:
            self.error = exc.message
            return
        self.job = job
        await asyncio.gather(self._load_grid(), self._load_job_stats())
        await self.load_statistics()

    # -- tags ----------------------------------------------------------------------------

    async def add_tag(self, type_: str, name: str, scope: str) -> bool:
        """Attach the tag (created if new) to the job; False with ``tag_error`` set if
        it was refused."""
        return await self._change_tags(
            lambda: self.client.add_job_tags(self.db_id, [Tag(type=type_, name=name, scope=scope)])
        )

    async def remove_tag(self, tag_id: int) -> bool:
        """Detach tag ``tag_id`` from the job; False with ``tag_error`` set if refused."""
        return await self._change_tags(lambda: self.client.remove_job_tags(self.db_id, [tag_id]))

    async def _change_tags(self, change: Callable[[], Awaitable[list[Tag]]]) -> bool:
        if self.job is None:
            return False
        try:
            tags = await change()
        except CCError as exc:
            self.tag_error = exc.message
            return False
        self.tag_error = ""
        self.job = self.job.model_copy(update={"tags": tags or None})
        known = {t.id for t in self.readable_tags}
        self.readable_tags = [*self.readable_tags, *(t for t in tags if t.id not in known)]
        return True

    # -- statistics ----------------------------------------------------------------------

    def statistic(self, metric: str, which: str) -> float | None:
        """Job-wide ``which`` (avg, min, max) of ``metric``, if known."""
        stats: MetricStatistics | None = self.statistics.get(metric)
        return None if stats is None else float(getattr(stats, which))
