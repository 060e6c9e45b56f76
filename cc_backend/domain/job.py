"""The job: what a scheduler reports, what the database stores, what the archive keeps.

JSON names are cc-backend's (REST payloads, archive ``meta.json``); Python attributes are
snake_case. ``Job.model_validate(payload)`` accepts a REST start payload or a ``meta.json``;
``job.model_dump(by_alias=True, exclude_none=True)`` gives the same JSON back.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cc_backend.domain.tag import Tag


class JobState(enum.StrEnum):
    """A job's scheduler state, as cc-backend names it in JSON and GraphQL."""

    BOOT_FAIL = "boot_fail"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    DEADLINE = "deadline"
    FAILED = "failed"
    NODE_FAIL = "node_fail"
    OUT_OF_MEMORY = "out_of_memory"
    PENDING = "pending"
    PREEMPTED = "preempted"
    RUNNING = "running"
    SUSPENDED = "suspended"
    TIMEOUT = "timeout"

    @property
    def is_final(self) -> bool:
        """True for every state a job can be stopped with (all but pending/running/suspended)."""
        return self not in (JobState.PENDING, JobState.RUNNING, JobState.SUSPENDED)


class SharedMode(enum.StrEnum):
    """How the job's nodes were shared with other jobs."""

    NONE = "none"
    SINGLE_USER = "single_user"
    MULTI_USER = "multi_user"


class MonitoringStatus(enum.IntEnum):
    """State of the monitoring pipeline for a job (cc-backend's integer codes)."""

    DISABLED = 0
    RUNNING_OR_ARCHIVING = 1
    ARCHIVING_FAILED = 2
    ARCHIVING_SUCCESSFUL = 3


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
    )


class Resource(_Model):
    """One node of a job's allocation."""

    hostname: str = Field(min_length=1, description="Node host name")
    hwthreads: list[int] | None = Field(default=None, description="Hardware thread ids used")
    accelerators: list[str] | None = Field(default=None, description="Accelerator ids used")
    configuration: str | None = Field(default=None, description="Node configuration name")


class MetricStatistics(_Model):
    """Job-wide statistics of one metric as stored in ``meta.json`` ``statistics``."""

    unit: dict[str, str] = Field(default_factory=dict, description="Unit {base, prefix}")
    avg: float = Field(description="Average over the job")
    min: float = Field(description="Minimum over the job")
    max: float = Field(description="Maximum over the job")


class Job(_Model):
    """A job as cc-backend describes it in REST, GraphQL and the job archive."""

    id: int | None = Field(default=None, description="Database id (absent before insert)")
    job_id: int = Field(ge=0, description="Scheduler job id")
    user: str = Field(min_length=1, description="User name of the job owner")
    project: str = Field(description="Project/account the job is charged to")
    cluster: str = Field(min_length=1, description="Cluster name")
    sub_cluster: str = Field(default="", description="Subcluster name")
    partition: str = Field(default="", description="Scheduler partition")
    array_job_id: int = Field(default=0, description="Array job id, 0 if none")
    num_nodes: int = Field(ge=1, description="Number of nodes")
    num_hwthreads: int = Field(default=0, ge=0, description="Number of hardware threads")
    num_acc: int = Field(default=0, ge=0, description="Number of accelerators")
    shared: SharedMode = Field(default=SharedMode.NONE, description="Node sharing mode")
    monitoring_status: MonitoringStatus = Field(
        default=MonitoringStatus.RUNNING_OR_ARCHIVING, description="Monitoring state"
    )
    smt: int = Field(default=0, description="SMT threads used")
    job_state: JobState = Field(description="Scheduler state")
    start_time: int = Field(ge=0, description="Start, Unix seconds")
    submit_time: int = Field(default=0, ge=0, description="Submit, Unix seconds")
    duration: int = Field(default=0, ge=0, description="Run time in seconds")
    walltime: int = Field(default=0, ge=0, description="Requested wall time in seconds")
    requested_memory: int | None = Field(default=None, description="Requested memory in MB")
    energy: float = Field(default=0.0, description="Energy in kWh")
    resources: list[Resource] = Field(min_length=1, description="Allocated nodes")
    meta_data: dict[str, str] | None = Field(default=None, description="Free-form job meta data")
    footprint: dict[str, float] | None = Field(default=None, description="Footprint values")
    energy_footprint: dict[str, float] | None = Field(
        default=None, description="Energy per energy metric"
    )
    tags: list[Tag] | None = Field(default=None, description="Tags attached to the job")
    statistics: dict[str, MetricStatistics] | None = Field(
        default=None, description="Per-metric statistics (archive meta.json only)"
    )
    concurrent_jobs: dict[str, Any] | None = Field(
        default=None, description="Jobs sharing nodes with this one"
    )
    #: Stop time as written to ``meta.json``; derived from start + duration when absent.
    stop_time: int | None = Field(default=None, description="Stop, Unix seconds")

    @property
    def is_archived(self) -> bool:
        """Whether the job's data and meta data are in the job archive (archived and no
        longer running)."""
        return (
            self.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
            and self.job_state is not JobState.RUNNING
        )

    @property
    def hostnames(self) -> list[str]:
        """Host names of all allocated nodes, in allocation order."""
        return [r.hostname for r in self.resources]

    @property
    def end_time(self) -> int:
        """Stop time: given, or start plus duration."""
        return self.stop_time if self.stop_time is not None else self.start_time + self.duration

    def to_json_dict(self, *, exclude_unset: bool = False) -> dict[str, Any]:
        """JSON-ready dict with cc-backend's names.

        Like cc-backend, fields that are ``None`` are left out, and so are the fields that
        cc-backend marks "omit when empty" (:data:`OMIT_WHEN_EMPTY`) when they are zero or
        empty. With ``exclude_unset`` exactly the fields that were given are written, so a
        parsed ``meta.json`` is written back unchanged.
        """
        data = self.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_unset=exclude_unset
        )
        if exclude_unset:
            return data
        for key in OMIT_WHEN_EMPTY:
            if key in data and not data[key]:
                del data[key]
        return data


#: JSON fields cc-backend leaves out when they hold a zero value.
OMIT_WHEN_EMPTY = (
    "partition",
    "arrayJobId",
    "walltime",
    "smt",
    "monitoringStatus",
    "numAcc",
    "numHwthreads",
    "submitTime",
    "tags",
)
