"""The Job model speaks cc-backend's JSON: REST payloads and archive meta.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from cc_backend.domain.job import Job, JobState, MonitoringStatus, SharedMode

#: The `schema_validator` fixture: a validator for a reference schema by file name.
SchemaValidator = Callable[[str], Draft202012Validator]


def reference_metas(reference_dir: Path) -> list[Path]:
    return sorted((reference_dir / "job-archive").glob("*/*/*/*/meta.json"))


@pytest.mark.reference
def test_archive_meta_files_round_trip_unchanged(reference_dir: Path) -> None:
    metas = reference_metas(reference_dir)
    assert len(metas) == 2
    for path in metas:
        original = json.loads(path.read_text())
        assert Job.model_validate(original).to_json_dict(exclude_unset=True) == original


def violations(validator: jsonschema.Draft202012Validator, document: Any) -> set[str]:
    return {f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)}


@pytest.mark.reference
def test_what_we_write_adds_no_job_meta_schema_violations(
    reference_dir: Path, schema_validator: SchemaValidator
) -> None:
    """The reference files break their own schema in places (unit base 'load'); what we
    write from them must not break it anywhere else."""
    validator = schema_validator("job-meta.schema.json")
    for path in reference_metas(reference_dir):
        original = json.loads(path.read_text())
        written = Job.model_validate(original).to_json_dict()
        assert violations(validator, written) <= violations(validator, original)


@pytest.mark.reference
def test_a_complete_job_validates_against_the_job_meta_schema(
    reference_dir: Path, make_job: Any, schema_validator: SchemaValidator
) -> None:
    validator = schema_validator("job-meta.schema.json")

    def stat(base: str, prefix: str | None = None) -> dict[str, Any]:
        unit = {"base": base} | ({"prefix": prefix} if prefix else {})
        return {"unit": unit, "avg": 1.0, "min": 0.0, "max": 2.0}

    job = make_job(
        jobState="completed",
        duration=3600,
        statistics={
            "cpu_load": stat(""),
            "cpu_user": stat(""),
            "mem_bw": stat("B/s", "G"),
            "mem_used": stat("B", "G"),
            "flops_any": stat("F/s", "G"),
        },
    )
    assert violations(validator, job.to_json_dict()) == set()


@pytest.mark.reference
def test_the_rest_start_payload_parses(reference_dir: Path) -> None:
    payload = json.loads((reference_dir / "configs" / "startJobPayload.json").read_text())
    job = Job.model_validate(payload)
    assert job.job_state is JobState.RUNNING
    assert job.sub_cluster == "main"
    assert job.hostnames == ["f0726"]
    assert job.requested_memory == 128000
    assert job.monitoring_status is MonitoringStatus.RUNNING_OR_ARCHIVING
    assert job.shared is SharedMode.NONE


@pytest.mark.reference
def test_zero_values_are_left_out_as_cc_backend_does(make_job: Any) -> None:
    data = make_job(numAcc=0, arrayJobId=0, partition="").to_json_dict()
    assert not {"numAcc", "arrayJobId", "partition"} & set(data)
    assert data["numNodes"] == 1


def test_unknown_fields_are_rejected_by_name(make_job: Any) -> None:
    payload = make_job().to_json_dict() | {"jobid": 1}
    with pytest.raises(ValidationError, match="jobid"):
        Job.model_validate(payload)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"jobState": "exploded"}, "jobState"),
        ({"resources": []}, "resources"),
        ({"numNodes": 0}, "numNodes"),
        ({"shared": "sometimes"}, "shared"),
        ({"startTime": -5}, "startTime"),
    ],
)
def test_invalid_values_are_rejected_with_their_field(
    make_job: Any, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        Job.model_validate(make_job().to_json_dict() | change)


def test_final_states() -> None:
    assert not JobState.RUNNING.is_final
    assert JobState.COMPLETED.is_final
    assert JobState.OUT_OF_MEMORY.is_final


def test_end_time_is_start_plus_duration_unless_given(make_job: Any) -> None:
    job = make_job(startTime=1000, duration=60)
    assert job.end_time == 1060
    assert make_job(startTime=1000, duration=60, stopTime=2000).end_time == 2000
