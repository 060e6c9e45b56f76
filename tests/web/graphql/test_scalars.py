"""The custom scalars: RFC 3339 times, NaN as null, the enum-like string scalars."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from graphql import GraphQLScalarType, StringValueNode

from cc_backend.web.graphql.scalars import format_time, parse_time
from cc_backend.web.graphql.schema import executable_schema


def _scalar(name: str) -> GraphQLScalarType:
    """The scalar as bound into the executable schema."""
    found = executable_schema().type_map[name]
    assert isinstance(found, GraphQLScalarType)
    return found


def test_times_are_written_in_utc_rfc_3339() -> None:
    assert format_time(1_700_000_000) == "2023-11-14T22:13:20Z"
    berlin = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(berlin) == "2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T12:00:00.123456789Z", datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        ("2024-05-01t12:00:00z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
    ],
)
def test_rfc_3339_times_are_read_with_their_zone(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "value", ["2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z", "", 1_700_000_000, None]
)
def test_anything_else_is_no_time(value: object) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|not a valid date"):
        parse_time(value)


def test_a_time_literal_in_the_query_text_is_read_too() -> None:
    assert _scalar("Time").parse_literal(StringValueNode(value="2024-05-01T12:00:00Z")) == datetime(
        2024, 5, 1, 12, tzinfo=UTC
    )


def test_nan_and_infinities_are_written_as_null() -> None:
    serialize = _scalar("NullableFloat").serialize
    values = [serialize(v) for v in (1.5, 2, math.nan, math.inf, -math.inf, None)]

    # Non-finite values stay floats (graphql-core refuses None inside [NullableFloat!]!);
    # the response encoder writes them as null.
    assert orjson.loads(orjson.dumps(values)) == [1.5, 2.0, None, None, None, None]


def test_nullable_floats_read_numbers_and_null_only() -> None:
    parse = _scalar("NullableFloat").parse_value
    assert parse(3) == 3.0
    assert parse(None) is None
    for bad in ("1.0", True, [1]):
        with pytest.raises(ValueError, match="a number or null"):
            parse(bad)


@pytest.mark.parametrize(
    ("scalar", "given", "read"),
    [
        ("JobState", "RUNNING", "running"),
        ("JobState", "out_of_memory", "out_of_memory"),
        ("MetricScope", "memorydomain", "memoryDomain"),
        ("SchedulerState", "Idle", "idle"),
        ("MonitoringState", "FULL", "full"),
    ],
)
def test_enum_like_scalars_ignore_case_and_read_the_canonical_name(
    scalar: str, given: str, read: str
) -> None:
    parse = _scalar(scalar).parse_value
    assert parse(given) == read


@pytest.mark.parametrize(
    ("scalar", "given"),
    [("JobState", "sleeping"), ("MetricScope", "rack"), ("SchedulerState", 3)],
)
def test_an_unknown_name_lists_the_known_ones(scalar: str, given: object) -> None:
    parse = _scalar(scalar).parse_value
    with pytest.raises(ValueError, match="known: "):
        parse(given)
