"""The job comparison's data: jobs picked in the job list (or all jobs matching its
filters) with each job's minimum, average and maximum of the compared metrics.

Where the comparison lives, and why: cc-backend's job list (``/monitoring/jobs/``) has a
compare mode instead of a page of its own. Jobs ticked in the list become a ``dbId``
filter (a parameter its job list URL already reads), and the comparison shows the jobs
matching the list's filters, of at most :data:`COMPARE_LIMIT` jobs. Here the mode is the
same, and it is written into the URL as ``view=compare`` next to the list's filters
(``/monitoring/jobs/?dbId=12&dbId=40&view=compare``, or ``?cluster=fritz&user=bob&
view=compare``), so a comparison is a link. cc-backend's server ignores the ``view``
parameter and opens the list of the same jobs, so the link degrades gracefully there; a
route of our own (``/monitoring/jobs/compare``) would not exist in cc-backend at all.

The compared metrics are the list's plotted metrics (cc-backend's
``metricConfig_jobListMetrics`` setting, per cluster), as in cc-backend.

:meth:`JobCompareStore.load` asks two questions, each once for all jobs, never per job:

1. ``jobs`` (one page of :data:`COMPARE_LIMIT` jobs, with the count of all matching ones)
   for who ran each job and its state, and whether the filters select too many jobs;
2. ``job_metric_stats`` (GraphQL ``jobsMetricStats``) for the statistics, restricted to
   the listed jobs' database ids, so that both answers name the same jobs.

A running job's statistics come from the metric store (a finished one's from the archive's
statistics index); a job without any (not yet archived, or running without metric data) is
compared without values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import param

from app.stores.base import Store
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job, JobState
from cc_backend.stats.statistics_results import JobStats, MetricStatistics

__all__ = [
    "COMPARE_LIMIT",
    "COMPARE_PARAMETER",
    "COMPARE_VALUE",
    "ComparedJob",
    "JobCompareStore",
    "compare_requested",
    "join_jobs",
]

#: Jobs matching the filters from which on a comparison is refused (cc-backend's
#: ``matchedJobCompareLimit``: its compare button is disabled for this many or more).
COMPARE_LIMIT = 500
#: The URL parameter and value that open the job list's comparison.
COMPARE_PARAMETER = "view"
COMPARE_VALUE = "compare"
#: The order of the compared jobs: oldest first (the order of ``jobsMetricStats``).
_START_ORDER = OrderBy.model_validate({"field": "startTime", "type": "col", "order": "ASC"})


def compare_requested(query: Mapping[str, Sequence[str]]) -> bool:
    """Whether a job list URL query asks for the comparison (``view=compare``)."""
    return COMPARE_VALUE in [v.strip() for v in query.get(COMPARE_PARAMETER, ())]


@dataclass(frozen=True)
class ComparedJob:
    """One compared job: its statistics and who ran it (from the job list)."""

    stats: JobStats
    user: str = ""
    project: str = ""
    state: JobState | None = None
    name: str = ""

    @property
    def id(self) -> int:
        """The database id (the job page is ``/monitoring/job/<id>``)."""
        return self.stats.id

    @property
    def job_id(self) -> str:
        return self.stats.job_id

    def metric(self, name: str) -> MetricStatistics | None:
        """The job's statistics of metric ``name`` (None: it has none)."""
        for named in self.stats.stats:
            if named.name == name:
                return named.data
        return None


def join_jobs(stats: Sequence[JobStats], jobs: Sequence[Job]) -> list[ComparedJob]:
    """The statistics in their order, each with its job's user, project, state and name
    (empty where ``jobs`` lacks the job)."""
    by_id = {j.id: j for j in jobs if j.id is not None}
    joined = []
    for entry in stats:
        job = by_id.get(entry.id)
        if job is None:
            joined.append(ComparedJob(entry))
            continue
        name = str((job.meta_data or {}).get("jobName", ""))
        joined.append(ComparedJob(entry, job.user, job.project, job.job_state, name))
    return joined


def _key_of(filters: Sequence[JobFilter], metrics: Sequence[str]) -> tuple[Any, ...]:
    return (tuple(f.model_dump_json() for f in filters), tuple(metrics))


class JobCompareStore(Store):
    """The compared jobs for ``filters`` and ``metrics`` (see the module docstring)."""

    filters = param.List(default=[], item_type=JobFilter, doc="The job list's filters.")
    metrics = param.List(default=[], item_type=str, doc="The compared metrics.")
    clusters = param.Dict(default={}, doc="The site's clusters by name (for units).")

    jobs = param.List(default=[], item_type=ComparedJob, doc="The compared jobs, oldest first.")
    count = param.Integer(
        default=None, allow_None=True, doc="Jobs matching the filters (None: not asked yet)."
    )
    loaded = param.Boolean(default=False, doc="A comparison has been loaded (or refused).")

    def __init__(self, client: Any, **params: Any) -> None:
        super().__init__(client, **params)
        self._generation = 0
        self._asked: tuple[Any, ...] | None = None

    @property
    def too_many(self) -> bool:
        """Whether the filters match too many jobs to compare (nothing is loaded then)."""
        return self.count is not None and self.count >= COMPARE_LIMIT

    def unit_of(self, metric: str) -> str:
        """The unit of ``metric`` in the first cluster that configures it (empty: none)."""
        for cluster in self.clusters.values():
            assert isinstance(cluster, Cluster)
            for config in cluster.metrics:
                if config.name == metric:
                    return str(config.unit)
        return ""

    def _key(self) -> tuple[Any, ...]:
        return _key_of(self.filters, self.metrics)

    async def update(
        self, filters: Sequence[JobFilter] | None = None, metrics: Sequence[str] | None = None
    ) -> None:
        """Compare the jobs of other ``filters`` and/or other ``metrics``; loads only when
        something changed since the last call (:meth:`load` loads again anyway)."""
        new_filters = list(self.filters if filters is None else filters)
        new_metrics = list(self.metrics if metrics is None else metrics)
        asked = _key_of(new_filters, new_metrics)
        if asked == self._asked:
            return
        self._asked = asked
        self.param.update(filters=new_filters, metrics=new_metrics)
        await self.load()

    async def load(self) -> None:
        """Fetch the comparison (two requests for all jobs; none per job). A newer call
        supersedes a running one; too many jobs or a domain error (``error``) leave none."""
        self._generation += 1
        generation = self._generation
        filters, metrics, key = list(self.filters), list(self.metrics), self._key()
        self.error = ""
        try:
            jobs = await self._load(filters, metrics, key, generation)
        finally:
            if generation == self._generation:
                self.loaded = True
        if generation == self._generation and jobs is not None:
            self.jobs = jobs

    async def _load(
        self, filters: list[JobFilter], metrics: list[str], key: tuple[Any, ...], generation: int
    ) -> list[ComparedJob] | None:
        page = PageRequest.model_validate({"itemsPerPage": COMPARE_LIMIT, "page": 1})

        async def listed() -> Any:
            return await self.client.jobs(filters, order=_START_ORDER, page=page, with_count=True)

        found = await self.fetch(("jobs", key[0]), listed)
        if generation != self._generation:
            return None
        if found is None:  # refused: the error says why
            self.count = None
            return []
        count = found.count if found.count is not None else len(found.items)
        self.count = count
        ids = [j.id for j in found.items if j.id is not None]
        if self.too_many or not ids:
            return []
        chosen = [*filters, JobFilter(db_id=ids)]

        async def statistics() -> list[JobStats]:
            return await self.client.job_metric_stats(chosen, metrics)

        stats = await self.fetch(("stats", key, tuple(ids)), statistics)
        if generation != self._generation:
            return None
        if stats is None:
            return []
        return join_jobs(stats, found.items)
