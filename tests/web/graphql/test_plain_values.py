"""The executor of ``/query`` reads plain values without resolver calls, and answers exactly
as graphql-core's own executor does: the same data and the same errors, at the same paths."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import ExecutionResult, build_schema, graphql

from cc_backend.web.graphql.executor import PlainValueExecutor

SCHEMA = build_schema(
    """
    enum Color { RED GREEN }
    type Sub { x: Int! y: String }
    type Item {
      s: String i: Int b: Boolean f: Float id: ID c: Color n: Int!
      sub: Sub subs: [Sub!] tags: [String]
    }
    type Query { items: [Item] }
    """
)

QUERY = "{ items { s i b f id c n sub { x y } subs { x } tags alias: s } }"

PLAIN = {
    "s": "a",
    "i": 3,
    "b": True,
    "f": 1.5,
    "id": "7",
    "c": "RED",
    "n": 1,
    "sub": {"x": 1, "y": "z"},
    "subs": [{"x": 2}, {"x": 3, "y": None}],
    "tags": ["t", None],
}


class Counting(PlainValueExecutor):
    """Counts the fields left to graphql-core's own field execution."""

    executed = 0

    def execute_field(self, *args: Any, **kwargs: Any) -> Any:
        type(self).executed += 1
        return super().execute_field(*args, **kwargs)


def _shape(result: ExecutionResult) -> tuple[Any, list[tuple[str, list[str | int] | None]]]:
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


async def _both(root: dict[str, Any]) -> tuple[Any, Any]:
    ours = await graphql(SCHEMA, QUERY, root_value=root, executor_class=Counting)
    theirs = await graphql(SCHEMA, QUERY, root_value=root)
    return _shape(ours), _shape(theirs)


async def test_plain_values_are_read_without_executing_any_field() -> None:
    Counting.executed = 0

    ours, theirs = await _both({"items": [PLAIN, dict(PLAIN, s="b")]})

    assert ours == theirs
    assert ours[0]["items"][0] == {**PLAIN, "subs": [{"x": 2}, {"x": 3}], "alias": "a"}
    assert Counting.executed == 0


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"i": 2**31}, id="int beyond Int's range"),
        pytest.param({"i": -(2**31)}, id="int at Int's lower bound"),
        pytest.param({"i": True}, id="bool in an Int"),
        pytest.param({"i": 2.0}, id="whole float in an Int"),
        pytest.param({"i": "3"}, id="text in an Int"),
        pytest.param({"s": 5}, id="int in a String"),
        pytest.param({"b": 1}, id="int in a Boolean"),
        pytest.param({"id": 7}, id="int in an ID"),
        pytest.param({"f": math.nan}, id="NaN in a Float"),
        pytest.param({"f": 2}, id="int in a Float"),
        pytest.param({"c": "BLUE"}, id="unknown enum value"),
        pytest.param({"n": None}, id="null in a non-null field"),
        pytest.param({"sub": {"x": None}}, id="null in a non-null field of a child"),
        pytest.param({"subs": [{"x": 1}, None]}, id="null item of a non-null list"),
        pytest.param({"tags": "t"}, id="text where a list belongs"),
        pytest.param({"s": lambda _info: "called"}, id="callable value"),
        pytest.param({"sub": SimpleNamespace(x=4, y="w")}, id="object with attributes"),
        pytest.param({"s": ValueError("broken")}, id="exception as value"),
    ],
)
async def test_other_values_give_what_graphql_core_gives(changes: dict[str, Any]) -> None:
    ours, theirs = await _both({"items": [PLAIN, {**PLAIN, **changes}]})

    assert ours == theirs


async def test_a_missing_key_reads_as_null() -> None:
    item = {k: v for k, v in PLAIN.items() if k not in ("s", "sub")}

    ours, theirs = await _both({"items": [item]})

    assert ours == theirs
    assert ours[0]["items"][0]["s"] is None
    assert ours[0]["items"][0]["sub"] is None
