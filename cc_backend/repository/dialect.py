"""Everything that differs between SQLite and PostgreSQL, in one place.

Query code asks this module for JSON access, "any element of a JSON array matches" and
planner maintenance; it never writes dialect-specific SQL itself.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from cc_backend.domain.filters import check_metric_name


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def json_field(column: sa.ColumnElement[Any], key: str, dialect: str) -> sa.ColumnElement[Any]:
    """The value at top-level ``key`` of a JSON text column (``NULL`` when absent).

    ``key`` is validated (letters, digits, ``_``) before it reaches the JSON path, and the
    path itself is a bound parameter.
    """
    check_metric_name(key)
    extracted: sa.ColumnElement[Any]
    if dialect == "postgresql":
        extracted = sa.cast(column, sa.JSON)[key].as_string()
    else:
        extracted = sa.func.json_extract(column, f"$.{key}")
    return extracted


def json_number(column: sa.ColumnElement[Any], key: str, dialect: str) -> sa.ColumnElement[Any]:
    """Like :func:`json_field`, typed as a number for comparisons and sorting."""
    check_metric_name(key)
    if dialect == "postgresql":
        return sa.cast(sa.cast(column, sa.JSON)[key].as_string(), sa.Float)
    return sa.type_coerce(sa.func.json_extract(column, f"$.{key}"), sa.Float)


def json_array_any(
    column: sa.ColumnElement[Any],
    key: str,
    predicate: Any,
    dialect: str,
) -> sa.ColumnElement[bool]:
    """``EXISTS`` an element of the JSON array ``column`` whose ``key`` satisfies ``predicate``.

    ``predicate`` is a callable taking the element's value expression and returning a
    boolean SQL expression (e.g. ``lambda v: v == "f0101"``).
    """
    check_metric_name(key)
    if dialect == "postgresql":
        element = sa.func.jsonb_array_elements(sa.cast(column, postgresql.JSONB))
        elements = element.table_valued("value").alias("res")
        value: sa.ColumnElement[Any] = elements.c.value.op("->>")(key)
    else:
        elements = sa.func.json_each(column).table_valued("value").alias("res")
        value = sa.func.json_extract(elements.c.value, f"$.{key}")
    return sa.exists(sa.select(1).select_from(elements).where(predicate(value)))


def refresh_planner_statistics(bind: Engine | Connection) -> None:
    """Bring the query planner's statistics up to date.

    Without them SQLite picks the wrong index for user filters on large job tables
    (a page that takes half a millisecond can take hundreds).
    """
    with bind.connect() if isinstance(bind, Engine) else _nullcontext(bind) as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
            conn.exec_driver_sql("PRAGMA optimize")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()


class _nullcontext:  # noqa: N801 - mirrors contextlib.nullcontext, typed for Connection
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        return None
