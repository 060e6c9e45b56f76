"""The cc-metric-store client against the real served store.

``CCMetricStoreData`` with :class:`HttpQueryTransport` queries the site's built-in store over
HTTP, exactly as it would query an external cc-metric-store; every answer must equal the
one of the in-process transport (``store.query``) and the values computed from the samples
that were written (:mod:`tests.metric_lines`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.config import load_config_data
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import BackendUnavailable
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics
from cc_backend.metricdata.ccms import CCMetricStoreData, HttpQueryTransport
from cc_backend.metricdata.registry import MetricDataSources
from cc_backend.metricstore import MetricStore
from tests.conftest import Api
from tests.metric_lines import (
    TIMESTEP,
    Samples,
    combine,
    job_samples,
    pick,
    recent_start,
    statistics,
    to_payload,
)

T = TypeVar("T")


STEPS = 6
METRICS = ["mem_used", "cpu_user", "flops_any", "mem_bw"]
#: The job's hardware threads: four on each socket of a fritz "main" node (36 per socket).
HWTHREADS = [0, 1, 2, 3, 36, 37, 38, 39]
SOCKET_THREADS = {"0": [str(t) for t in range(36)], "1": [str(t) for t in range(36, 72)]}


def distinct(metric: str, host: str, position: int, step: int) -> float:
    """Values that differ between metrics and hosts: easy to tell apart in a mix-up."""
    offset = 10_000 * METRICS.index(metric) if metric in METRICS else 50_000
    return float(offset + 1_000 * int(host[-1]) + 10 * position + step)


@pytest.fixture
def start() -> int:
    return recent_start(STEPS)


@pytest.fixture
def store(api: Api) -> MetricStore:
    assert api.backends.metric_store is not None
    return api.backends.metric_store


@pytest.fixture
def fritz(api: Api) -> Cluster:
    return api.backends.clusters.get("fritz")


@pytest.fixture
async def samples(api: Api, fritz: Cluster, start: int) -> list[Samples]:
    """f0101 and f0102 sent every metric of :data:`METRICS` (and cpu_load) for STEPS steps."""
    sent = job_samples(
        fritz, ["f0101", "f0102"], [*METRICS, "cpu_load"], start, STEPS, value=distinct
    )
    response = await api.call("POST", "/metricstore/api/write", raw=to_payload(sent))
    assert response.code == 200, response.body
    return sent


@pytest.fixture
def job(make_job: Callable[..., Job], start: int) -> Job:
    """A job running on eight hardware threads of f0101 since the first sample."""
    return make_job(
        resources=[{"hostname": "f0101", "hwthreads": HWTHREADS}],
        numHwthreads=len(HWTHREADS),
        startTime=start,
        submitTime=start - 60,
    )


@pytest.fixture
def clients(
    api: Api,
    store: MetricStore,
    start: int,
) -> Iterator[tuple[CCMetricStoreData, CCMetricStoreData]]:
    """The client over HTTP and the client in process, both with the clock at the end of
    the samples."""
    end = start + STEPS * TIMESTEP

    def now() -> float:
        return float(end)

    cluster_of = api.backends.clusters.get
    transport = HttpQueryTransport(api.base + "/metricstore", api.token)
    over_http = CCMetricStoreData(cluster_of, transport, clock=now)
    in_process = CCMetricStoreData(cluster_of, store.query, clock=now)
    yield over_http, in_process
    transport.close()


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a thread, so the server on this loop can answer it."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def series_of(data: JobData) -> dict[tuple[str, str], list[tuple[str, str | None, list[float]]]]:
    """``(metric, scope) -> [(host, id, samples)]`` of ``data``."""
    return {
        (name, str(scope)): [(s.hostname, s.id, s.data.tolist()) for s in metric.series]
        for name, by_scope in data.items()
        for scope, metric in by_scope.items()
    }


def expected_series(
    samples: list[Samples], scope: MetricScope
) -> dict[tuple[str, str], list[tuple[str, str | None, list[float]]]]:
    """What the job on :data:`HWTHREADS` of f0101 gets at ``scope``, computed by hand from
    the samples: each metric at the coarser of its native and the requested scope."""
    mine = pick(samples, host="f0101")
    threads = [str(t) for t in HWTHREADS]

    def combined(metric: str, ids: list[str], how: str) -> list[float]:
        return combine(pick(mine, metric=metric, ids=ids), how)

    node_of = ("f0101", None)
    mem_used = [(*node_of, list(pick(mine, metric="mem_used")[0].values))]
    if scope is MetricScope.NODE:
        return {
            ("mem_used", "node"): mem_used,
            ("cpu_user", "node"): [(*node_of, combined("cpu_user", threads, "avg"))],
            ("flops_any", "node"): [(*node_of, combined("flops_any", threads, "sum"))],
            ("mem_bw", "node"): [(*node_of, combined("mem_bw", ["0", "1"], "sum"))],
        }
    sockets = [
        ("f0101", s, list(pick(mine, metric="mem_bw", ids=[s])[0].values)) for s in ("0", "1")
    ]
    if scope is MetricScope.SOCKET:
        return {
            ("mem_used", "node"): mem_used,
            ("cpu_user", "socket"): [
                ("f0101", s, combined("cpu_user", ids, "avg")) for s, ids in SOCKET_THREADS.items()
            ],
            ("flops_any", "socket"): [
                ("f0101", s, combined("flops_any", ids, "sum")) for s, ids in SOCKET_THREADS.items()
            ],
            ("mem_bw", "socket"): sockets,
        }
    # One hardware thread per core on fritz: core c is hardware thread c.
    per_thread = {
        metric: [("f0101", t, list(pick(mine, metric=metric, ids=[t])[0].values)) for t in threads]
        for metric in ("cpu_user", "flops_any")
    }
    return {
        ("mem_used", "node"): mem_used,
        ("cpu_user", str(scope)): per_thread["cpu_user"],
        ("flops_any", str(scope)): per_thread["flops_any"],
        ("mem_bw", "socket"): sockets,
    }


# -- jobs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope", [MetricScope.NODE, MetricScope.SOCKET, MetricScope.CORE, MetricScope.HWTHREAD]
)
async def test_job_data_over_http_is_what_the_store_answers_in_process(
    clients: tuple[CCMetricStoreData, CCMetricStoreData],
    samples: list[Samples],
    job: Job,
    scope: MetricScope,
) -> None:
    over_http, in_process = clients
    remote = await off_loop(over_http.load_data, job, METRICS, [scope])
    local = in_process.load_data(job, METRICS, [scope])
    assert remote == local
    assert series_of(remote) == expected_series(samples, scope)
    for by_scope in remote.root.values():
        for metric in by_scope.values():
            assert metric.timestep == TIMESTEP
            for series in metric.series:
                assert series.statistics == MetricStatistics.of(series.data)


async def test_a_coarser_resolution_over_http(
    clients: tuple[CCMetricStoreData, CCMetricStoreData], samples: list[Samples], job: Job
) -> None:
    over_http, in_process = clients
    remote = await off_loop(over_http.load_data, job, ["mem_used"], [MetricScope.NODE], 120)
    assert remote == in_process.load_data(job, ["mem_used"], [MetricScope.NODE], 120)
    metric = remote["mem_used"][MetricScope.NODE]
    assert metric.timestep == 120
    sent = list(pick(samples, metric="mem_used", host="f0101")[0].values)
    pairs = [sent[i : i + 2] for i in range(0, STEPS, 2)]
    assert metric.series[0].data.tolist() == [sum(p) / 2 for p in pairs]
    avg, low, high = statistics(sent)  # over the values as sent, not the averaged pairs
    assert metric.series[0].statistics == MetricStatistics(avg=avg, min=low, max=high)


async def test_accelerator_series_over_http(
    api: Api,
    clients: tuple[CCMetricStoreData, CCMetricStoreData],
    make_job: Callable[..., Job],
    start: int,
) -> None:
    alex = api.backends.clusters.get("alex")
    sent = job_samples(alex, ["a0101"], ["acc_utilization", "acc_power"], start, STEPS)
    response = await api.call("POST", "/metricstore/api/write", raw=to_payload(sent))
    assert response.code == 200, response.body
    gpus = ["00000000:07:00.0", "00000000:48:00.0"]
    job = make_job(
        cluster="alex",
        subCluster="a40",
        numHwthreads=16,
        numAcc=2,
        resources=[{"hostname": "a0101", "hwthreads": list(range(16)), "accelerators": gpus}],
        startTime=start,
    )
    over_http, in_process = clients
    scopes = [MetricScope.NODE, MetricScope.ACCELERATOR]
    data = await off_loop(over_http.load_data, job, ["acc_utilization", "acc_power"], scopes)
    assert data == in_process.load_data(job, ["acc_utilization", "acc_power"], scopes)
    per_gpu = {gpu: list(pick(sent, metric="acc_power", ids=[gpu])[0].values) for gpu in gpus}
    assert series_of(data)[("acc_power", "accelerator")] == [
        ("a0101", gpu, values) for gpu, values in per_gpu.items()
    ]
    assert series_of(data)[("acc_power", "node")] == [
        ("a0101", None, combine(pick(sent, metric="acc_power", ids=gpus), "sum"))
    ]
    assert series_of(data)[("acc_utilization", "node")] == [
        ("a0101", None, combine(pick(sent, metric="acc_utilization", ids=gpus), "avg"))
    ]


async def test_time_before_the_first_sample_is_a_gap(
    clients: tuple[CCMetricStoreData, CCMetricStoreData],
    samples: list[Samples],
    make_job: Callable[..., Job],
    start: int,
) -> None:
    early = make_job(resources=[{"hostname": "f0101"}], startTime=start - 2 * TIMESTEP)
    over_http, in_process = clients
    data = await off_loop(over_http.load_data, early, ["mem_used"], [MetricScope.NODE])
    assert data == in_process.load_data(early, ["mem_used"], [MetricScope.NODE])
    [series] = data["mem_used"][MetricScope.NODE].series
    sent = list(pick(samples, metric="mem_used", host="f0101")[0].values)
    assert [math.isnan(x) for x in series.data[:2]] == [True, True]
    assert series.data[2:].tolist() == sent
    assert series.statistics == MetricStatistics.of(np.array(sent))


async def test_the_thread_values_are_those_sent(
    clients: tuple[CCMetricStoreData, CCMetricStoreData], samples: list[Samples], job: Job
) -> None:
    over_http, _ = clients
    data = await off_loop(over_http.load_data, job, ["cpu_user"], [MetricScope.CORE])
    [core_37] = [s for s in data["cpu_user"][MetricScope.CORE].series if s.id == "37"]
    # cpu_user is the second metric, f0101 the first host, thread 37 the 38th id
    assert core_37.data.tolist() == [10_000 + 1_000 + 370 + i for i in range(STEPS)]


async def test_statistics_over_http(
    clients: tuple[CCMetricStoreData, CCMetricStoreData], samples: list[Samples], job: Job
) -> None:
    over_http, in_process = clients
    stats = await off_loop(over_http.load_stats, job, ["mem_used", "cpu_user"])
    assert stats == in_process.load_stats(job, ["mem_used", "cpu_user"])
    threads = pick(samples, metric="cpu_user", host="f0101", ids=[str(t) for t in HWTHREADS])
    for metric, values in (
        ("mem_used", list(pick(samples, metric="mem_used", host="f0101")[0].values)),
        ("cpu_user", combine(threads, "avg")),
    ):
        avg, low, high = statistics(values)
        got = stats[metric]["f0101"]
        assert (got.avg, got.min, got.max) == (pytest.approx(avg), low, high)

    scoped = await off_loop(
        over_http.load_scoped_stats, job, ["cpu_user", "mem_bw"], [MetricScope.CORE]
    )
    assert scoped == in_process.load_scoped_stats(job, ["cpu_user", "mem_bw"], [MetricScope.CORE])
    cores = scoped["cpu_user"][MetricScope.CORE]
    assert [(s.hostname, s.id) for s in cores] == [("f0101", str(t)) for t in HWTHREADS]
    for entry in cores:
        [thread] = pick(samples, metric="cpu_user", host="f0101", ids=[entry.id or ""])
        assert (entry.avg, entry.min, entry.max) == pytest.approx(statistics(list(thread.values)))
    assert [s.id for s in scoped["mem_bw"][MetricScope.SOCKET]] == ["0", "1"]


async def test_a_metric_without_data_is_left_out(
    clients: tuple[CCMetricStoreData, CCMetricStoreData], samples: list[Samples], job: Job
) -> None:
    over_http, in_process = clients
    data = await off_loop(over_http.load_data, job, ["mem_used", "net_bw"], [MetricScope.NODE])
    assert list(data.metrics()) == ["mem_used"]
    assert data == in_process.load_data(job, ["mem_used", "net_bw"], [MetricScope.NODE])


# -- nodes -------------------------------------------------------------------------------


async def test_node_data_over_http(
    clients: tuple[CCMetricStoreData, CCMetricStoreData], samples: list[Samples], start: int
) -> None:
    over_http, in_process = clients
    window = {"start": start, "stop": start + STEPS * TIMESTEP}
    args = ("fritz", ["mem_used", "mem_bw"], ["f0101", "f0102"], [MetricScope.NODE])
    nodes = await off_loop(over_http.load_node_data, *args, **window)
    assert nodes == in_process.load_node_data(*args, **window)
    assert sorted(nodes) == ["f0101", "f0102"]
    for host in ("f0101", "f0102"):
        mem_used = nodes[host]["mem_used"][MetricScope.NODE]
        assert mem_used.series[0].data.tolist() == list(
            pick(samples, metric="mem_used", host=host)[0].values
        )
        mem_bw = nodes[host]["mem_bw"][MetricScope.NODE]
        expected = combine(pick(samples, metric="mem_bw", host=host), "sum")
        assert mem_bw.series[0].data.tolist() == expected


def test_nodes_without_data_are_logged_in_one_line(
    clients: tuple[CCMetricStoreData, CCMetricStoreData],
    samples: list[Samples],
    start: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, in_process = clients
    hosts = [f"f03{n:02d}" for n in range(1, 21)]  # no samples were sent for these
    with caplog.at_level(logging.INFO, logger="cc_backend.metricdata.ccms"):
        nodes = in_process.load_node_data(
            "fritz", ["mem_used"], hosts, [MetricScope.NODE], start=start, stop=start + TIMESTEP
        )
    assert sorted(nodes) == hosts
    lines = [r.getMessage() for r in caplog.records if "without data" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith("metric store: 20 series without data (mem_used@f0301:")


async def test_the_node_list_pages_through_the_hosts_matching_the_filter(
    clients: tuple[CCMetricStoreData, CCMetricStoreData], samples: list[Samples], start: int
) -> None:
    over_http, in_process = clients
    options: dict[str, Any] = {
        "subcluster": "main",
        "host_filter": "f010",
        "metrics": ["mem_used"],
        "scopes": [MetricScope.NODE],
        "resolution": 0,
        "start": start,
        "stop": start + STEPS * TIMESTEP,
        "items_per_page": 4,
    }
    first = await off_loop(over_http.load_node_list, "fritz", page=1, **options)
    assert first == in_process.load_node_list("fritz", page=1, **options)
    assert (first.total, first.has_next_page) == (9, True)  # f0101 ... f0109
    assert list(first.nodes) == ["f0101", "f0102", "f0103", "f0104"]
    assert first.nodes["f0102"]["mem_used"][MetricScope.NODE].series[0].data.tolist() == list(
        pick(samples, metric="mem_used", host="f0102")[0].values
    )
    assert len(first.nodes["f0103"]) == 0  # no data: no metrics, no error
    last = await off_loop(over_http.load_node_list, "fritz", page=3, **options)
    assert (list(last.nodes), last.total, last.has_next_page) == (["f0109"], 9, False)
    spr = await off_loop(
        over_http.load_node_list, "fritz", page=1, **{**options, "subcluster": "spr"}
    )
    assert (spr.total, spr.nodes) == (0, {})


# -- configuration ------------------------------------------------------------------------


async def test_metric_renamings_from_the_config(
    api: Api,
    api_site: Path,
    samples: list[Samples],
    job: Job,
    start: int,
) -> None:
    document = json.loads((api_site / "config.json").read_text())
    document["clusters"] = [
        {
            "name": "fritz",
            "metricDataRepository": {
                "kind": "cc-metric-store",
                "url": api.base + "/metricstore",
                "token": api.token,
                "metricRenamings": {"cpu_load": "mem_used"},
            },
        }
    ]
    config = load_config_data(document, api_site)
    sources = MetricDataSources(config, api.backends.clusters.get, None)
    try:
        client = sources("fritz")
        assert isinstance(client, CCMetricStoreData)
        assert isinstance(client.transport, HttpQueryTransport)
        data = await off_loop(client.load_data, job, ["cpu_load", "cpu_user"], [MetricScope.NODE])
    finally:
        sources.close()
    # cpu_load is read from the store's mem_used, and delivered under its own name
    [renamed] = data["cpu_load"][MetricScope.NODE].series
    assert renamed.data.tolist() == list(pick(samples, metric="mem_used", host="f0101")[0].values)
    [kept] = data["cpu_user"][MetricScope.NODE].series
    threads = pick(samples, metric="cpu_user", host="f0101", ids=[str(t) for t in HWTHREADS])
    assert kept.data.tolist() == pytest.approx(combine(threads, "avg"))


# -- failures -----------------------------------------------------------------------------


async def test_a_store_that_does_not_listen_is_unavailable(
    api: Api,
    job: Job,
) -> None:
    sock, port = bind_unused_port()
    sock.close()
    transport = HttpQueryTransport(f"http://127.0.0.1:{port}", "token", timeout=5)
    client = CCMetricStoreData(api.backends.clusters.get, transport)
    with pytest.raises(BackendUnavailable) as caught:
        await off_loop(client.load_data, job, ["mem_used"], [MetricScope.NODE])
    message = caught.value.message
    assert f"http://127.0.0.1:{port}/api/query/" in message
    assert "connection refused" in message.lower()
    transport.close()


@pytest.mark.parametrize("token", ["not-a-token", None])
async def test_a_refused_token_is_unavailable_naming_the_401(
    api: Api,
    job: Job,
    samples: list[Samples],
    token: str | None,
) -> None:
    transport = HttpQueryTransport(api.base + "/metricstore", token)
    client = CCMetricStoreData(api.backends.clusters.get, transport)
    with pytest.raises(BackendUnavailable) as caught:
        await off_loop(client.load_stats, job, ["mem_used"])
    assert "answered 401" in caught.value.message
    assert api.base + "/metricstore/api/query/" in caught.value.message
    transport.close()


async def test_a_url_that_is_no_metric_store_is_unavailable(
    api: Api,
    job: Job,
) -> None:
    transport = HttpQueryTransport(api.base, api.token)  # /api/query/ is no route of the site
    client = CCMetricStoreData(api.backends.clusters.get, transport)
    with pytest.raises(BackendUnavailable, match="answered 404"):
        await off_loop(client.load_data, job, ["mem_used"], [MetricScope.NODE])
    transport.close()


class _OddStore(tornado.web.RequestHandler):
    """``/api/query/`` of a store that answers 200 with a fixed body."""

    def initialize(self, body: bytes) -> None:
        self.body = body

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(self.body)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param([[1.0, 2.0]], id="nested lists"),
        pytest.param("1,2", id="a string"),
        pytest.param([1.0, "x"], id="a string among the numbers"),
    ],
)
async def test_an_answer_with_malformed_data_is_unavailable(
    api: Api, job: Job, data: object
) -> None:
    body = orjson.dumps({"results": [[{"data": data, "from": 0, "to": 60, "resolution": 60}]]})
    sock, port = bind_unused_port()
    server = HTTPServer(tornado.web.Application([(r"/api/query/", _OddStore, {"body": body})]))
    server.add_sockets([sock])
    transport = HttpQueryTransport(f"http://127.0.0.1:{port}", "token")
    client = CCMetricStoreData(api.backends.clusters.get, transport)
    try:
        with pytest.raises(BackendUnavailable, match="unreadable answer"):
            await off_loop(client.load_data, job, ["mem_used"], [MetricScope.NODE])
    finally:
        transport.close()
        server.stop()
