"""Line-protocol ingest into the built-in metric store, against splitting the payload.

The payloads are those a fleet of node agents sends: every metric of a ``fritz`` demo node
at its native scope (hwthread metrics for each of the 72 hardware threads, socket metrics
for both sockets, node metrics: 515 values), with four significant digits. Two shapes:
one payload per node and time step (an agent posting its node), one payload per time
step with every node (a collector forwarding a whole cluster), and the first shape again
with one line in each payload that must be refused (which takes the parser's slower path
for mixed payloads). Measured in one run, on one
core (CPU time of this process; wall time is shown too):

(i) ``bytes.split(b"\\n")`` over the same payloads: the floor, touching every line once;
(ii) ``LineProtocolParser.parse`` alone;
(iii) ``MetricStore.ingest``: parsing and storing, with every value checked afterwards.

The parser and store are warmed up with the first time step (series resolved and cached,
as in a running server); the remaining steps are timed. Goal: 500,000 values/s or more for
(iii), well above the 200,000 values/s the issue asks of the HTTP endpoint.

    python -m benchmarks.bench_ingest --nodes 64 --steps 30 --repeat 5 [--check]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from cc_backend.demo.clusters import TIMESTEP, demo_clusters
from cc_backend.domain.cluster import MetricScope
from cc_backend.metricstore import ApiQueryRequest, LineProtocolParser, MetricStore

console = Console()
GOAL_VALUES_PER_SECOND = 500_000
START = 1_700_000_000


@dataclass(frozen=True)
class Workload:
    """Payloads of one shape: ``steps[i]`` holds the payloads of time step ``i``."""

    shape: str
    steps: list[list[bytes]]
    values_per_step: int
    #: Lines each payload has that the store must refuse.
    refused: int = 0

    def timed(self) -> list[bytes]:
        """Every payload after the warm-up step."""
        return [payload for step in self.steps[1:] for payload in step]

    @property
    def timed_values(self) -> int:
        return self.values_per_step * (len(self.steps) - 1)


def series_of_a_node() -> list[tuple[str, str, float]]:
    """(metric, scope tags, peak) of every series of a fritz ``main`` node."""
    cluster = demo_clusters()[0]
    topology = cluster.subcluster("main").topology
    scopes = {
        MetricScope.HWTHREAD: [f"type=hwthread,type-id={t}" for t in topology.node],
        MetricScope.SOCKET: [f"type=socket,type-id={s}" for s in range(len(topology.socket))],
        MetricScope.NODE: ["type=node"],
    }
    return [
        (metric.name, where, metric.peak)
        for metric in cluster.metrics_for("main")
        for where in scopes[metric.scope]
    ]


def node_lines(
    host: str, stamp: int, series: list[tuple[str, str, float]], rng: np.random.Generator
) -> list[str]:
    """One time step of every series of a node, values with four significant digits."""
    values = rng.random(len(series))
    return [
        f"{metric},cluster=fritz,hostname={host},{where} value={float(f'{v * peak:.4g}')} {stamp}"
        for (metric, where, peak), v in zip(series, values, strict=True)
    ]


def workloads(nodes: int, steps: int, seed: int = 1) -> list[Workload]:
    rng = np.random.default_rng(seed)
    series = series_of_a_node()
    hosts = [f"f{101 + i:04d}" for i in range(nodes)]
    per_node: list[list[bytes]] = []
    whole: list[list[bytes]] = []
    values = 0
    for step in range(steps):
        stamp = START + step * TIMESTEP
        texts = ["\n".join(node_lines(host, stamp, series, rng)) + "\n" for host in hosts]
        per_node.append([text.encode() for text in texts])
        whole.append(["".join(texts).encode()])
        values = sum(text.count("\n") for text in texts)
    spoiled = [[b"not line protocol\n" + payload for payload in step] for step in per_node]
    return [
        Workload("one payload per node", per_node, values),
        Workload("one payload per time step", whole, values),
        Workload("one payload per node, each with a bad line", spoiled, values, refused=1),
    ]


def cpu_and_wall(run: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    run()
    return time.process_time() - cpu, time.perf_counter() - wall


def measure(work: Workload, nodes: int) -> dict[str, tuple[float, float]]:
    """CPU and wall seconds of (i) split, (ii) parse and (iii) ingest over the timed steps."""
    clusters = demo_clusters()
    end = START + len(work.steps) * TIMESTEP
    store = MetricStore(clusters, clock=lambda: end)
    parser = LineProtocolParser(store.catalog)
    for payload in work.steps[0]:
        parser.parse(payload, now=end)
        store.ingest(payload)
    timed = work.timed()

    def split() -> None:
        for payload in timed:
            payload.split(b"\n")

    def parse() -> None:
        for payload in timed:
            parser.parse(payload, now=end)

    def ingest() -> None:
        for payload in timed:
            result = store.ingest(payload)
            if result.rejected != work.refused:
                raise SystemExit(f"refused lines: {result.errors[:3]}")

    figures = {"split": cpu_and_wall(split), "parse": cpu_and_wall(parse)}
    figures["ingest"] = cpu_and_wall(ingest)
    check(store, nodes, len(work.steps))
    return figures


def check(store: MetricStore, nodes: int, steps: int) -> None:
    """Every node has a value at every step for a node and a hwthread metric."""
    hosts = store.hosts("fritz")
    assert len(hosts) == nodes, hosts
    request = ApiQueryRequest.model_validate(
        {
            "cluster": "fritz",
            "from": START,
            "to": START + steps * TIMESTEP,
            "for-all-nodes": ["mem_used", "cpu_user"],
        }
    )
    for row in store.query(request).results:
        data = row[0].data
        assert data is not None
        assert len(data) == steps, len(data)
        assert not np.isnan(data).any()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="time steps (the first warms up)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--check", action="store_true", help="exit 1 if the goal is missed")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    missed = False
    for work in workloads(args.nodes, max(2, args.steps)):
        runs = [measure(work, args.nodes) for _ in range(args.repeat)]
        medians = {
            stage: tuple(statistics.median(run[stage][i] for run in runs) for i in (0, 1))
            for stage in ("split", "parse", "ingest")
        }
        results[work.shape] = report(work, medians, args.repeat)
        missed |= results[work.shape]["ingest_values_per_s"] < GOAL_VALUES_PER_SECOND
    if args.check and missed:
        sys.exit(1)
    return results


def report(work: Workload, medians: dict[str, tuple[float, ...]], repeat: int) -> dict[str, Any]:
    values = work.timed_values
    payloads = len(work.timed())
    table = Table(
        title=f"{work.shape}: {values:,} values in {payloads:,} payloads (median of {repeat})"
    )
    for column in ("stage", "CPU ms", "wall ms", "values/s (CPU)", "x split"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    floor = medians["split"][0]
    names = {
        "split": "(i) bytes.split",
        "parse": "(ii) parse",
        "ingest": "(iii) ingest (parse + store)",
    }
    for stage, (cpu, wall) in medians.items():
        table.add_row(
            names[stage],
            f"{cpu * 1e3:,.1f}",
            f"{wall * 1e3:,.1f}",
            f"{values / cpu:,.0f}" if cpu else "-",
            f"{cpu / floor:.1f}" if floor else "-",
        )
    console.print(table)
    rate = values / medians["ingest"][0]
    verdict = "met" if rate >= GOAL_VALUES_PER_SECOND else "MISSED"
    console.print(
        f"ingest {rate:,.0f} values/s on one core, {medians['ingest'][0] / floor:.1f}x the "
        f"split floor; goal {GOAL_VALUES_PER_SECOND:,} values/s: {verdict}"
    )
    return {
        "values": values,
        "ingest_values_per_s": rate,
        "ratio": medians["ingest"][0] / floor,
        "seconds": {stage: cpu for stage, (cpu, _) in medians.items()},
    }


if __name__ == "__main__":
    main()
