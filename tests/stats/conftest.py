"""Fixtures of the archive statistics tests: a varied set of jobs and indexes over it."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cc_backend.domain.job import Job
from cc_backend.stats import ArchiveIndex, ArchiveStats

#: "Now" for named time ranges: one day after the last start time of the job set.
NOW = 1_700_000_000 + 40 * 86400

CLUSTERS: dict[str, dict[str, tuple[str, ...]]] = {
    "fritz": {"main": ("singlenode", "multinode"), "spr": ("spr1tb",)},
    "alex": {"a40": ("a40", "preempt"), "a100": ("a100",)},
    "woody": {"default": ("work", "devel")},
}
USERS = ["alice", "bob", "carol", "dave", "Erin", "frank_x", "grace%"]
PROJECTS = ["proj-a", "proj-b", "PROJ_C"]
STATES = ["completed", "completed", "completed", "failed", "timeout", "cancelled", "running"]
METRICS = {"flops_any": ("F/s", "G"), "mem_bw": ("B/s", "G"), "cpu_load": ("", "")}


def make_job(rng: random.Random, n: int, **overrides: Any) -> Job:
    """Job number ``n`` drawn from ``rng`` (fields overridable with cc-backend's names)."""
    cluster = rng.choice(sorted(CLUSTERS))
    sub = rng.choice(sorted(CLUSTERS[cluster]))
    nodes = rng.choice([1, 1, 1, 2, 4, 8, 16])
    state = rng.choice(STATES)
    duration = 0 if state == "running" else int(rng.lognormvariate(7.5, 1.6))
    hosts = [f"{cluster[0]}{rng.randrange(100, 140):04d}" for _ in range(nodes)]
    statistics: dict[str, Any] = {}
    footprint: dict[str, float] = {}
    for metric, (base, prefix) in METRICS.items():
        if rng.random() < 0.85:
            avg = round(rng.uniform(0, 500), 3)
            unit = {"base": base, "prefix": prefix} if prefix else {"base": base}
            statistics[metric] = {"unit": unit, "avg": avg, "min": avg / 2, "max": avg * 1.5}
            footprint[f"{metric}_avg"] = avg
    fields: dict[str, Any] = {
        "id": n if n % 5 else None,
        "jobId": 10_000 + n * 7 % 503,
        "user": rng.choice(USERS),
        "project": rng.choice(PROJECTS),
        "cluster": cluster,
        "subCluster": sub,
        "partition": rng.choice(CLUSTERS[cluster][sub]),
        "arrayJobId": rng.choice([0, 0, 0, 4711, 4712]),
        "numNodes": nodes,
        "numHwthreads": nodes * rng.choice([0, 16, 72]),
        "numAcc": nodes * rng.choice([0, 0, 4]),
        "shared": rng.choice(["none", "single_user", "multi_user"]),
        "jobState": state,
        "startTime": 1_700_000_000 + n * 3000 + rng.randrange(600),
        "duration": duration,
        "walltime": rng.choice([3600, 86400]),
        "energy": round(rng.uniform(0, 50), 2),
        "resources": [{"hostname": h} for h in hosts],
        "statistics": statistics or None,
        "footprint": footprint or None,
        "tags": [{"id": i, "type": "app", "name": f"tag{i}"} for i in rng.sample(range(1, 6), 2)][
            : rng.randrange(3)
        ]
        or None,
    }
    if rng.random() < 0.9:
        fields["metaData"] = {"jobName": rng.choice(["lammps_Run", "gromacs", "py%job", "sim"])}
    fields.update(overrides)
    return Job.model_validate(fields)


@pytest.fixture
def now() -> int:
    """The "now" the statistics of :func:`new_index` use."""
    return NOW


@pytest.fixture(scope="session")
def jobs() -> list[Job]:
    """Several hundred varied jobs (a fixed seed); a few share a job id."""
    rng = random.Random(7)
    return [make_job(rng, n) for n in range(1, 1201)]


@pytest.fixture
def new_index(tmp_path: Path) -> Iterator[Callable[..., tuple[ArchiveIndex, ArchiveStats]]]:
    """``new_index(jobs=None, name="index")``: an index (built if ``jobs`` is given) and
    statistics over it, closed at the end of the test."""
    opened: list[ArchiveStats] = []

    def make(
        jobs: list[Job] | None = None, name: str = "index"
    ) -> tuple[ArchiveIndex, ArchiveStats]:
        index = ArchiveIndex(str(tmp_path / name))
        if jobs is not None:
            index.build(jobs)
        stats = ArchiveStats(index, clock=lambda: NOW)
        opened.append(stats)
        return index, stats

    yield make
    for stats in opened:
        stats.close()


@pytest.fixture(scope="session")
def built(
    jobs: list[Job], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ArchiveIndex, ArchiveStats]]:
    """An index built from ``jobs`` and statistics over it, shared by the tests that only
    read (tests that write build their own with :func:`new_index`)."""
    index = ArchiveIndex(str(tmp_path_factory.mktemp("stats") / "index"))
    index.build(jobs)
    stats = ArchiveStats(index, clock=lambda: NOW)
    yield index, stats
    stats.close()
