"""``GET /api/jobs/metrics/{id}`` (and ``/userapi/``): a job's metric data from the metric
store while it runs and from the job archive once it is archived.

The job is started over REST, its node's samples are pushed through ``/api/write`` as a
metric collector sends them, and every expected series is computed from those samples
(:mod:`tests.metric_lines`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import MonitoringStatus
from tests.conftest import Api
from tests.metric_lines import (
    TIMESTEP,
    Samples,
    combine,
    node_samples,
    pick,
    recent_start,
    statistics,
    to_payload,
)

STEPS = 8
#: Metrics pushed for the job's node: measured per node, per hwthread (avg, sum), per socket.
PUSHED = ["mem_used", "cpu_user", "flops_any", "mem_bw"]
#: Four hardware threads on each socket of the node.
HWTHREADS = [4, 5, 6, 7, 40, 41, 42, 43]
THREAD_IDS = [str(t) for t in HWTHREADS]


@pytest.fixture
def start() -> int:
    return recent_start(STEPS)


@pytest.fixture
def fritz(api: Api) -> Cluster:
    return api.backends.clusters.get("fritz")


@pytest.fixture
async def samples(api: Api, fritz: Cluster, start: int) -> list[Samples]:
    """What f0101's collector sent: :data:`PUSHED` for STEPS steps from ``start``."""
    sent = node_samples(fritz, "f0101", PUSHED, start, STEPS)
    response = await api.call("POST", "/api/write", raw=to_payload(sent))
    assert response.code == 200, response.body
    return sent


async def start_job(api: Api, payload: dict[str, Any], token: str | None = None) -> int:
    """Start a job over REST; its database id."""
    response = await api.call("POST", "/api/jobs/start_job/", payload, token=token)
    assert response.code == 201, response.body
    return int(api.body(response)["id"])


@pytest.fixture
async def job_id(api: Api, job_payload: Callable[..., dict[str, Any]], start: int) -> int:
    """alice's job on :data:`HWTHREADS` of f0101, running since the first sample."""
    payload = job_payload(
        4242,
        startTime=start,
        submitTime=start - 60,
        numHwthreads=len(HWTHREADS),
        resources=[{"hostname": "f0101", "hwthreads": HWTHREADS}],
    )
    return await start_job(api, payload)


async def job_metrics(api: Api, path: str, token: str | None = None) -> list[dict[str, Any]]:
    """The ``jobMetrics`` of a successful answer."""
    response = await api.call("GET", path, token=token)
    assert response.code == 200, response.body
    answer = api.body(response)
    assert answer["error"] is None, answer
    assert set(answer) == {"data", "error"}
    metrics: list[dict[str, Any]] = answer["data"]["jobMetrics"]
    return metrics


def summary(metrics: list[dict[str, Any]]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """``(name, scope) -> [(hostname, id, data)]``."""
    return {
        (m["name"], m["scope"]): [
            (s["hostname"], s.get("id"), s["data"]) for s in m["metric"]["series"]
        ]
        for m in metrics
    }


def values(samples: list[Samples], metric: str, ids: list[str] | None = None) -> list[float]:
    [one] = pick(samples, metric=metric, ids=ids)
    return list(one.values)


def node_expectation(samples: list[Samples]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """The job's node-scope series: its threads combined, both sockets summed."""
    return {
        ("mem_used", "node"): [("f0101", None, values(samples, "mem_used"))],
        ("cpu_user", "node"): [
            ("f0101", None, combine(pick(samples, metric="cpu_user", ids=THREAD_IDS), "avg"))
        ],
        ("flops_any", "node"): [
            ("f0101", None, combine(pick(samples, metric="flops_any", ids=THREAD_IDS), "sum"))
        ],
        ("mem_bw", "node"): [("f0101", None, combine(pick(samples, metric="mem_bw"), "sum"))],
    }


def core_expectation(samples: list[Samples]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """At core scope: one series per core of the job (core c is hwthread c on fritz),
    socket metrics per socket, node metrics per node."""
    return {
        ("mem_used", "node"): [("f0101", None, values(samples, "mem_used"))],
        ("cpu_user", "core"): [("f0101", t, values(samples, "cpu_user", [t])) for t in THREAD_IDS],
        ("flops_any", "core"): [
            ("f0101", t, values(samples, "flops_any", [t])) for t in THREAD_IDS
        ],
        ("mem_bw", "socket"): [("f0101", s, values(samples, "mem_bw", [s])) for s in ("0", "1")],
    }


# -- a running job -----------------------------------------------------------------------


async def test_a_running_jobs_metrics_come_from_the_metric_store(
    api: Api, samples: list[Samples], job_id: int
) -> None:
    metrics = await job_metrics(api, f"/api/jobs/metrics/{job_id}")
    assert summary(metrics) == node_expectation(samples)
    [mem_used] = [m for m in metrics if m["name"] == "mem_used"]
    assert mem_used["metric"]["unit"] == {"base": "B", "prefix": "G"}
    assert mem_used["metric"]["timestep"] == TIMESTEP
    [series] = mem_used["metric"]["series"]
    avg, low, high = statistics(values(samples, "mem_used"))
    assert series["statistics"] == {"avg": pytest.approx(avg), "min": low, "max": high}
    [cpu_user] = [m for m in metrics if m["name"] == "cpu_user"]
    # the average of 100 * t over the job's threads, plus the step
    assert cpu_user["metric"]["series"][0]["data"][0] == pytest.approx(
        100 * sum(HWTHREADS) / len(HWTHREADS)
    )


async def test_the_metric_parameter_selects_metrics(
    api: Api, samples: list[Samples], job_id: int
) -> None:
    metrics = await job_metrics(api, f"/api/jobs/metrics/{job_id}?metric=mem_bw&metric=mem_used")
    assert [(m["name"], m["scope"]) for m in metrics] == [("mem_bw", "node"), ("mem_used", "node")]
    expected = node_expectation(samples)
    assert summary(metrics) == {
        key: expected[key] for key in (("mem_bw", "node"), ("mem_used", "node"))
    }
    unknown = await job_metrics(api, f"/api/jobs/metrics/{job_id}?metric=no_such_metric")
    assert unknown == []


async def test_metrics_without_data_are_left_out(
    api: Api, samples: list[Samples], job_id: int
) -> None:
    metrics = await job_metrics(api, f"/api/jobs/metrics/{job_id}?metric=mem_used&metric=net_bw")
    assert [m["name"] for m in metrics] == ["mem_used"]


async def test_the_scope_parameter_asks_for_finer_series(
    api: Api, samples: list[Samples], job_id: int
) -> None:
    metrics = await job_metrics(api, f"/api/jobs/metrics/{job_id}?scope=core")
    assert summary(metrics) == core_expectation(samples)
    both = await job_metrics(
        api, f"/api/jobs/metrics/{job_id}?metric=cpu_user&scope=node&scope=socket"
    )
    sockets = {"0": [str(t) for t in range(36)], "1": [str(t) for t in range(36, 72)]}
    assert summary(both) == {
        ("cpu_user", "node"): node_expectation(samples)[("cpu_user", "node")],
        ("cpu_user", "socket"): [
            ("f0101", s, combine(pick(samples, metric="cpu_user", ids=ids), "avg"))
            for s, ids in sockets.items()
        ],
    }


async def test_many_series_come_with_a_statistics_series(
    api: Api, job_payload: Callable[..., dict[str, Any]], samples: list[Samples], start: int
) -> None:
    whole_node = await start_job(api, job_payload(4300, startTime=start))  # all 72 threads
    [cpu_user] = await job_metrics(
        api, f"/api/jobs/metrics/{whole_node}?metric=cpu_user&scope=core"
    )
    metric = cpu_user["metric"]
    assert [s["id"] for s in metric["series"]] == [str(c) for c in range(72)]
    threads = pick(samples, metric="cpu_user")
    by_step = list(zip(*(t.values for t in threads), strict=True))
    assert metric["statisticsSeries"] == {
        "min": [min(step) for step in by_step],
        "median": [sorted(step)[35] / 2 + sorted(step)[36] / 2 for step in by_step],
        "max": [max(step) for step in by_step],
    }
    assert metric["statisticsSeries"]["median"][0] == 3550.0


async def test_an_unknown_scope_is_a_400(api: Api, job_id: int) -> None:
    response = await api.call("GET", f"/api/jobs/metrics/{job_id}?scope=rack")
    assert response.code == 400
    body = api.body(response)
    assert body["status"] == "Bad Request"
    assert "'rack'" in body["error"]


async def test_an_unknown_job_is_a_422_and_a_bad_id_a_400(api: Api) -> None:
    unknown = await api.call("GET", "/api/jobs/metrics/987654")
    assert unknown.code == 422
    assert api.body(unknown) == {
        "status": "Unprocessable Entity",
        "error": "finding job with db id 987654 failed: no job with id 987654",
    }
    assert (await api.call("GET", "/api/jobs/metrics/abc")).code == 400


async def test_a_running_job_without_samples_has_no_metrics(
    api: Api, job_payload: Callable[..., dict[str, Any]], start: int
) -> None:
    quiet = await start_job(
        api, job_payload(77, startTime=start, resources=[{"hostname": "f0164"}])
    )
    assert await job_metrics(api, f"/api/jobs/metrics/{quiet}") == []


async def test_a_scope_that_cannot_be_derived_is_reported_in_the_answer(
    api: Api, samples: list[Samples], job_id: int
) -> None:
    response = await api.call(
        "GET", f"/api/jobs/metrics/{job_id}?metric=cpu_user&scope=memoryDomain"
    )
    assert response.code == 200  # as cc-backend: the error is part of the answer
    assert api.body(response) == {
        "data": None,
        "error": {
            "message": "metric 'cpu_user' is measured per hwthread and cannot be delivered "
            "per memoryDomain"
        },
    }


# -- an archived job ---------------------------------------------------------------------


async def test_an_archived_job_is_served_from_the_archive_with_the_same_values(
    api: Api, samples: list[Samples], job_id: int, start: int
) -> None:
    running = {
        scope: await job_metrics(api, f"/api/jobs/metrics/{job_id}?scope={scope}")
        for scope in ("node", "core")
    }
    stop = {
        "jobId": 4242,
        "cluster": "fritz",
        "jobState": "completed",
        "stopTime": start + STEPS * TIMESTEP,
    }
    stopped = await api.call("POST", "/api/jobs/stop_job/", stop)
    assert stopped.code == 200, stopped.body
    # Stopped, not yet archived: still read from the store, over the job's whole run.
    assert await job_metrics(api, f"/api/jobs/metrics/{job_id}") == running["node"]
    job = api.backends.jobs.get(job_id)
    assert job.monitoring_status is not MonitoringStatus.ARCHIVING_SUCCESSFUL
    outcome = api.backends.archiving.archive_job(job)
    assert outcome.status is MonitoringStatus.ARCHIVING_SUCCESSFUL, outcome.reason

    # The store forgets the node: what is answered now can only come from the archive.
    freed = await api.call(
        "POST", f"/metricstore/api/free?to={start + 10 * STEPS * TIMESTEP}", [["fritz", "f0101"]]
    )
    assert freed.code == 200
    assert api.backends.metric_store is not None
    assert api.backends.metric_store.hosts("fritz") == []

    for scope, before in running.items():
        after = await job_metrics(api, f"/api/jobs/metrics/{job_id}?scope={scope}")
        assert summary(after) == summary(before)
        assert after == before
    assert summary(running["node"]) == node_expectation(samples)
    assert summary(running["core"]) == core_expectation(samples)
    selected = await job_metrics(api, f"/api/jobs/metrics/{job_id}?metric=mem_used")
    assert summary(selected) == {
        ("mem_used", "node"): node_expectation(samples)[("mem_used", "node")]
    }


# -- /userapi ----------------------------------------------------------------------------


async def test_users_read_their_own_jobs_through_the_userapi(
    api: Api,
    token_for: Callable[..., str],
    job_payload: Callable[..., dict[str, Any]],
    samples: list[Samples],
    job_id: int,
    start: int,
) -> None:
    alice = token_for("alice")  # roles user and api
    mine = await job_metrics(api, f"/userapi/jobs/metrics/{job_id}?metric=mem_used", token=alice)
    assert summary(mine) == {("mem_used", "node"): node_expectation(samples)[("mem_used", "node")]}

    carols = await start_job(
        api, job_payload(4343, user="carol", startTime=start, resources=[{"hostname": "f0101"}])
    )
    hidden = await api.call("GET", f"/userapi/jobs/metrics/{carols}", token=alice)
    assert hidden.code == 422
    assert api.body(hidden)["status"] == "Unprocessable Entity"
    seen_by_adapter = await job_metrics(api, f"/userapi/jobs/metrics/{carols}?metric=mem_used")
    assert len(seen_by_adapter) == 1

    not_on_api = await api.call("GET", f"/api/jobs/metrics/{job_id}", token=alice)
    assert not_on_api.code == 401
    bob = await api.call("GET", f"/userapi/jobs/metrics/{job_id}", token=token_for("bob"))
    assert bob.code == 401  # role user without api
