"""Generating a whole demo job archive: clusters, jobs and their metric data.

:func:`iter_demo_jobs` draws everything from one seed and yields the jobs with their
metric data (or, in the meta-only mode, with statistics drawn directly and no data);
:func:`generate_demo_archive` writes them into a :class:`~cc_backend.archive.JobArchive`.
The same arguments always give the same jobs and data. The jobs are the same with and
without metric data, except for their statistics, footprint and energy; each job's series
are drawn from a generator of its own, seeded with the seed and the job's position.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cc_backend.archive.base import JobArchive
from cc_backend.demo.allocation import NodeSet, Placement, place_jobs
from cc_backend.demo.clusters import demo_clusters
from cc_backend.demo.jobs import JobTable, draw_jobs
from cc_backend.demo.layout import Layout
from cc_backend.demo.meta import Pool, job_fields, with_footprint
from cc_backend.demo.population import Population, draw_population
from cc_backend.demo.profiles import Behaviour
from cc_backend.demo.series import job_data
from cc_backend.demo.stats import Hardware, drawn_statistics, meta_statistics
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

__all__ = ["DemoSummary", "generate_demo_archive", "iter_demo_jobs"]

DEFAULT_JOBS = 5000
DEFAULT_USERS = 300
DEFAULT_PROJECTS = 60
#: Jobs per day when the period is not given: the clusters are then moderately busy.
JOBS_PER_DAY = 350


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What :func:`generate_demo_archive` wrote."""

    clusters: tuple[str, ...]
    jobs: int
    jobs_per_cluster: dict[str, int]
    users: int
    projects: int
    tagged: int
    #: Stored series (all scopes) and samples; 0 in the meta-only mode.
    series: int
    samples: int
    first_start: int
    last_stop: int
    seconds: float


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything about the demo jobs except their metric data."""

    table: JobTable
    population: Population
    pools: list[Pool]
    pool_of: npt.NDArray[np.int64]
    placements: list[Placement]
    #: One uniform number per job, for its tags.
    draws: npt.NDArray[np.float64]


def _pools(clusters: list[Cluster]) -> list[Pool]:
    return [Pool.of(cluster, sc) for cluster in clusters for sc in cluster.sub_clusters]


def _plan(seed: int, jobs: int, end: int, period_days: int, people: tuple[int, int]) -> _Plan:
    rng = np.random.default_rng(seed)
    clusters = demo_clusters()
    population = draw_population(rng, *people)
    table = draw_jobs(rng, jobs, population, clusters, end=end, period=period_days * 86400)
    pools = _pools(clusters)
    first = np.cumsum([0] + [len(c.sub_clusters) for c in clusters])[:-1]
    pool_of = first[table.cluster] + table.subcluster
    node_sets = [NodeSet(len(p.hosts), p.slots, p.gpus) for p in pools]
    columns = (pool_of, table.start, table.start + table.duration, table.nodes, table.slots)
    placements = place_jobs(rng, node_sets, (*columns, table.user))
    return _Plan(table, population, pools, pool_of, placements, rng.random(len(table)))


class _Drawn:
    """Statistics of every job drawn from its levels (meta-only mode), kept as arrays per
    pool until a job's turn: millions of small dicts held at once would keep the garbage
    collector busy."""

    def __init__(self, plan: _Plan, seed: int) -> None:
        rng = np.random.default_rng((seed, 1 << 40))
        self.pool_of = plan.pool_of
        self.row = np.zeros(len(plan.table), dtype=np.int64)
        self.metrics: list[list[tuple[str, dict[str, str]]]] = []
        self.values: list[np.ndarray] = []
        for p, pool in enumerate(plan.pools):
            index = np.flatnonzero(plan.pool_of == p)
            self.row[index] = np.arange(len(index))
            topology = pool.subcluster.topology
            slots = plan.table.slots[index]
            hardware = Hardware(
                cores=np.minimum(slots / pool.slots, 1.0) * len(topology.node),
                node_cores=len(topology.node),
                sockets=len(topology.socket),
                gpus=slots.astype(np.float64) if pool.gpus else np.zeros(len(index)),
            )
            metrics = pool.cluster.metrics_for(pool.subcluster.name)
            drawn = drawn_statistics(rng, metrics, hardware, plan.table.levels.take(index))
            units = {m.name: m.unit.model_dump(exclude_none=True) for m in metrics}
            self.metrics.append([(name, units[name]) for name in drawn])
            stacked = [np.stack(triple, axis=-1) for triple in drawn.values()]
            self.values.append(np.stack(stacked, axis=1) if stacked else np.zeros((0, 0, 3)))

    def __getitem__(self, job: int) -> dict[str, dict[str, Any]]:
        pool = int(self.pool_of[job])
        values = self.values[pool][self.row[job]].tolist()
        return {
            name: {"unit": unit, "avg": avg, "min": low, "max": high}
            for (name, unit), (avg, low, high) in zip(self.metrics[pool], values, strict=True)
        }


def iter_demo_jobs(
    *,
    jobs: int = DEFAULT_JOBS,
    seed: int = 1,
    end_time: int | None = None,
    with_data: bool = True,
    period_days: int | None = None,
    users: int = DEFAULT_USERS,
    projects: int = DEFAULT_PROJECTS,
    fine_max_nodes: int = 2,
) -> Iterator[tuple[Job, JobData | None]]:
    """Demo jobs with their metric data, in submission order.

    Jobs end within ``period_days`` before ``end_time`` (default: now); the default period
    gives about :data:`JOBS_PER_DAY` jobs a day (two weeks for 5,000 jobs). Without data
    (``with_data=False``) the statistics are drawn directly and ``None`` is yielded for the
    data; the jobs are otherwise the same. Jobs with up to ``fine_max_nodes`` nodes get
    core- and socket-scope series besides the node-scope ones.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be positive, got {jobs}")
    days = period_days if period_days is not None else max(2, math.ceil(jobs / JOBS_PER_DAY))
    if days < 2:
        raise ValueError(f"period_days must be at least 2, got {days}")
    end = int(time.time()) if end_time is None else end_time
    plan = _plan(seed, jobs, end, days, (users, projects))
    drawn = None if with_data else _Drawn(plan, seed)
    table = plan.table
    for i in range(len(table)):
        pool = plan.pools[int(plan.pool_of[i])]
        draw = float(plan.draws[i])
        fields = job_fields(
            table, i, pool, plan.placements[i], population=plan.population, draw=draw
        )
        if drawn is not None:
            job = Job.model_validate({**fields, "statistics": drawn[i]})
            yield with_footprint(job, pool.footprint), None
            continue
        levels = table.levels.take(i)
        layout = Layout.of(fields["resources"], pool.subcluster.topology, float(levels.active))
        data = job_data(
            fields["duration"],
            pool.cluster.metrics_for(pool.subcluster.name),
            layout,
            (levels, Behaviour(int(table.behaviour[i]))),
            np.random.default_rng((seed, i)),
            fine_max_nodes=fine_max_nodes,
        )
        statistics = meta_statistics(data, fields["numNodes"])
        job = Job.model_validate({**fields, "statistics": statistics})
        yield with_footprint(job, pool.footprint), data


def _count(data: JobData | None) -> tuple[int, int]:
    if data is None:
        return 0, 0
    series = [s for scopes in data.root.values() for m in scopes.values() for s in m.series]
    return len(series), sum(len(s.data) for s in series)


def generate_demo_archive(
    archive: JobArchive,
    *,
    jobs: int = DEFAULT_JOBS,
    seed: int = 1,
    end_time: int | None = None,
    with_data: bool = True,
    progress: bool = False,
    period_days: int | None = None,
) -> DemoSummary:
    """Write the demo clusters and ``jobs`` demo jobs (see :func:`iter_demo_jobs`) into
    ``archive``, showing a progress bar if ``progress`` is set.

    In the meta-only mode (``with_data=False``) every job is stored with empty metric
    data, so that the archive still holds data for every job it has meta data of.
    """
    began = time.perf_counter()
    clusters = demo_clusters()
    for cluster in clusters:
        archive.store_cluster(cluster)
    per_cluster: Counter[str] = Counter()
    users, projects = set(), set()
    tagged = series = samples = 0
    first, last = None, 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), disable=not progress) as bar:
        task = bar.add_task("demo jobs", total=jobs)
        for job, data in iter_demo_jobs(
            jobs=jobs, seed=seed, end_time=end_time, with_data=with_data, period_days=period_days
        ):
            archive.import_job(job, data if data is not None else JobData(root={}))
            per_cluster[job.cluster] += 1
            users.add(job.user)
            projects.add(job.project)
            tagged += bool(job.tags)
            n_series, n_samples = _count(data)
            series, samples = series + n_series, samples + n_samples
            first = job.start_time if first is None else min(first, job.start_time)
            last = max(last, job.end_time)
            bar.advance(task)
    return DemoSummary(
        clusters=tuple(c.name for c in clusters),
        jobs=sum(per_cluster.values()),
        jobs_per_cluster=dict(per_cluster),
        users=len(users),
        projects=len(projects),
        tagged=tagged,
        series=series,
        samples=samples,
        first_start=first or 0,
        last_stop=last,
        seconds=time.perf_counter() - began,
    )
