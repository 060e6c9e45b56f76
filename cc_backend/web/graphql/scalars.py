"""The custom scalars of the schema: how their values are written and read.

- ``Time``: RFC 3339 text. Written in UTC (``2024-05-01T12:00:00Z``) from a Unix time or an
  aware ``datetime``; read from text with a time zone (``Z`` or ``+02:00``), up to
  nanoseconds, into an aware ``datetime``.
- ``Any``: any JSON value, unchanged both ways.
- ``NullableFloat``: a float; NaN and infinities are written as ``null`` (also inside
  non-null lists, as cc-backend does).
- ``MetricScope``, ``JobState``, ``SchedulerState``, ``MonitoringState``: the lower-case
  (``memoryDomain``) names of the domain enums. Reading checks the name and ignores case;
  writing accepts the enum or its name.

A value that cannot be read raises ``ValueError``; graphql-core reports it to the client as
an invalid argument or variable.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ariadne import ScalarType
from graphql import StringValueNode, ValueNode

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.job import JobState
from cc_backend.repository.nodes import HealthState, SchedulerState

__all__ = ["SCALARS", "format_time", "parse_time"]

#: RFC 3339 date-time: date, ``T`` (or space), time, optional fraction, zone.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def format_time(value: int | float | datetime) -> str:
    """``value`` (Unix seconds or an aware datetime) as RFC 3339 text in UTC."""
    moment = (
        value.astimezone(UTC) if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)
    )
    return moment.isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime:
    """RFC 3339 text as an aware datetime (fractions beyond microseconds are dropped)."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(f"Time must be RFC 3339 text such as 2024-05-01T12:00:00Z, not {value!r}")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise ValueError(f"not a valid date and time: {value!r}") from None


def _literal(parse: Callable[[Any], Any]) -> Callable[..., Any]:
    """A literal parser for scalars written as strings in the query text."""

    def parse_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
        if not isinstance(node, StringValueNode):
            raise ValueError("a string is expected")
        return parse(node.value)

    return parse_literal


def _serialize_float(value: Any) -> float | None:
    # A non-finite float is passed on as it is: graphql-core refuses ``None`` in a non-null
    # position (``[NullableFloat!]!`` holds gaps as null in cc-backend's answers), and the
    # handler's JSON encoder (orjson) writes NaN and infinities as ``null``.
    if value is None:
        return None
    return float(value)


def _parse_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a number or null is expected, not {value!r}")
    return float(value)


def _enum_scalar(name: str, kind: type[enum.StrEnum]) -> ScalarType:
    """A scalar holding the values of ``kind``, read case-insensitively."""
    by_folded = {member.value.casefold(): member for member in kind}

    def parse(value: Any) -> str:
        member = by_folded.get(value.casefold()) if isinstance(value, str) else None
        if member is None:
            known = ", ".join(m.value for m in kind)
            raise ValueError(f"{value!r} is no {name} (known: {known})")
        return member.value

    def serialize(value: Any) -> str:
        return value.value if isinstance(value, enum.Enum) else str(value)

    return ScalarType(
        name, serializer=serialize, value_parser=parse, literal_parser=_literal(parse)
    )


def _parse_float_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Any:
    raw = getattr(node, "value", None)
    if raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ValueError("a number is expected") from None


time_scalar = ScalarType(
    "Time",
    serializer=format_time,
    value_parser=parse_time,
    literal_parser=_literal(parse_time),
)

any_scalar = ScalarType("Any")

nullable_float_scalar = ScalarType(
    "NullableFloat",
    serializer=_serialize_float,
    value_parser=_parse_float,
    literal_parser=_parse_float_literal,
)

#: Every custom scalar, for the executable schema.
SCALARS: tuple[ScalarType, ...] = (
    time_scalar,
    any_scalar,
    nullable_float_scalar,
    _enum_scalar("MetricScope", MetricScope),
    _enum_scalar("JobState", JobState),
    _enum_scalar("SchedulerState", SchedulerState),
    _enum_scalar("MonitoringState", HealthState),
)
