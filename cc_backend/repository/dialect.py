"""Everything that differs between SQLite and PostgreSQL, in one place.

Query code asks this module for JSON access, "any element of a JSON array matches", text
patterns, sort keys and planner maintenance; it never writes dialect-specific SQL itself.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
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


def in_json_list(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    """``column`` is one of the values of the JSON array bound to the parameter ``name``
    (its value: :func:`json_list`).

    One parameter however long the list, so the statement's text stays the same for any
    number of values (it can be compiled once, see :class:`~.prepared.Prepared`) and no
    limit on bound parameters applies. The elements are compared as ``column``'s type.
    """
    parameter = sa.bindparam(name, type_=sa.String)
    values: sa.Select[Any]
    if dialect == "postgresql":
        element = sa.func.json_array_elements_text(sa.cast(parameter, sa.JSON))
        values = sa.select(sa.cast(element, column.type))
    else:
        values = sa.select(sa.column("value")).select_from(sa.func.json_each(parameter))
    return column.in_(values.scalar_subquery())


def json_list(values: Iterable[str | int]) -> str:
    """The parameter value of :func:`in_json_list` for ``values``."""
    return orjson.dumps(list(values)).decode()


#: How a text pattern is anchored: anywhere, at the start or at the end of the value.
PatternKind = Literal["contains", "startswith", "endswith"]


def like(
    column: sa.ColumnElement[Any], kind: PatternKind, text: str, dialect: str
) -> sa.ColumnElement[bool]:
    """``column`` contains, starts with or ends with ``text``, ignoring the case of ASCII letters.

    ``%``, ``_`` and ``/`` in ``text`` match literally. SQLite's ``LIKE`` ignores ASCII case
    (which is what cc-backend's filters do); PostgreSQL's is case-sensitive, so ``ILIKE`` is
    used there (it also folds letters beyond ASCII).
    """
    fold = dialect == "postgresql"
    if kind == "contains":
        if fold:
            return column.icontains(text, autoescape=True)
        return column.contains(text, autoescape=True)
    if kind == "startswith":
        if fold:
            return column.istartswith(text, autoescape=True)
        return column.startswith(text, autoescape=True)
    if fold:
        return column.iendswith(text, autoescape=True)
    return column.endswith(text, autoescape=True)


def sort_key(
    expression: sa.ColumnElement[Any],
    *,
    descending: bool,
    dialect: str,
    nullable: bool = True,
    nulls_last: bool = False,
) -> sa.ColumnElement[Any]:
    """An ``ORDER BY`` item that places ``NULL`` the same way on every database.

    ``NULL`` sorts before every value (SQLite's rule: first ascending, last descending;
    PostgreSQL's default is the opposite), or after every value in both directions with
    ``nulls_last``. No ``NULLS`` clause is written where it changes nothing (SQLite, or an
    expression that is never ``NULL``), so PostgreSQL can still read an index backwards for a
    descending sort.
    """
    ordered = expression.desc() if descending else expression.asc()
    if nulls_last:
        return ordered.nulls_last()
    if dialect == "sqlite" or not nullable:
        return ordered
    return ordered.nulls_last() if descending else ordered.nulls_first()


def refresh_planner_statistics(bind: Engine | Connection) -> None:
    """Recompute the query planner's statistics over all rows (after bulk imports).

    Without them SQLite picks the wrong index for user filters on large job tables (a
    page that takes half a millisecond can take hundreds). Sampled statistics are not
    enough either: they put every cluster at about a thousand jobs.
    """
    with _connection(bind) as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=0")
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()


#: Relative change of the job count after which SQLite's statistics count as stale.
STALE_FRACTION = 0.2
#: Below this many jobs of difference the statistics never count as stale.
STALE_MIN_ROWS = 1000


def planner_statistics_stale(bind: Engine | Connection) -> bool:
    """Whether the planner statistics of the job table are missing or out of date.

    PostgreSQL's autovacuum keeps its own statistics; for SQLite the row count recorded
    by the last ``ANALYZE`` is compared with the current one.
    """
    with _connection(bind) as conn:
        if conn.dialect.name != "sqlite":
            return False
        has_stats = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        if has_stats is None:
            return True
        stat = conn.exec_driver_sql(
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'job' AND idx IS NOT NULL LIMIT 1"
        ).scalar()
        actual = int(conn.exec_driver_sql("SELECT count(*) FROM job").scalar_one())
    if stat is None:
        return actual > 0
    recorded = int(str(stat).split()[0])
    return abs(actual - recorded) > max(STALE_MIN_ROWS, STALE_FRACTION * recorded)


def insert_ignoring_conflicts(
    table: sa.Table, keys: Sequence[sa.Column[Any]], dialect: str
) -> sa.Insert:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` into ``table`` for the database.

    Returns the statement (values still to be given). Raises ``ValueError`` for a database
    other than SQLite and PostgreSQL.
    """
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    raise ValueError(f"inserting while ignoring conflicts is not supported on {dialect}")


def _lock_id(key: str) -> int:
    """A signed 64-bit number for ``key``, stable across processes (for advisory locks)."""
    raw = (zlib.crc32(key.encode()) << 32) | zlib.adler32(key.encode())
    return raw - (1 << 64) if raw >= 1 << 63 else raw


@contextmanager
def serialized_transaction(engine: Engine, key: str) -> Iterator[Connection]:
    """A transaction in which a read-then-write about ``key`` cannot interleave with another.

    Yields a connection inside the transaction; commits when the block ends, rolls back if
    it raises. SQLite takes the database's write lock up front (``BEGIN IMMEDIATE``), so
    writers queue (each waits up to the busy timeout); PostgreSQL takes a transaction-scoped
    advisory lock derived from ``key``, so only transactions about the same key queue.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_id(key))))
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def _connection(bind: Engine | Connection) -> AbstractContextManager[Connection]:
    return bind.connect() if isinstance(bind, Engine) else nullcontext(bind)
