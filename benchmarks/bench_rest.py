"""Benchmark the scheduler adapter's REST conversation: start_job + stop_job pairs.

    python -m benchmarks.bench_rest --pairs 2000 --clients 8

A fresh site (``cc-backend init`` in a temporary folder, SQLite file database, the demo
clusters) is served by the API-only app of :func:`cc_backend.server.make_api_app` on a
loopback port, in a thread of its own; the handlers run their blocking work in that
loop's default thread pool, as in production. The same app gets one extra route,
``GET /bench/ping``, a trivial JSON handler (no authentication, no database) that serves
as the baseline of the HTTP stack itself.

``--clients`` keep-alive connections send requests one after the other (a minimal
HTTP/1.1 client on asyncio streams, in a process of its own, as a scheduler adapter is;
the server's CPU time is this process's). Rounds of start+stop pairs and
rounds of pings alternate, so both see the same machine load. Printed: pairs per second,
p50/p95 latency per request (start, stop, ping), the ratio lifecycle request / ping
request, and whether the goals hold (>= 500 pairs/s, lifecycle <= 3x trivial at p50).
``--profile`` runs cProfile in the server's loop thread and in every handler thread during
the lifecycle rounds and prints the top functions (the starts and stops themselves run on
the write-batch thread, which it does not see: sample the process with py-spy for those).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import TypeVar

import numpy as np
import orjson
from dotenv import dotenv_values
from rich.console import Console
from rich.table import Table

from benchmarks.api_server import PING_PATH, ApiServer
from benchmarks.client_process import ClientProcess
from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.cli import main as cli_main
from cc_backend.config import load_config, load_secrets
from cc_backend.demo import demo_clusters
from cc_backend.demo.adapter_payloads import start_job_payload
from cc_backend.domain.user import User
from cc_backend.server import Backends, build_backends

PAIRS_GOAL = 500.0
RATIO_GOAL = 3.0
#: Pairs per lifecycle round (a ping round sends as many requests as the round before).
ROUND_PAIRS = 200
EPOCH = 1_700_000_000

T = TypeVar("T")


# -- the client -------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending one request at a time."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send a request and read the whole response: (status, body)."""
        assert self.reader is not None
        assert self.writer is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"X-Auth-Token: {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError):
                await self.writer.wait_closed()


@dataclass
class Samples:
    """Latencies in milliseconds per request kind, wall seconds per phase, failures."""

    ms: dict[str, list[float]] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, kind: str, ms: float) -> None:
        self.ms.setdefault(kind, []).append(ms)

    def add_phase(self, phase: str, wall: float, cpu: float) -> None:
        """Add the wall and process CPU seconds of one round of ``phase``."""
        self.wall[phase] = self.wall.get(phase, 0.0) + wall
        self.cpu[phase] = self.cpu.get(phase, 0.0) + cpu

    def merge(self, other: Samples, phase: str, cpu: float) -> None:
        """Add a round's samples of ``phase`` and the server's CPU seconds meanwhile."""
        for kind, values in other.ms.items():
            self.ms.setdefault(kind, []).extend(values)
        self.add_phase(phase, other.wall[phase], cpu)
        self.failures.extend(other.failures)

    def pct(self, kind: str, q: float) -> float:
        return float(np.percentile(self.ms[kind], q))

    def lifecycle(self) -> list[float]:
        return self.ms.get("start", []) + self.ms.get("stop", [])


def start_body(job_id: int) -> bytes:
    """A start_job body for a one-node job on cluster fritz (as an adapter sends it)."""
    start = EPOCH + 60 * job_id
    return orjson.dumps(
        start_job_payload(
            job_id,
            startTime=start,
            submitTime=start - 30,
            resources=[{"hostname": f"f{101 + job_id % 20:04d}"}],
            metaData={"jobName": f"bench-{job_id}", "jobScript": "#!/bin/sh"},
        )
    )


def stop_body(job_id: int) -> bytes:
    """The stop_job body ending ``job_id`` after an hour."""
    return orjson.dumps(
        {
            "jobId": job_id,
            "cluster": "fritz",
            "jobState": "completed",
            "stopTime": EPOCH + 60 * job_id + 3600,
        }
    )


#: Each request kind: method, path, the status that means success.
REQUESTS = {
    "start": ("POST", "/api/jobs/start_job/", 201),
    "stop": ("POST", "/api/jobs/stop_job/", 200),
    "ping": ("GET", PING_PATH, 200),
}


async def _timed(conn: Connection, samples: Samples, kind: str, body: bytes) -> None:
    method, path, expected = REQUESTS[kind]
    began = time.perf_counter_ns()
    status, payload = await conn.request(method, path, body)
    samples.add(kind, (time.perf_counter_ns() - began) / 1e6)
    if status != expected:
        samples.failures.append(f"{kind}: {status} {payload[:200]!r}")


async def lifecycle_round(conns: list[Connection], job_ids: list[int], samples: Samples) -> None:
    """Start and stop ``job_ids`` over ``conns``; add the round's wall seconds."""
    queue = iter(job_ids)

    async def worker(conn: Connection) -> None:
        for job_id in queue:
            await _timed(conn, samples, "start", start_body(job_id))
            await _timed(conn, samples, "stop", stop_body(job_id))

    began = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    samples.wall["lifecycle"] = time.perf_counter() - began


async def ping_round(conns: list[Connection], requests: int, samples: Samples) -> None:
    """Send ``requests`` pings over ``conns``; add the round's wall seconds."""
    queue = iter(range(requests))

    async def worker(conn: Connection) -> None:
        for _ in queue:
            await _timed(conn, samples, "ping", b"")

    began = time.perf_counter()
    await asyncio.gather(*(worker(conn) for conn in conns))
    samples.wall["ping"] = time.perf_counter() - began


def client_process(pipe: Pipe, port: int, token: str, clients: int) -> None:
    """The client (in a process of its own, as a scheduler adapter is): keep-alive
    connections sending the rounds it is told to.

    Commands on ``pipe``: ``("lifecycle", job_ids)`` and ``("ping", requests)`` answer the
    round's :class:`Samples`; ``("end",)`` closes the connections.
    """

    async def serve() -> None:
        conns = [Connection(port, token) for _ in range(clients)]
        await asyncio.gather(*(conn.open() for conn in conns))
        try:
            while True:
                command = pipe.recv()
                samples = Samples()
                if command[0] == "lifecycle":
                    await lifecycle_round(conns, command[1], samples)
                elif command[0] == "ping":
                    await ping_round(conns, command[1], samples)
                else:
                    return
                pipe.send(samples)
        finally:
            for conn in conns:
                await conn.close()

    asyncio.run(serve())


def drive(server: ApiServer, token: str, pairs: int, clients: int, profile: bool) -> Samples:
    """Warm up, then alternate lifecycle and ping rounds until ``pairs`` pairs are done."""
    driver = ClientProcess(client_process, server.port, token, clients)
    total = Samples()
    next_id = 1
    try:
        warmup = max(clients * 4, 50)
        driver.ask("lifecycle", list(range(next_id, next_id + warmup)))
        next_id += warmup
        driver.ask("ping", warmup * 2)
        done = 0
        while done < pairs:
            size = min(ROUND_PAIRS, pairs - done)
            ids = list(range(next_id, next_id + size))
            next_id += size
            if profile:
                server.profiling(True)
            samples, cpu = driver.ask("lifecycle", ids)
            if profile:
                server.profiling(False)
            total.merge(samples, "lifecycle", cpu)
            samples, cpu = driver.ask("ping", 2 * size)
            total.merge(samples, "ping", cpu)
            done += size
    finally:
        driver.close()
    return total


# -- the site ---------------------------------------------------------------------------


@contextlib.contextmanager
def bench_site() -> Iterator[tuple[Backends, str]]:
    """A fresh site in a temporary folder (also the working directory meanwhile), with the
    demo clusters and an api user: its backends and a token of that user."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-rest-") as tmp:
        site = Path(tmp) / "site"
        with contextlib.redirect_stdout(io.StringIO()):
            if cli_main(["init", str(site)]) != 0:
                raise SystemExit("cc-backend init failed")
        os.chdir(site)
        try:
            config = load_config(site / "config.json")
            backends = build_backends(config, load_secrets(site / "config.json"))
            try:
                for cluster in demo_clusters():
                    backends.archive.store_cluster(cluster)
                adapter = User.build("adapter", ["api"])
                backends.users.add(adapter)
                key = load_private_key(str(dotenv_values(site / ".env")["JWT_PRIVATE_KEY"]))
                yield backends, issue_token(adapter, key)
            finally:
                backends.close()
        finally:
            os.chdir(previous)


# -- the report -------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def report(console: Console, samples: Samples, pairs: int, clients: int) -> bool:
    """Print the latency table and the goals; return whether both goals hold."""
    table = Table(
        title=f"REST, {clients} keep-alive clients (ms per request)", title_justify="left"
    )
    table.add_column("request")
    for name in ("count", "p50", "p95", "per second"):
        table.add_column(name, justify="right")
    rows: list[tuple[str, list[float], float]] = [
        ("start_job", samples.ms["start"], samples.wall["lifecycle"]),
        ("stop_job", samples.ms["stop"], samples.wall["lifecycle"]),
        ("start or stop", samples.lifecycle(), samples.wall["lifecycle"]),
        ("ping (trivial)", samples.ms["ping"], samples.wall["ping"]),
    ]
    for name, values, wall in rows:
        table.add_row(
            name,
            f"{len(values):,}",
            f"{np.percentile(values, 50):,.2f}",
            f"{np.percentile(values, 95):,.2f}",
            f"{len(values) / wall:,.0f}",
        )
    console.print(table)
    pairs_per_s = pairs / samples.wall["lifecycle"]
    life = samples.lifecycle()
    ratio50 = float(np.percentile(life, 50)) / samples.pct("ping", 50)
    ratio95 = float(np.percentile(life, 95)) / samples.pct("ping", 95)
    per_request = (samples.wall["lifecycle"] / len(life)) / (
        samples.wall["ping"] / len(samples.ms["ping"])
    )
    cpu_life = 1000 * samples.cpu["lifecycle"] / len(life)
    cpu_ping = 1000 * samples.cpu["ping"] / len(samples.ms["ping"])
    pairs_ok, ratio_ok = pairs_per_s >= PAIRS_GOAL, ratio50 <= RATIO_GOAL
    console.print(
        f"start+stop pairs/s: {pairs_per_s:,.0f} (goal >= {PAIRS_GOAL:.0f}: "
        + ("[green]met[/green])" if pairs_ok else "[red]MISSED[/red])")
    )
    console.print(
        f"lifecycle / trivial request: p50 {ratio50:.2f}x, p95 {ratio95:.2f}x, "
        f"wall time per request {per_request:.2f}x (goal p50 <= {RATIO_GOAL:.0f}x: "
        + ("[green]met[/green])" if ratio_ok else "[red]MISSED[/red])")
    )
    console.print(
        f"server CPU per request: lifecycle {cpu_life:.2f} ms, "
        f"ping {cpu_ping:.2f} ms ({cpu_life / cpu_ping:.2f}x); CPU-bound ceiling "
        f"{1000 / (2 * cpu_life):,.0f} pairs/s per core"
    )
    if samples.failures:
        console.print(f"[red]{len(samples.failures)} failed requests[/red], first: ")
        for line in samples.failures[:5]:
            console.print(f"  {line}")
    return pairs_ok and ratio_ok and not samples.failures


def print_profile(console: Console, server: ApiServer, top: int) -> None:
    """The functions with the most cumulative and own time over all profiled threads."""
    stats = pstats.Stats(server.loop_profile, *server.executor.profiles, stream=io.StringIO())
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(top)
        console.print(
            f"[bold]cProfile, loop thread + {len(server.executor.profiles)} handler "
            f"threads, by {order}[/bold]"
        )
        console.print(out.getvalue(), markup=False, highlight=False)


def run(pairs: int, clients: int, profile: bool, console: Console) -> bool:
    """Run the benchmark; return whether every goal holds."""
    with bench_site() as (backends, token):
        server = ApiServer(backends)
        server.start()
        try:
            console.print(
                f"{pairs:,} start+stop pairs, {clients} clients, SQLite file database, "
                f"{os.cpu_count()} CPUs, load average {_load()}"
                + (" [yellow](profiling: timings are inflated)[/yellow]" if profile else "")
            )
            samples = drive(server, token, pairs, clients, profile)
            writes = backends.writes
            if writes.batches:
                console.print(
                    f"write batches: {writes.batches:,} with {writes.calls:,} calls "
                    f"({writes.calls / writes.batches:.1f} calls per commit)"
                )
        finally:
            server.stop()
        ok = report(console, samples, pairs, clients)
        if profile:
            print_profile(console, server, 30)
    console.print(f"load average after the run: {_load()} (other processes skew timings)")
    return ok


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000, help="start+stop pairs to time")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--profile", action="store_true", help="cProfile the server")
    parser.add_argument("--check", action="store_true", help="exit with 1 if a goal is missed")
    args = parser.parse_args(argv)
    ok = run(args.pairs, args.clients, args.profile, Console(width=max(Console().width, 120)))
    if args.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
