"""The Prometheus metric data backend against a real Prometheus holding known samples.

The server holds, for the fritz hosts f0101-f0104 (host number ``n`` = 1..4), ``STEPS``
samples a minute apart from ``BASE`` (a few hours ago), sample ``i`` being:

- ``node_load1``: ``1000 n + i`` (the default template of ``cpu_load``);
- ``node_memory_MemTotal_bytes`` - ``node_memory_MemAvailable_bytes``: ``n GB + i MB``
  (the default template of ``mem_used``);
- ``node_cpu_seconds_total`` of two CPUs in mode user: rising by ``0.1 n`` per second
  (the default template of ``cpu_user`` gives ``10 n`` percent);
- ``cc_flops_any`` of sockets 0 and 1: ``10 n + socket + i`` (summed per host by the
  configured template: ``20 n + 1 + 2 i``);

and ``node_load1`` of ``f0105.cluster.example.org``: ``5000 + i`` (for the host suffix).
Every expected value below is computed from these rules, not read back from the code.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from cc_backend.config import load_config_data, load_secrets
from cc_backend.config.clusters import MetricDataRepository as RepositoryConfig
from cc_backend.demo.clusters import demo_clusters
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import BackendUnavailable, ConfigError, InvalidInput
from cc_backend.domain.job import Job
from cc_backend.metricdata.prometheus import (
    PrometheusClient,
    PrometheusData,
    hosts_regex,
    prometheus_from_config,
)
from cc_backend.metricdata.registry import MetricDataSources
from tests.prometheus_server import PrometheusServer, PromSeries, prometheus_launcher
from tests.server_processes import free_port

__all__ = ["prometheus_launcher"]  # the session fixture, imported for pytest

NODE = MetricScope.NODE
STEP = 60
STEPS = 30
#: The first sample: a whole hour, five hours ago (blocks must lie before the head block).
BASE = (int(time.time()) - 5 * 3600) // 3600 * 3600
HOSTS = ["f0101", "f0102", "f0103", "f0104"]
USER, PASSWORD = "cc", "s3cret"
FLOPS_TEMPLATE = 'sum by (exported_instance) (cc_flops_any{exported_instance=~"{{.Nodes}}"})'
SUFFIXED = "f0105.cluster.example.org"


def number(host: str) -> int:
    return int(host[-2:])


def load(host: str, i: int) -> float:
    return 1000.0 * number(host) + i


def mem_used(host: str, i: int) -> float:
    return number(host) * 1e9 + i * 1e6


def flops(host: str, i: int) -> float:
    return 20.0 * number(host) + 1 + 2 * i


def times() -> range:
    return range(BASE, BASE + STEPS * STEP, STEP)


def backfill() -> list[PromSeries]:
    """The samples of the module docstring."""
    series = []
    for host in HOSTS:
        n, where = number(host), {"exported_instance": host}
        series += [
            PromSeries("node_load1", where, [(t, load(host, i)) for i, t in enumerate(times())]),
            PromSeries("node_memory_MemTotal_bytes", where, [(t, 64e9) for t in times()]),
            PromSeries(
                "node_memory_MemAvailable_bytes",
                where,
                [(t, 64e9 - mem_used(host, i)) for i, t in enumerate(times())],
            ),
        ]
        for cpu in ("0", "1"):
            labels = {**where, "cpu": cpu, "mode": "user"}
            counter = [(t, 0.1 * n * (t - BASE)) for t in times()]
            series.append(PromSeries("node_cpu_seconds_total", labels, counter))
        for socket in (0, 1):
            labels = {**where, "socket": str(socket)}
            values = [(t, 10.0 * n + socket + i) for i, t in enumerate(times())]
            series.append(PromSeries("cc_flops_any", labels, values))
    suffixed = [(t, 5000.0 + i) for i, t in enumerate(times())]
    series.append(PromSeries("node_load1", {"exported_instance": SUFFIXED}, suffixed))
    return series


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prometheus(prometheus_launcher: Callable[..., PrometheusServer]) -> PrometheusServer:
    return prometheus_launcher(backfill(), users={USER: PASSWORD}, probe="node_load1")


@pytest.fixture(scope="module")
def clusters() -> dict[str, Cluster]:
    return {cluster.name: cluster for cluster in demo_clusters()}


def make_backend(
    server_url: str,
    clusters: dict[str, Cluster],
    *,
    password: str | None = PASSWORD,
    templates: dict[str, str] | None = None,
    suffix: str = "",
    **options: Any,
) -> PrometheusData:
    client = PrometheusClient(
        server_url, username=USER if password else None, password=password, timeout=10
    )
    return PrometheusData(
        clusters.__getitem__, client, templates=templates, suffix=suffix, **options
    )


@pytest.fixture
def backend(prometheus: PrometheusServer, clusters: dict[str, Cluster]) -> Iterator[PrometheusData]:
    """The backend with the credentials and the flops template."""
    made = make_backend(prometheus.url, clusters, templates={"flops_any": FLOPS_TEMPLATE})
    yield made
    made.close()


@pytest.fixture
def job(make_job: Callable[..., Job]) -> Job:
    """A finished job on f0101 and f0102, from sample 5 for ten minutes (samples 5..15)."""
    return make_job(
        resources=[{"hostname": "f0101"}, {"hostname": "f0102"}],
        numNodes=2,
        startTime=BASE + 5 * STEP,
        duration=10 * STEP,
        jobState="completed",
    )


def samples(data: Any, metric: str) -> dict[str, list[float]]:
    """Host -> samples of ``metric`` at node scope."""
    return {s.hostname: s.data.tolist() for s in data[metric][NODE].series}


# -- job data -----------------------------------------------------------------------------


def test_job_data_holds_one_node_series_per_host_from_the_job_start(
    backend: PrometheusData, job: Job
) -> None:
    data = backend.load_data(job, ["cpu_load", "flops_any"], [NODE])

    assert sorted(data.metrics()) == ["cpu_load", "flops_any"]
    metric = data["cpu_load"][NODE]
    assert (metric.timestep, str(metric.unit.base)) == (60, "")
    # eleven evaluation times: the start, then every minute up to the end of the job
    assert samples(data, "cpu_load") == {
        host: [load(host, i) for i in range(5, 16)] for host in ("f0101", "f0102")
    }
    assert samples(data, "flops_any") == {
        host: [flops(host, i) for i in range(5, 16)] for host in ("f0101", "f0102")
    }
    assert [s.id for s in metric.series] == [None, None]


def test_series_statistics_come_from_the_loaded_samples(backend: PrometheusData, job: Job) -> None:
    data = backend.load_data(job, ["cpu_load"], [NODE])
    [first, second] = data["cpu_load"][NODE].series
    assert (first.statistics.min, first.statistics.avg, first.statistics.max) == (
        1005.0,
        1010.0,
        1015.0,
    )
    assert second.statistics.avg == 2010.0


def test_times_without_a_sample_are_nan_and_left_out_of_the_statistics(
    backend: PrometheusData, make_job: Callable[..., Job]
) -> None:
    early = make_job(
        resources=[{"hostname": "f0103"}],
        startTime=BASE - 3 * STEP,
        duration=6 * STEP,
        jobState="completed",
    )
    [series] = backend.load_data(early, ["cpu_load"], [NODE])["cpu_load"][NODE].series
    values = series.data.tolist()
    assert all(math.isnan(v) for v in values[:3])
    assert values[3:] == [3000.0, 3001.0, 3002.0, 3003.0]
    statistics = series.statistics
    assert (statistics.min, statistics.avg, statistics.max) == (3000.0, 3001.5, 3003.0)


@pytest.mark.parametrize(
    ("resolution", "step", "indices"),
    [
        (0, 60, range(5, 16)),
        (30, 60, range(5, 16)),  # never finer than the metric's time step
        (120, 120, range(5, 16, 2)),
        (300, 300, range(5, 16, 5)),
    ],
)
def test_resolution_sets_the_step_of_the_series(
    backend: PrometheusData, job: Job, resolution: int, step: int, indices: range
) -> None:
    data = backend.load_data(job, ["cpu_load"], [NODE], resolution=resolution)
    assert data["cpu_load"][NODE].timestep == step
    assert samples(data, "cpu_load")["f0102"] == [load("f0102", i) for i in indices]


def test_a_long_window_is_loaded_at_a_coarser_step_prometheus_accepts(
    backend: PrometheusData, make_job: Callable[..., Job]
) -> None:
    ten_days = 10 * 86_400
    long_job = make_job(
        resources=[{"hostname": "f0101"}],
        startTime=BASE + 29 * STEP - ten_days,
        duration=ten_days,
        jobState="completed",
    )
    metric = backend.load_data(long_job, ["cpu_load"], [NODE])["cpu_load"][NODE]
    # 60 s would give 14,401 points; the smallest multiple of 60 within 11,000 is 120 s
    assert metric.timestep == 120
    [series] = metric.series
    assert len(series.data) == ten_days // 120 + 1
    assert series.data[-1] == load("f0101", 29)


def test_a_running_job_is_loaded_until_now(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], make_job: Callable[..., Job]
) -> None:
    now = BASE + 12 * STEP
    running = make_job(resources=[{"hostname": "f0104"}], startTime=BASE + 10 * STEP)
    backend = make_backend(prometheus.url, clusters, clock=lambda: float(now))
    try:
        data = backend.load_data(running, ["cpu_load"], [NODE])
    finally:
        backend.close()
    assert samples(data, "cpu_load") == {"f0104": [4010.0, 4011.0, 4012.0]}


def test_every_requested_scope_is_served_at_node_scope(backend: PrometheusData, job: Job) -> None:
    scopes = [MetricScope.CORE, MetricScope.SOCKET, MetricScope.ACCELERATOR]
    data = backend.load_data(job, ["cpu_load", "flops_any"], scopes)
    assert {metric: list(data[metric]) for metric in data.metrics()} == {
        "cpu_load": [NODE],
        "flops_any": [NODE],
    }
    with pytest.raises(InvalidInput, match="unknown metric scope 'rack'"):
        backend.load_data(job, ["cpu_load"], ["rack"])  # type: ignore[list-item]


# -- templates ----------------------------------------------------------------------------


def test_default_templates_read_node_exporter_metrics(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job
) -> None:
    backend = make_backend(prometheus.url, clusters)
    try:
        data = backend.load_data(job, ["cpu_load", "mem_used", "cpu_user", "net_bw"], [NODE])
    finally:
        backend.close()
    assert samples(data, "mem_used")["f0102"] == [mem_used("f0102", i) for i in range(5, 16)]
    assert samples(data, "cpu_load")["f0101"][0] == 1005.0
    assert samples(data, "cpu_user") == {
        "f0101": pytest.approx([10.0] * 11),
        "f0102": pytest.approx([20.0] * 11),
    }
    assert "net_bw" not in data  # a valid query, but the server holds no network counters


def test_a_metric_without_template_has_no_data_and_all_metrics_means_those_with_data(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job
) -> None:
    backend = make_backend(prometheus.url, clusters)
    try:
        assert backend.load_data(job, ["flops_any"], [NODE]).root == {}
        everything = backend.load_data(job, None, [NODE])
    finally:
        backend.close()
    assert sorted(everything.metrics()) == ["cpu_load", "cpu_user", "mem_used"]


def test_a_configured_template_replaces_the_default(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job
) -> None:
    template = 'cc_flops_any{socket="1", exported_instance=~"{{ .Nodes }}"}'
    backend = make_backend(prometheus.url, clusters, templates={"cpu_load": template})
    try:
        data = backend.load_data(job, ["cpu_load"], [NODE])
    finally:
        backend.close()
    assert samples(data, "cpu_load")["f0101"] == [10.0 + 1 + i for i in range(5, 16)]


def test_a_template_returning_several_series_per_host_uses_the_first_and_says_so(
    prometheus: PrometheusServer,
    clusters: dict[str, Cluster],
    job: Job,
    caplog: pytest.LogCaptureFixture,
) -> None:
    template = 'cc_flops_any{exported_instance=~"{{.Nodes}}"}'
    backend = make_backend(prometheus.url, clusters, templates={"flops_any": template})
    with caplog.at_level(logging.WARNING, "cc_backend.metricdata.prometheus"):
        data = backend.load_data(job, ["flops_any"], [NODE])
    backend.close()
    assert samples(data, "flops_any")["f0101"][0] == 10.0 + 0 + 5  # socket 0 sorts first
    assert "several series for f0101, f0102" in caplog.text


def test_the_suffix_is_matched_literally_and_removed_from_host_names(
    prometheus: PrometheusServer, clusters: dict[str, Cluster]
) -> None:
    backend = make_backend(prometheus.url, clusters, suffix=".cluster.example.org")
    try:
        nodes = backend.load_node_data(
            "fritz", ["cpu_load"], ["f0105"], [NODE], start=BASE, stop=BASE + 2 * STEP
        )
    finally:
        backend.close()
    assert samples(nodes["f0105"], "cpu_load") == {"f0105": [5000.0, 5001.0, 5002.0]}


def test_host_regex_lists_the_hosts_without_backslashes() -> None:
    assert hosts_regex(["f0101", "f0102", "f0101"]) == "(?:f0101|f0102)"
    assert hosts_regex(["n1.a"], ":9100") == "(?:n1[.]a):9100"


def test_an_unknown_metric_is_invalid_input(backend: PrometheusData, job: Job) -> None:
    with pytest.raises(InvalidInput, match="'no_such_metric' is not configured"):
        backend.load_data(job, ["cpu_load", "no_such_metric"], [NODE])


# -- statistics ---------------------------------------------------------------------------


def test_job_statistics_per_metric_and_host(backend: PrometheusData, job: Job) -> None:
    stats = backend.load_stats(job, ["cpu_load", "flops_any"])
    assert {metric: sorted(hosts) for metric, hosts in stats.items()} == {
        "cpu_load": ["f0101", "f0102"],
        "flops_any": ["f0101", "f0102"],
    }
    f0102 = stats["flops_any"]["f0102"]
    assert (f0102.min, f0102.avg, f0102.max) == (flops("f0102", 5), flops("f0102", 10), 71.0)


def test_scoped_statistics_are_node_statistics(backend: PrometheusData, job: Job) -> None:
    stats = backend.load_scoped_stats(job, ["cpu_load"], [NODE, MetricScope.CORE])
    assert list(stats["cpu_load"]) == [NODE]
    assert [(s.hostname, s.id, s.min, s.avg, s.max) for s in stats["cpu_load"][NODE]] == [
        ("f0101", None, 1005.0, 1010.0, 1015.0),
        ("f0102", None, 2005.0, 2010.0, 2015.0),
    ]


# -- nodes --------------------------------------------------------------------------------


def test_node_data_for_named_hosts_includes_hosts_without_data(
    backend: PrometheusData,
) -> None:
    nodes = backend.load_node_data(
        "fritz",
        ["cpu_load", "mem_used"],
        ["f0103", "f0104", "f0109"],
        [NODE],
        start=BASE + 20 * STEP,
        stop=BASE + 22 * STEP,
    )
    assert list(nodes) == ["f0103", "f0104", "f0109"]
    assert samples(nodes["f0104"], "cpu_load") == {"f0104": [4020.0, 4021.0, 4022.0]}
    assert samples(nodes["f0103"], "mem_used") == {
        "f0103": [mem_used("f0103", i) for i in (20, 21, 22)]
    }
    assert len(nodes["f0109"]) == 0


def test_node_list_pages_over_the_clusters_hosts(backend: PrometheusData) -> None:
    options: dict[str, Any] = {
        "subcluster": None,
        "host_filter": "f010",
        "metrics": ["cpu_load"],
        "scopes": [NODE],
        "resolution": 120,
        "start": BASE,
        "stop": BASE + 4 * STEP,
        "items_per_page": 4,
    }
    first = backend.load_node_list("fritz", page=1, **options)
    assert (list(first.nodes), first.total, first.has_next_page) == (HOSTS, 9, True)
    assert samples(first.nodes["f0102"], "cpu_load") == {"f0102": [2000.0, 2002.0, 2004.0]}
    assert first.nodes["f0102"]["cpu_load"][NODE].timestep == 120
    second = backend.load_node_list("fritz", page=2, **options)
    assert (list(second.nodes), second.has_next_page) == (
        ["f0105", "f0106", "f0107", "f0108"],
        True,
    )
    assert all(len(data) == 0 for data in second.nodes.values())
    last = backend.load_node_list("fritz", page=3, **options)
    assert (list(last.nodes), last.total, last.has_next_page) == (["f0109"], 9, False)
    everything = {**options, "items_per_page": 0}
    only = backend.load_node_list("fritz", page=1, only_hosts={"f0102", "f0104"}, **everything)
    assert (list(only.nodes), only.total, only.has_next_page) == (["f0102", "f0104"], 2, False)
    spr = backend.load_node_list("fritz", page=1, **{**options, "subcluster": "spr"})
    assert (spr.total, spr.nodes) == (0, {})


# -- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["wrong", None])
def test_without_the_right_password_the_server_is_unavailable(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job, password: str | None
) -> None:
    backend = make_backend(prometheus.url, clusters, password=password)
    with pytest.raises(BackendUnavailable) as caught:
        backend.load_data(job, ["cpu_load"], [NODE])
    backend.close()
    assert "answered 401" in caught.value.message
    assert f"{prometheus.url}/api/v1/query_range" in caught.value.message


def test_a_server_that_does_not_listen_is_unavailable(
    clusters: dict[str, Cluster], job: Job
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    backend = make_backend(url, clusters)
    with pytest.raises(BackendUnavailable) as caught:
        backend.load_stats(job, ["cpu_load"])
    backend.close()
    assert f"{url}/api/v1/query_range" in caught.value.message
    assert "connection refused" in caught.value.message.lower()


def test_a_query_prometheus_rejects_is_unavailable_with_its_reason(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job
) -> None:
    broken = 'rate(node_load1{exported_instance=~"{{.Nodes}}"})'  # rate needs a range
    backend = make_backend(prometheus.url, clusters, templates={"cpu_load": broken})
    with pytest.raises(BackendUnavailable) as caught:
        backend.load_data(job, ["cpu_load"], [NODE])
    backend.close()
    message = caught.value.message
    assert message.startswith("metric cpu_load: ")
    assert "bad_data" in message
    assert "expected type range vector" in message
    assert "rate(node_load1{exported_instance=~" in message


class _Garbage(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        body = b'{"status": "success", "data": {"resultType": "vector", "result": []}}'
        if self.path.startswith("/html"):
            body = b"<html>a login page</html>"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """Something that answers 200 with what is not a range query's answer."""
    server = HTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("path", "reason"), [("/html", "not a Prometheus API answer"), ("", "instead of a matrix")]
)
def test_an_answer_that_is_not_a_matrix_is_unavailable(
    garbage_server: str, clusters: dict[str, Cluster], job: Job, path: str, reason: str
) -> None:
    backend = make_backend(garbage_server + path, clusters)
    with pytest.raises(BackendUnavailable, match="unreadable answer") as caught:
        backend.load_data(job, ["cpu_load"], [NODE])
    backend.close()
    assert reason in caught.value.message


# -- configuration ------------------------------------------------------------------------


def config_document(prometheus: PrometheusServer, **repository: Any) -> dict[str, Any]:
    settings = {"kind": "prometheus", "url": prometheus.url, **repository}
    return {"clusters": [{"name": "fritz", "metricDataRepository": settings}]}


def test_metric_data_sources_build_the_backend_from_cc_backend_keys(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job, tmp_path: Path
) -> None:
    document = config_document(
        prometheus,
        username=USER,
        password=PASSWORD,
        **{"query-templates": {"flops_any": FLOPS_TEMPLATE}},
    )
    sources = MetricDataSources(load_config_data(document, tmp_path), clusters.__getitem__, None)
    try:
        backend = sources("fritz")
        assert isinstance(backend, PrometheusData)
        assert backend.kind == "prometheus"
        data = backend.load_data(job, ["flops_any", "cpu_load"], [NODE])
    finally:
        sources.close()
    assert samples(data, "flops_any")["f0101"] == [flops("f0101", i) for i in range(5, 16)]
    assert samples(data, "cpu_load")["f0102"][-1] == load("f0102", 15)


def test_the_password_may_come_from_the_environment_as_in_cc_backend(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job, tmp_path: Path
) -> None:
    document = config_document(prometheus, username=USER, suffix="")
    settings = load_config_data(document, tmp_path).cluster_config("fritz")
    assert settings is not None
    backend = prometheus_from_config(
        clusters.__getitem__,
        settings.metric_data_repository,
        environ={"PROMETHEUS_PASSWORD": PASSWORD},
    )
    try:
        stats = backend.load_stats(job, ["cpu_load"])
    finally:
        backend.close()
    assert stats["cpu_load"]["f0101"].avg == 1010.0


def test_the_sites_secrets_give_the_password_to_metric_data_sources(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job, tmp_path: Path
) -> None:
    """``PROMETHEUS_PASSWORD`` in the site's ``.env`` (or environment), as cc-backend reads it."""
    (tmp_path / ".env").write_text(f"PROMETHEUS_PASSWORD={PASSWORD}\n", encoding="utf-8")
    secrets = load_secrets(tmp_path / "config.json", environ={})
    config = load_config_data(config_document(prometheus, username=USER), tmp_path)
    sources = MetricDataSources(config, clusters.__getitem__, None, secrets)
    try:
        stats = sources("fritz").load_stats(job, ["cpu_load"])
    finally:
        sources.close()
    assert stats["cpu_load"]["f0101"].avg == 1010.0


def test_the_environments_password_is_not_sent_without_a_username(
    prometheus: PrometheusServer, clusters: dict[str, Cluster], job: Job
) -> None:
    settings = RepositoryConfig.model_validate({"kind": "prometheus", "url": prometheus.url})
    backend = prometheus_from_config(
        clusters.__getitem__, settings, environ={"PROMETHEUS_PASSWORD": PASSWORD}
    )
    with pytest.raises(BackendUnavailable, match="answered 401"):
        backend.load_data(job, ["cpu_load"], [NODE])
    backend.close()


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"username": USER}, "username: given, but no password"),
        ({"password": PASSWORD}, "password: given without a username"),
        ({"suffix": 7}, "suffix: must be a string"),
        ({"query-templates": ["node_load1"]}, "query-templates: must map metric names"),
        ({"templates": {"cpu_load": "{{.Nodes}} {{.Cluster}}"}}, "only the placeholder"),
    ],
)
def test_configuration_mistakes_are_config_errors(
    clusters: dict[str, Cluster], keys: dict[str, Any], problem: str
) -> None:
    settings = RepositoryConfig.model_validate(
        {"kind": "prometheus", "url": "http://127.0.0.1:9", **keys}
    )
    with pytest.raises(ConfigError, match=problem) as caught:
        prometheus_from_config(clusters.__getitem__, settings, environ={})
    assert PASSWORD not in str(caught.value)
