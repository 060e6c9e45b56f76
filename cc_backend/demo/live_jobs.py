"""The jobs of the live demo: drawn like the archive's, but running for minutes.

:class:`JobSource` draws batches of jobs with the archive generator's job table
(:func:`~cc_backend.demo.jobs.draw_jobs`: the same users, applications, job sizes,
behaviours and final states) and makes a :class:`LiveJob` of one when it starts: its
start request is the meta data the archive's ``meta.json`` would hold
(:func:`~cc_backend.demo.meta.job_fields`), its run time is scaled from hours to
minutes (:class:`RunTimes`) and its metric values are computed for its whole run
(:func:`~cc_backend.demo.live_values.job_values`). Running jobs the simulator did not
start itself (left running by an earlier simulator) are *adopted*: they get the profile
of a drawn job and run on for a while.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from cc_backend.demo.allocation import Placement
from cc_backend.demo.generate import DEFAULT_PROJECTS, DEFAULT_USERS
from cc_backend.demo.jobs import STATES, JobTable, draw_jobs
from cc_backend.demo.live_values import JobValues, PoolFrame, job_values
from cc_backend.demo.meta import Pool, job_fields
from cc_backend.demo.population import Population, draw_population
from cc_backend.demo.profiles import Behaviour
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import JobState, MonitoringStatus

__all__ = ["JobSource", "LiveJob", "RunTimes", "demo_population"]

#: Jobs drawn at a time.
BATCH = 512
#: A job gets at most this share of its subcluster's nodes.
MAX_NODE_SHARE = 1 / 8
#: Seconds over which a batch of jobs is drawn.
_PERIOD = 2 * 86400


def demo_population(seed: int = 1) -> Population:
    """The users and projects of a demo archive generated with ``seed`` (its default 1),
    so that live jobs belong to the users whose finished jobs the archive holds."""
    return draw_population(np.random.default_rng(seed), DEFAULT_USERS, DEFAULT_PROJECTS)


@dataclass(frozen=True, slots=True)
class RunTimes:
    """How long live jobs run: whole time steps between ``shortest`` and ``longest``
    seconds (their wall time). A drawn job that used a share of its wall time uses that
    share of ``longest``; jobs that hit their wall time (timeouts) run ``longest``."""

    step: int
    shortest: int
    longest: int

    def of(self, duration: int, walltime: int) -> int:
        """The live run time of a drawn job that ran ``duration`` of ``walltime`` seconds."""
        wanted = min(max(duration / walltime * self.longest, self.shortest), self.longest)
        return max(self.step, round(wanted / self.step) * self.step)

    @property
    def walltime(self) -> int:
        """The wall time live jobs ask for: ``longest``, in whole minutes."""
        return -(-self.longest // 60) * 60


@dataclass(slots=True)
class LiveJob:
    """A job the simulator runs: where, from when until when, and how it ends."""

    job_id: int
    cluster: str
    #: Index of its subcluster in :attr:`JobSource.pools`.
    pool: int
    placement: Placement
    hostnames: list[str]
    start: int
    stop: int
    state: JobState
    values: JobValues
    #: Whether the simulator found it running rather than starting it.
    adopted: bool = False

    def stop_request(self) -> dict[str, Any]:
        """The body of its ``stop_job`` request."""
        return {
            "jobId": self.job_id,
            "cluster": self.cluster,
            "startTime": self.start,
            "jobState": self.state.value,
            "stopTime": self.stop,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    """A drawn job waiting to start: a row of a job table, its subcluster and its size."""

    table: JobTable
    row: int
    pool: int
    nodes: int
    slots: int
    user: int


class JobSource:
    """Drawn jobs for the clusters (the demo's), and live jobs made from them."""

    def __init__(
        self,
        clusters: list[Cluster],
        population: Population,
        run_times: RunTimes,
        rng: np.random.Generator,
    ) -> None:
        self.clusters = clusters
        self.population = population
        self.run_times = run_times
        self.rng = rng
        self.pools = [Pool.of(c, sc) for c in clusters for sc in c.sub_clusters]
        self.frames = [PoolFrame(pool) for pool in self.pools]
        self._first_pool = np.cumsum([0] + [len(c.sub_clusters) for c in clusters])[:-1]
        self._waiting: dict[str, deque[Candidate]] = {c.name: deque() for c in clusters}
        self._users = {name: index for index, name in enumerate(population.users)}

    def pools_of(self, cluster: str) -> list[int]:
        """Indexes of the subclusters of ``cluster`` in :attr:`pools`."""
        return [i for i, pool in enumerate(self.pools) if pool.cluster.name == cluster]

    def user_index(self, name: str) -> int:
        """A number for user ``name`` (the population's index for demo users)."""
        return self._users.setdefault(name, len(self._users))

    def next(self, cluster: str) -> Candidate:
        """The next drawn job of ``cluster`` (drawing a new batch when none is left)."""
        waiting = self._waiting[cluster]
        while not waiting:
            self._draw()
        return waiting.popleft()

    def _draw(self) -> None:
        # Only the jobs' shapes are used, not when they ran: any period does.
        table = draw_jobs(
            self.rng, BATCH, self.population, self.clusters, end=_PERIOD * 10, period=_PERIOD
        )
        pool_of = self._first_pool[table.cluster] + table.subcluster
        for row in range(len(table)):
            pool = int(pool_of[row])
            size = len(self.pools[pool].hosts)
            nodes = min(int(table.nodes[row]), max(1, int(size * MAX_NODE_SHARE)))
            slots = min(int(table.slots[row]), self.pools[pool].slots)
            candidate = Candidate(table, row, pool, nodes, slots, int(table.user[row]))
            self._waiting[self.pools[pool].cluster.name].append(candidate)

    def start(
        self, candidate: Candidate, placement: Placement, job_id: int, start: int
    ) -> tuple[LiveJob, dict[str, Any]]:
        """The live job of ``candidate`` on ``placement`` from ``start``, and the body of
        its ``start_job`` request."""
        table, row = candidate.table, candidate.row
        run = self.run_times.of(int(table.duration[row]), int(table.walltime[row]))
        wait = int(self.rng.integers(10, 600))
        one = _one_row(
            table,
            row,
            job_id=job_id,
            start=start,
            submit=start - wait,
            duration=run,
            walltime=self.run_times.walltime,
            nodes=len(placement.nodes),
        )
        pool = self.pools[candidate.pool]
        fields = job_fields(
            one, 0, pool, placement, population=self.population, draw=float(self.rng.random())
        )
        job = LiveJob(
            job_id=job_id,
            cluster=pool.cluster.name,
            pool=candidate.pool,
            placement=placement,
            hostnames=[r["hostname"] for r in fields["resources"]],
            start=start,
            stop=start + run,
            state=STATES[int(table.state[row])],
            values=self._values(candidate, placement, fields["resources"], start, run),
        )
        body = {k: v for k, v in fields.items() if k not in ("duration", "stopTime")}
        body["jobState"] = JobState.RUNNING.value
        body["monitoringStatus"] = int(MonitoringStatus.RUNNING_OR_ARCHIVING)
        return job, body

    def _values(
        self,
        candidate: Candidate,
        placement: Placement,
        resources: list[dict[str, Any]],
        first: int,
        run: int,
    ) -> JobValues:
        table, row = candidate.table, candidate.row
        profile = (table.levels.take(row), Behaviour(int(table.behaviour[row])))
        step = self.run_times.step
        timing = (first, step, max(1, run // step))
        frame = self.frames[candidate.pool]
        return job_values(
            frame, placement.nodes, resources, profile=profile, timing=timing, rng=self.rng
        )

    def adopt(self, job: dict[str, Any], first: int) -> tuple[LiveJob, int] | None:
        """A running job found on the server (REST job JSON) as a live job whose values
        start at ``first``, and its user's number; ``None`` if its hosts are not those
        of a demo subcluster. It gets a drawn job's profile and final state, and stops
        when a drawn run time from its start has passed, but not before ``first`` plus
        one step."""
        pool_index = self._pool_of(job)
        if pool_index is None:
            return None
        pool = self.pools[pool_index]
        rows = {host: i for i, host in enumerate(pool.hosts)}
        resources = job.get("resources") or []
        if not resources or any(r.get("hostname") not in rows for r in resources):
            return None
        candidate = self._like(pool_index)
        table, row = candidate.table, candidate.row
        start = int(job["startTime"])
        step = self.run_times.step
        run = self.run_times.of(int(table.duration[row]), int(table.walltime[row]))
        stop = max(start + run, first + step)
        placement = Placement([rows[r["hostname"]] for r in resources], _slots(pool, resources[0]))
        live = LiveJob(
            job_id=int(job["jobId"]),
            cluster=pool.cluster.name,
            pool=pool_index,
            placement=placement,
            hostnames=[r["hostname"] for r in resources],
            start=start,
            stop=stop,
            state=STATES[int(table.state[row])],
            values=self._values(candidate, placement, resources, first, stop - first),
            adopted=True,
        )
        return live, self.user_index(str(job.get("user", "")))

    def _pool_of(self, job: dict[str, Any]) -> int | None:
        for index, pool in enumerate(self.pools):
            if pool.cluster.name == job.get("cluster") and (
                pool.subcluster.name == job.get("subCluster")
            ):
                return index
        return None

    def _like(self, pool: int) -> Candidate:
        """A drawn job of subcluster ``pool`` (taken out of the waiting ones)."""
        cluster = self.pools[pool].cluster.name
        waiting = self._waiting[cluster]
        if not any(c.pool == pool for c in waiting):
            self._draw()
        for candidate in waiting:
            if candidate.pool == pool:
                waiting.remove(candidate)
                return candidate
        return self.next(cluster)  # no drawn job runs there: any profile of the cluster


def _slots(pool: Pool, resource: dict[str, Any]) -> list[int]:
    """The slots (GPUs or sockets) a job's resource holds on its node."""
    topology = pool.subcluster.topology
    if pool.gpus and resource.get("accelerators"):
        ids = topology.accelerator_ids()
        return sorted(ids.index(a) for a in resource["accelerators"] if a in ids)
    if not pool.gpus and resource.get("hwthreads"):
        return topology.sockets_of(resource["hwthreads"])[0]
    return list(range(pool.slots))


def _one_row(table: JobTable, row: int, **values: int) -> JobTable:
    """Row ``row`` of ``table`` as a table of its own, with some columns set to
    ``values``; never a job array."""
    columns: dict[str, Any] = {
        f.name: getattr(table, f.name)[row : row + 1]
        for f in dataclasses.fields(table)
        if f.name != "levels"
    }
    columns.update(
        {name: np.array([value], dtype=np.int64) for name, value in values.items()},
        array_job_id=np.zeros(1, dtype=np.int64),
        array_size=np.ones(1, dtype=np.int64),
    )
    levels = table.levels.take(np.array([row], dtype=np.int64))
    result: JobTable = dataclasses.replace(table, levels=levels, **columns)
    return result
