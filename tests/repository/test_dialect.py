"""What :mod:`cc_backend.repository.dialect` promises alike on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.schema import hpc_user, tag


def _matching(db: Database, column: sa.Column[Any], values: list[Any]) -> list[Any]:
    """The values of ``column`` that are in the JSON list ``values``, sorted."""
    condition = dialect.in_json_list(column, "values", db.dialect)
    query = sa.select(column).where(condition).order_by(column)
    with db.engine.connect() as conn:
        found = conn.execute(query, {"values": dialect.json_list(values)})
        return list(found.scalars())


def test_a_json_list_matches_integers_and_text(empty_db: Database) -> None:
    names = ["ann", "o'brien", 'say "hi"', "zoë", "100"]
    with empty_db.engine.begin() as conn:
        conn.execute(sa.insert(hpc_user), [{"username": n} for n in names])
        conn.execute(
            sa.insert(tag), [{"id": i, "tag_type": "t", "tag_name": f"n{i}"} for i in (1, 2, 3)]
        )

    assert _matching(empty_db, hpc_user.c.username, ["zoë", "o'brien", 'say "hi"', "bob"]) == [
        "o'brien",
        'say "hi"',
        "zoë",
    ]
    assert _matching(empty_db, tag.c.id, [3, 1, 7]) == [1, 3]
    assert _matching(empty_db, hpc_user.c.username, ["100"]) == ["100"]
    assert _matching(empty_db, tag.c.id, []) == []


def test_a_json_list_takes_more_values_than_a_statement_may_bind(empty_db: Database) -> None:
    names = [f"user{n:05d}" for n in range(40_000)]  # SQLite binds at most 32,766 values
    with empty_db.engine.begin() as conn:
        conn.execute(sa.insert(hpc_user), [{"username": n} for n in names[::1000]])

    assert _matching(empty_db, hpc_user.c.username, names) == names[::1000]
