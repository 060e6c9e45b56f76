"""Hot statements compiled once per database and run with plain parameters.

SQLAlchemy Core rebuilds a statement object and computes its cache key on every call, which
costs more than SQLite needs to run a short statement. The statements of hot paths (the
scheduler's start and stop of jobs, the tags and owners of a page of jobs) are therefore
written once with named :func:`sqlalchemy.bindparam` placeholders, compiled once per dialect
and executed as driver SQL: without SQLAlchemy's type processing, but seen by the engine's
events and with its error translation. Only columns whose types need no bind or result
processing (integers, floats, text) may be bound or returned this way; JSON columns are passed
as text, as the table stores them. A statement whose text differs between databases is given
as a function of the dialect's name (e.g. one that matches a list of values with
:func:`.dialect.in_json_list`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

__all__ = ["Prepared", "StatementFor"]

#: Builds a statement for the dialect of the given name.
StatementFor = Callable[[str], sa.Executable]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: Parameter names in placeholder order for positional paramstyles, else ``None``.
    positions: tuple[str, ...] | None
    #: Values of the parameters the statement fixes itself (``LIMIT 1`` and the like).
    fixed: Mapping[str, Any]
    #: Every parameter name of the statement.
    names: frozenset[str]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | Mapping[str, Any]:
        """The driver's parameters; ``KeyError`` naming any parameter not given."""
        merged = {**self.fixed, **values} if self.fixed else values
        if self.positions is not None:
            return tuple(merged[name] for name in self.positions)
        missing = self.names - merged.keys()
        if missing:
            raise KeyError(", ".join(sorted(missing)))
        return merged


class Prepared:
    """One Core statement, compiled on first use for each dialect it runs on.

    >>> FIND = Prepared(sa.select(job.c.id).where(job.c.job_id == sa.bindparam("job_id")))
    >>> FIND.first(conn, job_id=42)

    Every parameter of the statement must be a named ``bindparam``; :meth:`rows` raises
    ``KeyError`` for one that is not given. ``statement`` may be a :data:`StatementFor`,
    called once per dialect.
    """

    def __init__(self, statement: sa.Executable | StatementFor) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        with self._lock:
            statement = self.statement
            if not isinstance(statement, sa.Executable):
                statement = statement(dialect.name)
            compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            positions = compiled.positiontup if dialect.positional else None
            fixed = {
                compiled.bind_names[bind]: bind.value
                for bind in compiled.binds.values()
                if not bind.required and bind.value is not None
            }
            found = _Compiled(
                compiled.string,
                tuple(positions) if positions else None,
                fixed,
                frozenset(compiled.bind_names.values()),
            )
            self._compiled[dialect.name] = found
        return found

    def sql(self, dialect: Dialect) -> str:
        """The statement's SQL text for ``dialect`` (for logs and tests)."""
        return self._for(dialect).sql

    def rows(self, conn: Connection, /, **values: Any) -> list[dict[str, Any]]:
        """Run the statement on ``conn`` with ``values`` for its named parameters; return the
        rows it yields as dictionaries by column name (none for a statement without rows).

        Runs as driver SQL (``Connection.exec_driver_sql``) inside ``conn``'s transaction, so
        the engine's events see it; driver errors are raised as SQLAlchemy's exceptions
        (``sqlalchemy.exc.IntegrityError`` and so on).
        """
        compiled = self._for(conn.dialect)
        result = conn.exec_driver_sql(compiled.sql, compiled.parameters(values))
        if not result.returns_rows:
            return []
        names = list(result.keys())
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def first(self, conn: Connection, /, **values: Any) -> dict[str, Any] | None:
        """The first row of :meth:`rows`, or ``None``."""
        found = self.rows(conn, **values)
        return found[0] if found else None
