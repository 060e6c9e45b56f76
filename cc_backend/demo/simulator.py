"""The live demo: jobs that start, report metrics and stop while one watches.

A :class:`Simulator` plays the scheduler adapter and the node agents of the demo
clusters against a running server, through its REST API only:

- it keeps ``jobs`` jobs running on each cluster. They are drawn like the demo archive's
  jobs (same users, applications, sizes, behaviours and final states) but run for
  minutes (:mod:`cc_backend.demo.live_jobs`), on free nodes: no node is ever in two
  exclusive jobs (:mod:`cc_backend.demo.occupancy`);
- it starts them with ``POST /api/jobs/start_job/`` (a job id the server already has is
  skipped), and stops them with ``POST /api/jobs/stop_job/`` when their run time is over,
  in their drawn final state (mostly completed, sometimes failed, cancelled, timed out or
  out of memory); the server then archives them;
- every time step (the metrics' ``timestep``) it pushes one line-protocol batch per
  cluster to the built-in metric store (``POST /api/write``): every metric of every node
  at its native scope, with the running jobs' values and low idle values elsewhere
  (:mod:`cc_backend.demo.live_values`).

When the server cannot be reached or refuses the token, the simulator says so in the log
and tries again with exponential backoff; jobs due to stop meanwhile are stopped, with
their planned stop time, once it answers again. The values of the steps missed are lost,
as a node agent's would be.

On exit (Ctrl-C, SIGTERM) the jobs are left running, as a real cluster's keep running
while its monitoring is down; only the pushing stops. A simulator that starts takes over
every running job of its clusters (those an earlier run left, or any other), reports
values for them and stops them after a while.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cc_backend.demo.api_client import DemoApi
from cc_backend.demo.clusters import demo_clusters
from cc_backend.demo.live_clock import Backoff, Clock, WallClock
from cc_backend.demo.live_jobs import JobSource, LiveJob, RunTimes, demo_population
from cc_backend.demo.node_states import node_reports
from cc_backend.demo.occupancy import Occupancy
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import (
    BackendUnavailable,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

__all__ = ["Counters", "Simulator", "SimulatorSettings", "first_job_id", "simulate"]

log = logging.getLogger(__name__)

#: Job ids grow by ten a minute from here, so that a new run continues above an old one.
_ID_EPOCH = 1_577_836_800  # 2020-01-01
#: Drawn jobs tried per job to start before giving up for this step (the nodes are full).
_TRIES_PER_START = 20
#: Failures that make the simulator wait and try again.
_RETRIED = (BackendUnavailable, Unauthenticated, PermissionDenied)


@dataclass(frozen=True)
class SimulatorSettings:
    """What the simulator runs; :class:`InvalidInput` for impossible values."""

    #: Jobs kept running per cluster.
    jobs: int = 12
    #: Shortest and longest run time of a job, in minutes (the longest is its wall time).
    min_minutes: float = 2.0
    max_minutes: float = 20.0
    #: The clusters to run jobs on (empty: every demo cluster).
    clusters: tuple[str, ...] = ()
    #: Whether nodes without a job report (idle) values too.
    idle_nodes: bool = True
    #: Seed of the random numbers (None: different jobs every run).
    seed: int | None = None
    #: Steps between two status lines in the log.
    status_every: int = 10
    #: Steps between two node-state reports to ``/api/nodestate/`` (0: none).
    node_states_every: int = 5
    #: First and longest pause before trying a failed request again, in seconds.
    backoff: tuple[float, float] = (1.0, 60.0)

    def __post_init__(self) -> None:
        problems = []
        if self.jobs < 0:
            problems.append(f"jobs must not be negative, got {self.jobs}")
        if not 0 < self.min_minutes <= self.max_minutes:
            problems.append(
                "need 0 < min-minutes <= max-minutes, got "
                f"{self.min_minutes:g} and {self.max_minutes:g}"
            )
        if self.node_states_every < 0:
            problems.append(f"node-states-every must not be negative, got {self.node_states_every}")
        if not 0 < self.backoff[0] <= self.backoff[1]:
            problems.append(f"backoff must be 0 < first <= longest, got {self.backoff}")
        if problems:
            raise InvalidInput("; ".join(problems))


@dataclass
class Counters:
    """What the simulator did so far."""

    started: int = 0
    stopped: int = 0
    adopted: int = 0
    steps: int = 0
    #: Lines pushed in the last step (all clusters) and in total.
    lines: int = 0
    total_lines: int = 0
    by_state: dict[str, int] = field(default_factory=dict)


def first_job_id(timestamp: int) -> int:
    """The first job id a simulator connecting at ``timestamp`` gives (unless a running
    job it takes over has a larger one)."""
    return (timestamp - _ID_EPOCH) // 6


class Simulator:
    """Runs live demo jobs on ``clusters`` (default: the demo's) through ``api``.

    :meth:`run` does the work; :attr:`running` holds the jobs it runs now.
    """

    def __init__(
        self,
        api: DemoApi,
        settings: SimulatorSettings | None = None,
        *,
        clock: Clock | None = None,
        clusters: list[Cluster] | None = None,
    ) -> None:
        self.api = api
        self.settings = settings or SimulatorSettings()
        self.clock: Clock = clock or WallClock()
        every = clusters or demo_clusters()
        names = [c.name for c in every]
        unknown = sorted(set(self.settings.clusters) - set(names))
        if unknown:
            raise InvalidInput(
                f"unknown cluster(s) {', '.join(unknown)}: the demo clusters are {', '.join(names)}"
            )
        self.clusters = [
            n for n in names if not self.settings.clusters or n in self.settings.clusters
        ]
        self.step = math.gcd(*(m.timestep for c in every for m in c.metrics))
        minutes = (self.settings.min_minutes, self.settings.max_minutes)
        shortest, longest = (max(self.step, round(m * 60)) for m in minutes)
        self.source = JobSource(
            every,
            demo_population(),
            RunTimes(self.step, shortest, longest),
            np.random.default_rng(self.settings.seed),
        )
        self.occupancy = [
            Occupancy(len(pool.hosts), pool.slots, multi_user=pool.gpus)
            for pool in self.source.pools
        ]
        #: The jobs running now, by (cluster, job id).
        self.running: dict[tuple[str, int], LiveJob] = {}
        self.counters = Counters()
        self._backoff = Backoff(*self.settings.backoff)
        self._connected = False
        self._next_id = 0
        self._next_step: int | None = None

    # -- the loop -------------------------------------------------------------------------

    async def run(self, steps: int | None = None) -> None:
        """Run ``steps`` time steps (without: until cancelled), waiting for each on the
        clock; between steps, failed requests are tried again as the backoff says.

        Raises :class:`InvalidInput` if the server lacks one of the clusters; every
        failure of the server or the token is logged and tried again.
        """
        if self._next_step is None:
            self._next_step = int(self.clock.now()) // self.step * self.step
        done = 0
        while steps is None or done < steps:
            retry = self._backoff.retry_at
            wake = self._next_step if retry is None else min(self._next_step, retry)
            await self.clock.sleep_until(wake)
            self._skip_missed_steps()
            if wake < self._next_step:
                await self._attempt(self._catch_up)
                continue
            timestamp = self._next_step
            self._next_step += self.step
            done += 1
            await self._attempt(functools.partial(self._step, timestamp))

    def _skip_missed_steps(self) -> None:
        assert self._next_step is not None
        behind = int(self.clock.now()) - self._next_step
        if behind >= 2 * self.step:
            missed = behind // self.step
            self._next_step += missed * self.step
            log.warning("fell %d steps behind (was the machine asleep?): they are skipped", missed)

    async def _attempt(self, work: Callable[[], Awaitable[None]]) -> None:
        connected = self._connected
        try:
            await work()
        except _RETRIED as exc:
            self._failed(exc)
        else:
            failures = self._backoff.succeed()
            if failures and connected:  # (a first connection says so itself)
                log.info("the server at %s answers again", self.api.url)

    def _failed(self, exc: BackendUnavailable | Unauthenticated | PermissionDenied) -> None:
        kind = type(exc).__name__
        delay = self._backoff.fail(self.clock.now(), kind)
        attempt = self._backoff.failures
        if isinstance(exc, BackendUnavailable):
            level = logging.WARNING if self._connected else logging.INFO
            what = exc.message if self._connected else f"waiting for the server: {exc.message}"
        else:
            level = logging.ERROR
            what = (
                f"the server refused the token ({exc.message}); pass the API token of a "
                "user with the api role (`cc-backend jwt USER`) with --token"
            )
        if attempt > 1:
            level = min(level, logging.INFO)
            what = f"{what} (attempt {attempt})"
        log.log(level, "%s; trying again in %s s", what, f"{delay:g}")

    async def _catch_up(self) -> None:
        """Between steps, after a failure: see whether the server answers (connect, if
        that was what failed) and stop the jobs that are due."""
        now = int(self.clock.now())
        if self._connected:
            await self.api.clusters()
        else:
            await self._connect(now)
        await self._stop_due(now)

    async def _step(self, timestamp: int) -> None:
        if not self._connected:
            await self._connect(timestamp)
        await self._stop_due(timestamp)
        await self._start_jobs(timestamp)
        await self._push(timestamp)
        every = self.settings.node_states_every
        if every and self.counters.steps % every == 0:
            await self._report_node_states()
        self.counters.steps += 1
        if self.counters.steps % self.settings.status_every == 0:
            self._log_status()

    # -- connecting and adopting ----------------------------------------------------------

    async def _connect(self, timestamp: int) -> None:
        known = await self.api.clusters()
        missing = [c for c in self.clusters if c not in known]
        if missing:
            raise InvalidInput(
                f"the server at {self.api.url} has no cluster {', '.join(missing)} "
                f"(it has: {', '.join(known) or 'none'}); the simulator runs the demo "
                "clusters of `cc-archive demo`"
            )
        self._next_id = max(self._next_id, first_job_id(timestamp))
        adopted = 0
        for cluster in self.clusters:
            for job in await self.api.running_jobs(cluster):
                if (cluster, int(job["jobId"])) not in self.running:
                    adopted += self._adopt(job, timestamp)
        self._connected = True
        self.counters.adopted += adopted
        log.info(
            "connected to %s: running %d jobs on each of %s, %s to %s minutes each%s",
            self.api.url,
            self.settings.jobs,
            ", ".join(self.clusters),
            f"{self.settings.min_minutes:g}",
            f"{self.settings.max_minutes:g}",
            f"; took over {adopted} running jobs" if adopted else "",
        )

    def _adopt(self, job: dict[str, Any], timestamp: int) -> int:
        found = self.source.adopt(job, timestamp)
        if found is None:
            log.warning("running job %s is not on demo nodes: left alone", job.get("jobId"))
            return 0
        live, user = found
        occupancy = self.occupancy[live.pool]
        if not occupancy.is_free(live.placement):
            log.warning(
                "running job %d shares nodes with another running job: left alone", live.job_id
            )
            return 0
        occupancy.claim(live.placement, user)
        self.running[(live.cluster, live.job_id)] = live
        self._next_id = max(self._next_id, live.job_id + 1)
        return 1

    # -- stopping and starting ------------------------------------------------------------

    async def _stop_due(self, timestamp: int) -> None:
        due = sorted(
            (job for job in self.running.values() if job.stop <= timestamp),
            key=lambda job: job.stop,
        )
        for job in due:
            try:
                await self.api.stop_job(job.stop_request())
            except (NotFound, Conflict, InvalidInput) as exc:
                log.warning("job %d could not be stopped: %s; forgotten", job.job_id, exc.message)
            else:
                self.counters.stopped += 1
                state = job.state.value
                self.counters.by_state[state] = self.counters.by_state.get(state, 0) + 1
                log.info(
                    "stopped job %d on %s (%s) after %s minutes",
                    job.job_id,
                    job.cluster,
                    state,
                    f"{(job.stop - job.start) / 60:g}",
                )
            self._forget(job)

    def _forget(self, job: LiveJob) -> None:
        self.occupancy[job.pool].release(job.placement)
        del self.running[(job.cluster, job.job_id)]

    async def _start_jobs(self, timestamp: int) -> None:
        for cluster in self.clusters:
            running = sum(1 for job in self.running.values() if job.cluster == cluster)
            wanted = self.settings.jobs - running
            tries = _TRIES_PER_START * max(wanted, 0)
            while wanted > 0 and tries > 0:
                tries -= 1
                wanted -= await self._start_one(cluster, timestamp)

    async def _start_one(self, cluster: str, timestamp: int) -> int:
        """Start a drawn job of ``cluster`` if it fits; 1 if one was started."""
        candidate = self.source.next(cluster)
        occupancy = self.occupancy[candidate.pool]
        placement = occupancy.place(
            candidate.nodes, candidate.slots, candidate.user, self.source.rng
        )
        if placement is None:
            return 0
        job_id, self._next_id = self._next_id, self._next_id + 1
        job, body = self.source.start(candidate, placement, job_id, timestamp)
        try:
            await self.api.start_job(body)
        except (Conflict, InvalidInput, NotFound) as exc:
            occupancy.release(placement)
            log.info("job %d was not started (%s): trying another", job_id, exc.message)
            return 0
        except BaseException:
            occupancy.release(placement)
            raise
        self.running[(cluster, job_id)] = job
        self.counters.started += 1
        log.info(
            "started job %d on %s: %d node(s) %s, %s minutes",
            job_id,
            cluster,
            len(job.hostnames),
            job.hostnames[0] if len(job.hostnames) == 1 else f"{job.hostnames[0]}...",
            f"{(job.stop - job.start) / 60:g}",
        )
        return 1

    # -- node states ----------------------------------------------------------------------

    async def _report_node_states(self) -> None:
        for cluster in self.clusters:
            nodes = []
            for index in self.source.pools_of(cluster):
                placements = [j.placement for j in self.running.values() if j.pool == index]
                nodes += node_reports(self.source.pools[index], self.occupancy[index], placements)
            await self.api.node_states(cluster, nodes)

    # -- metrics --------------------------------------------------------------------------

    async def _push(self, timestamp: int) -> None:
        lines = 0
        for cluster in self.clusters:
            began = time.perf_counter()
            payload = self._payload(cluster, timestamp)
            built = time.perf_counter() - began
            count = payload.count(b"\n")
            if not count:
                continue
            answer = await self.api.write(cluster, payload)
            lines += count
            if answer.get("rejected"):
                log.warning(
                    "the metric store refused %d of %d lines of %s: %s",
                    answer["rejected"],
                    count,
                    cluster,
                    "; ".join(answer.get("errors", [])[:3]),
                )
            if self.counters.steps == 0:
                log.info(
                    "%s: %d lines per step, built in %.3f s (%s lines/s)",
                    cluster,
                    count,
                    built,
                    f"{count / max(built, 1e-9):,.0f}",
                )
        self.counters.lines = lines
        self.counters.total_lines += lines

    def _payload(self, cluster: str, timestamp: int) -> bytes:
        """The lines of every node of ``cluster`` at ``timestamp`` (only of nodes with a
        job unless idle nodes report too)."""
        parts = []
        for index in self.source.pools_of(cluster):
            occupancy = self.occupancy[index]
            hosts = np.ones(len(occupancy.owner), dtype=bool)
            if not self.settings.idle_nodes:
                hosts = occupancy.busy()
                if not hosts.any():
                    continue
            frame = self.source.frames[index]
            jobs = [job.values for job in self.running.values() if job.pool == index]
            values = frame.step(timestamp, jobs, occupancy.free_share(), self.source.rng)
            parts.append(frame.render(timestamp, values, hosts))
        return "".join(parts).encode()

    def _log_status(self) -> None:
        per_cluster = ", ".join(
            f"{c} {sum(1 for j in self.running.values() if j.cluster == c)}" for c in self.clusters
        )
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.counters.by_state.items()))
        log.info(
            "running jobs: %s; %d started, %d stopped (%s) so far; %s lines in the last step",
            per_cluster,
            self.counters.started,
            self.counters.stopped,
            states or "none",
            f"{self.counters.lines:,}",
        )


async def simulate(url: str, token: str, settings: SimulatorSettings) -> None:
    """Run a simulator against the server at ``url`` until SIGINT or SIGTERM; the jobs
    are left running."""
    api = DemoApi(url, token)
    simulator = Simulator(api, settings)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, task.cancel)
    try:
        await simulator.run()
    except asyncio.CancelledError:
        log.info(
            "stopped pushing: %d jobs left running (a new run takes them over)",
            len(simulator.running),
        )
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
        await api.close()
