"""Translate :class:`~cc_backend.domain.filters.JobFilter` into DuckDB SQL over the archive index.

The semantics are those of the job database's filters (``repository/job_filters.py``): the
conditions of all filters are ANDed, a ``StringInput`` applies the first operator that is
set (``eq``, ``neq``, ``startsWith``, ``endsWith``, ``contains``, ``in``), the pattern
operators ignore letter case, ranges are inclusive and ``to == 0`` with a positive
``from`` leaves the top open, absolute start-time bounds win over a named range, ``node``
matches when any host of the job matches, ``tags`` when the job carries any of the tag
ids, and a ``metricStats`` range on a footprint value the index has no column for matches
nothing (as a missing JSON key does in the database).

Every value is a bound parameter (``$f0``, ``$f1``, ...). Column names come from a fixed
table; footprint names are checked against ``^[a-zA-Z0-9_]+$`` before they reach the SQL.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from cc_backend.domain.errors import InvalidInput, PermissionDenied
from cc_backend.domain.filters import (
    FloatRange,
    IntRange,
    JobFilter,
    StringInput,
    TimeRange,
    check_metric_name,
)
from cc_backend.domain.user import Role, User
from cc_backend.stats.index_rows import footprint_column

#: Filter attribute -> index column, for the plain string filters.
_TEXT_COLUMNS = {
    "user": "user",
    "project": "project",
    "cluster": "cluster",
    "sub_cluster": "sub_cluster",
    "partition": "partition",
    "job_name": "job_name",
}
#: Filter attribute -> index column, for the range filters.
_RANGE_COLUMNS = {
    "duration": "duration",
    "energy": "energy",
    "num_nodes": "num_nodes",
    "num_hwthreads": "num_hwthreads",
    "num_accelerators": "num_acc",
}


@dataclass
class SqlFilter:
    """Conditions being built, and the parameters they bind."""

    conditions: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def bind(self, value: Any) -> str:
        """A fresh placeholder bound to ``value``."""
        name = f"f{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def where(self) -> str:
        """The conditions as a ``WHERE`` clause body (``true`` when there are none)."""
        return " AND ".join(f"({c})" for c in self.conditions) or "true"


def _string(sql: SqlFilter, column: str, cond: StringInput) -> str | None:
    if cond.eq is not None:
        return f"{column} = {sql.bind(cond.eq)}"
    if cond.neq is not None:
        return f"{column} <> {sql.bind(cond.neq)}"
    if cond.starts_with is not None:
        return f"starts_with(lower({column}), lower({sql.bind(cond.starts_with)}))"
    if cond.ends_with is not None:
        return f"ends_with(lower({column}), lower({sql.bind(cond.ends_with)}))"
    if cond.contains is not None:
        return f"contains(lower({column}), lower({sql.bind(cond.contains)}))"
    if cond.in_ is not None:
        return _in(sql, column, cond.in_)
    return None


def _in(sql: SqlFilter, column: str, values: Iterable[Any]) -> str:
    placeholders = [sql.bind(v) for v in values]
    return f"{column} IN ({', '.join(placeholders)})" if placeholders else "false"


def _job_id_number(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidInput(f"jobId: {text!r} is not a job id") from None


def _job_id(sql: SqlFilter, cond: StringInput) -> str | None:
    if cond.eq is not None:
        return f"job_id = {sql.bind(_job_id_number(cond.eq))}"
    if cond.neq is not None:
        return f"job_id <> {sql.bind(_job_id_number(cond.neq))}"
    if cond.in_ is not None:
        return _in(sql, "job_id", [_job_id_number(v) for v in cond.in_])
    return _string(sql, "CAST(job_id AS VARCHAR)", cond)


def _range(sql: SqlFilter, column: str, cond: IntRange | FloatRange) -> str:
    if cond.to == 0 and cond.from_ > 0:
        return f"{column} >= {sql.bind(cond.from_)}"
    if cond.to < cond.from_:
        raise InvalidInput(f"range from {cond.from_} to {cond.to} is empty")
    return f"{column} BETWEEN {sql.bind(cond.from_)} AND {sql.bind(cond.to)}"


def _time(sql: SqlFilter, cond: TimeRange, now: float | None) -> str | None:
    start, stop = cond.bounds(now)
    if start is not None and stop is not None:
        return f"start_time BETWEEN {sql.bind(start)} AND {sql.bind(stop)}"
    if start is not None:
        return f"start_time >= {sql.bind(start)}"
    if stop is not None:
        return f"start_time <= {sql.bind(stop)}"
    return None


def _node(sql: SqlFilter, cond: StringInput) -> str | None:
    if cond.eq is not None:
        return f"list_contains(hostnames, {sql.bind(cond.eq)})"
    if cond.in_ is not None:
        if not cond.in_:
            return "false"
        return f"list_has_any(hostnames, {sql.bind(list(cond.in_))}::VARCHAR[])"
    predicate = _string(sql, "h", cond)
    if predicate is None:
        return None
    return f"coalesce(list_bool_or(list_transform(hostnames, lambda h: {predicate})), false)"


def _tags(sql: SqlFilter, tag_ids: list[int]) -> str:
    if not tag_ids:
        return "false"
    return f"list_has_any(tag_ids, {sql.bind(list(tag_ids))}::BIGINT[])"


def add_filter(
    sql: SqlFilter, f: JobFilter, footprints: Collection[str], now: float | None
) -> None:
    """Add the conditions of one filter to ``sql``."""
    add = sql.conditions.append

    def put(condition: str | None) -> None:
        if condition is not None:
            add(condition)

    if f.db_id is not None:
        add(_in(sql, "db_id", f.db_id))
    if f.job_id is not None:
        put(_job_id(sql, f.job_id))
    if f.array_job_id is not None:
        add(f"array_job_id = {sql.bind(f.array_job_id)}")
    for attribute, column in _TEXT_COLUMNS.items():
        cond: StringInput | None = getattr(f, attribute)
        if cond is not None:
            put(_string(sql, column, cond))
    if f.state is not None:
        add(_in(sql, "state", [s.value for s in f.state]))
    if f.shared is not None:
        add(f"shared = {sql.bind(f.shared)}")
    for attribute, column in _RANGE_COLUMNS.items():
        rng: IntRange | FloatRange | None = getattr(f, attribute)
        if rng is not None:
            add(_range(sql, column, rng))
    if f.start_time is not None:
        put(_time(sql, f.start_time, now))
    if f.min_running_for is not None:
        current = int(now if now is not None else time.time())
        add(f"start_time < {sql.bind(current - f.min_running_for)}")
    for item in f.metric_stats or ():
        name = check_metric_name(item.metric_name)
        if name in footprints:
            add(_range(sql, footprint_column(name), item.range))
        else:  # no job has this footprint value: the range matches nothing
            _range(SqlFilter(), "x", item.range)
            add("false")
    if f.tags is not None:
        add(_tags(sql, f.tags))
    if f.node is not None:
        put(_node(sql, f.node))


def filter_sql(
    filters: Iterable[JobFilter],
    footprints: Collection[str] = (),
    *,
    now: float | None = None,
) -> SqlFilter:
    """The conditions of all ``filters`` (ANDed) with their parameters.

    ``footprints`` are the footprint keys the index has columns for; ``now`` (Unix
    seconds) resolves named time ranges and ``minRunningFor`` (default: the clock).
    """
    sql = SqlFilter()
    for f in filters:
        add_filter(sql, f, footprints, now)
    return sql


def add_visibility(sql: SqlFilter, actor: User) -> None:
    """Restrict ``sql`` to the index rows ``actor`` may see.

    The rule is the job database's (:func:`cc_backend.repository.visibility.job_visibility`)
    on the index's ``user`` and ``project`` columns: admin, support and a pure API client
    see every job (nothing is added), a manager the jobs of the managed projects and their
    own, a user their own. Raises :class:`PermissionDenied` for an actor without a role
    that sees jobs.
    """
    if actor.sees_all_jobs:
        return
    own = f"user = {sql.bind(actor.username)}"
    if actor.has_role(Role.MANAGER):
        if actor.projects:
            sql.conditions.append(f"{_in(sql, 'project', actor.projects)} OR {own}")
        else:
            sql.conditions.append(own)
        return
    if actor.has_role(Role.USER):
        sql.conditions.append(own)
        return
    raise PermissionDenied(f"user {actor.username!r} has no role that may see jobs")
