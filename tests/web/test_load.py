"""Many scheduler adapters at once: concurrent start_job / stop_job over REST and NATS.

The site's API is served by the test's event loop on a loopback port, with a SQLite file
database; the handlers run their blocking work in the loop's default thread pool, as in
production. The NATS API of the same backends subscribes to a real ``nats-server``
(:mod:`tests.nats_server`). ``CC_LOAD_JOBS`` sets the number of jobs (default 1,000; the full
load test is ``CC_LOAD_JOBS=5000``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import nats
import orjson
import pytest
from tornado.httpclient import AsyncHTTPClient

from cc_backend.config.main_section import ApiSubjects
from cc_backend.config.services import NatsConfig
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, JobState
from cc_backend.nats import NatsApi, encode_event
from cc_backend.server import Backends
from tests.nats_server import NatsServer, nats_server  # noqa: F401

pytestmark = pytest.mark.slow

#: Concurrent clients (scheduler adapters).
CLIENTS = 20
#: Jobs started and stopped in the load test.
LOAD_JOBS = int(os.environ.get("CC_LOAD_JOBS", "1000"))
#: Jobs both clients of a pair start and stop in the race test.
RACE_JOBS = max(CLIENTS, LOAD_JOBS // 5)
#: Final states the stops cycle through.
FINAL_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT)
#: First start time; job ``n`` starts ``n`` minutes later.
EPOCH = 1_700_000_000
#: Subject of the job events in the test of REST and NATS together.
JOB_SUBJECT = "cc.load.job.event"


@dataclass
class Failures:
    """Requests that got another status than expected: (what, status, body)."""

    items: list[tuple[str, int, str]] = field(default_factory=list)

    def check(self, what: str, response: Any, expected: int) -> None:
        if response.code != expected:
            self.items.append((what, response.code, response.body.decode(errors="replace")))


def _start_time(job_id: int) -> int:
    return EPOCH + 60 * job_id


def _duration(job_id: int) -> int:
    """A duration per job, so that a stop applied to the wrong job shows."""
    return 60 + (job_id * 37) % 7200


def _final_state(job_id: int) -> JobState:
    return FINAL_STATES[job_id % len(FINAL_STATES)]


def _stop_body(job_id: int) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "cluster": "fritz",
        "jobState": _final_state(job_id).value,
        "stopTime": _start_time(job_id) + _duration(job_id),
    }


def _start_body(job_payload: Callable[..., dict[str, Any]], job_id: int) -> dict[str, Any]:
    host = f"f{101 + job_id % 20:04d}"
    return job_payload(
        job_id,
        startTime=_start_time(job_id),
        submitTime=_start_time(job_id) - 30,
        resources=[{"hostname": host}],
    )


def _all_jobs(backends: Backends) -> list[Job]:
    return list(backends.jobs.query([], actor=None).items)


@pytest.fixture(params=["default-pool", "pool-of-20"])
def executor_threads(request: pytest.FixtureRequest) -> int | None:
    """Threads of the handlers' pool: ``None`` for the loop's default pool
    (``min(32, cpus + 4)`` threads) or one per client, as on a server with many cores."""
    return None if request.param == "default-pool" else CLIENTS


@pytest.fixture
async def load_api(api: Any, executor_threads: int | None) -> AsyncIterator[Any]:
    """The test site's API with an HTTP client allowing :data:`CLIENTS` requests at once."""
    pool: ThreadPoolExecutor | None = None
    if executor_threads is not None:
        pool = ThreadPoolExecutor(executor_threads, thread_name_prefix="handlers")
        asyncio.get_running_loop().set_default_executor(pool)
    client = AsyncHTTPClient(force_instance=True, max_clients=CLIENTS * 2)
    api.client = client
    yield api
    client.close()
    if pool is not None:
        pool.shutdown(wait=True)


async def _run_clients(clients: list[Callable[[], Any]]) -> None:
    await asyncio.gather(*(client() for client in clients))


async def _rest_adapter(
    api: Any, failures: Failures, job_payload: Callable[..., dict[str, Any]], mine: list[int]
) -> None:
    """Start a job, then stop the one started before it: a job runs while others start."""
    previous: int | None = None
    for job_id in mine:
        started = await api.call("POST", "/api/jobs/start_job/", _start_body(job_payload, job_id))
        failures.check(f"start {job_id}", started, 201)
        if previous is not None:
            stopped = await api.call("POST", "/api/jobs/stop_job/", _stop_body(previous))
            failures.check(f"stop {previous}", stopped, 200)
        previous = job_id
    if previous is not None:
        stopped = await api.call("POST", "/api/jobs/stop_job/", _stop_body(previous))
        failures.check(f"stop {previous}", stopped, 200)


def _check_jobs(backends: Backends, job_ids: list[int]) -> None:
    """Each job is stored once, stopped with its own state and duration, and queued for
    archiving once."""
    jobs = _all_jobs(backends)
    assert sorted(j.job_id for j in jobs) == job_ids
    for job in jobs:
        assert job.job_state is _final_state(job.job_id), job.job_id
        assert job.duration == _duration(job.job_id), job.job_id
        assert job.start_time == _start_time(job.job_id)
    archived = backends.archiving.drain()
    assert sorted(j.job_id for j in archived) == job_ids


async def test_twenty_clients_start_and_stop_jobs(
    load_api: Any, job_payload: Callable[..., dict[str, Any]]
) -> None:
    """Every start answers 201 and every stop 200; each job is stored once, stopped with
    its own state and duration, and queued for archiving once."""
    failures = Failures()
    job_ids = list(range(1, LOAD_JOBS + 1))

    await _run_clients(
        [
            lambda k=k: _rest_adapter(load_api, failures, job_payload, job_ids[k::CLIENTS])  # type: ignore[misc]
            for k in range(CLIENTS)
        ]
    )

    assert failures.items == [], (
        f"{len(failures.items)} failed requests, first: {failures.items[:3]}"
    )
    _check_jobs(load_api.backends, job_ids)


@pytest.fixture
async def load_nats(load_api: Any, nats_server: NatsServer) -> AsyncIterator[NatsApi]:  # noqa: F811
    """The NATS API of the load test's backends, subscribed to :data:`JOB_SUBJECT`.

    The subjects are given to the API directly: a site whose config names NATS subjects
    refuses start/stop over REST, as cc-backend does.
    """
    api = NatsApi(
        load_api.backends.lifecycle,
        NatsConfig(address=nats_server.url),
        ApiSubjects(subject_job_event=JOB_SUBJECT),
        reconnect_wait=0.2,
    )
    await api.start()
    assert api.is_connected
    yield api
    await api.stop()


def _nats_message(body: dict[str, Any], function: str, plain: bool) -> bytes:
    """A job event in line protocol or, if ``plain``, as a bare JSON object."""
    if plain:
        return orjson.dumps(body)
    return encode_event("job", body, {"function": function})


async def _nats_adapter(
    url: str, job_payload: Callable[..., dict[str, Any]], mine: list[int], plain: bool
) -> None:
    """The REST adapter's conversation as NATS messages on a connection of its own."""
    client = await nats.connect(url)
    try:
        previous: int | None = None
        for job_id in mine:
            start = _start_body(job_payload, job_id)
            await client.publish(JOB_SUBJECT, _nats_message(start, "start_job", plain))
            if previous is not None:
                stop = _stop_body(previous)
                await client.publish(JOB_SUBJECT, _nats_message(stop, "stop_job", plain))
            previous = job_id
            await asyncio.sleep(0)  # let the REST clients in, as a real adapter would
        if previous is not None:
            stop = _stop_body(previous)
            await client.publish(JOB_SUBJECT, _nats_message(stop, "stop_job", plain))
        await client.flush()
    finally:
        await client.close()


async def _wait_for_stopped_jobs(backends: Backends, total: int, timeout: float) -> None:
    """Poll the database until it holds ``total`` jobs and none is running."""
    running = [JobFilter(state=[JobState.RUNNING])]
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    while True:
        stored = await loop.run_in_executor(None, lambda: backends.jobs.count(actor=None))
        left = await loop.run_in_executor(None, lambda: backends.jobs.count(running, actor=None))
        if stored == total and left == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"after {timeout:.0f} s: {stored} of {total} jobs stored, {left} running")
        await asyncio.sleep(0.25)


async def test_rest_and_nats_clients_at_once(
    load_api: Any,
    load_nats: NatsApi,
    nats_server: NatsServer,  # noqa: F811
    job_payload: Callable[..., dict[str, Any]],
) -> None:
    """Ten clients over REST and ten over NATS (line protocol and plain JSON alternately)
    start and stop their jobs on the same backends at once: every REST request succeeds,
    the NATS API refuses nothing, and every job is stored once with its state and
    duration."""
    failures = Failures()
    job_ids = list(range(1, LOAD_JOBS + 1))
    rest = CLIENTS // 2

    clients: list[Callable[[], Any]] = [
        lambda k=k: _rest_adapter(load_api, failures, job_payload, job_ids[k::CLIENTS])  # type: ignore[misc]
        for k in range(rest)
    ]
    clients += [
        lambda k=k: _nats_adapter(  # type: ignore[misc]
            nats_server.url, job_payload, job_ids[k::CLIENTS], plain=k % 2 == 1
        )
        for k in range(rest, CLIENTS)
    ]
    await _run_clients(clients)
    await _wait_for_stopped_jobs(load_api.backends, LOAD_JOBS, timeout=60 + LOAD_JOBS / 10)

    assert failures.items == [], (
        f"{len(failures.items)} failed requests, first: {failures.items[:3]}"
    )
    nats_jobs = sum(len(job_ids[k::CLIENTS]) for k in range(rest, CLIENTS))
    stats = load_nats.stats
    refused = {key: stats[key] for key in ("rejected", "failed", "duplicate", "dropped")}
    assert refused == dict.fromkeys(refused, 0), stats
    assert stats["started"] == stats["stopped"] == nats_jobs
    _check_jobs(load_api.backends, job_ids)


async def test_pairs_of_clients_race_for_the_same_jobs(
    load_api: Any, job_payload: Callable[..., dict[str, Any]]
) -> None:
    """Two clients start the same job: one 201, one 422; two stop it: one 200, one 422."""
    job_ids = list(range(1, RACE_JOBS + 1))
    pairs = CLIENTS // 2
    starts: dict[int, list[int]] = {job_id: [] for job_id in job_ids}
    stops: dict[int, list[int]] = {job_id: [] for job_id in job_ids}
    other: list[tuple[str, int, str]] = []

    async def racer(mine: list[int]) -> None:
        for job_id in mine:
            started = await load_api.call(
                "POST", "/api/jobs/start_job/", _start_body(job_payload, job_id)
            )
            starts[job_id].append(started.code)
            if started.code not in (201, 422):
                other.append((f"start {job_id}", started.code, started.body.decode()))
        for job_id in mine:
            stopped = await load_api.call("POST", "/api/jobs/stop_job/", _stop_body(job_id))
            stops[job_id].append(stopped.code)
            if stopped.code not in (200, 422):
                other.append((f"stop {job_id}", stopped.code, stopped.body.decode()))

    # Clients 2k and 2k+1 both work through the same jobs in the same order.
    await _run_clients(
        [lambda k=k: racer(job_ids[k // 2 :: pairs]) for k in range(CLIENTS)]  # type: ignore[misc]
    )

    assert other == [], f"{len(other)} unexpected answers, first: {other[:3]}"
    assert {job_id: sorted(codes) for job_id, codes in starts.items()} == {
        job_id: [201, 422] for job_id in job_ids
    }
    assert {job_id: sorted(codes) for job_id, codes in stops.items()} == {
        job_id: [200, 422] for job_id in job_ids
    }
    jobs = _all_jobs(load_api.backends)
    assert sorted(j.job_id for j in jobs) == job_ids
    for job in jobs:
        assert job.job_state is _final_state(job.job_id), job.job_id
        assert job.duration == _duration(job.job_id), job.job_id
    assert len(load_api.backends.archiving) == len(job_ids)
