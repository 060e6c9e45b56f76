"""The live demo simulator against a real server: the REST app of a site with the demo
clusters on 127.0.0.1, driven through a clock that jumps instead of waiting."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.testing import bind_unused_port

from cc_backend.cli import main
from cc_backend.demo.api_client import DemoApi
from cc_backend.demo.clusters import demo_clusters
from cc_backend.demo.simulator import Simulator, SimulatorSettings, first_job_id
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.metricstore.models import ApiQueryRequest
from cc_backend.server import Backends, make_api_app
from cc_backend.services.requests import StopJobRequest
from tests.conftest import PROJECT_ROOT

STEP = 60
CLUSTERS = {cluster.name: cluster for cluster in demo_clusters()}


class SteppingClock:
    """A clock that jumps to the time the simulator waits for."""

    def __init__(self, start: float) -> None:
        self.time = start

    def now(self) -> float:
        return self.time

    async def sleep_until(self, when: float) -> None:
        self.time = max(self.time, when)
        await asyncio.sleep(0)


class Served:
    """The site's REST app on a loopback port that can go away and come back."""

    def __init__(self, backends: Backends) -> None:
        self.app = make_api_app(backends)
        sock, self.port = bind_unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http: HTTPServer | None = None
        self._listen([sock])

    def _listen(self, sockets: list[socket.socket]) -> None:
        self.http = HTTPServer(self.app)
        self.http.add_sockets(sockets)

    async def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
            await self.http.close_all_connections()
            self.http = None

    def start(self) -> None:
        self._listen(bind_sockets(self.port, "127.0.0.1"))


@pytest.fixture
async def served(backends: Backends) -> AsyncIterator[Served]:
    server = Served(backends)
    yield server
    await server.stop()


def settings(**changes: object) -> SimulatorSettings:
    """Small runs on fritz by default: four jobs of two to five minutes, busy nodes only."""
    values: dict[str, object] = {
        "jobs": 4,
        "min_minutes": 2,
        "max_minutes": 5,
        "clusters": ("fritz",),
        "idle_nodes": False,
        "seed": 11,
        "backoff": (1.0, 8.0),
    }
    values.update(changes)
    return SimulatorSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> SteppingClock:
    """Twenty minutes ago on a step: the metric store takes values of the past hours and
    of up to an hour ahead, and running jobs are read up to now."""
    return SteppingClock(int(time.time()) // STEP * STEP - 20 * STEP)


@pytest.fixture
async def simulator(
    served: Served, token_for: Callable[..., str], clock: SteppingClock
) -> AsyncIterator[Callable[..., Simulator]]:
    """``simulator(token=None, **settings)``: a simulator against the served site."""
    apis: list[DemoApi] = []

    def make(token: str | None = None, **changes: object) -> Simulator:
        api = DemoApi(served.url, token if token is not None else token_for("adapter"))
        apis.append(api)
        return Simulator(api, settings(**changes), clock=clock)

    yield make
    for api in apis:
        await api.close()


def running_jobs(backends: Backends, cluster: str = "fritz") -> list[Job]:
    wanted = JobFilter.model_validate({"state": ["running"], "cluster": {"eq": cluster}})
    return backends.jobs.query([wanted], actor=None).items


def stored(backends: Backends, cluster: str, job_id: int) -> Job:
    (found,) = backends.jobs.find(job_id, cluster)
    return found


def query_store(
    backends: Backends, cluster: str, start: int, stop: int, queries: list[dict[str, object]]
) -> list[list[float]]:
    """Each query's values (one list per query, ids combined), NaN for gaps."""
    assert backends.metric_store is not None
    request = ApiQueryRequest.model_validate(
        {"cluster": cluster, "from": start, "to": stop, "queries": queries}
    )
    rows = backends.metric_store.query(request).results
    return [[float(v) for v in row[0].data] if row[0].data is not None else [] for row in rows]


# -- jobs -----------------------------------------------------------------------------


async def test_started_jobs_run_in_the_database_on_the_simulators_nodes(
    simulator: Callable[..., Simulator], backends: Backends, clock: SteppingClock
) -> None:
    sim = simulator()
    await sim.run(steps=1)

    jobs = {job.job_id: job for job in running_jobs(backends)}
    assert sorted(jobs) == sorted(job_id for _, job_id in sim.running)
    assert len(jobs) == 4
    for live in sim.running.values():
        job = jobs[live.job_id]
        assert [r.hostname for r in job.resources] == live.hostnames
        assert job.start_time == live.start == int(clock.time)
        assert job.walltime == 300
        assert job.user
        assert job.project
        assert job.meta_data
        assert job.meta_data["jobScript"]


async def test_jobs_stop_at_the_end_of_their_run_time_in_their_drawn_state(
    simulator: Callable[..., Simulator], backends: Backends
) -> None:
    sim = simulator()
    seen = {}
    for _ in range(8):
        await sim.run(steps=1)
        seen.update(sim.running)
        assert len(running_jobs(backends)) == len(sim.running) == 4

    stopped = [job for key, job in seen.items() if key not in sim.running]
    assert len(stopped) >= 4
    assert sim.counters.stopped == len(stopped)
    for live in stopped:
        job = stored(backends, "fritz", live.job_id)
        assert job.job_state is live.state
        assert job.job_state.is_final
        assert job.duration == live.stop - live.start
        assert 2 * STEP <= job.duration <= 5 * STEP
        assert job.monitoring_status is MonitoringStatus.RUNNING_OR_ARCHIVING


async def test_a_job_id_the_server_has_already_is_skipped(
    simulator: Callable[..., Simulator],
    backends: Backends,
    clock: SteppingClock,
    make_job: Callable[..., Job],
    caplog: pytest.LogCaptureFixture,
) -> None:
    taken = first_job_id(int(clock.time))
    adapter = User.build("adapter", ["api"])
    backends.lifecycle.start_job(make_job(jobId=taken, startTime=int(clock.time) - 600), adapter)
    stop = StopJobRequest(job_id=taken, cluster="fritz", stop_time=int(clock.time) - 60)
    backends.lifecycle.stop_job(stop, adapter)

    sim = simulator()
    with caplog.at_level(logging.INFO, logger="cc_backend.demo"):
        await sim.run(steps=1)

    assert any(f"job {taken} was not started" in r.getMessage() for r in caplog.records)
    assert sorted(job.job_id for job in running_jobs(backends)) == [taken + n for n in range(1, 5)]


async def test_no_node_is_in_two_exclusive_jobs_and_no_gpu_in_two_jobs(
    simulator: Callable[..., Simulator], backends: Backends
) -> None:
    sim = simulator(clusters=("alex",), jobs=14, min_minutes=1, max_minutes=4)
    shared_some = False
    for _ in range(6):
        await sim.run(steps=1)
        jobs = running_jobs(backends, "alex")
        assert len(jobs) == 14
        whole: dict[str, int] = {}
        gpus: dict[tuple[str, str], int] = {}
        for job in jobs:
            for resource in job.resources:
                if job.num_acc == 8 * job.num_nodes:
                    assert whole.setdefault(resource.hostname, job.job_id) == job.job_id
                for gpu in resource.accelerators or []:
                    assert gpus.setdefault((resource.hostname, gpu), job.job_id) == job.job_id
        partly = {host for host, _ in gpus} - set(whole)
        assert not partly & set(whole)
        shared_some |= any(
            len({j for (h, _), j in gpus.items() if h == host}) > 1 for host in partly
        )
    assert shared_some, "some node should have run two jobs at once"


async def test_a_new_simulator_takes_over_the_jobs_left_running(
    simulator: Callable[..., Simulator], backends: Backends
) -> None:
    first = simulator(max_minutes=20, min_minutes=15)
    await first.run(steps=1)
    left = set(first.running)

    second = simulator(seed=12, max_minutes=3, min_minutes=2)
    await second.run(steps=1)
    assert left <= set(second.running)
    assert second.counters.adopted == 4
    assert len(running_jobs(backends)) == 4  # nothing new: the target was met already

    await second.run(steps=5)
    for cluster, job_id in left:
        assert stored(backends, cluster, job_id).job_state is not JobState.RUNNING
    assert len(running_jobs(backends)) == 4


# -- metrics --------------------------------------------------------------------------


async def test_each_step_stores_every_metric_of_the_jobs_nodes_at_its_timestep(
    simulator: Callable[..., Simulator], backends: Backends, clock: SteppingClock
) -> None:
    sim = simulator(jobs=1, max_minutes=10, min_minutes=10)
    first = int(clock.time)
    await sim.run(steps=3)

    (live,) = sim.running.values()
    job = stored(backends, "fritz", live.job_id)
    data = backends.job_metric_data.load(job, None, [MetricScope.NODE])
    metrics = CLUSTERS["fritz"].metrics_for(job.sub_cluster)
    assert sorted(data.root) == sorted(m.name for m in metrics)
    for metric in metrics:
        series = data.root[metric.name][MetricScope.NODE].series
        assert [s.hostname for s in series] == live.hostnames
        for one in series:
            values = one.data[~np.isnan(one.data)]
            assert len(values) == 3, metric.name

    host = live.hostnames[0]
    topology = CLUSTERS["fritz"].subcluster(job.sub_cluster).topology
    threads = [str(t) for t in (job.resources[0].hwthreads or topology.node)]
    per_thread, per_socket = query_store(
        backends,
        "fritz",
        first,
        first + 3 * STEP - 1,
        [
            {"metric": "cpu_user", "host": host, "type": "hwthread", "type-ids": threads},
            {"metric": "mem_bw", "host": host, "type": "socket", "type-ids": ["0", "1"]},
        ],
    )
    assert len(per_thread) == len(per_socket) == 3
    assert all(0 <= v <= 100 for v in per_thread)


async def test_gpu_jobs_report_per_gpu_and_idle_nodes_report_low_values(
    simulator: Callable[..., Simulator], backends: Backends, clock: SteppingClock
) -> None:
    sim = simulator(clusters=("alex",), jobs=2, idle_nodes=True)
    now = int(clock.time)
    await sim.run(steps=1)

    busy = {host for live in sim.running.values() for host in live.hostnames}
    alex = CLUSTERS["alex"]
    idle = next(host for host in alex.subcluster("a40").hosts if host not in busy)
    gpus = alex.subcluster("a40").topology.accelerator_ids()
    load, utilization = query_store(
        backends,
        "alex",
        now,
        now + STEP - 1,
        [
            {"metric": "cpu_load", "host": idle},
            {"metric": "acc_utilization", "host": idle, "type": "accelerator", "type-ids": gpus},
        ],
    )
    assert len(load) == len(utilization) == 1
    assert load[0] < 0.05 * alex.metric("cpu_load").peak
    assert utilization[0] < 5

    live = next(iter(sim.running.values()))
    job = stored(backends, "alex", live.job_id)
    data = backends.job_metric_data.load(job, ["acc_utilization"], [MetricScope.ACCELERATOR])
    series = data.root["acc_utilization"][MetricScope.ACCELERATOR].series
    assert sorted(s.id or "" for s in series) == sorted(
        gpu for r in job.resources for gpu in r.accelerators or []
    )


async def test_stopped_jobs_are_archived_with_the_values_pushed(
    simulator: Callable[..., Simulator], backends: Backends
) -> None:
    sim = simulator(jobs=1, min_minutes=3, max_minutes=3)
    backends.archiving.start()
    try:
        await sim.run(steps=1)
        (live,) = sim.running.values()
        await sim.run(steps=3)
        assert (live.cluster, live.job_id) not in sim.running
        assert backends.archiving.wait_idle(30)
    finally:
        backends.archiving.stop()

    job = stored(backends, "fritz", live.job_id)
    assert job.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
    archived = backends.archive.load_data(job)
    (series,) = archived.root["cpu_load"][MetricScope.NODE].series
    assert len(series.data) == 3
    assert job.footprint
    assert "flops_any_avg" in job.footprint


# -- failures -------------------------------------------------------------------------


async def test_a_refused_token_is_reported_and_tried_again(
    simulator: Callable[..., Simulator],
    backends: Backends,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = simulator(token="not-a-token")
    with caplog.at_level(logging.INFO, logger="cc_backend.demo"):
        await sim.run(steps=3)

    refusals = [r for r in caplog.records if "refused the token" in r.getMessage()]
    assert refusals[0].levelno == logging.ERROR
    assert "401" in refusals[0].getMessage()
    assert "--token" in refusals[0].getMessage()
    assert len(refusals) > 3  # tried again between the steps too
    assert "attempt" in refusals[-1].getMessage()
    assert backends.jobs.count(actor=None) == 0
    assert not sim.running


async def test_the_simulator_carries_on_after_the_server_restarts(
    simulator: Callable[..., Simulator],
    served: Served,
    backends: Backends,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = simulator(max_minutes=3)
    await sim.run(steps=2)
    before = dict(sim.running)

    await served.stop()
    with caplog.at_level(logging.INFO, logger="cc_backend.demo"):
        await sim.run(steps=4)
    down = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert down
    assert down[0].levelno == logging.WARNING
    assert sim.running == before  # nothing could start or stop

    served.start()
    with caplog.at_level(logging.INFO, logger="cc_backend.demo"):
        await sim.run(steps=1)
    assert any("answers again" in r.getMessage() for r in caplog.records)
    for live in before.values():  # all were due while the server was away
        job = stored(backends, live.cluster, live.job_id)
        assert job.job_state is live.state
        assert job.duration == live.stop - live.start
    assert len(running_jobs(backends)) == len(sim.running) == 4
    newest = max(sim.running.values(), key=lambda job: job.start)
    (values,) = query_store(
        backends,
        "fritz",
        newest.start,
        newest.start + STEP - 1,
        [{"metric": "cpu_load", "host": newest.hostnames[0]}],
    )
    assert len(values) == 1


async def test_a_server_without_the_demo_clusters_is_refused(
    served: Served, token_for: Callable[..., str], clock: SteppingClock
) -> None:
    elsewhere = CLUSTERS["fritz"].model_copy(update={"name": "elsewhere"})
    api = DemoApi(served.url, token_for("adapter"))
    sim = Simulator(api, settings(clusters=()), clock=clock, clusters=[elsewhere])
    with pytest.raises(InvalidInput, match="no cluster elsewhere"):
        await sim.run(steps=1)
    await api.close()


async def test_node_states_are_reported_as_the_jobs_hold_the_nodes(
    simulator: Callable[..., Simulator], backends: Backends
) -> None:
    sim = simulator(node_states_every=1)
    await sim.run(steps=1)

    states = {s.hostname: s for s in backends.nodes.latest_states("fritz")}
    fritz = next(c for c in demo_clusters() if c.name == "fritz")
    assert set(states) == {h for sub in fritz.sub_clusters for h in sub.hosts}
    busy = {host for live in sim.running.values() for host in live.hostnames}
    assert busy
    for host, status in states.items():
        if host in busy:
            assert status.node_state.value in {"allocated", "mixed"}, host
            assert status.cpus_allocated > 0
        else:
            assert status.node_state.value == "idle", host
            assert status.cpus_allocated == 0


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(InvalidInput, match="min-minutes <= max-minutes"):
        SimulatorSettings(min_minutes=5, max_minutes=2)
    with pytest.raises(InvalidInput, match="jobs must not be negative"):
        SimulatorSettings(jobs=-1)
    with pytest.raises(InvalidInput, match="node-states-every must not be negative"):
        SimulatorSettings(node_states_every=-1)
    with pytest.raises(InvalidInput, match="the demo clusters are fritz, alex"):
        Simulator(DemoApi("http://127.0.0.1:1", "t"), SimulatorSettings(clusters=("nowhere",)))


# -- the command and the demo script --------------------------------------------------


def test_simulate_needs_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CC_BACKEND_TOKEN", raising=False)
    assert main(["simulate", "--url", "http://127.0.0.1:1"]) == 2
    assert "--token" in capsys.readouterr().err


def test_simulate_refuses_impossible_run_times(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", "--token", "t", "--min-minutes", "9", "--max-minutes", "3"])
    assert code == 1
    assert "min-minutes <= max-minutes" in capsys.readouterr().err


def test_the_demo_script_is_valid_bash() -> None:
    script = Path(PROJECT_ROOT) / "scripts" / "demo"
    checked = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert "simulate" in script.read_text()
