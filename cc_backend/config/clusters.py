"""The ``clusters`` section: metric data source and UI filter ranges of each cluster."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self, get_args

from pydantic import ConfigDict, Field, SecretStr, StringConstraints, model_validator

from cc_backend.config.base import ConfigModel, Problem, squash
from cc_backend.config.fields import (
    OptionalSecret,
    OptionalTimestamp,
    Timestamp,
    one_of,
)

__all__ = [
    "METRIC_STORE_KINDS",
    "ClusterConfig",
    "FilterRanges",
    "IntRange",
    "MetricDataRepository",
    "MetricStoreKind",
    "TimeRange",
]

MetricStoreKind = Literal[
    "cc-metric-store", "cc-metric-store-internal", "prometheus", "influxdb", "test"
]
METRIC_STORE_KINDS: tuple[str, ...] = get_args(MetricStoreKind)
_NEEDS_URL = {"cc-metric-store", "prometheus", "influxdb"}
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "accesskey", "credential")


def looks_secret(key: str) -> bool:
    """Whether a backend-specific key probably holds a credential (and must be hidden)."""
    squashed = squash(key)
    return any(word in squashed for word in _SECRET_WORDS)


class MetricDataRepository(ConfigModel):
    """Where the metric data of running jobs comes from.

    Besides ``kind``, ``url`` and ``token``, each kind may take keys of its own (e.g.
    Prometheus' ``username``/``password``/``templates``); these are kept in ``model_extra``,
    with string values of credential-like keys wrapped in :class:`~pydantic.SecretStr`.
    """

    model_config = ConfigDict(extra="allow")

    kind: Annotated[MetricStoreKind, one_of("metric data repository kind", MetricStoreKind)] = (
        Field(
            default="cc-metric-store-internal",
            description="Backend: cc-metric-store, cc-metric-store-internal (built in), "
            "prometheus, influxdb or test.",
        )
    )
    url: str | None = Field(default=None, description="Base URL of an external metric store.")
    token: OptionalSecret = Field(
        default=None, description="Token (JWT) sent to an external metric store."
    )

    @classmethod
    def check_input(cls, data: dict[str, Any]) -> list[Problem]:
        """External metric stores need a URL."""
        kind = data.get("kind", "cc-metric-store-internal")
        if kind in _NEEDS_URL and not data.get("url"):
            return [("url", f"required when kind is '{kind}'")]
        return []

    @model_validator(mode="after")
    def _hide_extra_secrets(self) -> Self:
        extra = self.__pydantic_extra__ or {}
        for key, value in extra.items():
            if isinstance(value, str) and looks_secret(key):
                extra[key] = SecretStr(value)
        return self


class IntRange(ConfigModel):
    """An inclusive integer range of a UI slider."""

    from_: int = Field(alias="from", description="Lower end of the range.")
    to: int = Field(description="Upper end of the range.")

    @classmethod
    def check_input(cls, data: dict[str, Any]) -> list[Problem]:
        """``from`` must not exceed ``to``."""
        low, high = data.get("from"), data.get("to")
        if type(low) is int and type(high) is int and low > high:
            return [("to", f"must not be smaller than from ({low})")]
        return []


class TimeRange(ConfigModel):
    """A range of start times; an open upper end (``null``) means "until now"."""

    from_: Timestamp = Field(alias="from", description="Earliest start time (RFC 3339).")
    to: OptionalTimestamp = Field(
        default=None, description="Latest start time (RFC 3339), or null for now."
    )
    range: str | None = Field(
        default=None, description="Named relative range instead of from/to (cc-backend 1.5)."
    )


class FilterRanges(ConfigModel):
    """Slider ranges of the job list filters in the web UI."""

    num_nodes: IntRange | None = Field(
        default=None, alias="numNodes", description="Range of the number-of-nodes filter."
    )
    duration: IntRange | None = Field(
        default=None, description="Range of the job duration filter, in seconds."
    )
    start_time: TimeRange | None = Field(
        default=None, alias="startTime", description="Range of the start time filter."
    )


class ClusterConfig(ConfigModel):
    """One entry of ``clusters``."""

    name: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="Cluster name, as in the job archive's cluster.json."
    )
    metric_data_repository: MetricDataRepository = Field(
        default_factory=dict,
        validate_default=True,
        alias="metricDataRepository",
        description="Source of the metric data of running jobs (default: the built-in store).",
    )
    filter_ranges: FilterRanges | None = Field(
        default=None, alias="filterRanges", description="Slider ranges of the UI's job filters."
    )
