"""The job-list queries the web UI sends most, each with a hand-written SQL equivalent.

Every query is one page of 50 jobs, newest first, with the number of matching jobs. The
values (which user, cluster, project, time window) are picked from the database at hand
(untimed), so the same set runs on a database of any size: the busiest user, the biggest
cluster, the largest project, the last week and a month of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobPage, JobRepository

PAGE_SIZE = 50
PAGE = PageRequest(items_per_page=PAGE_SIZE, page=1)
ADMIN = User.build("bench-admin", ["admin"])
DAY = 86400


@dataclass(frozen=True)
class ListQuery:
    """One job-list request and the SQL that returns the same page and count."""

    key: str
    title: str
    filters: tuple[JobFilter, ...]
    actor: User
    #: ``WHERE`` clause of the hand-written SQL ("" for none), with ``:name`` parameters.
    where: str
    params: dict[str, Any] = field(default_factory=dict)
    #: The "now" named time ranges are resolved against (the end of the data).
    now: int | None = None

    @property
    def page_sql(self) -> str:
        """The page (one row more than shown, to tell whether there is a next page)."""
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT * FROM job{where} ORDER BY start_time DESC, id DESC LIMIT {PAGE_SIZE + 1}"

    @property
    def count_sql(self) -> str:
        """The number of matching jobs."""
        where = f" WHERE {self.where}" if self.where else ""
        return f"SELECT COUNT(*) FROM job{where}"

    # -- the two ways of running it ------------------------------------------------------

    def ours(self, repo: JobRepository, *, page: bool = True, count: bool = True) -> Any:
        """Run through :meth:`JobRepository.query` (or ``count`` alone)."""
        if not page:
            return repo.count(self.filters, actor=self.actor, now=self.now)
        return repo.query(self.filters, actor=self.actor, page=PAGE, with_count=count, now=self.now)

    def raw(self, db: Database, *, page: bool = True, count: bool = True) -> Any:
        """Run the hand-written SQL on a pooled connection's DBAPI cursor."""
        rows: list[Any] = []
        total = None
        with db.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            if page:
                rows = cursor.execute(self.page_sql, self.params).fetchall()
            if count:
                total = cursor.execute(self.count_sql, self.params).fetchone()[0]
            cursor.close()
        return rows, total


def check_same(query: ListQuery, repo: JobRepository, db: Database) -> int:
    """Assert that ours and the raw SQL return the same page ids and count; return the count."""
    ours: JobPage = query.ours(repo)
    rows, total = query.raw(db)
    raw_ids = [row[0] for row in rows[:PAGE_SIZE]]
    ours_ids = [job.id for job in ours.items]
    assert ours_ids == raw_ids, f"{query.key}: page ids differ: {ours_ids[:5]} vs {raw_ids[:5]}"
    assert ours.count == total, f"{query.key}: count {ours.count} != {total}"
    assert ours.has_next_page == (len(rows) > PAGE_SIZE), f"{query.key}: has_next_page"
    assert query.ours(repo, page=False) == total, f"{query.key}: count() != {total}"
    return int(total)


def _top(conn: Connection, column: str, where: str = "") -> str | None:
    where = f" WHERE {where}" if where else ""
    sql = f"SELECT {column} FROM job{where} GROUP BY {column} ORDER BY COUNT(*) DESC, 1 LIMIT 1"
    row = conn.exec_driver_sql(sql).first()
    return None if row is None else str(row[0])


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def job_list_queries(db: Database) -> list[ListQuery]:
    """The query set (a)-(f), with values picked from ``db``."""
    with db.engine.connect() as conn:
        user = _top(conn, "hpc_user") or "nobody"
        cluster = _top(conn, "cluster") or "none"
        busy = _top(conn, "cluster", "job_state = 'running'") or cluster
        project = _top(conn, "project") or "none"
        end = int(conn.exec_driver_sql("SELECT COALESCE(MAX(start_time), 0) FROM job").scalar_one())
    month_from, month_to = end - 90 * DAY, end - 60 * DAY
    return [
        ListQuery(
            "a",
            f"user {user}: own jobs",
            (JobFilter.model_validate({"user": {"eq": user}}),),
            User.build(user, ["user"]),
            "hpc_user = :user",
            {"user": user},
        ),
        ListQuery(
            "b",
            f"running on {busy}",
            (JobFilter.model_validate({"cluster": {"eq": busy}, "state": ["running"]}),),
            ADMIN,
            "cluster = :cluster AND job_state = 'running'",
            {"cluster": busy},
        ),
        ListQuery(
            "c",
            f"{cluster}, last 7 days",
            (
                JobFilter.model_validate(
                    {"cluster": {"eq": cluster}, "startTime": {"range": "last7d"}}
                ),
            ),
            ADMIN,
            "cluster = :cluster AND start_time >= :since",
            {"cluster": cluster, "since": end - 7 * DAY},
            now=end,
        ),
        ListQuery(
            "d",
            f"project {project}, completed, 30 days",
            (
                JobFilter.model_validate(
                    {
                        "project": {"eq": project},
                        "state": ["completed"],
                        "startTime": {"from": _at(month_from), "to": _at(month_to)},
                    }
                ),
            ),
            ADMIN,
            "project = :project AND job_state = 'completed' AND start_time BETWEEN :lo AND :hi",
            {"project": project, "lo": month_from, "hi": month_to},
        ),
        ListQuery("e", "all jobs (admin)", (), ADMIN, ""),
        ListQuery(
            "f",
            f"cluster {cluster}",
            (JobFilter.model_validate({"cluster": {"eq": cluster}}),),
            ADMIN,
            "cluster = :cluster",
            {"cluster": cluster},
        ),
    ]
