"""Metric data end to end: ingest over HTTP, a large job's plot data, archiving throughput.

    python -m benchmarks.bench_metric_data              # quick sizes (about a minute)
    python -m benchmarks.bench_metric_data --full       # the sizes the issue names

One run on one fresh site (``cc-backend init`` in a temporary folder, the demo clusters
in its archive, SQLite file database, the built-in metric store) measures three things:

1. **Ingest over HTTP.** The site's API app is served on a loopback port by an event
   loop in a thread of this process (handlers run their blocking work in that loop's
   thread pool, as in production). A client in another process posts line protocol to
   ``/api/write?cluster=fritz`` over keep-alive connections: every metric of a ``fritz``
   node at its native scope (515 values per node and time step, as a node agent sends
   them), either one node per request or a batch of nodes per request. The same payloads
   also go to a trivial handler added to the same app that only reads the body (the
   floor of HTTP and Tornado); rounds of both alternate. Printed: values per second
   (wall time of the client), server CPU per value (CPU of this process, which only
   serves while the client runs) and the ratio to the trivial handler.
2. **Plot data of a large job** (64 nodes x 10 metrics x 24 h at 60 s by default). The
   metrics are written into the metric store directly at their native scopes (not
   timed), for a running job started through the job lifecycle. Timed, as medians:
   ``JobMetricData.load`` at node scope at the native resolution and at plot resolutions
   (the site's ``main.resampling`` policy, else cc-backend's example policy, and 600 s)
   from the store; then the job is stopped and archived (``Archiver.archive_job``, timed
   once) and the same loads are timed from the archive with an emptied cache (and once
   more with the cache warm). The floor is reading and decoding the job's
   ``data.json.gz`` (read, gunzip, ``orjson.loads``); ``JobArchive.load_data`` (the same
   plus the domain objects) is shown beside it.
3. **Archiving throughput.** Jobs of one to four nodes and one hour, their metrics in
   the store (every metric of the subcluster at its native scope), are started and
   stopped through the job lifecycle; then the site's archiver workers get them all and
   the time from enqueueing the first to the last one archived gives jobs per second.

Goals (issue 5): ingest >= 200,000 values/s; a 64-node job's plot data within 2x of the
decode floor; archiving >= 10 jobs/s. ``--check`` exits with 1 when one is missed;
``--profile`` adds cProfile listings of each part (timings are inflated meanwhile).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gzip
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from dotenv import dotenv_values
from rich.console import Console
from rich.table import Table

from benchmarks.api_server import SINK_PATH, ApiServer
from benchmarks.client_process import ClientProcess
from cc_backend.archive import JobRef
from cc_backend.archive.layout import DATA_FILE_GZ
from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.cli import main as cli_main
from cc_backend.config import load_config, load_secrets
from cc_backend.config.main_section import ResamplingConfig
from cc_backend.demo import demo_clusters
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.user import User
from cc_backend.metricdata.resample import ResamplingPolicy
from cc_backend.metricstore.keys import SeriesKey
from cc_backend.metricstore.store import MetricStore
from cc_backend.server import Backends, build_backends
from cc_backend.services.archiving import Archiver
from cc_backend.services.requests import StopJobRequest

INGEST_GOAL = 200_000.0
FLOOR_RATIO_GOAL = 2.0
ARCHIVING_GOAL = 10.0
CLUSTER = "fritz"
SUBCLUSTER = "main"
TIMESTEP = 60
#: The job's metrics (those of ``bench_resample``): four per hardware thread, two per
#: socket, four per node on ``fritz``.
PLOT_METRICS = [
    "cpu_load", "cpu_user", "mem_used", "flops_any", "mem_bw",
    "clock", "ipc", "cpu_power", "net_bw", "nfs4_read",
]  # fmt: skip
#: cc-backend's example ``main.resampling`` (its config.json and demo config).
EXAMPLE_RESAMPLING = {"minimumPoints": 600, "trigger": 180, "resolutions": [240, 60]}
ACTOR = User.build("adapter", ["api"])
INGEST_COLUMNS = (
    "shape", "requests", "values", "values/s", "ms/request write", "ms/request sink",
    "write/sink wall", "server CPU µs/value", "write/sink CPU",
)  # fmt: skip
ARCHIVING_COLUMNS = (
    "jobs archived", "wall s", "jobs/s", "wall ms per job", "process CPU ms per job",
)  # fmt: skip


# -- the site ---------------------------------------------------------------------------


@contextlib.contextmanager
def metric_site() -> Iterator[tuple[Backends, str]]:
    """A fresh site in a temporary folder (the working directory meanwhile) with the demo
    clusters in its archive, so that its metric store accepts them: the backends and a
    token of a user with the ``api`` role."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-metric-data-") as tmp:
        site = Path(tmp) / "site"
        with contextlib.redirect_stdout(io.StringIO()):
            if cli_main(["init", str(site)]) != 0:
                raise SystemExit("cc-backend init failed")
        os.chdir(site)
        try:
            config = load_config(site / "config.json")
            secrets = load_secrets(site / "config.json")
            first = build_backends(config, secrets)
            try:
                for cluster in demo_clusters():
                    first.archive.store_cluster(cluster)
                first.users.add(ACTOR)
            finally:
                first.close()
            # Built again: the metric store takes its clusters from the archive at start.
            backends = build_backends(config, secrets)
            try:
                key = load_private_key(str(dotenv_values(site / ".env")["JWT_PRIVATE_KEY"]))
                yield backends, issue_token(ACTOR, key)
            finally:
                backends.archiving.stop(timeout=5)
                backends.close()
        finally:
            os.chdir(previous)


def main_hosts(backends: Backends) -> list[str]:
    """The host names of ``fritz``'s ``main`` subcluster, in order."""
    return list(backends.clusters.get(CLUSTER).subcluster(SUBCLUSTER).hosts)


def native_series(cluster: Cluster, metrics: Sequence[str] | None) -> list[tuple[str, str, float]]:
    """(metric, path element or "", peak) of every series a ``main`` node reports for
    ``metrics`` (None: all of the subcluster) at their native scopes."""
    topology = cluster.subcluster(SUBCLUSTER).topology
    ids = {
        MetricScope.NODE: [""],
        MetricScope.SOCKET: [f"socket{s}" for s in range(len(topology.socket))],
        MetricScope.HWTHREAD: [f"hwthread{t}" for t in topology.node],
    }
    names = metrics if metrics is not None else [m.name for m in cluster.metrics_for(SUBCLUSTER)]
    result = []
    for name in names:
        config = cluster.metric_config(SUBCLUSTER, name)
        result += [(name, element, config.peak) for element in ids[config.scope]]
    return result


def fill_store(
    store: MetricStore,
    hosts: Sequence[str],
    series: Sequence[tuple[str, str, float]],
    start: int,
    steps: int,
    *,
    seed: int,
) -> int:
    """Write ``steps`` samples from ``start`` of ``series`` for each of ``hosts`` straight
    into the store (random walks around a level, two decimals); returns the values."""
    rng = np.random.default_rng(seed)
    stamps = start + TIMESTEP * np.arange(steps, dtype=np.int64)
    peaks = np.array([peak for _, _, peak in series])
    written = 0
    for host in hosts:
        level = rng.uniform(0.2, 0.7, size=(len(series), 1))
        walk = rng.normal(0, 0.01, size=(len(series), steps)).cumsum(axis=1)
        values = np.round(np.clip(level + walk, 0.0, 1.0) * peaks[:, None], 2)
        for (metric, element, _), row in zip(series, values, strict=True):
            path = (element,) if element else ()
            written += store.load(SeriesKey(CLUSTER, host, path, metric), stamps, row)
    return written


def running_job(job_id: int, hosts: Sequence[str], start: int, walltime: int) -> Job:
    """A running exclusive job on ``hosts`` of ``fritz``/``main``, as an adapter starts it."""
    return Job.model_validate(
        {
            "jobId": job_id,
            "user": "alice",
            "project": "project-a",
            "cluster": CLUSTER,
            "subCluster": SUBCLUSTER,
            "partition": "multinode",
            "numNodes": len(hosts),
            "numHwthreads": 72 * len(hosts),
            "shared": "none",
            "jobState": "running",
            "startTime": start,
            "submitTime": start - 60,
            "walltime": walltime,
            "resources": [{"hostname": host} for host in hosts],
            "metaData": {"jobName": f"bench-{job_id}"},
        }
    )


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _now() -> int:
    return int(time.time()) // TIMESTEP * TIMESTEP


def print_profile(console: Console, title: str, profiles: Sequence[cProfile.Profile]) -> None:
    """The top functions of ``profiles`` by cumulative and by own time."""
    stats = pstats.Stats(*profiles, stream=io.StringIO())
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(25)
        console.print(f"[bold]cProfile, {title}, by {order}[/bold]")
        console.print(out.getvalue(), markup=False, highlight=False)


# == 1. ingest over HTTP =================================================================


WRITE_PATH = f"/api/write?cluster={CLUSTER}"


@dataclass(frozen=True)
class IngestPlan:
    """What the client process sends: for which hosts and series, from when, over how many
    connections (the batch size comes with each build command)."""

    port: int
    token: str
    hosts: tuple[str, ...]
    #: (metric, path element or "", peak) of every series of a node.
    series: tuple[tuple[str, str, float], ...]
    first_stamp: int
    clients: int
    seed: int


class HttpClient:
    """One keep-alive HTTP/1.1 connection that posts a body and reads the whole answer."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer to ``POST path``."""
        assert self.reader is not None
        assert self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode())
        self.writer.write(body)
        status = int((await self.reader.readline()).split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, (await self.reader.readexactly(length) if length else b"")

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()


def build_payloads(plan: IngestPlan, first_step: int, steps: int, batch: int) -> list[bytes]:
    """Line protocol of ``steps`` time steps from ``first_step``: ``batch`` nodes per
    payload, every series of a node with four significant digits, no cluster tag (the
    request's ``cluster`` parameter names it, as collectors are configured)."""
    rng = np.random.default_rng(plan.seed + first_step)
    heads = [
        f"{metric},hostname={{host}},type={_scope_tags(element)}"
        for metric, element, _ in plan.series
    ]
    peaks = np.array([peak for _, _, peak in plan.series])
    payloads = []
    for step in range(first_step, first_step + steps):
        stamp = plan.first_stamp + step * TIMESTEP
        for low in range(0, len(plan.hosts), batch):
            lines = []
            for host in plan.hosts[low : low + batch]:
                values = (rng.random(len(peaks)) * peaks).tolist()
                lines += [
                    f"{head.format(host=host)} value={float(f'{v:.4g}')} {stamp}\n"
                    for head, v in zip(heads, values, strict=True)
                ]
            payloads.append("".join(lines).encode())
    return payloads


def _scope_tags(element: str) -> str:
    if not element:
        return "node"
    scope = element.rstrip("0123456789")
    return f"{scope},type-id={element[len(scope) :]}"


async def _send_all(clients: list[HttpClient], path: str, payloads: list[bytes]) -> dict[str, Any]:
    """Post every payload over ``clients`` (each sends one at a time); wall time, counts."""
    queue = iter(payloads)
    outcome: dict[str, Any] = {"written": 0, "rejected": 0, "failures": []}

    async def worker(client: HttpClient) -> None:
        for payload in queue:
            status, answer = await client.post(path, payload)
            if status != 200:
                outcome["failures"].append(f"{status} {answer[:200]!r}")
            elif path == WRITE_PATH:
                counts = orjson.loads(answer)
                outcome["written"] += counts["written"]
                outcome["rejected"] += counts["rejected"]

    began = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    outcome["wall"] = time.perf_counter() - began
    return outcome


def client_process(pipe: Pipe, plan: IngestPlan) -> None:
    """The client: builds payloads and posts them when told to (runs in its own process).

    Commands on ``pipe``: ``("build", first_step, steps, batch)`` answers the number of
    payloads and values; ``("send", path)`` posts the payloads built last and answers
    the outcome; ``("end",)`` closes the connections.
    """

    async def serve() -> None:
        clients = [HttpClient(plan.port, plan.token) for _ in range(plan.clients)]
        await asyncio.gather(*(client.open() for client in clients))
        payloads: list[bytes] = []
        try:
            while True:
                command = pipe.recv()
                if command[0] == "build":
                    payloads = build_payloads(plan, *command[1:])
                    pipe.send((len(payloads), sum(p.count(b"\n") for p in payloads)))
                elif command[0] == "send":
                    pipe.send(await _send_all(clients, command[1], payloads))
                else:
                    return
        finally:
            for client in clients:
                await client.close()

    asyncio.run(serve())


@dataclass
class ShapeFigures:
    """Totals of one payload shape over its timed rounds."""

    shape: str
    payloads: int = 0
    values: int = 0
    written: int = 0
    rejected: int = 0
    wall: dict[str, float] = field(default_factory=lambda: {"write": 0.0, "sink": 0.0})
    cpu: dict[str, float] = field(default_factory=lambda: {"write": 0.0, "sink": 0.0})
    failures: list[str] = field(default_factory=list)

    @property
    def values_per_s(self) -> float:
        return self.values / self.wall["write"] if self.wall["write"] else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "payloads": self.payloads,
            "values": self.values,
            "written": self.written,
            "rejected": self.rejected,
            "values_per_s": self.values_per_s,
            "cpu_us_per_value": 1e6 * self.cpu["write"] / max(self.values, 1),
            "ratio_wall": self.wall["write"] / self.wall["sink"] if self.wall["sink"] else 0.0,
            "ratio_cpu": self.cpu["write"] / self.cpu["sink"] if self.cpu["sink"] else 0.0,
            "failures": self.failures[:5],
        }


class IngestDriver(ClientProcess):
    """The ingest client process; measures this process's CPU around each of its sends."""

    def __init__(self, plan: IngestPlan) -> None:
        super().__init__(client_process, plan)

    def build(self, first_step: int, steps: int, batch: int) -> tuple[int, int]:
        (payloads, values), _ = self.ask("build", first_step, steps, batch)
        return int(payloads), int(values)

    def send(self, path: str) -> tuple[dict[str, Any], float]:
        """The client's outcome of posting the built payloads to ``path``, and the CPU
        seconds this process (the server) spent meanwhile."""
        outcome, cpu = self.ask("send", path)
        return dict(outcome), cpu


def measure_ingest(
    backends: Backends, token: str, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    """Part 1: rounds of writes and sink posts per payload shape; figures per shape."""
    cluster = backends.clusters.get(CLUSTER)
    hosts = main_hosts(backends)
    # Hosts of their own (the plot job and the archiving jobs use others).
    chosen = tuple(hosts[64 : 64 + args.ingest_nodes] if len(hosts) >= 128 else hosts)
    shapes = [
        ("one node per request", 1),
        (f"{args.batch_nodes} nodes per request", args.batch_nodes),
    ]
    total_steps = 1 + len(shapes) * args.rounds * args.steps
    server = ApiServer(backends)
    server.start()
    plan = IngestPlan(
        port=server.port,
        token=token,
        hosts=chosen,
        series=tuple(native_series(cluster, None)),
        first_stamp=_now() - total_steps * TIMESTEP,
        clients=args.clients,
        seed=args.seed,
    )
    driver = IngestDriver(plan)
    figures: list[ShapeFigures] = []
    try:
        driver.build(0, 1, 1)  # warm-up: every series created, the parser's cache filled
        for path in (WRITE_PATH, SINK_PATH):
            outcome, _ = driver.send(path)
            if outcome["failures"]:
                raise SystemExit(f"warm-up write failed: {outcome['failures'][0]}")
        first_step = 1
        for shape, batch in shapes:
            figures.append(
                time_shape(driver, server, shape, batch=batch, first_step=first_step, args=args)
            )
            first_step += args.rounds * args.steps
    finally:
        driver.close()
        server.stop()
    report_ingest(console, figures, args, len(plan.series))
    if args.profile:
        print_profile(
            console,
            f"ingest: loop thread + {len(server.executor.profiles)} handler threads",
            [server.loop_profile, *server.executor.profiles],
        )
    return {
        "shapes": {f.shape: f.as_dict() for f in figures},
        "goal_met": all(f.values_per_s >= INGEST_GOAL for f in figures),
        "problems": [p for f in figures for p in _ingest_problems(f)],
    }


def time_shape(
    driver: IngestDriver,
    server: ApiServer,
    shape: str,
    *,
    batch: int,
    first_step: int,
    args: argparse.Namespace,
) -> ShapeFigures:
    """``args.rounds`` rounds of ``args.steps`` time steps from ``first_step`` with ``batch``
    nodes per request: each round posts its payloads to the write route and to the sink,
    in alternating order."""
    figures = ShapeFigures(shape)
    for round_no in range(args.rounds):
        payloads, values = driver.build(first_step + round_no * args.steps, args.steps, batch)
        figures.payloads += payloads
        figures.values += values
        for kind in ("write", "sink") if round_no % 2 == 0 else ("sink", "write"):
            profiled = args.profile and kind == "write"
            if profiled:
                server.profiling(True)
            outcome, cpu = driver.send(WRITE_PATH if kind == "write" else SINK_PATH)
            if profiled:
                server.profiling(False)
            figures.wall[kind] += outcome["wall"]
            figures.cpu[kind] += cpu
            figures.failures += outcome["failures"]
            figures.written += outcome["written"]
            figures.rejected += outcome["rejected"]
    return figures


def _ingest_problems(figures: ShapeFigures) -> list[str]:
    problems = [f"{figures.shape}: {failure}" for failure in figures.failures[:3]]
    if figures.written != figures.values or figures.rejected:
        problems.append(
            f"{figures.shape}: {figures.written:,} of {figures.values:,} values stored, "
            f"{figures.rejected:,} refused"
        )
    return problems


def report_ingest(
    console: Console, figures: list[ShapeFigures], args: argparse.Namespace, per_node: int
) -> None:
    console.rule("[bold]1. Ingest over HTTP[/bold]")
    console.print(
        f"POST {WRITE_PATH}: {args.ingest_nodes} nodes x {per_node} values per time step, "
        f"{args.rounds} rounds of {args.steps} steps per shape, {args.clients} keep-alive "
        f"connections from a client process; baseline: the same payloads to {SINK_PATH}"
    )
    table = Table(
        title="ingest: wall time of the client (ms/request = wall time / requests), "
        "CPU time of the server process"
    )
    for name in INGEST_COLUMNS:
        table.add_column(name, justify="left" if name == "shape" else "right")
    for f in figures:
        d = f.as_dict()
        table.add_row(
            f.shape,
            f"{f.payloads:,}",
            f"{f.values:,}",
            f"{f.values_per_s:,.0f}",
            f"{1000 * f.wall['write'] / f.payloads:,.2f}",
            f"{1000 * f.wall['sink'] / f.payloads:,.2f}",
            f"{d['ratio_wall']:.1f}x",
            f"{d['cpu_us_per_value']:.2f}",
            f"{d['ratio_cpu']:.1f}x",
        )
    console.print(table)
    for f in figures:
        for problem in _ingest_problems(f):
            console.print(f"[red]{problem}[/red]")


# == 2. plot data of a large job =========================================================


@dataclass
class Timed:
    """One thing to time: ``work`` (after ``before``, untimed), its wall milliseconds."""

    label: str
    work: Callable[[], Any]
    before: Callable[[], object] | None = None
    ms: list[float] = field(default_factory=list)

    def run(self) -> float:
        if self.before is not None:
            self.before()
        began = time.perf_counter()
        self.work()
        return 1000 * (time.perf_counter() - began)

    @property
    def median(self) -> float:
        return statistics.median(self.ms)


def run_interleaved(items: Sequence[Timed], repeat: int) -> None:
    """One untimed round, then ``repeat`` timed ones; every round runs each item once,
    starting from another item each time, so that all see the same load of the machine."""
    for round_no in range(repeat + 1):
        shift = round_no % len(items)
        for item in [*items[shift:], *items[:shift]]:
            elapsed = item.run()
            if round_no:
                item.ms.append(elapsed)


def plot_resolutions(
    backends: Backends, duration: int, extra: Sequence[int]
) -> tuple[list[int], str]:
    """The plot resolutions to time: the first one of the site's resampling policy (or
    cc-backend's example policy when the site has none), then ``extra``."""
    config = backends.config.main.resampling
    source = "the site's main.resampling"
    if config is None:
        config = ResamplingConfig.model_validate(EXAMPLE_RESAMPLING)
        source = "cc-backend's example main.resampling (resolutions 240, 60)"
    policy = ResamplingPolicy.from_config(config)
    assert policy is not None
    first = policy.initial_resolution(duration, TIMESTEP)
    chosen = [first] if first else []
    return chosen + [r for r in extra if r not in chosen and r > TIMESTEP], source


def _shape(data: JobData) -> tuple[int, int]:
    """(series, points of the longest series) over all metrics and scopes of ``data``."""
    metrics = [m for _, by_scope in data.items() for m in by_scope.values()]
    points = max((s.data.size for m in metrics for s in m.series), default=0)
    return sum(len(m.series) for m in metrics), points


def _res(resolution: int) -> str:
    return f"{resolution} s" if resolution else "native"


@dataclass(frozen=True)
class PlotJob:
    """The large job: running (read from the store) and archived (read from the archive)."""

    running: Job
    archived: Job
    data_file: Path
    metrics: list[str]
    archive_job_s: float


def prepare_plot_job(backends: Backends, args: argparse.Namespace) -> tuple[PlotJob, int, float]:
    """Fill the store for the job, start it, then stop and archive it (the running job's
    object still reads from the store). Returns the job, the values written and the
    seconds that took."""
    store = backends.metric_store
    assert store is not None, "the site has no built-in metric store"
    cluster = backends.clusters.get(CLUSTER)
    metrics = PLOT_METRICS[: args.metrics]
    hosts = main_hosts(backends)[: args.job_nodes]
    duration = int(args.hours * 3600)
    start = _now() - duration
    steps = duration // TIMESTEP + 1 + 10  # ten steps past now: the running job is covered
    began = time.perf_counter()
    values = fill_store(store, hosts, native_series(cluster, metrics), start, steps, seed=args.seed)
    fill_s = time.perf_counter() - began
    running = backends.lifecycle.start_job(running_job(1, hosts, start, 2 * duration), ACTOR)
    stop = StopJobRequest(job_id=running.job_id, cluster=CLUSTER, stop_time=start + duration)
    stopped = backends.lifecycle.stop_job(stop, ACTOR)
    backends.archiving.drain()  # archived here, in this thread
    began = time.perf_counter()
    outcome = backends.archiving.archive_job(stopped)
    archive_s = time.perf_counter() - began
    archived = backends.jobs.get(stopped.id or 0)
    if archived.monitoring_status is not MonitoringStatus.ARCHIVING_SUCCESSFUL:
        raise SystemExit(f"archiving the plot job failed: {outcome.reason}")
    data_file = Path(backends.archive.location) / JobRef.of(archived).directory / DATA_FILE_GZ
    return PlotJob(running, archived, data_file, metrics, archive_s), values, fill_s


def measure_plot_data(
    backends: Backends, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    """Part 2: a large job's plot data from the store and from the archive, and the floor."""
    job, values, fill_s = prepare_plot_job(backends, args)
    resolutions, source = plot_resolutions(backends, int(args.hours * 3600), args.resolutions)
    load = backends.job_metric_data.load
    cache = backends.job_metric_data.archive_cache
    node = [MetricScope.NODE]

    def loader(target: Job, resolution: int) -> Callable[[], JobData]:
        return lambda: load(target, job.metrics, node, resolution)

    def forget() -> None:
        cache.forget(job.archived)

    floor = Timed(
        "floor: read + gunzip + orjson.loads of data.json.gz",
        lambda: orjson.loads(gzip.decompress(job.data_file.read_bytes())),
    )
    decode = Timed(
        "JobArchive.load_data (the floor + domain objects)",
        lambda: backends.archive.load_data(job.archived),
    )
    loads = [Timed(f"store, {_res(r)}", loader(job.running, r)) for r in [0, *resolutions]]
    loads += [
        Timed(f"archive, cache emptied, {_res(r)}", loader(job.archived, r), forget)
        for r in [0, *resolutions]
    ]
    plot = resolutions[0] if resolutions else 0
    loads.append(Timed(f"archive, cache warm, {_res(plot)}", loader(job.archived, plot)))
    run_interleaved([floor, decode, *loads], args.repeat)
    shapes = {item.label: _shape(item.work()) for item in loads}
    result: dict[str, Any] = {
        "job": {"nodes": args.job_nodes, "metrics": len(job.metrics), "hours": args.hours},
        "values_in_store": values,
        "fill_s": fill_s,
        "archive_job_s": job.archive_job_s,
        "data_json_gz_bytes": job.data_file.stat().st_size,
        "floor_ms": floor.median,
        "load_data_ms": decode.median,
        "resolution_source": source,
        "rows": {
            item.label: {
                "ms": item.median,
                "ratio": item.median / floor.median,
                "series": shapes[item.label][0],
                "points": shapes[item.label][1],
            }
            for item in loads
        },
    }
    goal_rows = [
        item for item in loads if not item.label.endswith("native") and "warm" not in item.label
    ]
    result["worst_plot_ratio"] = max((item.median / floor.median for item in goal_rows), default=0)
    result["goal_met"] = result["worst_plot_ratio"] <= FLOOR_RATIO_GOAL
    report_plot(console, result, args)
    if args.profile:
        profiles = []
        for item in loads:
            profile = cProfile.Profile()
            if item.before is not None:
                item.before()
            profile.runcall(item.work)
            profiles.append(profile)
        print_profile(console, "plot data, one load of each row", profiles)
    return result


def report_plot(console: Console, result: dict[str, Any], args: argparse.Namespace) -> None:
    job = result["job"]
    console.rule(f"[bold]2. Plot data of a {job['nodes']}-node job[/bold]")
    console.print(
        f"{job['nodes']} nodes x {job['metrics']} metrics x {job['hours']:g} h at {TIMESTEP} s, "
        f"node scope; {result['values_in_store']:,} values at native scopes written into the "
        f"store in {result['fill_s']:.1f} s (not timed); archive_job of the stopped job: "
        f"{1000 * result['archive_job_s']:,.0f} ms; data.json.gz "
        f"{result['data_json_gz_bytes'] / 2**20:.1f} MiB; plot resolutions from "
        f"{result['resolution_source']}; rows interleaved"
    )
    floor = result["floor_ms"]
    table = Table(title=f"JobMetricData.load at node scope (median of {args.repeat}, ms)")
    for name in ("source, resolution", "series", "points", "ms", "x floor"):
        table.add_column(name, justify="left" if name.startswith("source") else "right")
    table.add_row(
        "floor: read + gunzip + orjson.loads of data.json.gz", "", "", f"{floor:,.1f}", "1.00"
    )
    decoded = result["load_data_ms"]
    table.add_row(
        "JobArchive.load_data (floor + domain objects)",
        "",
        "",
        f"{decoded:,.1f}",
        f"{decoded / floor:.2f}",
    )
    for label, row in result["rows"].items():
        colour = "green" if row["ratio"] <= FLOOR_RATIO_GOAL else "red"
        table.add_row(
            label,
            f"{row['series']:,}",
            f"{row['points']:,}",
            f"{row['ms']:,.1f}",
            f"[{colour}]{row['ratio']:.2f}[/{colour}]",
        )
    console.print(table)


# == 3. archiving throughput =============================================================


@dataclass(frozen=True)
class ArchivingJob:
    """A job of the archiving part: its id, its hosts and its start (it runs an hour)."""

    job_id: int
    hosts: tuple[str, ...]
    start: int


def plan_jobs(
    hosts: Sequence[str], count: int, duration: int, now: int, seed: int
) -> list[ArchivingJob]:
    """``count`` jobs of one to four of ``hosts`` and ``duration`` seconds, packed so that
    no host runs two at once, all ending by ``now``."""
    rng = np.random.default_rng(seed)
    free = dict.fromkeys(hosts, 0)
    placed: list[tuple[int, tuple[str, ...], int]] = []
    for n in range(count):
        size = int(rng.integers(1, 5))
        chosen = sorted(free, key=lambda h: (free[h], h))[:size]
        begin = max(free[h] for h in chosen)
        for host in chosen:
            free[host] = begin + duration
        placed.append((n, tuple(chosen), begin))
    span = max(free.values())
    return [ArchivingJob(10_000 + n, chosen, now - span + begin) for n, chosen, begin in placed]


def measure_archiving(
    backends: Backends, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    """Part 3: start and stop jobs with data in the store, then time the archiver."""
    store = backends.metric_store
    assert store is not None
    cluster = backends.clusters.get(CLUSTER)
    hosts = main_hosts(backends)
    pool = hosts[128:192] if len(hosts) >= 192 else hosts
    duration = 3600
    jobs = plan_jobs(pool, args.archive_jobs, duration, _now(), args.seed)
    series = native_series(cluster, None)
    values = 0
    began = time.perf_counter()
    for host in sorted({h for j in jobs for h in j.hosts}):
        first = min(j.start for j in jobs if host in j.hosts)
        last = max(j.start for j in jobs if host in j.hosts) + duration
        values += fill_store(
            store, [host], series, first, (last - first) // TIMESTEP + 1, seed=args.seed
        )
    fill_s = time.perf_counter() - began
    began = time.perf_counter()
    for planned in jobs:
        backends.lifecycle.start_job(
            running_job(planned.job_id, planned.hosts, planned.start, 7200), ACTOR
        )
        request = StopJobRequest(
            job_id=planned.job_id, cluster=CLUSTER, stop_time=planned.start + duration
        )
        backends.lifecycle.stop_job(request, ACTOR)
    lifecycle_s = time.perf_counter() - began
    stopped = backends.archiving.drain()
    archiver = backends.archiving
    if args.archive_workers:
        archiver = Archiver(
            backends.jobs,
            backends.tags,
            backends.archive,
            backends.clusters,
            backends.metric_data,
            workers=args.archive_workers,
            on_archived=archiver.on_archived,
        )
    cpu, began = time.process_time(), time.perf_counter()
    archiver.start(recover=False)
    for job in stopped:
        archiver.enqueue(job)
    idle = archiver.wait_idle(timeout=max(600.0, len(stopped)))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    archiver.stop(timeout=5)
    statuses = [backends.jobs.get(job.id or 0).monitoring_status for job in stopped]
    archived = sum(s is MonitoringStatus.ARCHIVING_SUCCESSFUL for s in statuses)
    result = {
        "jobs": len(stopped),
        "node_hours": sum(len(j.hosts) for j in jobs),
        "workers": archiver.workers,
        "values_in_store": values,
        "fill_s": fill_s,
        "lifecycle_s": lifecycle_s,
        "wall_s": wall,
        "cpu_s": cpu,
        "archived": archived,
        "jobs_per_s": archived / wall if wall else 0.0,
        "finished": idle,
    }
    report_archiving(console, result)
    if args.profile:
        profile = cProfile.Profile()
        for job in stopped[: min(20, len(stopped))]:
            profile.runcall(archiver.archive_job, job)
        print_profile(
            console, f"archive_job of {min(20, len(stopped))} jobs, one thread", [profile]
        )
    result["goal_met"] = result["jobs_per_s"] >= ARCHIVING_GOAL and archived == len(stopped)
    return result


def report_archiving(console: Console, result: dict[str, Any]) -> None:
    console.rule("[bold]3. Archiving throughput[/bold]")
    console.print(
        f"{result['jobs']} stopped jobs of 1-4 nodes and 1 h ({result['node_hours']} node hours), "
        f"every metric at its native scope in the store ({result['values_in_store']:,} values, "
        f"written in {result['fill_s']:.1f} s, not timed); starting and stopping them took "
        f"{result['lifecycle_s']:.1f} s (not timed)"
    )
    table = Table(title=f"Archiver, {result['workers']} workers, from enqueue to all archived")
    for name in ARCHIVING_COLUMNS:
        table.add_column(name, justify="right")
    jobs = max(result["jobs"], 1)
    table.add_row(
        f"{result['archived']:,} of {result['jobs']:,}",
        f"{result['wall_s']:.2f}",
        f"{result['jobs_per_s']:.1f}",
        f"{1000 * result['wall_s'] / jobs:.1f}",
        f"{1000 * result['cpu_s'] / jobs:.1f}",
    )
    console.print(table)
    if not result["finished"]:
        console.print("[red]the archiver did not finish within the timeout[/red]")


# == the run =============================================================================


def report_goals(console: Console, result: dict[str, Any]) -> bool:
    console.rule("[bold]Goals[/bold]")

    def verdict(ok: bool) -> str:
        return "[green]met[/green]" if ok else "[red]MISSED[/red]"

    ingest, plot, archiving = result["ingest"], result["plot"], result["archiving"]
    slowest = min(s["values_per_s"] for s in ingest["shapes"].values())
    console.print(
        f"ingest over HTTP >= {INGEST_GOAL:,.0f} values/s: slowest shape {slowest:,.0f} "
        f"values/s: {verdict(ingest['goal_met'])}"
    )
    console.print(
        f"plot data within {FLOOR_RATIO_GOAL:.0f}x of the decode floor: worst plot resolution "
        f"{plot['worst_plot_ratio']:.2f}x: {verdict(plot['goal_met'])}"
    )
    console.print(
        f"archiving >= {ARCHIVING_GOAL:.0f} jobs/s: {archiving['jobs_per_s']:.1f} jobs/s: "
        f"{verdict(archiving['goal_met'])}"
    )
    problems = ingest["problems"]
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    return bool(ingest["goal_met"] and plot["goal_met"] and archiving["goal_met"] and not problems)


#: Sizes of a quick run (about a minute here) and of the issue's full run.
SIZES: dict[str, dict[str, Any]] = {
    "quick": {"ingest_nodes": 32, "steps": 4, "rounds": 2, "job_nodes": 64, "hours": 24.0,
              "repeat": 5, "archive_jobs": 60},
    "full": {"ingest_nodes": 64, "steps": 10, "rounds": 4, "job_nodes": 64, "hours": 24.0,
             "repeat": 10, "archive_jobs": 200},
}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (default: quick)")
    group = parser.add_argument_group("ingest over HTTP")
    group.add_argument("--ingest-nodes", type=int, help="nodes posting (at most 64)")
    group.add_argument("--steps", type=int, help="time steps per round")
    group.add_argument("--rounds", type=int, help="rounds per payload shape")
    group.add_argument("--batch-nodes", type=int, default=16, help="nodes per batch request")
    group.add_argument("--clients", type=int, default=4, help="keep-alive connections")
    group = parser.add_argument_group("plot data")
    group.add_argument("--job-nodes", type=int, help="nodes of the job")
    group.add_argument("--metrics", type=int, default=len(PLOT_METRICS), help="metrics (<= 10)")
    group.add_argument("--hours", type=float, help="duration of the job")
    group.add_argument(
        "--resolutions",
        type=int,
        nargs="*",
        default=[600],
        help="plot resolutions besides the policy's",
    )
    group.add_argument("--repeat", type=int, help="timed loads per row")
    group = parser.add_argument_group("archiving")
    group.add_argument("--archive-jobs", type=int, help="jobs to archive")
    group.add_argument("--archive-workers", type=int, help="workers (default: the site's archiver)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile each part")
    parser.add_argument("--check", action="store_true", help="exit with 1 if a goal is missed")
    args = parser.parse_args(argv)
    for name, value in SIZES["full" if args.full else "quick"].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.ingest_nodes = min(args.ingest_nodes, 64)
    args.metrics = min(args.metrics, len(PLOT_METRICS))
    return args


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    """All three parts on one fresh site; the figures and whether every goal holds."""
    console.print(
        f"{os.cpu_count()} CPUs, load average {_load_average()}"
        + (" [yellow](profiling: timings are inflated)[/yellow]" if args.profile else "")
    )
    with metric_site() as (backends, token):
        result: dict[str, Any] = {
            "ingest": measure_ingest(backends, token, args, console),
            "plot": measure_plot_data(backends, args, console),
            "archiving": measure_archiving(backends, args, console),
        }
    result["ok"] = report_goals(console, result)
    console.print(f"load average after the run: {_load_average()} (other processes skew timings)")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point; returns the figures (for the smoke test)."""
    args = parse_args(argv)
    result = run(args, Console(width=max(Console().width, 120)))
    if args.check and not result["ok"]:
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
