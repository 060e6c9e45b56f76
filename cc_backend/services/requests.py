"""Request bodies of the scheduler-facing API (REST and NATS).

Field names in JSON are cc-backend's (camelCase); Python attributes are snake_case and may be
used to build a request as well. Unknown fields are rejected.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cc_backend.domain.job import JobState

__all__ = ["NodePayload", "NodeStatesRequest", "StopJobRequest"]


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StopJobRequest(_Request):
    """``POST /api/jobs/stop_job/``: which job stopped, when, and in which state.

    ``job_id`` and ``cluster`` identify the job; ``start_time`` picks one of several jobs
    with the same id. ``job_id`` is optional here so that a missing one is reported by the
    service (as cc-backend does) rather than as a parse error.
    """

    job_id: int | None = Field(default=None, description="Scheduler job id")
    cluster: str | None = Field(default=None, description="Cluster of the job")
    start_time: int | None = Field(default=None, description="Start of the job, Unix seconds")
    job_state: JobState = Field(
        default=JobState.COMPLETED, description="Final state of the job (default completed)"
    )
    stop_time: int = Field(ge=0, description="Stop of the job, Unix seconds")


class NodePayload(_Request):
    """One node in a node-state update, as the scheduler adapter reports it.

    ``states`` holds the scheduler's state words (e.g. ``["IDLE", "DRAIN"]``). The totals
    are accepted for compatibility with older adapters but not stored (the schema has no
    column for them).
    """

    hostname: str = Field(min_length=1, description="Node host name")
    states: list[str] = Field(default_factory=list, description="Scheduler state words")
    cpus_allocated: int = Field(default=0, ge=0, description="Allocated CPUs")
    cpus_total: int = Field(default=0, ge=0, description="CPUs of the node")
    memory_allocated: int = Field(default=0, ge=0, description="Allocated memory in MB")
    memory_total: int = Field(default=0, ge=0, description="Memory of the node in MB")
    gpus_allocated: int = Field(default=0, ge=0, description="Allocated GPUs")
    gpus_total: int = Field(default=0, ge=0, description="GPUs of the node")
    jobs_running: int = Field(default=0, ge=0, description="Jobs running on the node")


class NodeStatesRequest(_Request):
    """``POST /api/nodestate/``: the current state of some or all nodes of a cluster."""

    cluster: str = Field(min_length=1, description="Cluster of the nodes")
    nodes: list[NodePayload] = Field(default_factory=list, description="Reported nodes")
