"""Checking archive documents: meta.json, data.json and cluster.json, alone and whole archives."""

from __future__ import annotations

import copy
import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from cc_backend.archive import JobArchive, JobRef, open_archive_url
from cc_backend.archive.validate import (
    Severity,
    ValidationProblem,
    validate_archive,
    validate_cluster,
    validate_data,
    validate_meta,
)
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

SchemaValidator = Callable[[str], Draft202012Validator]
START = 1_700_000_000
NOW = START + 86_400 * 30
HOSTS = ["n0001", "n0002"]


def metric(
    name: str, scope: str, base: str, prefix: str | None = None, **extra: Any
) -> dict[str, Any]:
    unit = {"base": base} | ({"prefix": prefix} if prefix else {})
    return {
        "name": name,
        "unit": unit,
        "scope": scope,
        "aggregation": "sum",
        "timestep": 60,
        "peak": 100,
        "normal": 50,
        "caution": 10,
        "alert": 5,
        **extra,
    }


def cluster_doc() -> dict[str, Any]:
    """A made-up cluster with the metrics the job-meta schema requires statistics of."""
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}
    return {
        "name": "testcl",
        "metricConfig": [
            metric("cpu_user", "hwthread", ""),
            metric("cpu_load", "node", "", footprint="avg"),
            metric("mem_used", "node", "B", "G", footprint="max"),
            metric("flops_any", "hwthread", "F/s", "G"),
            metric("mem_bw", "socket", "B/s", "G"),
            metric("cpu_power", "socket", "W", energy="power"),
        ],
        "subClusters": [
            {
                "name": "main",
                "nodes": "n[0001-0100]",
                "processorType": "test CPU",
                "socketsPerNode": 2,
                "coresPerSocket": 1,
                "threadsPerCore": 1,
                "flopRateScalar": value,
                "flopRateSimd": value,
                "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 50},
                "topology": {"node": [0, 1], "socket": [[0], [1]], "memoryDomain": [[0], [1]]},
            }
        ],
    }


STAT_UNITS = {
    "cpu_user": {"base": ""},
    "cpu_load": {"base": ""},
    "mem_used": {"base": "B", "prefix": "G"},
    "flops_any": {"base": "F/s", "prefix": "G"},
    "mem_bw": {"base": "B/s", "prefix": "G"},
    "cpu_power": {"base": "W"},
}


def meta_doc(**overrides: Any) -> dict[str, Any]:
    """A complete, consistent meta.json of a finished 2-node, 1-hour job."""
    doc: dict[str, Any] = {
        "jobId": 4711,
        "user": "alice",
        "project": "p1",
        "cluster": "testcl",
        "subCluster": "main",
        "partition": "work",
        "numNodes": 2,
        "shared": "none",
        "jobState": "completed",
        "startTime": START,
        "duration": 3600,
        "walltime": 7200,
        "resources": [{"hostname": h} for h in HOSTS],
        "statistics": {
            name: {"unit": unit, "avg": 1.0, "min": 0.5, "max": 2.0}
            for name, unit in STAT_UNITS.items()
        },
    }
    doc.update(overrides)
    return doc


def block(
    name: str, scope: str = "node", length: int = 60, ids: list[str | None] | None = None
) -> dict[str, Any]:
    ids = ids or [None]
    series = [
        {"hostname": h} | ({"id": i} if i is not None else {}) | {"data": [1.0] * length}
        for h in HOSTS
        for i in ids
    ]
    return {"unit": STAT_UNITS[name], "timestep": 60, "series": series}


def data_doc() -> dict[str, Any]:
    doc = {name: {"node": block(name)} for name in STAT_UNITS}
    doc["mem_bw"]["socket"] = block("mem_bw", "socket", ids=["0", "1"])
    return doc


def location(doc: dict[str, Any]) -> str:
    return JobRef(doc["cluster"], doc["jobId"], doc["startTime"]).directory


@pytest.fixture
def clusters() -> dict[str, Cluster]:
    return {"testcl": Cluster.from_json(cluster_doc())}


def meta_problems(
    doc: dict[str, Any], clusters: dict[str, Cluster], where: str | None = None
) -> list[ValidationProblem]:
    return validate_meta(Job.model_validate(doc), clusters, where or location(doc), now=NOW)


def data_problems(data: dict[str, Any], clusters: dict[str, Cluster]) -> list[ValidationProblem]:
    doc = meta_doc()
    job = Job.model_validate(doc)
    return validate_data(JobData.from_json(data), job, clusters["testcl"], location(doc))


def messages(problems: list[ValidationProblem]) -> set[tuple[Severity, str]]:
    return {(p.severity, p.message) for p in problems}


def outside_unit_enum(validator: Draft202012Validator, document: Any) -> list[str]:
    """Schema violations, except a unit base outside the schema's list (the reference files
    themselves use 'load', 'Flops/s', 'packets/s')."""
    return [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(document)
        if not (e.validator == "enum" and list(e.absolute_path)[-1:] == ["base"])
    ]


# -- documents we consider clean also pass cc-backend's schemas ---------------------------


def test_a_clean_job_has_no_problems_and_passes_the_schemas(
    clusters: dict[str, Cluster], schema_validator: SchemaValidator
) -> None:
    meta, data = meta_doc(), data_doc()
    assert meta_problems(meta, clusters) == []
    assert data_problems(data, clusters) == []
    written = Job.model_validate(meta).to_json_dict()
    assert outside_unit_enum(schema_validator("job-meta.schema.json"), written) == []
    metric_schema = schema_validator("job-metric-data.schema.json")
    for scopes in JobData.from_json(data).to_dict().values():
        for values in scopes.values():
            assert outside_unit_enum(metric_schema, values) == []


def test_a_clean_cluster_has_no_problems_and_passes_the_schema(
    clusters: dict[str, Cluster], schema_validator: SchemaValidator
) -> None:
    assert validate_cluster(clusters["testcl"], "testcl") == []
    written = clusters["testcl"].to_dict()
    assert outside_unit_enum(schema_validator("cluster.schema.json"), written) == []


@pytest.mark.reference
@pytest.mark.parametrize("name", ["emmy", "fritz", "alex"])
def test_reference_clusters_have_no_errors_and_pass_the_schema(
    reference_dir: Path, name: str, schema_validator: SchemaValidator
) -> None:
    cluster = Cluster.from_json(
        (reference_dir / "job-archive" / name / "cluster.json").read_bytes()
    )
    assert [p for p in validate_cluster(cluster, name) if p.severity is Severity.ERROR] == []
    assert outside_unit_enum(schema_validator("cluster.schema.json"), cluster.to_dict()) == []


@pytest.mark.parametrize(
    "change",
    [
        {"numNodes": 0},
        {"user": 7},
        {"jobState": "exploded"},
        {"startTime": 0},
        {"duration": 0},
        {"shared": "sometimes"},
    ],
)
def test_what_the_meta_schema_rejects_we_reject_or_flag(
    clusters: dict[str, Cluster], schema_validator: SchemaValidator, change: dict[str, Any]
) -> None:
    doc = meta_doc() | change
    assert outside_unit_enum(schema_validator("job-meta.schema.json"), doc) != []
    try:
        job = Job.model_validate(doc)
    except ValueError:
        return  # rejected when read
    assert validate_meta(job, clusters, "x", now=NOW) != []


# -- meta.json ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "severity", "text"),
    [
        ({"numNodes": 3}, Severity.ERROR, "2 resources but numNodes is 3"),
        ({"cluster": "other"}, Severity.ERROR, "unknown cluster 'other'"),
        ({"subCluster": "gpu"}, Severity.ERROR, "unknown subcluster 'gpu'"),
        ({"startTime": 800_000_000}, Severity.ERROR, "before 2000"),
        ({"startTime": NOW + 10 * 86_400}, Severity.ERROR, "in the future"),
        ({"jobState": "running"}, Severity.ERROR, "not final"),
        ({"duration": 0}, Severity.WARNING, "duration is 0"),
        ({"stopTime": START - 1}, Severity.ERROR, "before start time"),
        ({"stopTime": START + 3000}, Severity.WARNING, "but duration is 3600 s"),
        ({"submitTime": START + 5}, Severity.WARNING, "after start time"),
        ({"resources": [{"hostname": "n0001"}] * 2}, Severity.ERROR, "more than once"),
        ({"resources": [{"hostname": "x1"}, {"hostname": "x2"}]}, Severity.WARNING, "not in any"),
        ({"subCluster": ""}, Severity.WARNING, "no subCluster"),
        ({"statistics": None}, Severity.WARNING, "no statistics"),
    ],
)
def test_meta_problems(
    clusters: dict[str, Cluster], change: dict[str, Any], severity: Severity, text: str
) -> None:
    doc = meta_doc(**change)
    problems = meta_problems(doc, clusters, location(meta_doc()))
    found = [p for p in problems if text in p.message]
    assert found, problems
    assert found[0].severity is severity
    assert found[0].message.startswith("meta.json: ")


def test_statistics_of_unknown_metrics_are_a_warning(clusters: dict[str, Cluster]) -> None:
    doc = meta_doc()
    doc["statistics"]["rapl_power"] = {"unit": {"base": "W"}, "avg": 1, "min": 0, "max": 2}
    assert messages(meta_problems(doc, clusters)) == {
        (
            Severity.WARNING,
            "meta.json: statistics of metrics unknown to testcl/main: ['rapl_power']",
        )
    }


def test_a_job_stored_in_the_wrong_folder_is_an_error(clusters: dict[str, Cluster]) -> None:
    problems = meta_problems(meta_doc(), clusters, "/some/root/testcl/4/712/1700000000")
    assert [p.severity for p in problems] == [Severity.ERROR]
    assert "stored as testcl/4712@1700000000" in problems[0].message
    assert meta_problems(meta_doc(), clusters, "a row key") == []


# -- data.json ----------------------------------------------------------------------------


def test_series_of_hosts_outside_the_job_are_an_error(clusters: dict[str, Cluster]) -> None:
    data = data_doc()
    data["cpu_load"]["node"]["series"][1]["hostname"] = "n0099"
    assert messages(data_problems(data, clusters)) == {
        (
            Severity.ERROR,
            "data.json: cpu_load/node: series of hosts not in the job's resources: ['n0099']",
        )
    }


@pytest.mark.parametrize(("metric", "scope"), [("cpu_load", "core"), ("mem_bw", "accelerator")])
def test_a_scope_finer_than_the_native_one_is_an_error(
    clusters: dict[str, Cluster], metric: str, scope: str
) -> None:
    data = data_doc()
    data[metric][scope] = block(metric, scope, ids=["0"])
    (problem,) = data_problems(data, clusters)
    assert problem.severity is Severity.ERROR
    assert f"{metric}/{scope}: scope is finer" in problem.message


@pytest.mark.parametrize(("length", "flagged"), [(58, False), (62, False), (57, True), (63, True)])
def test_series_lengths_must_match_the_duration_within_two_samples(
    clusters: dict[str, Cluster], length: int, flagged: bool
) -> None:
    data = data_doc()
    data["cpu_load"]["node"] = block("cpu_load", length=length)
    problems = data_problems(data, clusters)
    assert bool(problems) is flagged
    if flagged:
        assert problems[0].severity is Severity.WARNING
        assert "expected about 60" in problems[0].message


def test_unknown_metrics_and_missing_ids_are_warnings(clusters: dict[str, Cluster]) -> None:
    data = data_doc()
    data["rapl_power"] = {"node": block("cpu_power")}
    data["cpu_power"]["socket"] = block("cpu_power", "socket")
    assert messages(data_problems(data, clusters)) == {
        (
            Severity.WARNING,
            "data.json: metric 'rapl_power' is not configured for the job's subcluster",
        ),
        (Severity.WARNING, "data.json: cpu_power/socket: series without an id below node scope"),
    }


# -- whole archives -----------------------------------------------------------------------


@pytest.mark.reference
def test_the_reference_archive_has_warnings_only(reference_dir: Path) -> None:
    archive = open_archive_url(str(reference_dir / "job-archive"))
    try:
        report = validate_archive(archive)
    finally:
        archive.close()
    assert (report.clusters, report.jobs) == (3, 2)
    assert report.ok
    assert report.errors == []
    texts = {p.message for p in report.warnings}
    # the old emmy jobs carry rapl_power, which emmy's cluster.json does not configure
    assert "data.json: metric 'rapl_power' is not configured for the job's subcluster" in texts
    assert "meta.json: statistics of metrics unknown to emmy/haswell: ['rapl_power']" in texts


@pytest.fixture
def broken_archive(tmp_path: Path) -> Iterator[tuple[Path, JobArchive]]:
    """An archive with one clean job and one broken document of every kind."""
    root = tmp_path / "archive"
    root.mkdir()
    (root / "version.txt").write_text("3\n")
    (root / "testcl").mkdir()
    (root / "testcl" / "cluster.json").write_bytes(orjson.dumps(cluster_doc()))
    (root / "badcl").mkdir()
    (root / "badcl" / "cluster.json").write_text('{"name": "badcl", "metricConfig": []}')

    def put(doc: dict[str, Any], data: bytes | None, meta: bytes | None = None) -> None:
        folder = root / location(doc)
        folder.mkdir(parents=True)
        (folder / "meta.json").write_bytes(meta if meta is not None else orjson.dumps(doc))
        if data is not None:
            (folder / "data.json.gz").write_bytes(gzip.compress(data))

    put(meta_doc(), orjson.dumps(data_doc()))
    put(meta_doc(jobId=2), orjson.dumps(data_doc()), meta=b'{"jobId": 2,')
    put(meta_doc(jobId=3), b"[1, 2")
    put(meta_doc(jobId=4, numNodes=3), orjson.dumps(data_doc()))
    wrong_host = copy.deepcopy(data_doc())
    wrong_host["mem_used"]["node"]["series"][0]["hostname"] = "n0050"
    put(meta_doc(jobId=5), orjson.dumps(wrong_host))
    archive = open_archive_url(str(root))
    yield root, archive
    archive.close()


def test_a_scan_reports_every_broken_document_and_goes_on(
    broken_archive: tuple[Path, JobArchive],
) -> None:
    root, archive = broken_archive
    seen: list[int] = []
    report = validate_archive(archive, on_job=seen.append)
    assert (report.clusters, report.jobs) == (2, 5)
    assert seen == [1, 2, 3, 4, 5]
    assert not report.ok
    where = {(Path(p.location).relative_to(root).as_posix(), p.severity) for p in report.problems}
    assert where == {
        ("badcl/cluster.json", Severity.ERROR),
        (location(meta_doc(jobId=2)), Severity.ERROR),
        (location(meta_doc(jobId=3)), Severity.ERROR),
        (location(meta_doc(jobId=4)), Severity.ERROR),
        (location(meta_doc(jobId=5)), Severity.ERROR),
    }
    assert report.broken_jobs == 4


def test_a_scan_without_data_checks_meta_data_only(broken_archive: tuple[Path, JobArchive]) -> None:
    root, archive = broken_archive
    report = validate_archive(archive, with_data=False, progress=True)
    jobs = {Path(p.location).relative_to(root).as_posix() for p in report.errors}
    assert jobs == {"badcl/cluster.json", location(meta_doc(jobId=2)), location(meta_doc(jobId=4))}


def test_every_backend_is_checked_alike(empty_archive: JobArchive) -> None:
    empty_archive.store_cluster(Cluster.from_json(cluster_doc()))
    data = JobData.from_json(data_doc())
    empty_archive.import_job(Job.model_validate(meta_doc()), data)
    empty_archive.import_job(Job.model_validate(meta_doc(jobId=9, numNodes=3)), data)

    report = validate_archive(empty_archive)

    assert (report.clusters, report.jobs) == (1, 2)
    (problem,) = report.problems
    assert problem.severity is Severity.ERROR
    assert "2 resources but numNodes is 3" in problem.message
    assert JobRef("testcl", 9, START).directory in problem.location or (
        str(JobRef("testcl", 9, START)) in problem.location
    )
