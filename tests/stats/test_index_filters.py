"""The SQL that index_filters writes: values bound, never spliced into the text."""

from __future__ import annotations

from typing import Any

import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.stats.index_filters import filter_sql


def sql_of(raw: dict[str, Any], footprints: tuple[str, ...] = ("flops_any_avg",)) -> Any:
    return filter_sql([JobFilter.model_validate(raw)], footprints, now=1_000_000)


def test_no_filter_is_true() -> None:
    result = filter_sql([])
    assert (result.where(), result.params) == ("true", {})


@pytest.mark.parametrize(
    ("raw", "fragment", "values"),
    [
        ({"user": {"eq": "a' OR 1=1"}}, "user = $f0", ["a' OR 1=1"]),
        ({"project": {"startsWith": "x%"}}, "starts_with(lower(project), lower($f0))", ["x%"]),
        ({"cluster": {"in": ["a", "b"]}}, "cluster IN ($f0, $f1)", ["a", "b"]),
        ({"jobId": {"eq": "17"}}, "job_id = $f0", [17]),
        ({"duration": {"from": 60, "to": 0}}, "duration >= $f0", [60]),
        ({"numNodes": {"from": 1, "to": 4}}, "num_nodes BETWEEN $f0 AND $f1", [1, 4]),
        ({"startTime": {"range": "last6h"}}, "start_time >= $f0", [1_000_000 - 6 * 3600]),
        ({"minRunningFor": 100}, "start_time < $f0", [1_000_000 - 100]),
        ({"state": ["RUNNING"]}, "state IN ($f0)", ["running"]),
        ({"tags": [3]}, "list_has_any(tag_ids, $f0::BIGINT[])", [[3]]),
        ({"node": {"eq": "n1"}}, "list_contains(hostnames, $f0)", ["n1"]),
        ({"node": {"contains": "N"}}, "lambda h: contains(lower(h), lower($f0))", ["N"]),
        (
            {"metricStats": [{"metricName": "flops_any_avg", "range": {"from": 1, "to": 2}}]},
            "fp_flops_any_avg BETWEEN $f0 AND $f1",
            [1, 2],
        ),
    ],
)
def test_values_are_bound(raw: dict[str, Any], fragment: str, values: list[Any]) -> None:
    result = sql_of(raw)
    assert fragment in result.where()
    assert list(result.params.values()) == values
    for value in values:
        if isinstance(value, str):
            assert value not in result.where()


@pytest.mark.parametrize(
    "raw",
    [
        {"user": {"in": []}},
        {"tags": []},
        {"node": {"in": []}},
        {"metricStats": [{"metricName": "unknown_avg", "range": {"from": 1, "to": 2}}]},
    ],
)
def test_filters_that_match_nothing(raw: dict[str, Any]) -> None:
    result = sql_of(raw)
    assert (result.where(), result.params) == ("(false)", {})


def test_empty_footprint_range_is_rejected_even_without_a_column() -> None:
    raw = {"metricStats": [{"metricName": "unknown_avg", "range": {"from": 3, "to": 2}}]}
    with pytest.raises(InvalidInput, match="empty"):
        sql_of(raw)


def test_an_operatorless_string_input_restricts_nothing() -> None:
    assert sql_of({"user": {}, "node": {}}).where() == "true"
