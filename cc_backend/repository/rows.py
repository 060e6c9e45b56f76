"""Translation between ``job`` table rows and :class:`~cc_backend.domain.job.Job`.

JSON columns are read whether cc-backend stored them as BLOB or TEXT; a row whose JSON is
broken is still returned (with that field empty and a warning logged) so one bad row never
breaks a job list.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from cc_backend.domain.job import (
    Job,
    JobState,
    MonitoringStatus,
    Resource,
    SharedMode,
)
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


def job_from_row(row: Mapping[Any, Any]) -> Job:
    """Build a :class:`Job` from a mapping of ``job`` columns (a SQLAlchemy row mapping)."""
    db_id = row["id"]
    resources = _loads(row["resources"], "resources", db_id) or []
    return Job.model_construct(
        id=db_id,
        job_id=row["job_id"],
        user=row["hpc_user"],
        project=row["project"],
        cluster=row["cluster"],
        sub_cluster=row["subcluster"],
        partition=row["cluster_partition"] or "",
        array_job_id=row["array_job_id"] or 0,
        num_nodes=row["num_nodes"],
        num_hwthreads=row["num_hwthreads"] or 0,
        num_acc=row["num_acc"] or 0,
        shared=SharedMode(row["shared"]),
        monitoring_status=MonitoringStatus(row["monitoring_status"]),
        smt=row["smt"],
        job_state=state_from_db(row["job_state"]),
        start_time=row["start_time"],
        submit_time=row["submit_time"] or 0,
        duration=row["duration"],
        walltime=row["walltime"],
        energy=row["energy"] or 0.0,
        resources=[Resource.model_validate(r) for r in resources if isinstance(r, dict)],
        meta_data=_string_map(_loads(row["meta_data"], "meta_data", db_id)),
        footprint=_float_map(_loads(row["footprint"], "footprint", db_id)),
        energy_footprint=_float_map(_loads(row["energy_footprint"], "energy_footprint", db_id)),
    )


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
