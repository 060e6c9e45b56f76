"""The SQL the job list sends: no repeated conditions, values always bound."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.domain.filters import JobFilter
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository


@pytest.fixture
def statements(empty_db: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (SQL text, parameters) sent while the fixture is active."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    sa.event.listen(empty_db.engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(empty_db.engine, "before_cursor_execute", record)


def test_a_users_own_filter_is_not_repeated_by_the_visibility_rule(
    empty_db: Database, statements: list[tuple[str, Any]]
) -> None:
    bob = User.build("bob", ["user"])
    own = JobFilter.model_validate({"user": {"eq": "bob"}})

    JobRepository(empty_db).query([own], actor=bob, with_count=True)

    page_sql, count_sql = (s for s, _ in statements[-2:])
    assert page_sql.count("hpc_user =") == 1
    assert count_sql.count("hpc_user =") == 1


def test_filter_values_never_appear_in_the_sql_text(
    empty_db: Database, statements: list[tuple[str, Any]]
) -> None:
    hostile = "x' OR '1'='1"
    jobs = JobRepository(empty_db)
    jobs.query(
        [
            JobFilter.model_validate(
                {
                    "user": {"contains": hostile},
                    "project": {"in": [hostile]},
                    "jobName": {"eq": hostile},
                    "node": {"startsWith": hostile},
                }
            )
        ],
        actor=User.build("admin", ["admin"]),
    )
    assert statements
    assert all("'1'='1" not in sql for sql, _ in statements)
