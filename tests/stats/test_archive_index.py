"""Building and incrementally updating the archive index; readers during compaction."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cc_backend.archive import open_archive_url
from cc_backend.archive.base import ArchiveEntry
from cc_backend.archive.layout import JobRef
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import Job
from cc_backend.stats import ArchiveIndex, ArchiveStats, IndexSnapshot

Built = tuple[ArchiveIndex, ArchiveStats]
NewIndex = Callable[..., Built]


def changed(job: Job, **fields: Any) -> Job:
    data = job.model_dump(by_alias=True, exclude_none=True)
    data.update(fields)
    return Job.model_validate(data)


def rounded(value: Any) -> Any:
    """``value`` with dataclasses as tuples and floats rounded (sums depend on row order)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return rounded(dataclasses.astuple(value))
    if isinstance(value, (list, tuple)):
        return tuple(rounded(v) for v in value)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(value, 6) if isinstance(value, float) else value


def fingerprint(stats: ArchiveStats) -> Any:
    """Everything the statistics say about an index, for comparing two indexes."""
    metrics = stats.metrics()
    return rounded(
        {
            "totals": stats.totals(),
            "users": stats.grouped("USER"),
            "subclusters": stats.grouped("SUBCLUSTER", sort_by="TOTALNODEHOURS"),
            "durations": stats.duration_histogram(num_duration_bins="10m"),
            "nodes": stats.num_nodes_histogram(),
            "metrics": metrics,
            "histograms": [stats.metric_histogram(m, stat="max") for m in sorted(metrics)],
        }
    )


def same(left: ArchiveStats, right: ArchiveStats) -> None:
    assert fingerprint(left) == fingerprint(right)


def test_build_counts_broken_and_duplicate_entries(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index()
    entries: list[Job | ArchiveEntry] = [
        ArchiveEntry(location=f"loc/{j.job_id}", meta=j) for j in jobs[:50]
    ]
    entries += [ArchiveEntry(location="fritz/1/000/1", error="meta.json: not valid JSON")]
    entries += [ArchiveEntry(location="fritz/2/000/2", meta=jobs[50], error="data.json missing")]
    entries += [jobs[0], jobs[51]]  # a duplicate and a plain Job
    seen: list[int] = []
    report = index.build(entries, progress=seen.append)
    assert (report.jobs, report.broken, report.duplicates) == (52, 2, 1)
    assert report.errors == (
        "fritz/1/000/1: meta.json: not valid JSON",
        "fritz/2/000/2: data.json missing",
    )
    assert seen[-1] == len(entries)
    assert stats.totals().jobs == 52


def test_build_from_a_file_archive_with_a_broken_job(
    new_index: NewIndex, jobs: list[Job], tmp_path: Path
) -> None:
    archive = open_archive_url(str(tmp_path / "archive"))
    for job in jobs[:40]:
        archive.store_meta(job)
    broken = tmp_path / "archive" / JobRef("fritz", 1234, 1_700_000_000).directory
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    index, stats = new_index()
    report = index.build(archive.iter_jobs(workers=2))
    assert (report.jobs, report.broken) == (40, 1)
    assert "fritz/1/234/1700000000" in report.errors[0]
    assert stats.totals().jobs == 40


def test_build_skips_names_that_cannot_be_columns(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index()
    odd = changed(
        jobs[0],
        statistics={
            "bad-name": {"unit": {"base": "x"}, "avg": 1, "min": 1, "max": 1},
            "FLOPS_ANY": {"unit": {"base": "x"}, "avg": 1, "min": 1, "max": 1},
        },
        footprint={"bad.key": 1.0},
    )
    report = index.build([jobs[1], odd])
    assert set(report.skipped_names) == {"bad-name", "FLOPS_ANY", "bad.key"}
    assert "FLOPS_ANY" not in stats.metrics()
    assert stats.metric_histogram("flops_any").missing == (0 if jobs[1].statistics else 1) + 1


def test_empty_archive(new_index: NewIndex) -> None:
    index, stats = new_index([])
    totals = stats.totals()
    assert (totals.jobs, totals.users, totals.node_hours) == (0, 0, 0.0)
    assert stats.grouped("USER") == []
    assert all(p.count == 0 for p in stats.duration_histogram())
    assert stats.num_nodes_histogram() == []
    assert stats.metrics() == {}
    with pytest.raises(InvalidInput, match=r"unknown metric 'flops_any' .*none"):
        stats.metric_histogram("flops_any")
    index.compact()
    assert stats.totals().jobs == 0


def test_missing_index_is_not_found(new_index: NewIndex) -> None:
    index, stats = new_index()
    assert not index.exists()
    with pytest.raises(NotFound, match="no archive index"):
        stats.totals()


def test_broken_manifest_is_invalid_input(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index(jobs[:5])
    Path(index.path, "manifest.json").write_text('{"format": 1, "metrics": {"a b": ""}}')
    with pytest.raises(InvalidInput, match="not an archive index manifest"):
        stats.totals()


def test_manifest_with_foreign_file_names_is_rejected(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index(jobs[:5])
    manifest = Path(index.path, "manifest.json")
    manifest.write_text(manifest.read_text().replace('"base-', '"../elsewhere/base-'))
    with pytest.raises(InvalidInput, match="bad data file name"):
        stats.totals()


def test_glob_characters_in_the_location_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="allowed"):
        ArchiveIndex(str(tmp_path / "index[1]"))


def test_upserts_newest_wins_and_removals_hide(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index(jobs)
    first = [changed(j, user="zed", duration=j.duration + 60) for j in jobs[:100]]
    second = [changed(j, user="yves", numNodes=3) for j in jobs[50:150]]
    assert index.upsert(first) == 100
    assert index.upsert(second) == 100
    gone = [JobRef.of(j) for j in jobs[140:200]] + [JobRef("nowhere", 1, 1)]
    assert index.remove(gone) == 61
    back = [changed(j, project="returned") for j in jobs[190:195]]
    index.upsert(back)

    expected = first[:50] + second[:90] + jobs[200:] + back
    _, fresh = new_index(expected, name="fresh")
    same(stats, fresh)
    snapshot = index.snapshot()
    assert (len(snapshot.deltas), snapshot.version) == (4, 4)
    by_user = {g.id: g.jobs for g in stats.grouped("USER")}
    assert (by_user["zed"], by_user["yves"]) == (50, 90)


def test_upsert_within_one_call_keeps_the_last_and_creates_the_index(
    new_index: NewIndex, jobs: list[Job]
) -> None:
    index, stats = new_index()
    entries: list[Job | ArchiveEntry] = [jobs[0], changed(jobs[0], user="later")]
    entries.append(ArchiveEntry("x", error="broken"))
    assert index.upsert(entries) == 1
    assert [g.id for g in stats.grouped("USER")] == ["later"]


def test_compaction_keeps_results_and_drops_unused_columns(
    new_index: NewIndex, jobs: list[Job]
) -> None:
    index, stats = new_index(jobs)
    extra = {"ipc": {"unit": {"base": "IPC"}, "avg": 1.5, "min": 1, "max": 2}}
    special = changed(jobs[3], statistics=extra, footprint={"ipc_avg": 1.5})
    index.upsert([special] + [changed(j, user="moved") for j in jobs[10:40]])
    index.remove([jobs[7], jobs[8]])
    assert stats.metric_histogram("ipc").bins[0].count == 1
    before = fingerprint(stats)
    snapshot = index.compact(rows_per_file=400)
    assert snapshot.deltas == ()
    assert len(snapshot.base) == 3
    assert fingerprint(stats) == before
    index.remove([special])
    index.compact()
    assert "ipc" not in stats.metrics()
    assert "ipc_avg" not in index.snapshot().footprints
    with pytest.raises(InvalidInput, match="unknown metric 'ipc'"):
        stats.metric_histogram("ipc")


def test_replaced_files_are_deleted_one_compaction_later(
    new_index: NewIndex, jobs: list[Job]
) -> None:
    index, _ = new_index(jobs[:100])
    index.upsert(jobs[100:110])
    first = index.snapshot()
    second = index.compact()
    folder = Path(index.path)
    present = {p.name for p in folder.iterdir()}
    assert set(first.files) <= present
    assert set(second.retired) == set(first.files)
    index.compact()
    present = {p.name for p in folder.iterdir()}
    assert not set(first.files) & present
    assert not [name for name in present if name.endswith(".tmp")]


def test_upserts_during_compaction_survive_it(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index(jobs[:200])
    rewrite = index._rewrite
    late = changed(jobs[5], user="late")

    def rewrite_then_upsert(*args: Any) -> Any:
        result = rewrite(*args)
        index.upsert([late])  # lands while the new base is being written
        return result

    index.upsert([changed(jobs[6], user="early")])
    index._rewrite = rewrite_then_upsert  # type: ignore[method-assign,assignment]
    snapshot = index.compact()
    assert len(snapshot.deltas) == 1
    users = {g.id for g in stats.grouped("USER")}
    assert {"late", "early"} <= users


def test_a_metric_dropped_by_compaction_but_upserted_meanwhile_stays(
    new_index: NewIndex, jobs: list[Job]
) -> None:
    index, stats = new_index(jobs[:50])
    extra = {"ipc": {"unit": {"base": "IPC"}, "avg": 1.5, "min": 1, "max": 2}}
    index.upsert([changed(jobs[3], statistics=extra)])
    index.remove([jobs[3]])  # no live job has "ipc" when the compaction starts
    rewrite = index._rewrite

    def rewrite_then_upsert(*args: Any) -> Any:
        result = rewrite(*args)
        index.upsert([changed(jobs[4], statistics=extra)])
        return result

    index._rewrite = rewrite_then_upsert  # type: ignore[method-assign,assignment]
    index.compact()
    assert "ipc" in stats.metrics()
    assert stats.metric_histogram("ipc").bins[0].count == 1


def test_rebuild_replaces_everything(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index(jobs[:100])
    index.upsert([changed(jobs[0], user="old-delta")])
    index.build(jobs[100:150])
    assert stats.totals().jobs == 50
    assert index.snapshot().deltas == ()


def test_reader_retries_when_its_files_were_compacted_away(
    new_index: NewIndex, jobs: list[Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, stats = new_index(jobs[:100])
    stale = index.snapshot()
    index.upsert(jobs[100:120])
    index.compact()
    index.compact()  # the files of ``stale`` are gone now
    real = ArchiveIndex.snapshot
    calls: list[IndexSnapshot] = []

    def first_stale(self: ArchiveIndex) -> IndexSnapshot:
        calls.append(stale if not calls else real(self))
        return calls[-1]

    monkeypatch.setattr(ArchiveIndex, "snapshot", first_stale)
    assert stats.totals().jobs == 120
    assert len(calls) == 2


def test_readers_never_fail_during_compaction(new_index: NewIndex, jobs: list[Job]) -> None:
    index, stats = new_index(jobs)
    other = ArchiveStats(ArchiveIndex(index.path))  # like a reader in another process
    stop = threading.Event()
    failures: list[BaseException] = []
    counts: list[int] = []

    def read(reader: ArchiveStats) -> None:
        while not stop.is_set():
            try:
                counts.append(reader.totals().jobs)
                reader.metric_histogram("flops_any")
            except BaseException as exc:  # any failure fails the test
                failures.append(exc)
                return

    threads = [threading.Thread(target=read, args=(r,)) for r in (stats, other, stats)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 3
    rounds = 0
    while time.monotonic() < deadline or rounds < 3:
        index.upsert(
            [changed(j, user=f"round{rounds}") for j in jobs[rounds * 10 : rounds * 10 + 10]]
        )
        index.compact()
        rounds += 1
    stop.set()
    for thread in threads:
        thread.join()
    other.close()
    assert failures == []
    assert counts
    assert set(counts) == {len(jobs)}
