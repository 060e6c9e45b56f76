"""The InfluxDB backend against a real ``influxd`` (1.x, v1 API, authentication on).

Metric collectors write one measurement per metric, tagged with ``hostname``, ``type`` and
``type-id``. The tests write such lines for a small cluster with SMT (2 sockets x 2 cores x
2 hardware threads per node) and expect the exact values back, combined across scopes by
each metric's aggregation. Every sample is ``offset(metric) + 100 * host number + 10 *
position + step``, where ``position`` is the id at the metric's native scope (hardware
thread 5 -> 5; 0 for a node series), so the expected numbers can be written down by hand.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import tornado.web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.config import load_config_data
from cc_backend.config.clusters import MetricDataRepository as RepositoryConfig
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import BackendUnavailable, ConfigError, NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics
from cc_backend.metricdata.ccms import CCMetricStoreData
from cc_backend.metricdata.influxdb import (
    InfluxDBData,
    InfluxQLClient,
    InfluxQLTransport,
    InfluxSettings,
    influxdb_from_config,
    quote_identifier,
    quote_string,
)
from cc_backend.metricdata.registry import MetricDataSources
from cc_backend.metricstore import MetricStore
from tests.influxdb_server import InfluxServer, influx_database, influxdb_server, line

__all__ = ["influx_database", "influxdb_server"]  # fixtures used here

T = TypeVar("T")

NODE = MetricScope.NODE
SOCKET = MetricScope.SOCKET
CORE = MetricScope.CORE
HWTHREAD = MetricScope.HWTHREAD

#: The first sample's time (a multiple of 60) and the number of samples per series.
START = 1_699_999_980
STEPS = 6
END = START + STEPS * 60

#: metric -> (native scope, aggregation, value offset)
METRICS: dict[str, tuple[str, str, int]] = {
    "mem_used": ("node", "sum", 40_000),
    "cpu_user": ("hwthread", "avg", 0),
    "flops_any": ("hwthread", "sum", 10_000),
    "core_power": ("core", "sum", 20_000),
    "mem_bw": ("socket", "sum", 30_000),
}
#: Ids at each native scope of a node, in topology order.
IDS = {"node": [None], "hwthread": list(range(8)), "core": list(range(4)), "socket": [0, 1]}


def tiny_cluster() -> Cluster:
    """Cluster ``tiny``: nodes n01 to n04, each 2 sockets x 2 cores x 2 threads; core c
    holds threads 2c and 2c + 1, socket s holds cores 2s and 2s + 1."""

    def metric(name: str) -> dict[str, Any]:
        scope, aggregation, _ = METRICS[name]
        return {
            "name": name,
            "unit": {"base": "X"},
            "scope": scope,
            "aggregation": aggregation,
            "timestep": 60,
            "peak": 100,
            "normal": 50,
            "caution": 20,
            "alert": 10,
        }

    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}
    return Cluster.from_json(
        {
            "name": "tiny",
            "metricConfig": [metric(name) for name in METRICS],
            "subClusters": [
                {
                    "name": "main",
                    "nodes": "n[01-04]",
                    "processorType": "test CPU",
                    "socketsPerNode": 2,
                    "coresPerSocket": 2,
                    "threadsPerCore": 2,
                    "flopRateScalar": value,
                    "flopRateSimd": value,
                    "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 50},
                    "topology": {
                        "node": list(range(8)),
                        "socket": [[0, 1, 2, 3], [4, 5, 6, 7]],
                        "memoryDomain": [[0, 1, 2, 3], [4, 5, 6, 7]],
                        "core": [[0, 1], [2, 3], [4, 5], [6, 7]],
                    },
                }
            ],
        }
    )


TINY = tiny_cluster()


def cluster_of(name: str) -> Cluster:
    if name != "tiny":
        raise NotFound(f"cluster {name!r} not found")
    return TINY


def sample(metric: str, host_number: int, position: int, step: int) -> float:
    return float(METRICS[metric][2] + 100 * host_number + 10 * position + step)


def node_lines(host: str, host_number: int, metrics: list[str] | None = None) -> list[str]:
    """Every series a collector writes for ``host``: each metric at its native scope."""
    lines = []
    for name in metrics or list(METRICS):
        scope = METRICS[name][0]
        for position, ident in enumerate(IDS[scope]):
            tags = {"cluster": "tiny", "hostname": host, "type": scope}
            if ident is not None:
                tags["type-id"] = str(ident)
            for step in range(STEPS):
                value = sample(name, host_number, position, step)
                lines.append(line(name, tags, value, START + 60 * step))
    return lines


def steps(first: float, increment: float = 1.0) -> list[float]:
    """The values of a series that grows by ``increment`` per step from ``first``."""
    return [first + increment * s for s in range(STEPS)]


def series_of(data: JobData) -> dict[tuple[str, str], list[tuple[str, str | None, list[float]]]]:
    """``(metric, scope) -> [(host, id, samples)]`` of ``data``."""
    return {
        (name, str(scope)): [(s.hostname, s.id, s.data.tolist()) for s in metric.series]
        for name, by_scope in data.items()
        for scope, metric in by_scope.items()
    }


@pytest.fixture
def database(influxdb_server: InfluxServer, influx_database: str) -> str:
    """A database holding every metric of n01 and n02 for STEPS steps from START."""
    influxdb_server.write(influx_database, node_lines("n01", 1) + node_lines("n02", 2))
    return influx_database


def settings_for(server: InfluxServer, database: str, **changes: Any) -> InfluxSettings:
    user, password = server.admin
    values: dict[str, Any] = {
        "url": server.url,
        "database": database,
        "username": user,
        "password": password,
        "timeout": 10.0,
    }
    return InfluxSettings(**{**values, **changes})


def backend_for(settings: InfluxSettings) -> InfluxDBData:
    """The backend with its clock at END (the jobs in these tests are running)."""
    transport = InfluxQLTransport(InfluxQLClient(settings), cluster_of)
    return InfluxDBData(cluster_of, transport, clock=lambda: float(END))


@pytest.fixture
def influx(influxdb_server: InfluxServer, database: str) -> Iterator[InfluxDBData]:
    backend = backend_for(settings_for(influxdb_server, database))
    yield backend
    backend.close()


@pytest.fixture
def make_tiny_job(make_job: Callable[..., Job]) -> Callable[..., Job]:
    """``make_tiny_job(resources)``: a job on cluster tiny running since START."""

    def build(resources: list[dict[str, Any]]) -> Job:
        return make_job(
            cluster="tiny",
            subCluster="main",
            numNodes=len(resources),
            numHwthreads=8 * len(resources),
            resources=resources,
            startTime=START,
            submitTime=START - 60,
        )

    return build


@pytest.fixture
def job(make_tiny_job: Callable[..., Job]) -> Job:
    """A job on the whole of n01 and n02."""
    return make_tiny_job([{"hostname": "n01"}, {"hostname": "n02"}])


# -- job data ----------------------------------------------------------------------------


def test_job_data_at_node_scope_combines_finer_series_by_their_aggregation(
    influx: InfluxDBData, job: Job
) -> None:
    data = influx.load_data(job, list(METRICS), [NODE])
    assert series_of(data) == {
        ("mem_used", "node"): [("n01", None, steps(40_100)), ("n02", None, steps(40_200))],
        # average of 8 threads: 100 h + 10 * 3.5
        ("cpu_user", "node"): [("n01", None, steps(135)), ("n02", None, steps(235))],
        # sum of 8 threads: 8 * (10 000 + 100 h) + 10 * 28, growing by 8 per step
        ("flops_any", "node"): [("n01", None, steps(81_080, 8)), ("n02", None, steps(81_880, 8))],
        # sum of 4 cores, of 2 sockets
        ("core_power", "node"): [("n01", None, steps(80_460, 4)), ("n02", None, steps(80_860, 4))],
        ("mem_bw", "node"): [("n01", None, steps(60_210, 2)), ("n02", None, steps(60_410, 2))],
    }
    for by_scope in data.root.values():
        metric = by_scope[NODE]
        assert metric.timestep == 60
        assert metric.unit.base == "X"
        for series in metric.series:
            assert series.statistics == MetricStatistics.of(series.data)


def test_job_data_at_core_scope(influx: InfluxDBData, job: Job) -> None:
    data = series_of(influx.load_data(job, list(METRICS), [CORE]))
    # threads 2c and 2c + 1 of each core: averaged for cpu_user, summed for flops_any
    assert data[("cpu_user", "core")] == [
        (host, str(c), steps(100 * h + 20 * c + 5))
        for host, h in (("n01", 1), ("n02", 2))
        for c in range(4)
    ]
    assert data[("flops_any", "core")] == [
        (host, str(c), steps(20_000 + 200 * h + 40 * c + 10, 2))
        for host, h in (("n01", 1), ("n02", 2))
        for c in range(4)
    ]
    assert data[("core_power", "core")] == [
        (host, str(c), steps(20_000 + 100 * h + 10 * c))
        for host, h in (("n01", 1), ("n02", 2))
        for c in range(4)
    ]
    # never finer than measured: sockets and nodes stay what they are
    assert data[("mem_bw", "socket")] == [
        (host, str(s), steps(30_000 + 100 * h + 10 * s))
        for host, h in (("n01", 1), ("n02", 2))
        for s in range(2)
    ]
    assert data[("mem_used", "node")] == [
        ("n01", None, steps(40_100)),
        ("n02", None, steps(40_200)),
    ]


@pytest.mark.parametrize("scope", [NODE, SOCKET, CORE, HWTHREAD])
@pytest.mark.parametrize(
    "resources",
    [
        pytest.param([{"hostname": "n01"}, {"hostname": "n02"}], id="two whole nodes"),
        pytest.param([{"hostname": "n02", "hwthreads": [2, 3, 4, 5]}], id="threads of two sockets"),
    ],
)
def test_the_answers_are_those_of_the_built_in_store_for_the_same_lines(
    influx: InfluxDBData,
    make_tiny_job: Callable[..., Job],
    scope: MetricScope,
    resources: list[dict[str, Any]],
) -> None:
    store = MetricStore([TINY], clock=lambda: float(END))
    payload = "\n".join(node_lines("n01", 1) + node_lines("n02", 2)).encode()
    assert store.ingest(payload).rejected == 0
    built_in = CCMetricStoreData(cluster_of, store.query, clock=lambda: float(END))
    job = make_tiny_job(resources)
    assert influx.load_data(job, None, [scope]) == built_in.load_data(job, None, [scope])
    assert influx.load_stats(job, list(METRICS)) == built_in.load_stats(job, list(METRICS))
    assert influx.load_scoped_stats(job, None, [scope]) == built_in.load_scoped_stats(
        job, None, [scope]
    )


def test_a_job_on_part_of_a_node_gets_only_its_threads(
    influx: InfluxDBData, make_tiny_job: Callable[..., Job]
) -> None:
    job = make_tiny_job([{"hostname": "n01", "hwthreads": [0, 1, 2, 3]}])
    data = series_of(influx.load_data(job, ["cpu_user", "flops_any"], [NODE, SOCKET, HWTHREAD]))
    assert data[("cpu_user", "node")] == [("n01", None, steps(115))]  # threads 0 to 3
    assert data[("flops_any", "node")] == [("n01", None, steps(40_460, 4))]
    assert data[("cpu_user", "socket")] == [("n01", "0", steps(115))]
    assert data[("cpu_user", "hwthread")] == [
        ("n01", str(t), steps(100 + 10 * t)) for t in range(4)
    ]


def test_a_coarser_resolution_averages_buckets_of_the_new_step(
    influx: InfluxDBData, job: Job
) -> None:
    data = influx.load_data(job, ["mem_used", "cpu_user"], [NODE], resolution=120)
    mem_used = data["mem_used"][NODE]
    assert mem_used.timestep == 120
    assert mem_used.series[0].data.tolist() == [40_100.5, 40_102.5, 40_104.5]
    assert data["cpu_user"][NODE].series[1].data.tolist() == [235.5, 237.5, 239.5]


def test_time_before_the_first_sample_is_a_gap(
    influx: InfluxDBData, make_job: Callable[..., Job]
) -> None:
    early = make_job(
        cluster="tiny",
        subCluster="main",
        resources=[{"hostname": "n01"}],
        startTime=START - 120,
        submitTime=START - 180,
    )
    [series] = influx.load_data(early, ["mem_used"], [NODE])["mem_used"][NODE].series
    assert [math.isnan(x) for x in series.data[:2]] == [True, True]
    assert series.data[2:].tolist() == steps(40_100)
    assert series.statistics == MetricStatistics(avg=40_102.5, min=40_100, max=40_105)


def test_a_metric_or_host_without_data_is_left_out(
    influx: InfluxDBData, make_tiny_job: Callable[..., Job]
) -> None:
    job = make_tiny_job([{"hostname": "n01"}, {"hostname": "n03"}])
    data = influx.load_data(job, ["mem_used", "cpu_user"], [NODE])
    assert series_of(data) == {
        ("mem_used", "node"): [("n01", None, steps(40_100))],
        ("cpu_user", "node"): [("n01", None, steps(135))],
    }


def test_node_series_without_a_type_tag_are_read(
    influxdb_server: InfluxServer, influx_database: str, make_tiny_job: Callable[..., Job]
) -> None:
    influxdb_server.write(
        influx_database,
        [line("mem_used", {"hostname": "n01"}, 7.0, START + 60 * s) for s in range(3)],
    )
    backend = backend_for(settings_for(influxdb_server, influx_database))
    job = make_tiny_job([{"hostname": "n01"}])
    assert series_of(backend.load_data(job, ["mem_used"], [NODE])) == {
        ("mem_used", "node"): [("n01", None, [7.0, 7.0, 7.0])]
    }
    backend.close()


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("o'hara", id="a quote"),
        pytest.param("n01' OR \"hostname\" = 'n02", id="an injection attempt"),
        pytest.param("back\\slash 'x", id="a backslash and a space"),
    ],
)
def test_host_names_are_quoted_in_queries(
    influxdb_server: InfluxServer, database: str, make_tiny_job: Callable[..., Job], host: str
) -> None:
    influxdb_server.write(
        database, [line("mem_used", {"hostname": host, "type": "node"}, 1.5, START)]
    )
    backend = backend_for(settings_for(influxdb_server, database))
    job = make_tiny_job([{"hostname": host}])
    # exactly the host's own series: nothing of n01 or n02, no broken query
    assert series_of(backend.load_data(job, ["mem_used"], [NODE])) == {
        ("mem_used", "node"): [(host, None, [1.5])]
    }
    backend.close()


def test_quoting_of_influxql_literals() -> None:
    assert quote_string("o'hara") == "'o\\'hara'"
    assert quote_string("a\\b") == "'a\\\\b'"
    assert quote_string("two\nlines") == "'two\\nlines'"
    assert quote_identifier('we"ird') == '"we\\"ird"'


# -- statistics -------------------------------------------------------------------------


def test_statistics_per_node(influx: InfluxDBData, job: Job) -> None:
    stats = influx.load_stats(job, ["mem_used", "cpu_user"])
    assert stats == {
        "mem_used": {
            "n01": MetricStatistics(avg=40_102.5, min=40_100, max=40_105),
            "n02": MetricStatistics(avg=40_202.5, min=40_200, max=40_205),
        },
        "cpu_user": {
            "n01": MetricStatistics(avg=137.5, min=135, max=140),
            "n02": MetricStatistics(avg=237.5, min=235, max=240),
        },
    }


def test_statistics_per_scope(influx: InfluxDBData, job: Job) -> None:
    scoped = influx.load_scoped_stats(job, ["core_power", "mem_used"], [CORE])
    cores = scoped["core_power"][CORE]
    assert [(s.hostname, s.id) for s in cores] == [
        (h, str(c)) for h in ("n01", "n02") for c in range(4)
    ]
    first = cores[1]  # n01, core 1: 20 110 + step
    assert (first.avg, first.min, first.max) == (20_112.5, 20_110, 20_115)
    [n01, n02] = scoped["mem_used"][NODE]
    assert (n01.hostname, n01.id, n01.avg) == ("n01", None, 40_102.5)
    assert (n02.hostname, n02.max) == ("n02", 40_205)


# -- nodes ------------------------------------------------------------------------------


def test_node_data(influx: InfluxDBData) -> None:
    nodes = influx.load_node_data(
        "tiny", ["mem_used", "cpu_user"], ["n01", "n02"], [NODE], start=START, stop=END
    )
    assert sorted(nodes) == ["n01", "n02"]
    assert series_of(nodes["n02"]) == {
        ("mem_used", "node"): [("n02", None, steps(40_200))],
        ("cpu_user", "node"): [("n02", None, steps(235))],
    }


def test_node_data_of_every_host_of_the_cluster(influx: InfluxDBData) -> None:
    nodes = influx.load_node_data("tiny", ["mem_bw"], None, [SOCKET], start=START, stop=END)
    assert sorted(nodes) == ["n01", "n02", "n03", "n04"]
    assert series_of(nodes["n01"]) == {
        ("mem_bw", "socket"): [("n01", "0", steps(30_100)), ("n01", "1", steps(30_110))]
    }
    assert len(nodes["n04"]) == 0  # no data: no metrics, no error


def test_the_node_list_pages_through_the_hosts_matching_the_filter(influx: InfluxDBData) -> None:
    options: dict[str, Any] = {
        "subcluster": "main",
        "host_filter": "n0",
        "metrics": ["mem_used"],
        "scopes": [NODE],
        "resolution": 0,
        "start": START,
        "stop": END,
        "items_per_page": 3,
    }
    first = influx.load_node_list("tiny", page=1, **options)
    assert (list(first.nodes), first.total, first.has_next_page) == (["n01", "n02", "n03"], 4, True)
    assert series_of(first.nodes["n02"]) == {("mem_used", "node"): [("n02", None, steps(40_200))]}
    assert len(first.nodes["n03"]) == 0
    last = influx.load_node_list("tiny", page=2, **options)
    assert (list(last.nodes), last.total, last.has_next_page) == (["n04"], 4, False)
    only = influx.load_node_list("tiny", page=1, **{**options, "host_filter": "02"})
    assert (list(only.nodes), only.total) == (["n02"], 1)


# -- failures ---------------------------------------------------------------------------


def test_a_server_that_does_not_listen_is_unavailable(job: Job) -> None:
    sock, port = bind_unused_port()
    sock.close()
    backend = backend_for(InfluxSettings(url=f"http://127.0.0.1:{port}", database="x", timeout=5))
    with pytest.raises(BackendUnavailable) as caught:
        backend.load_data(job, ["mem_used"], [NODE])
    assert f"http://127.0.0.1:{port}/query" in caught.value.message
    assert "connection refused" in caught.value.message.lower()
    backend.close()


def test_an_influxql_error_is_unavailable_with_its_message(
    influxdb_server: InfluxServer, job: Job
) -> None:
    backend = backend_for(settings_for(influxdb_server, "no_such_database"))
    with pytest.raises(BackendUnavailable) as caught:
        backend.load_stats(job, ["mem_used"])
    assert caught.value.message == (
        f"InfluxDB {influxdb_server.url}/query: query failed: database not found: no_such_database"
    )
    backend.close()


def test_a_metric_written_with_the_wrong_field_type_is_unavailable(
    influxdb_server: InfluxServer, influx_database: str, job: Job
) -> None:
    influxdb_server.write(
        influx_database, [line("mem_used", {"hostname": "n01", "type": "node"}, "full", START)]
    )
    backend = backend_for(settings_for(influxdb_server, influx_database))
    with pytest.raises(BackendUnavailable, match=r"query failed: .*mean"):
        backend.load_data(job, ["mem_used"], [NODE])
    backend.close()


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        pytest.param({"username": None, "password": None}, "unable to parse", id="none"),
        pytest.param({"password": "wrong-password"}, "authorization failed", id="a wrong password"),
        pytest.param({"username": "nobody"}, "authorization failed", id="an unknown user"),
        pytest.param(
            {"token": "not-a-token"}, "unable to parse", id="a token InfluxDB 1.6 cannot read"
        ),
    ],
)
def test_refused_credentials_are_unavailable_naming_the_401(
    influxdb_server: InfluxServer,
    database: str,
    job: Job,
    credentials: dict[str, Any],
    reason: str,
) -> None:
    backend = backend_for(settings_for(influxdb_server, database, **credentials))
    with pytest.raises(BackendUnavailable) as caught:
        backend.load_data(job, ["mem_used"], [NODE])
    message = caught.value.message
    assert f"{influxdb_server.url}/query answered 401" in message
    assert reason in message
    assert "wrong-password" not in message
    assert influxdb_server.admin[1] not in message
    backend.close()


@dataclass
class Recorder:
    """A server standing in for InfluxDB 2.x (which cannot run here): it answers ``/query``
    with ``body`` and records each request it receives."""

    url: str = ""
    body: bytes = b'{"results":[{"statement_id":0}]}'
    seen: list[dict[str, Any]] = field(default_factory=list)


class _RecordingHandler(tornado.web.RequestHandler):
    def initialize(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def post(self) -> None:
        self.recorder.seen.append(
            {
                "authorization": self.request.headers.get("Authorization"),
                "db": self.get_query_argument("db"),
                "epoch": self.get_query_argument("epoch"),
                "q": self.get_body_argument("q"),
            }
        )
        self.finish(self.recorder.body)


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking call in a thread, so the server on this loop can answer it."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    found = Recorder()
    sock, port = bind_unused_port()
    app = tornado.web.Application([(r"/query", _RecordingHandler, {"recorder": found})])
    server = HTTPServer(app)
    server.add_sockets([sock])
    found.url = f"http://127.0.0.1:{port}"
    yield found
    server.stop()
    await server.close_all_connections()


async def test_a_token_is_sent_as_influxdb_2_expects(recorder: Recorder, job: Job) -> None:
    backend = backend_for(
        InfluxSettings(url=recorder.url, database="metrics/autogen", token="s3cret")
    )
    data = await off_loop(backend.load_data, job, ["mem_used"], [NODE])
    backend.close()
    assert len(data) == 0
    [request] = recorder.seen
    assert request["authorization"] == "Token s3cret"
    assert (request["db"], request["epoch"]) == ("metrics/autogen", "s")
    assert request["q"].startswith('SELECT mean("value") FROM "mem_used" WHERE ')


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>not InfluxDB</html>", id="HTML"),
        pytest.param(b'{"results": 3}', id="results not a list"),
        pytest.param(
            b'{"results":[{"series":[{"columns":["time"],"values":[[1]]}]}]}', id="one column"
        ),
        pytest.param(
            b'{"results":[{"series":[{"columns":["time","mean"],"values":[[1,"x"]]}]}]}',
            id="a string sample",
        ),
    ],
)
async def test_an_answer_that_is_no_answer_is_unavailable(
    recorder: Recorder, job: Job, body: bytes
) -> None:
    recorder.body = body
    backend = backend_for(InfluxSettings(url=recorder.url, database="metrics"))
    with pytest.raises(BackendUnavailable, match="unreadable answer"):
        await off_loop(backend.load_data, job, ["mem_used"], [NODE])
    backend.close()


async def test_an_answer_cut_short_by_the_server_is_unavailable(
    recorder: Recorder, job: Job
) -> None:
    recorder.body = b'{"results":[{"statement_id":0,"series":[],"partial":true}]}'
    backend = backend_for(InfluxSettings(url=recorder.url, database="metrics"))
    with pytest.raises(BackendUnavailable, match=r"cut short .*max-row-limit"):
        await off_loop(backend.load_data, job, ["mem_used"], [NODE])
    backend.close()


# -- configuration ----------------------------------------------------------------------


def test_the_backend_from_the_site_config(
    site: Path, influxdb_server: InfluxServer, database: str, job: Job
) -> None:
    document = json.loads((site / "config.json").read_text())
    user, password = influxdb_server.admin
    document["clusters"] = [
        {
            "name": "tiny",
            "metricDataRepository": {
                "kind": "influxdb",
                "url": influxdb_server.url,
                "bucket": database,  # cc-backend's name for it
                "username": user,
                "password": password,
                "org": "ignored",
            },
        }
    ]
    config = load_config_data(document, site)
    sources = MetricDataSources(config, cluster_of, None)
    try:
        backend = sources("tiny")
        assert isinstance(backend, InfluxDBData)
        assert backend.kind == "influxdb"
        stats = backend.load_stats(job, ["mem_used"])
    finally:
        sources.close()
    assert stats["mem_used"]["n02"] == MetricStatistics(avg=40_202.5, min=40_200, max=40_205)


def test_a_retention_policy_from_the_config(
    influxdb_server: InfluxServer, influx_database: str, job: Job
) -> None:
    influxdb_server.query(
        f'CREATE RETENTION POLICY "short" ON "{influx_database}" DURATION 0s REPLICATION 1'
    )
    influxdb_server.write(
        influx_database, node_lines("n01", 1, ["mem_used"]), retention_policy="short"
    )
    user, password = influxdb_server.admin
    entry = {"url": influxdb_server.url, "database": influx_database, "username": user}
    config = RepositoryConfig.model_validate(
        {"kind": "influxdb", **entry, "password": password, "retentionPolicy": "short"}
    )
    backend = influxdb_from_config(cluster_of, config)
    default = influxdb_from_config(
        cluster_of,
        RepositoryConfig.model_validate({"kind": "influxdb", **entry, "password": password}),
    )
    try:
        assert backend.load_stats(job, ["mem_used"])["mem_used"]["n01"].max == 40_105
        assert default.load_stats(job, ["mem_used"]) == {}  # the default policy holds nothing
    finally:
        backend.close()
        default.close()


def test_an_incomplete_or_misspelt_config_names_every_problem() -> None:
    config = RepositoryConfig.model_validate(
        {"kind": "influxdb", "url": "http://influx:8086", "databse": "m", "skiptls": "yes"}
    )
    with pytest.raises(ConfigError) as caught:
        influxdb_from_config(cluster_of, config)
    assert caught.value.problems == [
        "metricDataRepository.databse: unknown key for influxdb (did you mean 'database'?)",
        "metricDataRepository.skiptls: must be a bool for influxdb",
        "metricDataRepository.database: required when kind is 'influxdb'",
    ]


def test_the_password_is_read_from_its_secret() -> None:
    config = RepositoryConfig.model_validate(
        {
            "kind": "influxdb",
            "url": "http://influx:8086",
            "database": "m",
            "username": "u",
            "password": "p@ss",
            "retention-policy": "rp",
            "token": "",
        }
    )
    settings = InfluxSettings.from_config(config)
    assert (settings.username, settings.password, settings.retention_policy) == ("u", "p@ss", "rp")
    assert settings.token is None
    assert "p@ss" not in repr(config)
