"""Requests and answers of the metric store, with cc-metric-store's JSON names.

The query models read and write the JSON of cc-metric-store's ``/api/query`` endpoint
(``ApiQueryRequest``/``ApiQueryResponse``): :meth:`ApiQueryRequest.from_json` takes the
request body as a client sends it, :meth:`ApiQueryResponse.to_json` writes the answer (NaN
as ``null``, an ``error`` only where there is one, ``data`` left out when empty, as
cc-metric-store does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_serializer,
)

from cc_backend.domain.errors import InvalidInput
from cc_backend.metricstore.lineprotocol import LineError

__all__ = [
    "ApiMetricData",
    "ApiQuery",
    "ApiQueryRequest",
    "ApiQueryResponse",
    "HealthReport",
    "HealthStatus",
    "IngestResult",
    "RestoreReport",
]


def _ids_as_text(value: Any) -> Any:
    """Clients send ids as strings; accept numbers too."""
    if isinstance(value, list):
        return [
            str(item) if isinstance(item, int) and not isinstance(item, bool) else item
            for item in value
        ]
    return value


_Ids = Annotated[list[str] | None, BeforeValidator(_ids_as_text)]
#: Values with NaN for gaps; JSON: numbers and ``null``.
_Values = Annotated[
    npt.NDArray[np.float64] | None,
    WithJsonSchema({"type": "array", "items": {"type": ["number", "null"]}}),
]
#: A statistic, NaN when there are no values; JSON: a number or ``null``.
_Stat = Annotated[float, WithJsonSchema({"type": ["number", "null"]})]


class _Json(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class ApiQuery(_Json):
    """One query of a request: a metric of a host, at the node or below it.

    Without ``type`` the node's series is read, or, if the node has none, the series below
    it combined. With ``type`` and ``type-ids`` (and optionally ``subtype``/``subtype-ids``),
    each id gets its own result, or one combined result if ``aggreg`` is set. Combining
    sums or averages per the metric's ``aggregation``.
    """

    metric: str
    host: str
    type: str | None = None
    type_ids: _Ids = Field(default=None, alias="type-ids")
    subtype: str | None = None
    subtype_ids: _Ids = Field(default=None, alias="subtype-ids")
    #: Seconds between the returned values; 0 (or finer than stored) means as stored.
    resolution: int = Field(default=0, ge=0)
    aggregate: bool = Field(default=False, alias="aggreg")
    #: Factor applied to data and statistics (0 and absent mean none).
    scale_by: float | None = Field(default=None, alias="scale-by")


class ApiQueryRequest(_Json):
    """A batch of queries over one cluster and time range (Unix seconds, ``from`` <= ``to``).

    The defaults of ``with-stats``, ``with-data`` and ``with-padding`` are those of
    cc-metric-store's HTTP endpoint. ``for-all-nodes`` adds a query per host of the cluster
    and metric listed.
    """

    cluster: str = ""
    from_: int = Field(alias="from")
    to: int
    with_stats: bool = Field(default=True, alias="with-stats")
    with_data: bool = Field(default=True, alias="with-data")
    with_padding: bool = Field(default=True, alias="with-padding")
    for_all_nodes: list[str] | None = Field(default=None, alias="for-all-nodes")
    queries: list[ApiQuery] = Field(default_factory=list)

    @classmethod
    def from_json(cls, body: bytes | str) -> ApiQueryRequest:
        """The request in a JSON body; InvalidInput (with every problem) if it is not one."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or '(body)'}: {error['msg']}"
                for error in exc.errors()
            )
            raise InvalidInput(f"invalid query request: {problems}") from None


class ApiMetricData(_Json):
    """One result: values from ``from`` at steps of ``resolution`` seconds until ``to``.

    ``data`` holds NaN for missing values. ``avg``/``min``/``max`` are computed over the
    values as stored (before any resampling); NaN when there are none. ``error`` is set
    (and the rest empty) when the series could not be read.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    error: str | None = None
    data: _Values = None
    from_: int = Field(default=0, alias="from")
    to: int = 0
    resolution: int = 0
    avg: _Stat = float("nan")
    min: _Stat = float("nan")
    max: _Stat = float("nan")

    @field_serializer("data")
    def _data_list(self, data: npt.NDArray[np.float64] | None) -> list[float | None] | None:
        if data is None:
            return None
        return [None if np.isnan(x) else x for x in data.tolist()]

    @field_serializer("avg", "min", "max")
    def _nan_null(self, value: float) -> float | None:
        return None if np.isnan(value) else value

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this result (data still a NumPy array, for orjson)."""
        out: dict[str, Any] = {}
        if self.error is not None:
            out["error"] = self.error
        if self.data is not None and len(self.data):
            out["data"] = self.data
        out.update(
            {"from": self.from_, "to": self.to, "resolution": self.resolution}
            | {"avg": self.avg, "min": self.min, "max": self.max}
        )
        return out


class ApiQueryResponse(_Json):
    """The results, one list per query (one entry per id, or one if combined), in order.

    ``queries`` lists the queries generated by ``for-all-nodes`` (they come after the
    explicit ones in ``results``).
    """

    queries: list[ApiQuery] | None = None
    results: list[list[ApiMetricData]] = Field(default_factory=list)

    def to_json(self) -> bytes:
        """The response body as cc-metric-store writes it."""
        body: dict[str, Any] = {}
        if self.queries:
            body["queries"] = [
                q.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)
                for q in self.queries
            ]
        body["results"] = [[item.to_dict() for item in row] for row in self.results]
        return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of a payload."""

    #: Samples stored.
    written: int
    #: Lines refused (blank lines and comments are not counted).
    rejected: int
    #: The refused lines with the reason, the first :attr:`MetricStore.max_errors` of them.
    errors: list[LineError] = field(default_factory=list)


#: ``full``: every expected metric is fresh; ``partial``: some are stale or missing;
#: ``failed``: none is fresh (or the host is unknown). The values of cc-backend's node
#: health states.
HealthStatus = Literal["full", "partial", "failed"]


class HealthReport(BaseModel):
    """Which metrics of a node are being received.

    A metric is ``stale`` if it has series on the host but none got a value in the last
    ``max_missing`` time steps, and ``missing`` if it has no series there at all.
    """

    cluster: str
    host: str
    status: HealthStatus
    healthy: list[str]
    stale: list[str]
    missing: list[str]
    #: Unix time of the newest value of each metric that has one.
    last_seen: dict[str, int]


@dataclass(slots=True)
class RestoreReport:
    """What a restore loaded."""

    files: int = 0
    series: int = 0
    hosts: int = 0
    values: int = 0
    #: Time range of the restored values (None if nothing was restored).
    first: int | None = None
    last: int | None = None
    #: Checkpoint files that could not be read, with the reason.
    failed: list[tuple[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        """One line for the log."""
        if self.first is None or self.last is None:
            return f"restored nothing from {self.files} checkpoint files"
        return (
            f"restored {self.series} series of {self.hosts} hosts ({self.values} values) from "
            f"{self.files} checkpoint files, covering {_iso(self.first)} to {_iso(self.last)}"
        )


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
