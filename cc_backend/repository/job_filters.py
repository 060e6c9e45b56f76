"""Translate :class:`~cc_backend.domain.filters.JobFilter` into SQL conditions.

Every value is a bound parameter; names that reach JSON paths are validated first. The
semantics follow cc-backend's GraphQL ``JobFilter``: the filters of a list are ANDed, a
``StringInput`` applies the first operator that is set, ranges are inclusive.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import FloatRange, IntRange, JobFilter, StringInput, TimeRange
from cc_backend.repository import dialect, schema
from cc_backend.repository.rows import state_to_db

Condition = sa.ColumnElement[bool]
job = schema.job
#: Hardware threads and accelerators of a job, 0 where the column is empty (built once:
#: SQL expressions are immutable, and building them costs more than a filter's test).
_NUM_HWTHREADS = sa.func.coalesce(job.c.num_hwthreads, 0)
_NUM_ACC = sa.func.coalesce(job.c.num_acc, 0)


def string_condition(
    column: sa.ColumnElement[Any], cond: StringInput, dialect_name: str
) -> Condition | None:
    """The condition for one :class:`StringInput` on a text expression.

    ``eq``, ``neq`` and ``in`` compare exactly; ``startsWith``, ``endsWith`` and ``contains``
    ignore the case of ASCII letters (as cc-backend's ``LIKE`` on SQLite does).
    """
    if cond.eq is not None:
        return column == cond.eq
    if cond.neq is not None:
        return column != cond.neq
    if cond.starts_with is not None:
        return dialect.like(column, "startswith", cond.starts_with, dialect_name)
    if cond.ends_with is not None:
        return dialect.like(column, "endswith", cond.ends_with, dialect_name)
    if cond.contains is not None:
        return dialect.like(column, "contains", cond.contains, dialect_name)
    if cond.in_ is not None:
        return column.in_(cond.in_)
    return None


def _job_id_condition(cond: StringInput, dialect_name: str) -> Condition | None:
    """Job ids are integers in the database but strings in the filter."""

    def number(text: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise InvalidInput(f"jobId: {text!r} is not a job id") from None

    if cond.eq is not None:
        return job.c.job_id == number(cond.eq)
    if cond.neq is not None:
        return job.c.job_id != number(cond.neq)
    if cond.in_ is not None:
        return job.c.job_id.in_([number(v) for v in cond.in_])
    return string_condition(sa.cast(job.c.job_id, sa.String), cond, dialect_name)


def range_condition(column: sa.ColumnElement[Any], cond: IntRange | FloatRange) -> Condition:
    """Inclusive range; ``to == 0`` with a positive ``from`` leaves the top open."""
    if cond.to == 0 and cond.from_ > 0:
        return column >= cond.from_
    if cond.to < cond.from_:
        raise InvalidInput(f"range from {cond.from_} to {cond.to} is empty")
    return column.between(cond.from_, cond.to)


def time_condition(
    column: sa.ColumnElement[Any], cond: TimeRange, now: float | None
) -> Condition | None:
    start, stop = cond.bounds(now)
    if start is not None and stop is not None:
        return column.between(start, stop)
    if start is not None:
        return column >= start
    if stop is not None:
        return column <= stop
    return None


def _tag_condition(tag_ids: list[int]) -> Condition:
    tagged = sa.select(schema.jobtag.c.job_id).where(schema.jobtag.c.tag_id.in_(tag_ids))
    return job.c.id.in_(tagged)


def _node_condition(cond: StringInput, dialect_name: str) -> Condition | None:
    def predicate(value: sa.ColumnElement[Any]) -> Condition | None:
        return string_condition(value, cond, dialect_name)

    if predicate(sa.literal_column("x")) is None:
        return None
    return dialect.json_array_any(job.c.resources, "hostname", predicate, dialect_name)


def filter_conditions(f: JobFilter, dialect_name: str, now: float | None = None) -> list[Condition]:
    """All SQL conditions for one filter (empty when the filter restricts nothing)."""
    conditions: list[Condition | None] = []
    add = conditions.append
    if f.db_id is not None:
        add(job.c.id.in_(f.db_id))
    if f.job_id is not None:
        add(_job_id_condition(f.job_id, dialect_name))
    if f.array_job_id is not None:
        add(job.c.array_job_id == f.array_job_id)
    text_filters: Iterable[tuple[StringInput | None, sa.ColumnElement[Any]]] = (
        (f.user, job.c.hpc_user),
        (f.project, job.c.project),
        (f.cluster, job.c.cluster),
        (f.sub_cluster, job.c.subcluster),
        (f.partition, job.c.cluster_partition),
    )
    for cond, column in text_filters:
        if cond is not None:
            add(string_condition(column, cond, dialect_name))
    if f.job_name is not None:
        add(
            string_condition(
                dialect.json_field(job.c.meta_data, "jobName", dialect_name),
                f.job_name,
                dialect_name,
            )
        )
    if f.state is not None:
        add(job.c.job_state.in_([state_to_db(s) for s in f.state]))
    if f.shared is not None:
        add(job.c.shared == f.shared)
    ranges: Iterable[tuple[IntRange | FloatRange | None, sa.ColumnElement[Any]]] = (
        (f.duration, job.c.duration),
        (f.energy, job.c.energy),
        (f.num_nodes, job.c.num_nodes),
        (f.num_hwthreads, _NUM_HWTHREADS),
        (f.num_accelerators, _NUM_ACC),
    )
    for rng, column in ranges:
        if rng is not None:
            add(range_condition(column, rng))
    if f.start_time is not None:
        add(time_condition(job.c.start_time, f.start_time, now))
    if f.min_running_for is not None:
        current = int(now if now is not None else time.time())
        add(job.c.start_time < current - f.min_running_for)
    for item in f.metric_stats or ():
        value = dialect.json_number(job.c.footprint, item.metric_name, dialect_name)
        add(range_condition(value, item.range))
    if f.tags is not None:
        add(_tag_condition(f.tags))
    if f.node is not None:
        add(_node_condition(f.node, dialect_name))
    return [c for c in conditions if c is not None]


def all_conditions(
    filters: Iterable[JobFilter], dialect_name: str, now: float | None = None
) -> list[Condition]:
    """Every condition of every filter in ``filters``; a query ANDs them."""
    return [c for f in filters for c in filter_conditions(f, dialect_name, now)]
