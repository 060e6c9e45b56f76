"""Translation between ``job`` table rows and :class:`~cc_backend.domain.job.Job`.

JSON columns are read whether cc-backend stored them as BLOB or TEXT; a row whose JSON is
broken is still returned (with that field empty and a warning logged) so one bad row never
breaks a job list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from cc_backend.domain.job import Job, JobState, Resource
from cc_backend.repository import schema

log = logging.getLogger(__name__)

#: JSON spelling -> database spelling, for the one state where they differ.
_STATE_TO_DB = {JobState.OUT_OF_MEMORY: "out-of-memory"}
_STATE_FROM_DB = {"out-of-memory": JobState.OUT_OF_MEMORY}


def state_to_db(state: JobState) -> str:
    """The ``job_state`` value stored for ``state``."""
    return _STATE_TO_DB.get(state, state.value)


def state_from_db(value: str) -> JobState:
    """The :class:`JobState` for a stored ``job_state`` (accepts both OOM spellings)."""
    return _STATE_FROM_DB.get(value) or JobState(value)


def _loads(value: bytes | str | None, column: str, db_id: object) -> Any:
    if value is None or value in (b"", ""):
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        log.warning("job %s: column %s holds invalid JSON; ignored", db_id, column)
        return None


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value).decode()


def _string_map(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}


def _float_map(value: Any) -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    return {str(k): float(v) for k, v in value.items() if isinstance(v, int | float)}


def _fields(row: Mapping[Any, Any]) -> dict[str, Any]:
    """Job model fields of a row, JSON columns parsed but not yet normalised."""
    db_id = row["id"]
    return {
        "id": db_id,
        "job_id": row["job_id"],
        "user": row["hpc_user"],
        "project": row["project"],
        "cluster": row["cluster"],
        "sub_cluster": row["subcluster"],
        "partition": row["cluster_partition"] or "",
        "array_job_id": row["array_job_id"] or 0,
        "num_nodes": row["num_nodes"],
        "num_hwthreads": row["num_hwthreads"] or 0,
        "num_acc": row["num_acc"] or 0,
        "shared": row["shared"],
        "monitoring_status": row["monitoring_status"],
        "smt": row["smt"],
        "job_state": state_from_db(row["job_state"]),
        "start_time": row["start_time"],
        "submit_time": row["submit_time"] or 0,
        "duration": row["duration"],
        "walltime": row["walltime"],
        "energy": row["energy"] or 0.0,
        "resources": _loads(row["resources"], "resources", db_id) or [],
        "meta_data": _loads(row["meta_data"], "meta_data", db_id),
        "footprint": _loads(row["footprint"], "footprint", db_id),
        "energy_footprint": _loads(row["energy_footprint"], "energy_footprint", db_id),
    }


def _repaired(fields: dict[str, Any]) -> Job:
    """A job from fields that failed validation: coerce what can be coerced, keep the rest."""
    log.warning("job %s: stored row holds unexpected values; repaired for reading", fields["id"])
    fields = fields | {
        "resources": [r for r in fields["resources"] if isinstance(r, dict)],
        "meta_data": _string_map(fields["meta_data"]),
        "footprint": _float_map(fields["footprint"]),
        "energy_footprint": _float_map(fields["energy_footprint"]),
    }
    try:
        return Job.model_validate(fields)
    except ValidationError as exc:
        log.warning("job %s: still invalid after repair: %s", fields["id"], exc.errors()[:3])
        fields["resources"] = [Resource.model_construct(**r) for r in fields["resources"]]
        return Job.model_construct(**fields)


_JOB_LIST: TypeAdapter[list[Job]] = TypeAdapter(list[Job])


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """Build a :class:`Job` from a mapping of ``job`` columns (a SQLAlchemy row mapping).

    A row that does not validate (odd JSON written by other tools) is still returned,
    repaired where possible and with a warning, so one bad row never breaks a job list.
    """
    fields = _fields(row)
    try:
        return Job.model_validate(fields)
    except ValidationError:
        return _repaired(fields)


def jobs_from_rows(rows: Sequence[Mapping[Any, Any]]) -> list[Job]:
    """:func:`job_from_row` for a whole page at once (one validation call for all rows)."""
    fields = [_fields(row) for row in rows]
    try:
        return _JOB_LIST.validate_python(fields)
    except ValidationError:
        return [job_from_row(row) for row in rows]


def job_to_row(job: Job) -> dict[str, Any]:
    """The ``job`` column values for ``job`` (without ``id``)."""
    resources = [r.model_dump(exclude_none=True) for r in job.resources]
    return {
        "job_id": job.job_id,
        "cluster": job.cluster,
        "subcluster": job.sub_cluster,
        "submit_time": job.submit_time,
        "start_time": job.start_time,
        "hpc_user": job.user,
        "project": job.project,
        "cluster_partition": job.partition,
        "array_job_id": job.array_job_id,
        "duration": job.duration,
        "walltime": job.walltime,
        "job_state": state_to_db(job.job_state),
        "meta_data": _dumps(job.meta_data),
        "resources": _dumps(resources),
        "num_nodes": job.num_nodes,
        "num_hwthreads": job.num_hwthreads,
        "num_acc": job.num_acc,
        "smt": job.smt,
        "shared": job.shared.value,
        "monitoring_status": int(job.monitoring_status),
        "energy": job.energy,
        "energy_footprint": _dumps(job.energy_footprint),
        "footprint": _dumps(job.footprint),
    }


#: Columns selected for a job list (everything the Job model carries).
JOB_COLUMNS = tuple(schema.job.c)
