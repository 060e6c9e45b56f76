"""Job metric data: the content of a job archive's ``data.json`` and meta.json statistics.

Time series are held as numpy ``float64`` arrays. A JSON ``null`` (a missing sample) is
NaN in memory and is written back as ``null``. Models holding arrays compare NaN-aware:
two series are equal if their samples are equal and their gaps are in the same places.
``model_dump(mode="json")`` and ``to_dict()`` give plain JSON data; a Python-mode dump
keeps the arrays (that is what ``to_json`` hands to orjson).

Samples are written with full precision (cc-backend rounds them to two decimals), so
that reading back what was written gives equal data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, ItemsView, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import numpy as np
import orjson
from numpy.typing import NDArray
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    RootModel,
    SerializationInfo,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.alias_generators import to_camel

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import MetricStatistics as MetaStatistics
from cc_backend.domain.units import Unit

__all__ = [
    "FloatArray",
    "JobData",
    "JobMetric",
    "JobStatistics",
    "MetricStatistics",
    "NullableFloat",
    "Series",
    "StatsSeries",
]

_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _as_float_array(value: Any) -> NDArray[np.float64]:
    """A 1-d contiguous float64 array from a list (None -> NaN) or an array."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype=np.float64)
    elif isinstance(value, list | tuple):
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("samples must be numbers or null") from None
    else:
        raise ValueError(f"expected a list of numbers, got {type(value).__name__}")
    if array.ndim != 1:
        raise ValueError("samples must form a flat list")
    return array


def _dump_float_array(value: NDArray[np.float64], info: SerializationInfo) -> Any:
    if info.mode_is_json():
        return [None if math.isnan(x) else x for x in value.tolist()]
    return value


def _null_to_nan(value: Any) -> Any:
    return math.nan if value is None else value


def _dump_nullable(value: float, info: SerializationInfo) -> float | None:
    if info.mode_is_json() and math.isnan(value):
        return None
    return value


#: A series of samples; JSON ``null`` <-> NaN.
FloatArray = Annotated[
    NDArray[np.float64],
    PlainValidator(_as_float_array),
    PlainSerializer(_dump_float_array),
    WithJsonSchema({"type": "array", "items": {"type": ["number", "null"]}}),
]
#: A float that JSON ``null`` reads as NaN and that NaN writes as ``null``.
NullableFloat = Annotated[float, BeforeValidator(_null_to_nan), PlainSerializer(_dump_nullable)]


def _int_to_str(value: Any) -> Any:
    """Older archives wrote scope ids as numbers."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _extreme(values: list[float], pick: Any) -> float:
    """``pick`` (min or max) of the non-NaN ``values``; NaN if there are none."""
    present = [v for v in values if not math.isnan(v)]
    return float(pick(present)) if present else math.nan


def _same(a: NDArray[np.float64] | None, b: NDArray[np.float64] | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, arbitrary_types_allowed=True
    )


_M = TypeVar("_M", bound=_Model)


def trusted_model(cls: type[_M], fields: dict[str, Any]) -> _M:
    """An instance of ``cls`` holding ``fields`` (every field, by name) as they are.

    What pydantic's ``model_construct`` does for a model without defaults to fill in,
    extra fields or private attributes, without its per-field bookkeeping, which costs
    more than validating these small models. For values this project computed itself.
    """
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    object.__setattr__(instance, "__pydantic_fields_set__", set(fields))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


class MetricStatistics(_Model):
    """Average, minimum and maximum of one series over time."""

    avg: NullableFloat
    min: NullableFloat
    max: NullableFloat

    @classmethod
    def of(cls, samples: NDArray[np.float64]) -> MetricStatistics:
        """Statistics of ``samples``, ignoring NaN gaps (all NaN if there is no sample)."""
        present = samples[~np.isnan(samples)]
        if present.size == 0:
            return cls(avg=math.nan, min=math.nan, max=math.nan)
        low, high = float(present.min()), float(present.max())
        with np.errstate(over="ignore"):
            avg = float(present.mean())
        if math.isinf(avg):  # the sum overflowed: average the values scaled down instead
            scale = max(abs(low), abs(high))
            avg = float((present / scale).mean()) * scale
        return cls(avg=avg, min=low, max=high)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricStatistics):
            return NotImplemented
        return all(_same_float(getattr(self, f), getattr(other, f)) for f in ("avg", "min", "max"))

    __hash__ = None  # type: ignore[assignment]


class Series(_Model):
    """The samples of one host (and, below node scope, one socket/core/... id).

    A series read without ``statistics`` gets them computed from its samples, so that
    every series written back carries them as the schema requires.
    """

    hostname: str
    id: Annotated[str | None, BeforeValidator(_int_to_str)] = None
    statistics: MetricStatistics
    data: FloatArray

    @classmethod
    def trusted(
        cls,
        hostname: str,
        id: str | None,
        statistics: MetricStatistics,
        data: NDArray[np.float64],
    ) -> Series:
        """A series built from parts this project's own code made (e.g. a metric store's
        answer), without validating or copying them: ``data`` is kept as it is, and
        ``statistics`` are taken to be those of ``data``.

        Only the array's form is checked (ValueError unless it is one-dimensional,
        contiguous float64). Anything read from outside (files, requests) goes through
        :meth:`model_validate` instead.
        """
        if data.dtype != np.float64 or data.ndim != 1 or not data.flags.c_contiguous:
            raise ValueError("series data must be a flat, contiguous float64 array")
        return trusted_model(
            cls, {"hostname": hostname, "id": id, "statistics": statistics, "data": data}
        )

    @model_validator(mode="before")
    @classmethod
    def _fill_statistics(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and value.get("statistics") is None and "data" in value:
            samples = _as_float_array(value["data"])
            value = {**value, "data": samples, "statistics": MetricStatistics.of(samples)}
        return value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return (
            self.hostname == other.hostname
            and self.id == other.id
            and self.statistics == other.statistics
            and _same(self.data, other.data)
        )

    __hash__ = None  # type: ignore[assignment]


class StatsSeries(_Model):
    """Per-time-step statistics across all series of a metric (for many-node jobs)."""

    mean: FloatArray | None = None
    median: FloatArray | None = None
    min: FloatArray | None = None
    max: FloatArray | None = None
    percentiles: dict[int, FloatArray] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StatsSeries):
            return NotImplemented
        mine, theirs = self.percentiles or {}, other.percentiles or {}
        return (
            all(
                _same(getattr(self, f), getattr(other, f)) for f in ("mean", "median", "min", "max")
            )
            and (self.percentiles is None) == (other.percentiles is None)
            and mine.keys() == theirs.keys()
            and all(_same(mine[p], theirs[p]) for p in mine)
        )

    __hash__ = None  # type: ignore[assignment]


class JobMetric(_Model):
    """All series of one metric at one scope, with their unit and time step (seconds)."""

    unit: Unit
    timestep: int
    series: list[Series]
    statistics_series: StatsSeries | None = None

    def series_of(self, hostname: str) -> list[Series]:
        """The series measured on ``hostname``, in stored order."""
        return [s for s in self.series if s.hostname == hostname]


@dataclass(frozen=True, slots=True)
class SeriesStatistics:
    """Statistics of one series of a job: one host and, below node scope, one scope id."""

    hostname: str
    id: str | None
    avg: float
    min: float
    max: float


#: Per-series statistics of a job: metric -> scope -> one entry per series.
ScopedStatistics = dict[str, dict[MetricScope, list[SeriesStatistics]]]


class JobStatistics(_Model):
    """One metric's job-wide statistics, as in meta.json ``statistics``."""

    unit: Unit
    avg: NullableFloat
    min: NullableFloat
    max: NullableFloat


def job_statistics_of(
    node_statistics: Sequence[MetricStatistics], unit: Unit, num_nodes: int
) -> JobStatistics:
    """A metric's job-wide statistics from the statistics of its node-scope series, as
    cc-backend derives them: ``avg`` is the sum of the series averages divided by
    ``num_nodes`` (rounded to two digits), ``min``/``max`` the extremes of the series."""
    if num_nodes < 1:
        raise InvalidInput(f"num_nodes must be positive, got {num_nodes}")
    return JobStatistics(
        unit=unit,
        avg=round(sum(s.avg for s in node_statistics) / num_nodes, 2),
        min=_extreme([s.min for s in node_statistics], min),
        max=_extreme([s.max for s in node_statistics], max),
    )


class JobData(RootModel[dict[str, dict[MetricScope, JobMetric]]]):
    """The metric data of a job: metric name -> scope -> :class:`JobMetric`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @classmethod
    def from_json(
        cls, data: bytes | str | Mapping[str, Any], metrics: Collection[str] | None = None
    ) -> JobData:
        """Read a data.json document (bytes, text or parsed); InvalidInput if invalid.

        With ``metrics``, only those metrics are read (names the document lacks are
        skipped) and only they must be valid: the rest of the document is parsed as JSON,
        never validated.
        """
        try:
            obj = data if isinstance(data, Mapping) else orjson.loads(data)
            if metrics is not None and isinstance(obj, Mapping):
                obj = {name: obj[name] for name in metrics if name in obj}
            return cls.model_validate(obj)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"job data is not valid JSON: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:10]
            )
            raise InvalidInput(f"invalid job data: {problems}") from None

    def to_json(self) -> bytes:
        """The data.json document as UTF-8 JSON (NaN written as ``null``)."""
        return orjson.dumps(self.model_dump(by_alias=True, exclude_none=True), option=_JSON_OPTIONS)

    def to_dict(self) -> dict[str, Any]:
        """The data.json document as plain JSON data."""
        result: dict[str, Any] = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return result

    def __len__(self) -> int:
        return len(self.root)

    def __contains__(self, metric: object) -> bool:
        return metric in self.root

    def __getitem__(self, metric: str) -> dict[MetricScope, JobMetric]:
        try:
            return self.root[metric]
        except KeyError:
            raise NotFound(f"no data for metric {metric!r}") from None

    def metrics(self) -> Iterator[str]:
        """The metric names, in stored order."""
        return iter(self.root)

    def items(self) -> ItemsView[str, dict[MetricScope, JobMetric]]:
        """Pairs of metric name and its scopes."""
        return self.root.items()

    def get(self, metric: str, scope: MetricScope) -> JobMetric:
        """The data of ``metric`` at ``scope`` (NotFound if absent)."""
        scopes = self[metric]
        if scope not in scopes:
            raise NotFound(f"no data for metric {metric!r} at scope {scope}")
        return scopes[scope]

    def meta_statistics(self, num_nodes: int) -> dict[str, MetaStatistics]:
        """:meth:`job_statistics` as a job's meta.json ``statistics`` hold them (the unit
        as ``{base, prefix}``); metrics whose statistics are not finite are left out."""
        return {
            name: MetaStatistics(
                unit=stats.unit.model_dump(exclude_none=True),
                avg=stats.avg,
                min=stats.min,
                max=stats.max,
            )
            for name, stats in self.job_statistics(num_nodes).items()
            if all(math.isfinite(v) for v in (stats.avg, stats.min, stats.max))
        }

    def job_statistics(self, num_nodes: int) -> dict[str, JobStatistics]:
        """The meta.json ``statistics`` cc-backend derives when it archives a job.

        From each metric's node-scope series: ``avg`` is the sum of the series averages
        divided by ``num_nodes`` (rounded to two digits), ``min``/``max`` the extremes of
        the series minima/maxima. Metrics without node-scope data are left out.
        """
        if num_nodes < 1:
            raise InvalidInput(f"num_nodes must be positive, got {num_nodes}")
        result: dict[str, JobStatistics] = {}
        for metric, scopes in self.root.items():
            node = scopes.get(MetricScope.NODE)
            if node is None or not node.series:
                continue
            stats = [s.statistics for s in node.series]
            result[metric] = job_statistics_of(stats, node.unit, num_nodes)
        return result
