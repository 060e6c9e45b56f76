"""Smoke tests of the benchmark data generator and the job-list query set (no timings)."""

from __future__ import annotations

import io
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from benchmarks.bench_job_list import run
from benchmarks.generate_jobs import generate
from benchmarks.job_list_queries import check_same, job_list_queries
from benchmarks.synthetic import DEFAULT_END, PERIOD
from cc_backend.domain.job import Job
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.schema import DB_JOB_STATES

JOBS = 2000
SEED = 7


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def job_rows(path: Path) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute("SELECT * FROM job ORDER BY id")]


@pytest.fixture(scope="module")
def small_db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "jobs.db"
    summary = generate(path, JOBS, SEED, console=quiet())
    assert summary.jobs == JOBS
    return path


@pytest.fixture(scope="module")
def rows(small_db_path: Path) -> list[dict[str, Any]]:
    return job_rows(small_db_path)


@pytest.fixture
def small_db(small_db_path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{small_db_path}")
    yield db
    db.close()


def test_the_same_seed_gives_the_same_rows(
    small_db_path: Path, rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    generate(tmp_path / "again.db", JOBS, SEED, console=quiet())
    generate(tmp_path / "other.db", JOBS, SEED + 1, console=quiet())
    assert job_rows(tmp_path / "again.db") == rows
    assert job_rows(tmp_path / "other.db") != rows


def test_every_row_loads_as_a_valid_job(small_db: Database) -> None:
    page = JobRepository(small_db).query(actor=None)
    assert len(page.items) == JOBS
    for job in page.items:
        Job.model_validate(job.model_dump())  # full validation, not just construction
        assert job.num_nodes == len(job.resources)
        assert len(set(job.hostnames)) == job.num_nodes
        threads = [len(r.hwthreads) for r in job.resources if r.hwthreads is not None]
        if threads:
            assert sum(threads) == job.num_hwthreads
        gpus = sum(len(r.accelerators or ()) for r in job.resources)
        assert gpus == job.num_acc


def test_columns_are_consistent(rows: list[dict[str, Any]]) -> None:
    assert {r["job_state"] for r in rows} <= set(DB_JOB_STATES)
    assert len({r["id"] for r in rows}) == JOBS
    assert len({(r["job_id"], r["cluster"]) for r in rows}) == JOBS
    starts = [r["start_time"] for r in rows]
    assert starts == sorted(starts)
    assert DEFAULT_END - PERIOD <= min(starts) <= max(starts) <= DEFAULT_END
    for r in rows:
        assert r["submit_time"] <= r["start_time"]
        assert 0 <= r["duration"] <= r["walltime"]
        assert len(orjson.loads(r["resources"])) == r["num_nodes"]
        meta = orjson.loads(r["meta_data"])
        assert meta["jobName"] in meta["jobScript"]
        if r["job_state"] == "running":
            assert r["duration"] == 0
            assert r["footprint"] is None
        else:
            assert set(orjson.loads(r["footprint"])) >= {"cpu_load_avg", "flops_any_avg"}
            assert r["energy"] >= 0


def test_distributions_are_plausible(rows: list[dict[str, Any]]) -> None:
    clusters = Counter(r["cluster"] for r in rows)
    states = Counter(r["job_state"] for r in rows)
    users = Counter(r["hpc_user"] for r in rows)
    assert len(clusters) == 4
    assert 0.6 < states["completed"] / JOBS < 0.95
    assert {"failed", "cancelled", "timeout", "out-of-memory"} <= set(states)
    assert sum(r["num_nodes"] == 1 for r in rows) / JOBS > 0.7
    assert max(r["num_nodes"] for r in rows) >= 16
    assert len(users) > 100
    top_three = sum(count for _, count in users.most_common(3))
    assert top_three / JOBS > 0.2  # a few users own a large share of the jobs
    assert len({r["project"] for r in rows}) > 30
    assert {r["shared"] for r in rows} == {"none", "single_user", "multi_user"}
    assert any(r["array_job_id"] for r in rows)
    durations = sorted(r["duration"] for r in rows)
    assert durations[len(durations) // 2] < 3600 < durations[-1]  # short median, long tail


def test_the_query_set_returns_the_same_as_raw_sql(small_db: Database) -> None:
    repo = JobRepository(small_db)
    queries = job_list_queries(small_db)
    assert [q.key for q in queries] == list("abcdef")
    counts = {q.key: check_same(q, repo, small_db) for q in queries}
    assert counts["e"] == JOBS
    assert 0 < counts["f"] < JOBS


def test_the_benchmark_runs_end_to_end(small_db_path: Path) -> None:
    console = quiet()
    run(small_db_path, repeat=2, console=console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "EXPLAIN QUERY PLAN" in output
    assert "goals" in output
