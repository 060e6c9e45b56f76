"""Job queries: the filter, ordering and paging inputs of cc-backend's GraphQL ``jobs`` query.

The models accept the GraphQL input objects as plain dicts (``JobFilter.model_validate(
{"user": {"eq": "alice"}, "startTime": {"range": "last24h"}})``), so GraphQL, REST and
Python callers share one definition. Named time ranges resolve here, once.
"""

from __future__ import annotations

import enum
import re
import time
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import JobState

#: Names that may reach a JSON path inside SQL (footprint keys, metric names).
METRIC_NAME_RE = re.compile(r"^[a-zA-Z0-9_]+$")

#: Named start-time ranges and their length in seconds.
NAMED_RANGES: dict[str, int] = {
    "last6h": 6 * 3600,
    "last24h": 24 * 3600,
    "last7d": 7 * 24 * 3600,
    "last30d": 30 * 24 * 3600,
}


def check_metric_name(name: str) -> str:
    """Return ``name`` if it is a safe metric/footprint name, else raise InvalidInput."""
    if not METRIC_NAME_RE.fullmatch(name):
        raise InvalidInput(f"invalid metric name {name!r}: only letters, digits and '_' allowed")
    return name


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class StringInput(_Input):
    """String match; exactly one operator is expected (the first one set wins)."""

    eq: str | None = None
    neq: str | None = None
    contains: str | None = None
    starts_with: str | None = Field(default=None, alias="startsWith")
    ends_with: str | None = Field(default=None, alias="endsWith")
    in_: list[str] | None = Field(default=None, alias="in")


class IntRange(_Input):
    """Inclusive integer range. ``to == 0`` with ``from > 0`` means "no upper bound"."""

    from_: int = Field(alias="from")
    to: int


class FloatRange(_Input):
    """Inclusive float range. ``to == 0`` with ``from > 0`` means "no upper bound"."""

    from_: float = Field(alias="from")
    to: float


class TimeRange(_Input):
    """A start-time window: absolute bounds, or a named range such as ``last24h``."""

    range: str | None = None
    from_: datetime | None = Field(default=None, alias="from")
    to: datetime | None = None

    @field_validator("range")
    @classmethod
    def _known_range(cls, value: str | None) -> str | None:
        if value in (None, "") or value in NAMED_RANGES:
            return value or None
        known = ", ".join(NAMED_RANGES)
        raise ValueError(f"unknown named time range {value!r} (known: {known})")

    def bounds(self, now: float | None = None) -> tuple[int | None, int | None]:
        """Resolve to ``(from, to)`` Unix seconds; absolute bounds win over a named range."""
        start = int(self.from_.timestamp()) if self.from_ is not None else None
        stop = int(self.to.timestamp()) if self.to is not None else None
        if start is None and stop is None and self.range:
            current = int(now if now is not None else time.time())
            return current - NAMED_RANGES[self.range], None
        return start, stop


class MetricStatItem(_Input):
    """A range on one footprint value, e.g. ``flops_any_avg`` between 10 and 100."""

    metric_name: str = Field(alias="metricName")
    range: FloatRange

    @field_validator("metric_name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not METRIC_NAME_RE.fullmatch(value):
            raise ValueError(f"invalid metric name {value!r}")
        return value


class JobFilter(_Input):
    """One filter; a query takes a list of them, all of which must hold (AND)."""

    tags: list[int] | None = None
    db_id: list[int] | None = Field(default=None, alias="dbId")
    job_id: StringInput | None = Field(default=None, alias="jobId")
    array_job_id: int | None = Field(default=None, alias="arrayJobId")
    user: StringInput | None = None
    project: StringInput | None = None
    job_name: StringInput | None = Field(default=None, alias="jobName")
    cluster: StringInput | None = None
    sub_cluster: StringInput | None = Field(default=None, alias="subCluster")
    partition: StringInput | None = None
    duration: IntRange | None = None
    energy: FloatRange | None = None
    min_running_for: int | None = Field(default=None, alias="minRunningFor")
    num_nodes: IntRange | None = Field(default=None, alias="numNodes")
    num_accelerators: IntRange | None = Field(default=None, alias="numAccelerators")
    num_hwthreads: IntRange | None = Field(default=None, alias="numHWThreads")
    start_time: TimeRange | None = Field(default=None, alias="startTime")
    state: list[JobState] | None = None
    metric_stats: list[MetricStatItem] | None = Field(default=None, alias="metricStats")
    shared: str | None = None
    node: StringInput | None = None

    @field_validator("state", mode="before")
    @classmethod
    def _accept_graphql_enum_names(cls, value: object) -> object:
        # GraphQL enum values arrive upper-case (RUNNING); JSON uses lower-case.
        if isinstance(value, list):
            return [v.lower() if isinstance(v, str) else v for v in value]
        return value

    @field_validator("shared")
    @classmethod
    def _known_shared(cls, value: str | None) -> str | None:
        if value is not None and value not in ("none", "single_user", "multi_user"):
            raise ValueError(f"unknown shared mode {value!r}")
        return value


class SortDirection(enum.StrEnum):
    ASC = "ASC"
    DESC = "DESC"


class OrderBy(_Input):
    """Sort by a job column (``type == "col"``) or by a footprint value (any other type)."""

    field: str
    type: str = "col"
    order: SortDirection = SortDirection.ASC

    @model_validator(mode="after")
    def _safe_field(self) -> OrderBy:
        if not METRIC_NAME_RE.fullmatch(self.field):
            raise ValueError(f"invalid sort field {self.field!r}")
        return self

    @property
    def is_column(self) -> bool:
        return self.type == "col"


class PageRequest(_Input):
    """1-based paging; ``items_per_page == -1`` returns everything."""

    items_per_page: int = Field(alias="itemsPerPage")
    page: int = Field(default=1, ge=1)

    @field_validator("items_per_page")
    @classmethod
    def _positive_or_all(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("itemsPerPage must be positive, or -1 for all")
        return value

    @property
    def offset(self) -> int:
        return 0 if self.limit is None else (self.page - 1) * self.limit

    @property
    def limit(self) -> int | None:
        """Jobs per page; ``None`` when the request asks for all of them."""
        return None if self.items_per_page == -1 else self.items_per_page
