"""The job table: insert, look up, list with filters, count, delete.

Every read that returns jobs to a person takes the acting :class:`User` and applies the
visibility rule of :mod:`cc_backend.repository.visibility`; internal callers (archiver,
importers) pass ``actor=None`` to see everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cc_backend.domain.errors import AlreadyExists, InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest, SortDirection
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE
from cc_backend.domain.user import User
from cc_backend.repository import dialect, schema
from cc_backend.repository.database import Database
from cc_backend.repository.job_filters import Condition, all_conditions
from cc_backend.repository.prepared import Prepared
from cc_backend.repository.rows import job_from_row, job_to_row, jobs_from_rows, state_to_db
from cc_backend.repository.visibility import job_visibility

job = schema.job

#: Jobs deleted per statement (SQLite limits the number of bound values).
_DELETE_CHUNK = 10_000

#: Sortable job columns by their GraphQL/JSON field name.
SORT_COLUMNS: dict[str, sa.Column[Any]] = {
    "id": job.c.id,
    "jobId": job.c.job_id,
    "user": job.c.hpc_user,
    "project": job.c.project,
    "cluster": job.c.cluster,
    "subCluster": job.c.subcluster,
    "partition": job.c.cluster_partition,
    "arrayJobId": job.c.array_job_id,
    "startTime": job.c.start_time,
    "submitTime": job.c.submit_time,
    "duration": job.c.duration,
    "walltime": job.c.walltime,
    "jobState": job.c.job_state,
    "numNodes": job.c.num_nodes,
    "numHWThreads": job.c.num_hwthreads,
    "numHwthreads": job.c.num_hwthreads,
    "numAcc": job.c.num_acc,
    "numAccelerators": job.c.num_acc,
    "energy": job.c.energy,
    "monitoringStatus": job.c.monitoring_status,
}
# cc-backend's clients also send snake_case column names ("start_time", "num_nodes").
SORT_COLUMNS.update({c.name: c for c in job.c if c.name not in SORT_COLUMNS})

DEFAULT_ORDER = OrderBy(field="startTime", type="col", order=SortDirection.DESC)


class StoppedJob(NamedTuple):
    """A job as stored right after its stop, and whether any tag is attached to it."""

    job: Job
    tagged: bool


# -- the scheduler's hot path: statements compiled once (see repository.prepared) ---------

#: The newest stored start of a job id on a cluster after a point in time.
_RECENT_START = Prepared(
    sa.select(job.c.id, job.c.start_time)
    .where(
        job.c.job_id == sa.bindparam("job_id"),
        job.c.cluster == sa.bindparam("cluster"),
        job.c.start_time > sa.bindparam("earliest"),
    )
    .order_by(job.c.start_time.desc())
    .limit(1)
)

#: A new job row with every column but ``id`` unless the same job id started on the same
#: cluster after ``earliest``; returns the new id, or no row for such a duplicate.
_INSERT_UNLESS_STARTED = Prepared(
    sa.insert(job)
    .from_select(
        [c.key for c in job.c if c.key != "id"],
        sa.select(
            *(sa.bindparam(c.key, type_=c.type).label(c.key) for c in job.c if c.key != "id")
        ).where(
            ~sa.exists().where(
                job.c.job_id == sa.bindparam("job_id"),
                job.c.cluster == sa.bindparam("cluster"),
                job.c.start_time > sa.bindparam("earliest"),
            )
        ),
    )
    .returning(job.c.id)
)


def _stop_statement(by_cluster: bool, by_start: bool) -> Prepared:
    """The stop of the newest running job with a job id (optionally cluster / start time)."""
    conditions = [
        job.c.job_id == sa.bindparam("job_id"),
        job.c.job_state == sa.bindparam("running"),
    ]
    if by_cluster:
        conditions.append(job.c.cluster == sa.bindparam("cluster"))
    if by_start:
        conditions.append(job.c.start_time == sa.bindparam("start_time"))
    newest = (
        sa.select(job.c.id)
        .where(*conditions)
        .order_by(job.c.start_time.desc())
        .limit(1)
        .scalar_subquery()
    )
    stop_time = sa.bindparam("stop_time", type_=sa.BigInteger)
    return Prepared(
        sa.update(job)
        .where(
            job.c.id == newest,
            job.c.job_state == sa.bindparam("running"),
            job.c.start_time <= stop_time,
        )
        .values(job_state=sa.bindparam("state"), duration=stop_time - job.c.start_time)
        .returning(
            *job.c,
            # Spelled out: SQLite's RETURNING leaves columns unqualified, which would be
            # ambiguous inside the sub-query.
            sa.literal_column(
                "EXISTS (SELECT 1 FROM jobtag WHERE jobtag.job_id = job.id)", sa.Boolean
            ).label("tagged"),
        )
    )


_STOP_NEWEST_RUNNING = {
    (by_cluster, by_start): _stop_statement(by_cluster, by_start)
    for by_cluster in (False, True)
    for by_start in (False, True)
}


@dataclass(frozen=True)
class JobPage:
    """One page of a job list."""

    items: list[Job]
    has_next_page: bool
    offset: int
    limit: int | None
    #: Number of jobs matching the filters; ``None`` unless requested.
    count: int | None = None
    filters: tuple[JobFilter, ...] = field(default=(), repr=False)


class JobRepository:
    """Reads and writes rows of the ``job`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes ---------------------------------------------------------------------------

    def add(self, new_job: Job) -> int:
        """Insert ``new_job``; return its database id.

        Raises :class:`AlreadyExists` when a job with the same job id, cluster and start
        time is already stored.
        """
        values = job_to_row(new_job)
        try:
            with self.db.begin() as conn:
                result = conn.execute(sa.insert(job).values(values).returning(job.c.id))
                return int(result.scalar_one())
        except sa.exc.IntegrityError as exc:
            if self._exists(new_job.job_id, new_job.cluster, new_job.start_time):
                raise AlreadyExists(
                    f"job {new_job.job_id} on cluster {new_job.cluster} "
                    f"starting at {new_job.start_time} already exists"
                ) from exc
            raise InvalidInput(f"job rejected by the database: {exc.orig}") from exc

    def add_unless_recent_duplicate(self, new_job: Job, window_seconds: int) -> int:
        """Insert ``new_job`` unless the same job was already started; return its database id.

        A job counts as already started when a stored job has the same job id and cluster
        and a start time later than ``new_job.start_time - window_seconds`` (cc-backend's
        rule: the new start is less than the window after the stored one, or before it).
        Check and insert run in one serialised transaction, so concurrent calls for the
        same job store it once. Raises :class:`AlreadyExists` naming the stored job.
        """
        key = f"job:{new_job.cluster}:{new_job.job_id}"
        try:
            with self.db.serialized(key) as conn:
                earliest = new_job.start_time - window_seconds
                inserted = _INSERT_UNLESS_STARTED.first(
                    conn, earliest=earliest, **job_to_row(new_job)
                )
                if inserted is not None:
                    return int(inserted["id"])
                found = _RECENT_START.first(
                    conn, job_id=new_job.job_id, cluster=new_job.cluster, earliest=earliest
                )
                where = (
                    "" if found is None else f" (id {found['id']}, startTime {found['start_time']})"
                )
                raise AlreadyExists(
                    f"a job with jobId {new_job.job_id} on cluster {new_job.cluster} "
                    f"already exists{where}"
                )
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(
                f"job {new_job.job_id} on cluster {new_job.cluster} "
                f"starting at {new_job.start_time} already exists"
            ) from exc

    def stop_newest_running(
        self,
        job_id: int,
        *,
        cluster: str | None,
        start_time: int | None,
        stop_time: int,
        state: JobState,
    ) -> StoppedJob | None:
        """Stop the running job with ``job_id`` (on ``cluster``, started at ``start_time``,
        when given) that started last, if it started at or before ``stop_time``.

        Sets the final ``state`` and ``duration = stop_time - start_time`` in one statement
        that applies only while the job is running, so of two concurrent stops exactly one
        succeeds. Returns the job as stored afterwards, or ``None`` when there is no such
        running job or it started after ``stop_time`` (see :meth:`find` to tell which).
        """
        statement = _STOP_NEWEST_RUNNING[(cluster is not None, start_time is not None)]
        values: dict[str, Any] = {
            "job_id": job_id,
            "stop_time": stop_time,
            "state": state_to_db(state),
            "running": state_to_db(JobState.RUNNING),
        }
        if cluster is not None:
            values["cluster"] = cluster
        if start_time is not None:
            values["start_time"] = start_time
        with self.db.writing() as conn:
            row = statement.first(conn, **values)
        if row is None:
            return None
        return StoppedJob(job_from_row(row), bool(row["tagged"]))

    def add_many(self, jobs: Sequence[Job], *, skip_existing: bool = False) -> int:
        """Insert ``jobs`` in one transaction (bulk import); return how many were inserted.

        A job already stored (same job id, cluster and start time) raises
        :class:`AlreadyExists` naming the first duplicate, and nothing is inserted; with
        ``skip_existing`` such jobs are left out instead (and not counted).
        """
        if not jobs:
            return 0
        with self.db.begin() as conn:
            ids = self.insert_many(conn, jobs, skip_existing=skip_existing)
        return sum(1 for db_id in ids if db_id is not None)

    def insert_many(
        self, conn: sa.Connection, jobs: Sequence[Job], *, skip_existing: bool = False
    ) -> list[int | None]:
        """Insert ``jobs`` on ``conn``, inside the caller's transaction.

        Returns the new database id of each job, in order; with ``skip_existing`` a job
        that is already stored, or repeats the key of an earlier job of ``jobs``, gets
        ``None``. Without it such a job raises :class:`AlreadyExists` (the caller's
        transaction must then be rolled back).
        """
        if not jobs:
            return []
        statement: Any = sa.insert(job)
        if skip_existing:
            statement = _insert_skipping_duplicates(self.db.dialect)
        statement = statement.returning(job.c.id, job.c.job_id, job.c.cluster, job.c.start_time)
        try:
            rows = conn.execute(statement, [job_to_row(j) for j in jobs]).all()
        except sa.exc.IntegrityError as exc:
            raise AlreadyExists(f"bulk insert rejected: {exc.orig}") from exc
        new_ids = {(r.job_id, r.cluster, r.start_time): int(r.id) for r in rows}
        result: list[int | None] = []
        for item in jobs:
            result.append(new_ids.pop((item.job_id, item.cluster, item.start_time), None))
        return result

    def link_tags(self, conn: sa.Connection, links: Iterable[tuple[int, int]]) -> int:
        """Attach tags to jobs on ``conn`` (caller's transaction) without permission checks.

        ``links`` are ``(job database id, tag id)`` pairs; repeated pairs are inserted once.
        Meant for importers whose jobs were inserted on the same connection; returns how
        many links were written.
        """
        unique = list(dict.fromkeys(links))
        if unique:
            conn.execute(sa.insert(schema.jobtag), [{"job_id": j, "tag_id": t} for j, t in unique])
        return len(unique)

    def delete_all(self, conn: sa.Connection | None = None) -> int:
        """Delete every job and every link of a tag to a job; return how many jobs there were.

        Tags themselves are kept. Runs on ``conn`` inside the caller's transaction if given,
        else in a transaction of its own.
        """
        if conn is None:
            with self.db.begin() as own:
                return self.delete_all(own)
        conn.execute(sa.delete(schema.jobtag))
        return int(conn.execute(sa.delete(job)).rowcount)

    def update(self, db_id: int, **values: Any) -> None:
        """Set ``job`` columns of one job (column names as in the table). NotFound if absent."""
        unknown = set(values) - set(job.c.keys())
        if unknown:
            raise InvalidInput(f"unknown job columns: {', '.join(sorted(unknown))}")
        with self.db.begin() as conn:
            result = conn.execute(sa.update(job).where(job.c.id == db_id).values(values))
            if result.rowcount == 0:
                raise NotFound(f"no job with id {db_id}")

    def delete(self, db_ids: Sequence[int]) -> int:
        """Delete jobs (and their tag links) by database id; return how many were deleted."""
        with self.db.begin() as conn:
            conn.execute(sa.delete(schema.jobtag).where(schema.jobtag.c.job_id.in_(db_ids)))
            result = conn.execute(sa.delete(job).where(job.c.id.in_(db_ids)))
            return int(result.rowcount)

    def mark_archived(
        self,
        db_id: int,
        monitoring_status: MonitoringStatus,
        *,
        footprint: dict[str, float] | None = None,
        energy_footprint: dict[str, float] | None = None,
        energy: float | None = None,
    ) -> None:
        """Record the outcome of archiving job ``db_id``: its monitoring status and, when
        archived, the footprint and energy computed from its metric data."""
        values: dict[str, Any] = {"monitoring_status": int(monitoring_status)}
        if footprint is not None:
            values["footprint"] = orjson.dumps(footprint).decode()
        if energy_footprint is not None:
            values["energy_footprint"] = orjson.dumps(energy_footprint).decode()
        if energy is not None:
            values["energy"] = energy
        self.update(db_id, **values)

    def refresh_running_durations(self, now: int) -> int:
        """Set ``duration = now - start_time`` on every running job; return how many."""
        update = (
            sa.update(job)
            .where(job.c.job_state == state_to_db(JobState.RUNNING), job.c.start_time <= now)
            .values(duration=now - job.c.start_time)
        )
        with self.db.writing() as conn:
            return int(conn.execute(update).rowcount)

    def set_footprint(
        self,
        db_id: int,
        footprint: dict[str, float],
        energy_footprint: dict[str, float],
        energy: float,
    ) -> None:
        """Store a job's footprint columns (e.g. a running job's, from live statistics)."""
        self.update(
            db_id,
            footprint=orjson.dumps(footprint).decode(),
            energy_footprint=orjson.dumps(energy_footprint).decode(),
            energy=energy,
        )

    def awaiting_archiving(self, *, after_id: int = 0, limit: int = 1000) -> list[Job]:
        """Stopped jobs whose archiving has not finished (monitoring status 1), by database
        id above ``after_id``: what a restart must archive."""
        query = (
            sa.select(job)
            .where(
                job.c.job_state != state_to_db(JobState.RUNNING),
                job.c.monitoring_status == int(MonitoringStatus.RUNNING_OR_ARCHIVING),
                job.c.id > after_id,
            )
            .order_by(job.c.id)
            .limit(limit)
        )
        with self.db.connect() as conn:
            return jobs_from_rows(conn.execute(query).mappings().all())

    # -- reads ----------------------------------------------------------------------------

    def get(self, db_id: int, actor: User | None = None) -> Job:
        """The job with database id ``db_id``.

        Raises :class:`NotFound` if there is none or ``actor`` may not see it (the two
        are indistinguishable on purpose).
        """
        query = sa.select(job).where(job.c.id == db_id, *self._visible(actor))
        with self.db.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"no job with id {db_id}")
        return job_from_row(row)

    def find(
        self,
        job_id: int,
        cluster: str | None = None,
        start_time: int | None = None,
        actor: User | None = None,
    ) -> list[Job]:
        """Jobs with scheduler id ``job_id`` (optionally on ``cluster`` / at ``start_time``),
        newest first."""
        conditions: list[Condition] = [job.c.job_id == job_id, *self._visible(actor)]
        if cluster is not None:
            conditions.append(job.c.cluster == cluster)
        if start_time is not None:
            conditions.append(job.c.start_time == start_time)
        query = sa.select(job).where(*conditions).order_by(job.c.start_time.desc())
        with self.db.connect() as conn:
            return [job_from_row(r) for r in conn.execute(query).mappings()]

    def query(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        order: OrderBy | None = None,
        page: PageRequest | None = None,
        with_count: bool = False,
        now: float | None = None,
    ) -> JobPage:
        """One page of the jobs matching all ``filters`` that ``actor`` may see.

        Ordered by ``order`` (default: newest start first), ties broken by database id so
        that paging is stable. ``has_next_page`` is exact (one extra row is fetched);
        ``count`` is computed only when ``with_count`` is set. Raises
        :class:`InvalidInput` for an unknown sort column or a malformed filter value.
        """
        conditions = self._conditions(filters, actor, now)
        query = sa.select(job).where(*conditions).order_by(*self._order(order or DEFAULT_ORDER))
        limit = page.limit if page is not None else None
        offset = page.offset if page is not None else 0
        if limit is not None:
            query = query.limit(limit + 1).offset(offset)
        with self.db.connect() as conn:
            rows = conn.execute(query).mappings().all()
            count = self._count(conn, conditions) if with_count else None
        has_next = limit is not None and len(rows) > limit
        items = jobs_from_rows(rows[:limit] if has_next else rows)
        return JobPage(items, has_next, offset, limit, count, tuple(filters))

    def check_order(self, order: OrderBy) -> None:
        """Raise :class:`InvalidInput` if jobs cannot be sorted by ``order`` (what
        :meth:`query` would raise for it)."""
        self._order(order)

    def count(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        now: float | None = None,
    ) -> int:
        """Number of jobs matching all ``filters`` that ``actor`` may see."""
        conditions = self._conditions(filters, actor, now)
        with self.db.connect() as conn:
            return self._count(conn, conditions)

    # -- changes of finished jobs (services.job_changes) ---------------------------------

    def set_meta_data_key(self, db_id: int, key: str, value: str) -> dict[str, str]:
        """Set ``key`` of job ``db_id``'s meta data to ``value``, keeping the other keys.

        Reading and writing happen in one transaction, so concurrent edits of different
        keys are all kept. Returns the meta data afterwards; raises :class:`NotFound` if
        there is no such job.
        """
        select = sa.select(job).where(job.c.id == db_id)
        with self.db.writing() as conn:
            row = conn.execute(select.with_for_update()).mappings().first()
            if row is None:
                raise NotFound(f"no job with id {db_id}")
            meta = {**(job_from_row(row).meta_data or {}), key: value}
            update = sa.update(job).where(job.c.id == db_id)
            conn.execute(update.values(meta_data=orjson.dumps(meta).decode()))
        return meta

    def delete_started_before(
        self, before: int, *, keep_tagged: bool = False, keep_private_tagged: bool = False
    ) -> int:
        """Delete the jobs that started before ``before`` (Unix seconds) with their tag
        links, in one transaction; return how many were deleted.

        ``keep_tagged`` spares every job that carries a tag, ``keep_private_tagged`` every
        job carrying a private tag (one whose scope is a user name). The archive is not
        touched.
        """
        links, tags = schema.jobtag, schema.tag
        doomed = sa.select(job.c.id).where(job.c.start_time < before)
        if keep_tagged:
            doomed = doomed.where(~sa.exists().where(links.c.job_id == job.c.id))
        elif keep_private_tagged:
            private = sa.exists().where(
                links.c.job_id == job.c.id,
                links.c.tag_id == tags.c.id,
                tags.c.tag_scope.not_in([GLOBAL_SCOPE, ADMIN_SCOPE]),
            )
            doomed = doomed.where(~private)
        deleted = 0
        with self.db.writing() as conn:
            ids = [int(db_id) for (db_id,) in conn.execute(doomed)]
            for start in range(0, len(ids), _DELETE_CHUNK):
                chunk = ids[start : start + _DELETE_CHUNK]
                conn.execute(sa.delete(links).where(links.c.job_id.in_(chunk)))
                deleted += int(conn.execute(sa.delete(job).where(job.c.id.in_(chunk))).rowcount)
        return deleted

    def used_nodes(self, before: int) -> dict[str, list[str]]:
        """Host names in use by running jobs that started before ``before``, per cluster.

        Clusters and host names are sorted, each host listed once; clusters without such
        jobs are left out. A job whose resource list cannot be read is skipped.
        """
        hosts = self._running_hosts(job.c.cluster, job.c.start_time < before)
        return {cluster: sorted(names) for cluster, names in sorted(hosts.items())}

    def allocated_hosts(self, cluster: str) -> dict[str, int]:
        """Per subcluster of ``cluster``: how many distinct hosts running jobs occupy.

        Subclusters without running jobs are left out; a job whose resource list cannot
        be read is skipped.
        """
        hosts = self._running_hosts(job.c.subcluster, job.c.cluster == cluster)
        return {name: len(found) for name, found in sorted(hosts.items())}

    def _running_hosts(
        self, group: sa.Column[Any], condition: sa.ColumnElement[bool]
    ) -> dict[str, set[str]]:
        """Host names of the running jobs matching ``condition``, by the value of ``group``."""
        query = sa.select(group, job.c.resources).where(
            job.c.job_state == state_to_db(JobState.RUNNING), condition
        )
        hosts: dict[str, set[str]] = {}
        with self.db.connect() as conn:
            for key, raw in conn.execute(query):
                try:
                    resources = orjson.loads(raw or b"[]")
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(resources, list):
                    continue
                names = {
                    r["hostname"]
                    for r in resources
                    if isinstance(r, dict) and isinstance(r.get("hostname"), str)
                }
                if names:
                    hosts.setdefault(str(key), set()).update(names)
        return hosts

    # -- helpers --------------------------------------------------------------------------

    def _exists(self, job_id: int, cluster: str, start_time: int) -> bool:
        query = sa.select(job.c.id).where(
            job.c.job_id == job_id, job.c.cluster == cluster, job.c.start_time == start_time
        )
        with self.db.connect() as conn:
            return conn.execute(query).first() is not None

    @staticmethod
    def _visible(actor: User | None) -> list[Condition]:
        if actor is None:
            return []
        condition = job_visibility(actor)
        return [] if condition is None else [condition]

    def _conditions(
        self, filters: Sequence[JobFilter], actor: User | None, now: float | None
    ) -> list[Condition]:
        conditions = [*self._visible(actor), *all_conditions(filters, self.db.dialect, now)]
        return _without_repeats(conditions)

    @staticmethod
    def _count(conn: sa.Connection, conditions: list[Condition]) -> int:
        query = sa.select(sa.func.count()).select_from(job).where(*conditions)
        return int(conn.execute(query).scalar_one())

    def _order(self, order: OrderBy) -> list[sa.ColumnElement[Any]]:
        """Sort keys for ``order``: a missing column value sorts before every value, a missing
        footprint value after every value (in both directions); ties go by database id."""
        descending = order.order is SortDirection.DESC
        name = self.db.dialect
        if order.is_column:
            column = SORT_COLUMNS.get(order.field)
            if column is None:
                raise InvalidInput(f"cannot sort jobs by unknown column {order.field!r}")
            primary = dialect.sort_key(
                column, descending=descending, dialect=name, nullable=bool(column.nullable)
            )
        else:
            value = dialect.json_number(job.c.footprint, order.field, name)
            primary = dialect.sort_key(value, descending=descending, dialect=name, nulls_last=True)
        tie = job.c.id.desc() if descending else job.c.id.asc()
        return [primary, tie]


def _without_repeats(conditions: list[Condition]) -> list[Condition]:
    """Drop conditions equal to an earlier one.

    A user's own job list sends ``hpc_user = name`` both as the visibility rule and as
    the filter; SQLite would use one for the index and re-check the other on every row.
    """
    unique: list[Condition] = []
    for condition in conditions:
        if not any(condition.compare(seen) for seen in unique):
            unique.append(condition)
    return unique


def _insert_skipping_duplicates(dialect_name: str) -> Any:
    """``INSERT ... ON CONFLICT (job_id, cluster, start_time) DO NOTHING`` for the database.

    SQLite and PostgreSQL spell it the same; SQLAlchemy builds it per dialect.
    """
    key = [job.c.job_id, job.c.cluster, job.c.start_time]
    if dialect_name == "postgresql":
        return postgresql.insert(job).on_conflict_do_nothing(index_elements=key)
    if dialect_name == "sqlite":
        return sqlite.insert(job).on_conflict_do_nothing(index_elements=key)
    raise InvalidInput(f"skipping duplicate jobs is not supported on {dialect_name}")
