"""The NATS API against a real nats-server, a real SQLite site and the demo clusters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from nats.aio.client import Client

from cc_backend.config.main_section import ApiSubjects
from cc_backend.config.services import NatsConfig
from cc_backend.domain.job import JobState
from cc_backend.nats import NATS_ACTOR, NatsApi, encode_event
from cc_backend.repository.nodes import SchedulerState
from cc_backend.server import Backends, make_nats_api
from tests.nats.conftest import JOB_SUBJECT, NODE_SUBJECT
from tests.nats_server import NatsServer, wait_until
from tests.server_processes import free_port

SUBJECTS = ApiSubjects(subject_job_event=JOB_SUBJECT, subject_node_state=NODE_SUBJECT)


def start_line(payload: dict[str, Any]) -> bytes:
    return encode_event("job", payload, {"function": "start_job"}) + b" 1700000000000000000"


def stop_line(payload: dict[str, Any]) -> bytes:
    return encode_event("job", payload, {"function": "stop_job"})


@pytest.fixture
async def nats_api(backends: Backends, nats_server: NatsServer) -> AsyncIterator[NatsApi]:
    """The site's NATS API, started and connected."""
    api = NatsApi(
        backends.lifecycle,
        NatsConfig(address=nats_server.url),
        SUBJECTS,
        NATS_ACTOR,
        reconnect_wait=0.2,
    )
    await api.start()
    assert api.is_connected
    yield api
    await api.stop()


@pytest.fixture
async def make_api(
    backends: Backends, nats_server: NatsServer
) -> AsyncIterator[Callable[..., Any]]:
    """``await make_api(job_concurrency=None, node_concurrency=None, **options)``: a started
    NATS API of the site with those settings; stopped at the end of the test."""
    made: list[NatsApi] = []

    async def make(
        job_concurrency: int | None = None, node_concurrency: int | None = None, **options: Any
    ) -> NatsApi:
        subjects = SUBJECTS.model_copy(
            update={"job_concurrency": job_concurrency, "node_concurrency": node_concurrency}
        )
        api = NatsApi(
            backends.lifecycle,
            NatsConfig(address=nats_server.url),
            subjects,
            reconnect_wait=0.2,
            **options,
        )
        made.append(api)
        await api.start()
        assert api.is_connected
        return api

    yield make
    for api in made:
        await api.stop()


def jobs_of(backends: Backends, job_id: int) -> list[Any]:
    return backends.jobs.find(job_id, "fritz")


def stop_payload(job_id: int, duration: int, **overrides: Any) -> dict[str, Any]:
    """The stop of a job started by ``job_payload(job_id)``, ``duration`` seconds later."""
    payload = {"jobId": job_id, "cluster": "fritz", "stopTime": 1_700_000_000 + duration}
    payload.update(overrides)
    return payload


async def test_start_then_stop(
    nats_api: NatsApi, publisher: Client, backends: Backends, job_payload: Callable[..., Any]
) -> None:
    payload = job_payload(1000)
    del payload["jobState"]  # cc-backend's adapters leave it out: a started job is running
    await publisher.publish(JOB_SUBJECT, start_line(payload))
    await wait_until(lambda: len(jobs_of(backends, 1000)) == 1, what="the job to be stored")
    (job,) = jobs_of(backends, 1000)
    assert job.job_state is JobState.RUNNING
    assert (job.user, job.sub_cluster, job.num_nodes) == ("alice", "main", 1)

    stop = {"jobId": 1000, "cluster": "fritz", "jobState": "completed", "stopTime": 1_700_003_600}
    await publisher.publish(JOB_SUBJECT, stop_line(stop))
    await wait_until(
        lambda: jobs_of(backends, 1000)[0].job_state is JobState.COMPLETED,
        what="the job to be stopped",
    )
    assert jobs_of(backends, 1000)[0].duration == 3600
    assert len(backends.archiving) == 1
    assert nats_api.stats["started"] == nats_api.stats["stopped"] == 1


async def test_duplicate_start_keeps_one_job(
    nats_api: NatsApi,
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="cc_backend.nats")
    line = start_line(job_payload(2000))
    await publisher.publish(JOB_SUBJECT, line)
    await publisher.publish(JOB_SUBJECT, line)
    await wait_until(lambda: nats_api.stats["duplicate"] == 1, what="the duplicate")
    assert len(jobs_of(backends, 2000)) == 1
    assert any(
        "duplicate" in r.getMessage() and JOB_SUBJECT in r.getMessage() for r in caplog.records
    )


async def test_one_message_may_carry_several_lines(
    nats_api: NatsApi, publisher: Client, backends: Backends, job_payload: Callable[..., Any]
) -> None:
    stop = {"jobId": 2100, "cluster": "fritz", "stopTime": 1_700_000_600}
    data = start_line(job_payload(2100)) + b"\n" + stop_line(stop) + b"\n"
    await publisher.publish(JOB_SUBJECT, data)
    await wait_until(lambda: nats_api.stats["stopped"] == 1, what="start and stop")
    (job,) = jobs_of(backends, 2100)
    assert (job.job_state, job.duration) == (JobState.COMPLETED, 600)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"this is not line protocol", "line 1"),
        (b'job,function=start_job event="{\\"jobId\\":', "unterminated string"),
        (b'job,function=start_job event="{not json}"', "malformed JSON"),
        (b'job,function=launch_job event="{}"', "unknown job event function 'launch_job'"),
        (b'job event="{}"', "without the tag 'function'"),
        (b"", "empty message"),
        (b'{"jobId": 1, ', "plain JSON job event: malformed JSON"),
        (b'{"jobId": 1, "stopTime": 10, "user": "x"}', "stop_job (plain JSON): user"),
        (b'{"jobId": 1, "cluster": "fritz"}', "start_job (plain JSON): user"),
    ],
)
async def test_malformed_messages_are_logged_and_skipped(
    nats_api: NatsApi,
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    reason: str,
) -> None:
    caplog.set_level(logging.ERROR, logger="cc_backend.nats")
    await publisher.publish(JOB_SUBJECT, data)
    await publisher.publish(JOB_SUBJECT, start_line(job_payload(3000)))
    await wait_until(lambda: len(jobs_of(backends, 3000)) == 1, what="the valid message")
    assert nats_api.stats["rejected"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any(JOB_SUBJECT in m and reason in m for m in messages), messages


async def test_refused_by_the_service_is_logged(
    nats_api: NatsApi,
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="cc_backend.nats")
    await publisher.publish(JOB_SUBJECT, start_line(job_payload(3100, cluster="nowhere")))
    stop = {"jobId": 3199, "cluster": "fritz", "stopTime": 1_700_000_600}
    await publisher.publish(JOB_SUBJECT, stop_line(stop))
    await wait_until(lambda: nats_api.stats["rejected"] == 2, what="both refusals")
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "unknown cluster 'nowhere'" in messages
    assert "no running job with jobId 3199" in messages
    assert backends.jobs.count(actor=None) == 0


async def test_plain_json_job_events(
    nats_api: NatsApi, publisher: Client, backends: Backends, job_payload: Callable[..., Any]
) -> None:
    """A JSON object without the line-protocol wrapper: with ``stopTime`` and without
    ``resources`` it stops a job, otherwise it starts one (even with a ``stopTime``)."""
    started_with_stop_time = job_payload(5001, stopTime=1_700_009_999)
    await publisher.publish(JOB_SUBJECT, orjson.dumps(job_payload(5000)))
    await publisher.publish(JOB_SUBJECT, b"  \n" + orjson.dumps(started_with_stop_time))
    await publisher.publish(JOB_SUBJECT, orjson.dumps(stop_payload(5000, 900, jobState="failed")))
    await wait_until(
        lambda: nats_api.stats["started"] == 2 and nats_api.stats["stopped"] == 1,
        what="two starts and a stop",
    )
    (stopped,) = jobs_of(backends, 5000)
    assert (stopped.job_state, stopped.duration) == (JobState.FAILED, 900)
    (running,) = jobs_of(backends, 5001)
    assert running.job_state is JobState.RUNNING
    assert nats_api.stats["rejected"] == 0


async def test_per_job_order_is_kept_while_jobs_run_in_parallel(
    make_api: Callable[..., Any],
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
) -> None:
    """Each stop is published right after its start, for many jobs spread over four
    workers; every stop finds its job running. Half of the stops leave out the cluster
    (commands are ordered by jobId alone), half of the jobs come as plain JSON."""
    api = await make_api(job_concurrency=4)
    assert api.workers[0] == 4
    job_ids = range(6000, 6200)
    for job_id in job_ids:
        duration = 60 + job_id % 97
        stop = stop_payload(job_id, duration, jobState="completed")
        if job_id % 2:
            del stop["cluster"]
        if job_id % 4 < 2:
            await publisher.publish(JOB_SUBJECT, start_line(job_payload(job_id)))
            await publisher.publish(JOB_SUBJECT, stop_line(stop))
        else:
            await publisher.publish(JOB_SUBJECT, orjson.dumps(job_payload(job_id)))
            await publisher.publish(JOB_SUBJECT, orjson.dumps(stop))
    await publisher.flush()
    await wait_until(
        lambda: api.stats["stopped"] + api.stats["rejected"] >= len(job_ids),
        timeout=60,
        what="every stop",
        state=lambda: (dict(api.stats), api.pending),
    )
    assert api.stats["rejected"] == api.stats["failed"] == 0
    assert api.stats["started"] == api.stats["stopped"] == len(job_ids)
    for job_id in job_ids:
        (job,) = jobs_of(backends, job_id)
        assert (job.job_state, job.duration) == (JobState.COMPLETED, 60 + job_id % 97)


async def test_stop_finishes_what_was_received(
    make_api: Callable[..., Any],
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
) -> None:
    """One worker and a deep queue: the messages are all received long before they are all
    handled, and stop() returns only when every received job is stored."""
    api = await make_api(job_concurrency=1, queue_size=1000)
    count = 150
    for job_id in range(7000, 7000 + count):
        await publisher.publish(JOB_SUBJECT, start_line(job_payload(job_id)))
    await publisher.flush()
    await wait_until(
        lambda: api.pending + api.stats["started"] == count,
        what="every message received",
        state=lambda: (dict(api.stats), api.pending),
    )
    await api.stop()
    assert api.pending == 0
    assert api.stats["started"] == count
    assert backends.jobs.count(actor=None) == count


async def test_messages_nats_py_drops_are_counted_and_logged(
    make_api: Callable[..., Any],
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With room for one command and five buffered messages, a burst overflows nats-py's
    buffer: what it drops is counted and logged, everything else is stored."""
    caplog.set_level(logging.WARNING, logger="cc_backend.nats")
    api = await make_api(job_concurrency=1, queue_size=1, pending_limit=5)
    count = 200
    for job_id in range(8000, 8000 + count):
        await publisher.publish(JOB_SUBJECT, start_line(job_payload(job_id)))
    await publisher.flush()
    await wait_until(
        lambda: api.stats["dropped"] > 0 and api.stats["started"] + api.stats["dropped"] == count,
        timeout=30,
        what="every message stored or dropped",
        state=lambda: (dict(api.stats), api.pending),
    )
    assert backends.jobs.count(actor=None) == api.stats["started"]
    assert any("message(s) dropped" in r.getMessage() for r in caplog.records)


async def test_node_states_of_a_cluster_keep_their_order(
    make_api: Callable[..., Any], publisher: Client, backends: Backends
) -> None:
    """Updates of one cluster are applied in arrival order, whatever the node workers."""
    api = await make_api(node_concurrency=4)
    for cpus in range(30):
        update = {"cluster": "fritz", "nodes": [{"hostname": "f0101", "cpusAllocated": cpus}]}
        await publisher.publish(NODE_SUBJECT, encode_event("nodestate", update))
    await publisher.flush()
    await wait_until(
        lambda: api.stats["node_states"] == 30,
        what="every update",
        state=lambda: (dict(api.stats), api.pending),
    )
    (state,) = backends.nodes.latest_states("fritz")
    assert state.cpus_allocated == 29


async def test_node_states(nats_api: NatsApi, publisher: Client, backends: Backends) -> None:
    update = {
        "cluster": "fritz",
        "nodes": [
            {"hostname": "f0101", "states": ["idle"], "cpusAllocated": 0, "jobsRunning": 0},
            {"hostname": "f0102", "states": ["ALLOCATED"], "cpusAllocated": 72, "jobsRunning": 1},
        ],
    }
    await publisher.publish(NODE_SUBJECT, encode_event("nodestate", update) + b" 1700000000")
    await wait_until(lambda: len(backends.nodes.latest_states("fritz")) == 2, what="node rows")
    states = {s.hostname: (s.node_state, s.cpus_allocated) for s in backends.nodes.latest_states()}
    assert states == {
        "f0101": (SchedulerState.IDLE, 0),
        "f0102": (SchedulerState.ALLOCATED, 72),
    }


async def test_survives_a_server_restart(
    nats_api: NatsApi,
    nats_server: NatsServer,
    publisher: Client,
    backends: Backends,
    job_payload: Callable[..., Any],
) -> None:
    await publisher.publish(JOB_SUBJECT, start_line(job_payload(4000)))
    await wait_until(lambda: len(jobs_of(backends, 4000)) == 1, what="the first job")

    nats_server.kill()
    await wait_until(lambda: not nats_api.is_connected, what="the disconnect")
    nats_server.start()
    await wait_until(lambda: nats_api.is_connected, timeout=20, what="the reconnect")
    await wait_until(lambda: publisher.is_connected, timeout=20, what="the publisher")

    # Core NATS delivers at most once: a message published before the server has the
    # subscription again is lost, so the start is repeated until it is stored (the
    # repetitions after that are refused as duplicates).
    async def stored_after_publishing() -> bool:
        if jobs_of(backends, 4001):
            return True
        await publisher.publish(JOB_SUBJECT, start_line(job_payload(4001)))
        await asyncio.sleep(0.2)
        return len(jobs_of(backends, 4001)) == 1

    await wait_until(stored_after_publishing, timeout=20, what="the job after the restart")


async def test_unreachable_at_start_then_connects(
    backends: Backends,
    nats_server: NatsServer,
    job_payload: Callable[..., Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="cc_backend.nats")
    nats_server.kill()
    api = NatsApi(
        backends.lifecycle,
        NatsConfig(address=nats_server.url),
        SUBJECTS,
        reconnect_wait=0.2,
        connect_timeout=1.0,
    )
    try:
        await api.start()  # must not raise
        assert not api.is_connected
        assert any(
            r.levelno == logging.WARNING and "cannot connect" in r.getMessage()
            for r in caplog.records
        )
        nats_server.start()
        await wait_until(lambda: api.is_connected, timeout=20, what="the late connection")
    finally:
        await api.stop()
    assert not api.is_connected


async def test_unreachable_and_stopped_before_connecting(backends: Backends) -> None:
    api = NatsApi(
        backends.lifecycle,
        NatsConfig(address=f"nats://127.0.0.1:{free_port()}"),
        SUBJECTS,
        reconnect_wait=0.1,
        connect_timeout=1.0,
    )
    await api.start()
    assert not api.is_connected
    await api.stop()


def test_the_server_builds_the_nats_api_only_when_configured(backends: Backends) -> None:
    assert make_nats_api(backends) is None


@pytest.mark.parametrize(
    "site_config",
    [
        {
            "nats": {"address": "nats://127.0.0.1:4222"},
            "main": {"api-subjects": {"subject-job-event": "a", "subject-node-state": "b"}},
        }
    ],
)
def test_the_server_builds_the_nats_api_from_config(backends: Backends) -> None:
    api = make_nats_api(backends)
    assert api is not None
    assert api.actor == NATS_ACTOR
    assert (api.subjects.subject_job_event, api.subjects.subject_node_state) == ("a", "b")
    assert api.lifecycle is backends.lifecycle
