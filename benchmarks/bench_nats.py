"""Benchmark the NATS job API: start_job + stop_job pairs published to a real nats-server.

    python -m benchmarks.bench_nats --pairs 1000 --concurrency 1,8

A ``nats-server`` is started on a loopback port (or ``--server-url`` names a running one),
and a fresh site (the one of :mod:`benchmarks.bench_rest`: SQLite file database, the demo
clusters) gets a :class:`~cc_backend.nats.NatsApi` subscribed to a job event subject, in the
same process and event loop as the publisher. For each job-concurrency value (the number of
job workers, cc-backend's ``job-concurrency``), rounds of start+stop pairs are published
back-to-back and timed from the first publish until the API has stored and stopped every
job of the round. Each such round alternates with a baseline round that publishes the same
messages to another subject of the same server, with a subscriber that does nothing, timed
until it has received them all: the floor of NATS and nats-py themselves. Printed: pairs
per second, messages per second of the baseline, the ratio of the two times per message
and the process CPU per pair. At the end the database is checked (every job stored once,
stopped, with its duration) and so are the API's counters (nothing refused).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from rich.console import Console
from rich.table import Table

from benchmarks.bench_rest import bench_site, start_body, stop_body
from cc_backend.config.main_section import ApiSubjects
from cc_backend.config.services import NatsConfig
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import JobState
from cc_backend.nats import NatsApi, encode_event
from cc_backend.server import Backends

JOB_SUBJECT = "bench.job.event"
BASELINE_SUBJECT = "bench.noop"
#: Pairs per lifecycle round (a baseline round publishes the same messages).
ROUND_PAIRS = 200
#: How often the end of a lifecycle round is looked for, in seconds.
POLL = 0.002
#: A round that has not finished after this many seconds fails the run.
ROUND_TIMEOUT = 300.0
#: Counters of the API that must stay at zero.
REFUSED = ("rejected", "failed", "duplicate", "dropped")


# -- the server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def nats_server(url: str | None) -> Iterator[str]:
    """``url`` if given, else a ``nats-server`` of its own on a free loopback port."""
    if url is not None:
        yield url
        return
    binary = shutil.which("nats-server")
    if binary is None:
        raise SystemExit("nats-server not found on PATH (install Debian's nats-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nats-") as tmp:
        log = (Path(tmp) / "nats-server.log").open("wb")
        process = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("nats-server did not start within 10 s") from None
                    time.sleep(0.05)
            yield f"nats://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=10)
            log.close()


# -- messages and rounds ----------------------------------------------------------------


def messages(job_ids: list[int], plain: bool) -> list[bytes]:
    """Start and stop messages of ``job_ids``, each stop right after its start."""

    def wrap(body: bytes, function: str) -> bytes:
        if plain:
            return body
        return encode_event("job", orjson.loads(body), {"function": function})

    out: list[bytes] = []
    for job_id in job_ids:
        out.append(wrap(start_body(job_id), "start_job"))
        out.append(wrap(stop_body(job_id), "stop_job"))
    return out


@dataclass
class Phase:
    """Wall and process CPU seconds and messages of one kind of round, summed."""

    wall: float = 0.0
    cpu: float = 0.0
    messages: int = 0

    def add(self, wall: float, cpu: float, count: int) -> None:
        self.wall += wall
        self.cpu += cpu
        self.messages += count


@dataclass
class NoopSubscriber:
    """Counts the messages of the baseline subject and signals when ``target`` is reached."""

    target: int = 0
    received: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_message(self, msg: Msg) -> None:
        self.received += 1
        if self.received >= self.target:
            self.done.set()

    def expect(self, count: int) -> None:
        self.target = self.received + count
        self.done.clear()


async def lifecycle_round(publisher: Client, api: NatsApi, batch: list[bytes]) -> float:
    """Publish ``batch`` to the API and wait until it has stopped every job; wall seconds."""
    target = api.stats["stopped"] + len(batch) // 2
    began = time.perf_counter()
    for message in batch:
        await publisher.publish(JOB_SUBJECT, message)
    await publisher.flush()
    deadline = began + ROUND_TIMEOUT
    while api.stats["stopped"] < target:
        refused = sum(api.stats[key] for key in REFUSED)
        if refused or time.perf_counter() > deadline:
            raise SystemExit(f"lifecycle round did not finish: {dict(api.stats)}")
        await asyncio.sleep(POLL)
    return time.perf_counter() - began


async def baseline_round(publisher: Client, noop: NoopSubscriber, batch: list[bytes]) -> float:
    """Publish ``batch`` to the no-op subscriber and wait until it has them all."""
    noop.expect(len(batch))
    began = time.perf_counter()
    for message in batch:
        await publisher.publish(BASELINE_SUBJECT, message)
    await publisher.flush()
    await asyncio.wait_for(noop.done.wait(), ROUND_TIMEOUT)
    return time.perf_counter() - began


@dataclass
class Run:
    """What one job-concurrency value measured."""

    concurrency: int
    pairs: int
    lifecycle: Phase = field(default_factory=Phase)
    baseline: Phase = field(default_factory=Phase)
    stats: dict[str, int] = field(default_factory=dict)


async def drive(
    url: str, backends: Backends, pairs: int, concurrency: list[int], plain: bool
) -> tuple[list[Run], list[int]]:
    """Time ``pairs`` pairs for each concurrency value; return the runs and all job ids."""
    publisher = await nats.connect(url)
    listener = await nats.connect(url)
    noop = NoopSubscriber()
    await listener.subscribe(BASELINE_SUBJECT, cb=noop.on_message)
    # Two round trips: nats-py may write the first PING ahead of the buffered SUB.
    await listener.flush()
    await listener.flush()
    runs: list[Run] = []
    next_id = 1
    try:
        for workers in concurrency:
            api = NatsApi(
                backends.lifecycle,
                NatsConfig(address=url),
                ApiSubjects(subject_job_event=JOB_SUBJECT, job_concurrency=workers),
            )
            await api.start()
            if not api.is_connected:
                raise SystemExit(f"the NATS API could not connect to {url}")
            run = Run(workers, pairs)
            try:
                warmup = messages(list(range(next_id, next_id + 50)), plain)
                next_id += 50
                await lifecycle_round(publisher, api, warmup)
                await baseline_round(publisher, noop, warmup)
                done = 0
                while done < pairs:
                    size = min(ROUND_PAIRS, pairs - done)
                    batch = messages(list(range(next_id, next_id + size)), plain)
                    next_id += size
                    cpu = time.process_time()
                    wall = await lifecycle_round(publisher, api, batch)
                    run.lifecycle.add(wall, time.process_time() - cpu, len(batch))
                    cpu = time.process_time()
                    wall = await baseline_round(publisher, noop, batch)
                    run.baseline.add(wall, time.process_time() - cpu, len(batch))
                    done += size
            finally:
                await api.stop()
            run.stats = dict(api.stats)
            runs.append(run)
    finally:
        await publisher.close()
        await listener.close()
    return runs, list(range(1, next_id))


# -- checks and the report --------------------------------------------------------------


def check_jobs(backends: Backends, job_ids: list[int]) -> list[str]:
    """Problems with the stored jobs: each must be there once, stopped after an hour."""
    problems: list[str] = []
    stored = backends.jobs.count(actor=None)
    if stored != len(job_ids):
        problems.append(f"{stored} jobs stored, {len(job_ids)} published")
    running = backends.jobs.count([JobFilter(state=[JobState.RUNNING])], actor=None)
    if running:
        problems.append(f"{running} jobs still running")
    page = backends.jobs.query([], actor=None)
    wrong = [j.job_id for j in page.items if j.duration != 3600]
    if wrong:
        problems.append(f"{len(wrong)} jobs with a wrong duration, e.g. {wrong[:5]}")
    return problems


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def report(console: Console, runs: list[Run], plain: bool) -> dict[str, Any]:
    """Print the table; return the figures by concurrency."""
    form = "plain JSON" if plain else "line protocol"
    table = Table(
        title=f"NATS job API, start+stop pairs published back-to-back ({form})",
        title_justify="left",
    )
    for name in (
        "job workers",
        "pairs",
        "pairs/s",
        "baseline msgs/s",
        "ratio per message",
        "CPU ms per pair",
    ):
        table.add_column(name, justify="right")
    figures: dict[str, Any] = {}
    for run in runs:
        pairs_per_s = run.pairs / run.lifecycle.wall
        baseline_rate = run.baseline.messages / run.baseline.wall
        ratio = (run.lifecycle.wall / run.lifecycle.messages) / (
            run.baseline.wall / run.baseline.messages
        )
        cpu_per_pair = 1000 * run.lifecycle.cpu / run.pairs
        table.add_row(
            str(run.concurrency),
            f"{run.pairs:,}",
            f"{pairs_per_s:,.0f}",
            f"{baseline_rate:,.0f}",
            f"{ratio:,.1f}x",
            f"{cpu_per_pair:.2f}",
        )
        figures[str(run.concurrency)] = {
            "pairs_per_s": pairs_per_s,
            "baseline_msgs_per_s": baseline_rate,
            "ratio": ratio,
            "cpu_ms_per_pair": cpu_per_pair,
            "stats": run.stats,
        }
    console.print(table)
    return figures


def run(
    pairs: int, concurrency: list[int], plain: bool, console: Console, url: str | None = None
) -> dict[str, Any]:
    """Run the benchmark; return the figures and the problems found (none is success)."""
    with nats_server(url) as server, bench_site() as (backends, _token):
        console.print(
            f"{pairs:,} start+stop pairs per concurrency value, SQLite file database, "
            f"{os.cpu_count()} CPUs, load average {_load()}"
        )
        runs, job_ids = asyncio.run(drive(server, backends, pairs, concurrency, plain))
        figures = report(console, runs, plain)
        problems = check_jobs(backends, job_ids)
    for value, figure in figures.items():
        refused = {key: figure["stats"].get(key, 0) for key in REFUSED}
        if any(refused.values()):
            problems.append(f"job workers {value}: refused messages {refused}")
    for problem in problems:
        console.print(f"[red]{problem}[/red]")
    if not problems:
        console.print(f"all {len(job_ids):,} jobs stored once, stopped, with their duration")
    console.print(f"load average after the run: {_load()} (other processes skew timings)")
    return {"figures": figures, "jobs": len(job_ids), "problems": problems}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point; returns what :func:`run` returns."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=1000, help="pairs per concurrency value")
    parser.add_argument(
        "--concurrency", default="1,8", help="comma-separated job worker counts to compare"
    )
    parser.add_argument("--plain", action="store_true", help="publish plain JSON messages")
    parser.add_argument("--server-url", help="use this NATS server instead of starting one")
    parser.add_argument("--check", action="store_true", help="exit with 1 on any problem")
    args = parser.parse_args(argv)
    concurrency = [int(value) for value in args.concurrency.split(",") if value.strip()]
    console = Console(width=max(Console().width, 120))
    result = run(args.pairs, concurrency, args.plain, console, args.server_url)
    if args.check and result["problems"]:
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
