"""The job archive contract, one specification run against every backend.

Each test gets an initialised, empty archive of every kind (memory, file, sqlite, s3 on a
moto server). Broken documents are made by writing bytes straight into the backend's
storage.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from cc_backend.archive import ARCHIVE_VERSION, JobArchive, JobRef
from cc_backend.archive.codec import encode_meta
from cc_backend.archive.layout import COMPRESS_ABOVE_BYTES
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.tag import Tag

Fresh = Callable[..., JobArchive]
ArchivedJob = Callable[..., tuple[Job, JobData]]
RawOf = Callable[[JobArchive], Any]
MakeCluster = Callable[[str], Cluster]


def ids(archive: JobArchive, **options: Any) -> set[JobRef]:
    """References of the readable jobs a scan yields."""
    entries = list(archive.iter_jobs(**options))
    assert all(e.ok for e in entries), [e.error for e in entries if not e.ok]
    return {JobRef.of(e.meta) for e in entries if e.meta is not None}


class TestVersion:
    @pytest.mark.parametrize("kind", ["memory", "file", "sqlite", "s3"])
    def test_an_empty_location_is_bootstrapped_with_version_3(
        self, fresh: Fresh, raw: RawOf, kind: str
    ) -> None:
        archive = fresh(kind, init=False)
        assert archive.init() == ARCHIVE_VERSION
        assert raw(archive).version().strip() == "3"
        assert archive.init() == ARCHIVE_VERSION
        assert archive.clusters() == []
        assert archive.info().jobs == 0

    def test_another_version_is_refused_naming_it_and_the_upgrade(
        self, archive: JobArchive, raw: RawOf
    ) -> None:
        raw(archive).set_version("2")
        with pytest.raises(InvalidInput, match=r"version 2.*cc-archive migrate"):
            archive.init()

    @pytest.mark.parametrize("kind", ["memory", "file", "sqlite", "s3"])
    def test_a_location_holding_something_else_is_not_taken_over(
        self, fresh: Fresh, raw: RawOf, kind: str
    ) -> None:
        archive = fresh(kind, init=False)
        raw(archive).add_foreign_content()
        with pytest.raises(InvalidInput, match="not a job archive"):
            archive.init()


class TestClusters:
    def test_a_stored_cluster_loads_equal_and_can_be_replaced(
        self, archive: JobArchive, make_cluster: MakeCluster
    ) -> None:
        archive.store_cluster(make_cluster("fritz"))
        archive.store_cluster(make_cluster("alex"))
        assert archive.clusters() == ["alex", "fritz"]
        assert archive.load_cluster("fritz") == make_cluster("fritz")
        fewer = make_cluster("fritz")
        archive.store_cluster(fewer.model_copy(update={"metrics": fewer.metrics[:1]}))
        assert [m.name for m in archive.load_cluster("fritz").metrics] == ["mem_bw"]

    def test_an_unknown_cluster_is_not_found(self, archive: JobArchive) -> None:
        with pytest.raises(NotFound, match="nowhere"):
            archive.load_cluster("nowhere")

    def test_only_folders_with_a_cluster_json_are_clusters(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob, make_cluster: MakeCluster
    ) -> None:
        if archive.kind == "sqlite":
            pytest.skip("an SQLite archive has no folders or stray files")
        archive.store_cluster(make_cluster("fritz"))
        stray = raw(archive)
        stray.put_file("README.txt", b"hello")
        stray.put_file("scratch/notes.txt", b"no cluster here")
        stray.put_file("lost+found/x/cluster.json", b"{}")
        stray.put_file("fritz.json", b"{}")
        assert archive.clusters() == ["fritz"]
        job, data = archived_job()
        archive.import_job(job, data)
        assert ids(archive) == {JobRef.of(job)}


class TestSingleJobs:
    def test_an_imported_job_loads_back_equal(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job(tags=[{"id": 1, "type": "debug", "name": "slow"}])
        archive.import_job(job, data)
        assert archive.exists(job)
        assert archive.exists(JobRef.of(job))
        assert archive.load_meta(job) == job
        assert orjson.loads(encode_meta(archive.load_meta(job))) == orjson.loads(encode_meta(job))
        assert archive.load_data(JobRef.of(job)) == data

    def test_nan_samples_survive(self, archive: JobArchive, archived_job: ArchivedJob) -> None:
        job, data = archived_job()
        archive.import_job(job, data)
        loaded = archive.load_data(job)["mem_bw"][MetricScope.NODE].series[0].data
        assert loaded.size == 10
        assert int(np.isnan(loaded).sum()) == 1

    def test_a_few_metrics_load_alone(self, archive: JobArchive, archived_job: ArchivedJob) -> None:
        job, data = archived_job()
        archive.import_job(job, data)

        chosen = archive.load_data(job, metrics=["flops_any", "no_such_metric"])

        assert set(chosen.root) == {"flops_any"}
        assert chosen["flops_any"] == data["flops_any"]
        assert set(archive.load_data(job, metrics=[]).root) == set()

    def test_metrics_not_asked_for_are_not_checked(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job()
        archive.import_job(job, data)
        document = orjson.loads(data.to_json())
        document["mem_bw"] = {"node": "not a metric"}
        raw(archive).put(JobRef.of(job), "data", orjson.dumps(document))

        assert archive.load_data(job, metrics=["flops_any"])["flops_any"] == data["flops_any"]
        with pytest.raises(InvalidInput, match="mem_bw"):
            archive.load_data(job)
        with pytest.raises(InvalidInput, match="mem_bw"):
            archive.load_data(job, metrics=["mem_bw"])

    def test_a_database_id_is_not_archived(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job(id=42)
        archive.import_job(job, data)
        assert archive.load_meta(job).id is None

    def test_reimporting_replaces_meta_and_data(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        job, big = archived_job(samples=200)
        archive.import_job(job, big)
        assert raw(archive).data_form(JobRef.of(job)) == "gzip"
        _, small = archived_job(samples=5)
        changed = job.model_copy(update={"duration": 7200})
        archive.import_job(changed, small)
        assert raw(archive).data_form(JobRef.of(job)) == "plain"
        assert archive.load_meta(job).duration == 7200
        assert archive.load_data(job) == small

    def test_store_meta_replaces_tags_and_meta_data_only(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job()
        archive.import_job(job, data)
        tagged = job.model_copy(
            update={
                "tags": [Tag(id=7, type="review", name="ok", scope="global")],
                "meta_data": {"jobName": "renamed", "jobScript": "#!/bin/sh"},
            }
        )
        archive.store_meta(tagged)
        loaded = archive.load_meta(job)
        assert [t.name for t in loaded.tags or []] == ["ok"]
        assert loaded.meta_data == {"jobName": "renamed", "jobScript": "#!/bin/sh"}
        assert archive.load_data(job) == data

    def test_jobs_can_be_imported_and_read_from_many_threads(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        jobs = [archived_job(samples=5 + 40 * (n % 2)) for n in range(16)]

        def roundtrip(job: Job, data: JobData) -> bool:
            archive.import_job(job, data)
            return archive.load_meta(job) == job and archive.load_data(job) == data

        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(lambda pair: roundtrip(*pair), jobs))
        assert ids(archive, workers=4) == {JobRef.of(job) for job, _ in jobs}

    def test_an_unknown_job_is_not_found(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        job, _ = archived_job()
        assert not archive.exists(job)
        with pytest.raises(NotFound):
            archive.load_meta(job)
        with pytest.raises(NotFound):
            archive.load_data(job)
        with pytest.raises(NotFound):
            archive.load_scoped_statistics(job)

    def test_scoped_statistics_come_from_the_series(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job(resources=[{"hostname": "f0001"}, {"hostname": "f0002"}])
        archive.import_job(job, data)
        statistics = archive.load_scoped_statistics(job)
        assert set(statistics) == {"mem_bw", "flops_any"}
        node = statistics["mem_bw"][MetricScope.NODE]
        assert [(s.hostname, s.id) for s in node] == [("f0001", None), ("f0002", None)]
        assert node[0].min == 1.0
        cores = statistics["flops_any"][MetricScope.CORE]
        assert [(s.hostname, s.id) for s in cores][:2] == [("f0001", "0"), ("f0001", "1")]
        assert cores[1].min == 3.0


class TestBrokenDocuments:
    def test_a_broken_document_is_an_invalid_input_naming_where_it_is(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job()
        archive.import_job(job, data)
        ref = JobRef.of(job)
        raw(archive).put(ref, "meta", b"{broken")
        with pytest.raises(InvalidInput) as meta_error:
            archive.load_meta(job)
        assert meta_error.value.message.startswith(archive.location)
        raw(archive).put(ref, "data.gz", gzip.compress(data.to_json())[:40])
        with pytest.raises(InvalidInput, match="gzip") as data_error:
            archive.load_data(job)
        assert data_error.value.message.startswith(archive.location)

    def test_a_scan_reports_broken_jobs_and_goes_on(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        jobs = [archived_job(samples=200) for _ in range(6)]
        for job, data in jobs:
            archive.import_job(job, data)
        refs = [JobRef.of(job) for job, _ in jobs]
        storage = raw(archive)
        storage.put(refs[0], "meta", b'{"jobId": "not json')
        storage.put(refs[1], "data.gz", gzip.compress(jobs[1][1].to_json())[:100])
        storage.put(refs[2], "data", b'{"mem_bw": {"node": [1, 2')
        storage.put(refs[3], "data", None)

        entries = {e.location: e for e in archive.iter_jobs(with_data=True, workers=3)}

        assert set(entries) == {storage.location_of(ref) for ref in refs}
        broken_meta = entries[storage.location_of(refs[0])]
        assert broken_meta.meta is None
        assert broken_meta.error is not None
        assert broken_meta.error.startswith(storage.location_of(refs[0]))
        reasons = {1: "gzip", 2: "JSON", 3: "data"}
        for index, reason in reasons.items():
            entry = entries[storage.location_of(refs[index])]
            assert entry.meta == jobs[index][0]
            assert entry.data is None
            assert entry.error is not None
            assert reason.lower() in entry.error.lower()
        for index in (4, 5):
            entry = entries[storage.location_of(refs[index])]
            assert entry.ok
            assert entry.data == jobs[index][1]
        # without data only the broken meta data counts
        assert sum(not e.ok for e in archive.iter_jobs()) == 1

    def test_a_scan_reports_folders_that_are_no_job_folders(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        if archive.kind == "sqlite":
            pytest.skip("an SQLite archive has no folders")
        job, data = archived_job()
        archive.import_job(job, data)
        storage = raw(archive)
        storage.put_file("fritz/abc/001/1700000000/meta.json", encode_meta(job))
        storage.put_file("fritz/7/001/1700000000/data.json", data.to_json())
        storage.put_file("scratch/1/002/3/notes.txt", b"no job here")
        for with_data in (False, True):
            entries = list(archive.iter_jobs(with_data=with_data))
            assert len(entries) == 3
            errors = {e.location.removeprefix(archive.location): e.error for e in entries}
            assert "not a job folder" in (errors["/fritz/abc/001/1700000000"] or "")
            assert "meta.json is missing" in (errors["/fritz/7/001/1700000000"] or "")


class TestScans:
    @pytest.fixture
    def filled(
        self, archive: JobArchive, archived_job: ArchivedJob, make_cluster: MakeCluster
    ) -> JobArchive:
        """Five jobs on fritz, three on alex."""
        for name, count in (("fritz", 5), ("alex", 3)):
            archive.store_cluster(make_cluster(name))
            for _ in range(count):
                archive.import_job(*archived_job(cluster=name))
        return archive

    def test_every_job_comes_with_meta_data_only_unless_asked(self, filled: JobArchive) -> None:
        entries = list(filled.iter_jobs())
        assert len(entries) == 8
        assert all(e.ok and e.meta is not None and e.data is None for e in entries)

    def test_with_data_every_job_comes_with_its_data(self, filled: JobArchive) -> None:
        for entry in filled.iter_jobs(with_data=True):
            assert entry.ok
            assert entry.meta is not None
            assert entry.data == filled.load_data(entry.meta)

    def test_clusters_filter_the_scan(self, filled: JobArchive) -> None:
        assert {r.cluster for r in ids(filled, clusters=["alex"])} == {"alex"}
        assert len(ids(filled, clusters=["alex"])) == 3
        assert len(ids(filled, clusters=["alex", "fritz"])) == 8
        assert ids(filled, clusters=[]) == set()
        assert ids(filled, clusters=["nowhere"]) == set()

    @pytest.mark.parametrize("workers", [1, 2, 8])
    def test_any_number_of_workers_yields_the_same_jobs(
        self, filled: JobArchive, workers: int
    ) -> None:
        assert ids(filled, workers=workers, with_data=True) == ids(filled)

    def test_info_counts_jobs_time_range_and_size(
        self, filled: JobArchive, archived_job: ArchivedJob, make_cluster: MakeCluster
    ) -> None:
        filled.store_cluster(make_cluster("empty"))
        info = filled.info()
        assert info.version == ARCHIVE_VERSION
        assert [c.name for c in info.clusters] == ["alex", "empty", "fritz"]
        assert info.jobs == 8
        by_name = {c.name: c for c in info.clusters}
        starts = [r.start_time for r in ids(filled, clusters=["fritz"])]
        assert by_name["fritz"].jobs == 5
        assert (by_name["fritz"].first_start, by_name["fritz"].last_start) == (
            min(starts),
            max(starts),
        )
        assert by_name["fritz"].size_bytes > 5 * 500
        assert by_name["empty"] == type(by_name["empty"])("empty", 0, None, None, 0)
        assert info.size_bytes == sum(c.size_bytes for c in info.clusters)


class TestRemoval:
    def test_delete_removes_jobs_and_skips_absent_ones(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        jobs = [archived_job() for _ in range(3)]
        for job, data in jobs:
            archive.import_job(job, data)
        absent, _ = archived_job()
        assert archive.delete([jobs[0][0], JobRef.of(jobs[1][0]), absent]) == 2
        assert archive.delete([jobs[0][0]]) == 0
        assert archive.delete([]) == 0
        assert not archive.exists(jobs[0][0])
        assert ids(archive) == {JobRef.of(jobs[2][0])}
        with pytest.raises(NotFound):
            archive.load_data(jobs[1][0])

    def test_clean_removes_jobs_started_before_or_after(
        self, archive: JobArchive, archived_job: ArchivedJob
    ) -> None:
        for start in (1000, 2000, 3000):
            archive.import_job(*archived_job(jobId=start, startTime=start))
        refs = sorted(ids(archive))
        assert archive.clean().removed == 0
        before = archive.clean(before=2000)
        assert (before.removed, before.refs) == (1, (refs[0],))
        after = archive.clean(after=2000)
        assert (after.removed, after.refs) == (1, (refs[2],))
        assert ids(archive) == {refs[1]}
        assert archive.info().jobs == 1

    def test_removal_leaves_no_empty_folders(
        self, fresh: Fresh, archived_job: ArchivedJob, make_cluster: MakeCluster
    ) -> None:
        archive = fresh("file")
        archive.store_cluster(make_cluster("fritz"))
        first, second = archived_job(jobId=4_001_001), archived_job(jobId=4_001_002)
        for job, data in (first, second):
            archive.import_job(job, data)
        root = Path(archive.location)
        archive.delete([first[0]])
        assert sorted(p.name for p in (root / "fritz/4001").iterdir()) == ["002"]
        archive.clean(before=2**40)
        assert sorted(p.name for p in (root / "fritz").iterdir()) == ["cluster.json"]


class TestCompression:
    def test_large_plain_data_is_gzipped_and_still_loads(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        large_job, large = archived_job(samples=200)
        small_job, small = archived_job(samples=5)
        archive.import_job(large_job, large)
        archive.import_job(small_job, small)
        storage = raw(archive)
        plain = large.to_json()
        assert len(plain) > COMPRESS_ABOVE_BYTES
        storage.put(JobRef.of(large_job), "data", plain)
        assert storage.data_form(JobRef.of(large_job)) == "plain"

        assert archive.compress([large_job, small_job, archived_job()[0]]) == 1

        assert storage.data_form(JobRef.of(large_job)) == "gzip"
        assert storage.data_form(JobRef.of(small_job)) == "plain"
        assert archive.load_data(large_job) == large
        assert archive.compress([large_job, small_job]) == 0

    def test_import_gzips_large_data(
        self, archive: JobArchive, raw: RawOf, archived_job: ArchivedJob
    ) -> None:
        job, data = archived_job(samples=200)
        archive.import_job(job, data)
        assert raw(archive).data_form(JobRef.of(job)) == "gzip"


class TestMove:
    def test_moving_to_another_backend_keeps_everything(
        self,
        archive: JobArchive,
        fresh: Fresh,
        archived_job: ArchivedJob,
        make_cluster: MakeCluster,
    ) -> None:
        target = fresh("memory" if archive.kind == "file" else "file")
        archive.store_cluster(make_cluster("fritz"))
        jobs = [archived_job(samples=s) for s in (5, 200)]
        for job, data in jobs:
            archive.import_job(job, data)
        staying, _ = archived_job()
        archive.import_job(staying, _)

        assert archive.move([job for job, _ in jobs], target) == 2

        assert target.clusters() == ["fritz"]
        assert target.load_cluster("fritz") == make_cluster("fritz")
        for job, data in jobs:
            assert target.load_meta(job) == job
            assert target.load_data(job) == data
            assert not archive.exists(job)
        assert ids(archive) == {JobRef.of(staying)}
        assert archive.move([jobs[0][0]], target) == 0
