"""Writing the demo into a job archive and reading it back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cc_backend.archive import JobArchive
from cc_backend.demo import demo_clusters, generate_demo_archive, iter_demo_jobs
from cc_backend.domain.jobdata import JobData

END = 1_727_776_800
FreshArchive = Callable[[str], JobArchive]


@pytest.mark.parametrize("kind", ["memory", "file"])
def test_the_archive_loads_back_what_was_generated(fresh_archive: FreshArchive, kind: str) -> None:
    archive = fresh_archive(kind)
    summary = generate_demo_archive(archive, jobs=60, seed=3, end_time=END)
    assert summary.jobs == 60
    assert summary.clusters == ("fritz", "alex")
    assert sum(summary.jobs_per_cluster.values()) == 60
    assert archive.clusters() == ["alex", "fritz"]
    for cluster in demo_clusters():
        assert archive.load_cluster(cluster.name) == cluster
    info = archive.info()
    assert info.jobs == 60
    assert {c.name: c.jobs for c in info.clusters} == summary.jobs_per_cluster
    series = samples = 0
    for job, data in iter_demo_jobs(jobs=60, seed=3, end_time=END):
        assert data is not None
        assert archive.load_meta(job) == job
        assert archive.load_data(job) == data
        series += sum(len(m.series) for scopes in data.root.values() for m in scopes.values())
        samples += sum(
            len(s.data) for scopes in data.root.values() for m in scopes.values() for s in m.series
        )
    assert (summary.series, summary.samples) == (series, samples)
    assert summary.first_start <= summary.last_stop <= END


def test_scanning_the_archive_finds_every_job_intact(fresh_archive: FreshArchive) -> None:
    archive = fresh_archive("memory")
    generate_demo_archive(archive, jobs=40, seed=4, end_time=END)
    entries = list(archive.iter_jobs(with_data=True))
    assert len(entries) == 40
    assert all(entry.ok and entry.data is not None for entry in entries)


def test_meta_only_archives_hold_empty_metric_data(fresh_archive: FreshArchive) -> None:
    archive = fresh_archive("memory")
    summary = generate_demo_archive(archive, jobs=50, seed=5, end_time=END, with_data=False)
    assert (summary.jobs, summary.series, summary.samples) == (50, 0, 0)
    for job, data in iter_demo_jobs(jobs=50, seed=5, end_time=END, with_data=False):
        assert data is None
        stored = archive.load_meta(job)
        assert stored == job
        assert stored.statistics
        assert stored.footprint
        assert archive.load_data(job) == JobData(root={})


def test_the_same_seed_writes_the_same_archive(fresh_archive: FreshArchive) -> None:
    first, second = fresh_archive("memory"), fresh_archive("memory")
    generate_demo_archive(first, jobs=30, seed=6, end_time=END)
    generate_demo_archive(second, jobs=30, seed=6, end_time=END)
    assert first.info() == second.info()


def test_a_progress_bar_can_be_shown(
    fresh_archive: FreshArchive, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = generate_demo_archive(
        fresh_archive("memory"), jobs=10, seed=1, end_time=END, progress=True
    )
    assert summary.jobs == 10
    assert "demo jobs" in capsys.readouterr().out


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="jobs"):
        next(iter_demo_jobs(jobs=0))
    with pytest.raises(ValueError, match="period_days"):
        next(iter_demo_jobs(jobs=10, period_days=1))
