"""GraphQL job lists: cc-backend's job-list query against the raw SQL of the same page.

    python -m benchmarks.bench_graphql_jobs                          # 1,000,000 jobs
    python -m benchmarks.bench_graphql_jobs --jobs 200000 --page 3 --repeat 100

Uses the synthetic job table of :mod:`benchmarks.generate_jobs` (``jobs-1m.db`` for a
million jobs, ``jobs-<N>.db`` otherwise; generated when missing) as the job database of a
fresh site (``init_site`` in a temporary folder, its ``db`` pointed at the table). For a few
typical job lists (all jobs, one user's own jobs, running jobs of one cluster, a footprint
sort) it times, alternately in every round and in a rotating order:

* **in-process**: ``await ariadne.graphql(executable_schema(), body, ...)`` with the query
  of cc-backend's job list (``JobList.svelte``: 23 fields per job, tags, user name, meta
  data, footprint, ``count``, ``hasNextPage``), a :class:`GraphQLContext` and the options
  of the ``/query`` handler;
* **HTTP**: the same body posted to ``/query`` of the served API app (token
  authentication, a keep-alive connection on 127.0.0.1), answer decoded;
* **raw SQL**: the page and count statements our repository sends for that request (as
  captured from the engine), run on a plain ``sqlite3`` connection with the engine's
  settings for reading (temporary storage in memory, the page cache's size), rows left as
  tuples;
* **cc-backend SQL**: the statements of cc-backend's ``jobs`` resolver, written out for
  SQLite: the page of its 21 list columns, ``count(DISTINCT job.id)`` and the one-row
  query for the first job of the next page (on the same connection, so with our page
  cache rather than SQLite's default that cc-backend runs with).

Before timing, the pages of all four are compared (ids, count, next page; the HTTP answer
must equal the in-process one). Prints p50/p95 per path, the ratios to the raw SQL, and
whether the goal holds: the in-process GraphQL page within 1.5x of the raw SQL (p50).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from ariadne import graphql
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from dotenv import dotenv_values
from rich.console import Console
from rich.table import Table

from benchmarks.api_server import PING_PATH, ApiServer, ProfilingExecutor
from benchmarks.bench_job_statistics import database_for
from benchmarks.bench_rest import Connection
from cc_backend.argtypes import positive_int
from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.config import load_config, load_secrets
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.user import User
from cc_backend.repository.database import SQLITE_CACHE_KIB
from cc_backend.repository.jobs import JobPage
from cc_backend.server import Backends, build_backends
from cc_backend.site import init_site
from cc_backend.web.graphql.context import GraphQLContext
from cc_backend.web.graphql.handler import graphql_options
from cc_backend.web.graphql.schema import executable_schema

GOAL = 1.5
PAGE_SIZE = 50
DAY = 86_400
PATHS = ("in-process", "HTTP", "raw SQL", "cc-backend SQL")
ADMIN = User.build("bench-admin", ["admin"])
console = Console(width=max(Console().width, 140))

#: The job list of cc-backend's web interface (JobList.svelte), sent unchanged.
JOB_LIST_QUERY = """
query ($filter: [JobFilter!]!, $sorting: OrderByInput!, $paging: PageRequest!) {
  jobs(filter: $filter, order: $sorting, page: $paging) {
    items {
      id jobId user project cluster subCluster startTime duration numNodes numHWThreads
      numAcc walltime resources { hostname } SMT shared partition arrayJobId
      monitoringStatus state tags { id type name scope } userData { name } metaData
      footprint { name stat value }
    }
    count
    hasNextPage
  }
}
"""

#: The columns cc-backend selects for a job list (``jobColumns`` of its repository).
CC_COLUMNS = (
    "job.id, job.job_id, job.hpc_user, job.project, job.cluster, job.subcluster, "
    "job.start_time, job.cluster_partition, job.array_job_id, job.num_nodes, "
    "job.num_hwthreads, job.num_acc, job.shared, job.monitoring_status, job.smt, "
    "job.job_state, job.duration, job.walltime, job.resources, job.footprint, job.energy"
)


@dataclass(frozen=True)
class PageQuery:
    """One job-list request: the GraphQL variables and cc-backend's SQL for it."""

    key: str
    title: str
    actor: User
    filters: list[dict[str, Any]]
    order: dict[str, Any]
    #: cc-backend's ``WHERE`` (visibility rule and filters, ``?`` parameters; "" for none).
    cc_where: str
    cc_params: tuple[Any, ...]
    #: cc-backend's ``ORDER BY``; also the key compared when page ids differ in ties.
    cc_order: str

    def body(self, page: int) -> dict[str, Any]:
        """The GraphQL request body for page ``page``."""
        paging = {"itemsPerPage": PAGE_SIZE, "page": page}
        variables = {"filter": self.filters, "sorting": self.order, "paging": paging}
        return {"query": JOB_LIST_QUERY, "variables": variables}


def _top(conn: sqlite3.Connection, column: str, where: str = "") -> str:
    where = f" WHERE {where}" if where else ""
    sql = f"SELECT {column} FROM job{where} GROUP BY {column} ORDER BY COUNT(*) DESC, 1 LIMIT 1"
    row = conn.execute(sql).fetchone()
    return "none" if row is None else str(row[0])


def _rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def page_queries(db_path: Path) -> list[PageQuery]:
    """The job lists timed, with values picked from the table (untimed)."""
    with contextlib.closing(_read_only(db_path)) as conn:
        user = _top(conn, "hpc_user")
        cluster = _top(conn, "cluster")
        busy = _top(conn, "cluster", "job_state = 'running'")
        end = int(conn.execute("SELECT COALESCE(MAX(start_time), 0) FROM job").fetchone()[0])
    newest = {"field": "startTime", "type": "col", "order": "DESC"}
    week = {"from": _rfc3339(end - 7 * DAY), "to": _rfc3339(end)}
    return [
        PageQuery(
            "a", "all jobs, newest first (admin)", ADMIN, [], newest, "", (), "job.start_time DESC"
        ),
        PageQuery(
            "b",
            f"own jobs of user {user} (the busiest)",
            User.build(user, ["user"]),
            [{"user": {"eq": user}}],
            newest,
            # cc-backend's visibility rule and the filter, both as they send them
            "job.hpc_user = ? AND job.hpc_user = ?",
            (user, user),
            "job.start_time DESC",
        ),
        PageQuery(
            "c",
            f"running jobs on {busy} (admin)",
            ADMIN,
            [{"cluster": {"eq": busy}}, {"state": ["running"]}],
            newest,
            "job.cluster = ? AND job.job_state IN (?)",
            (busy, "running"),
            "job.start_time DESC",
        ),
        PageQuery(
            "d",
            f"{cluster}, last 7 days, by flops_any_avg (admin)",
            ADMIN,
            [{"cluster": {"eq": cluster}}, {"startTime": week}],
            {"field": "flops_any_avg", "type": "foot", "order": "DESC"},
            "job.cluster = ? AND job.start_time BETWEEN ? AND ?",
            (cluster, end - 7 * DAY, end),
            "JSON_EXTRACT(footprint, '$.flops_any_avg') DESC",
        ),
    ]


# -- the site --------------------------------------------------------------------------


def _read_only(db_path: Path) -> sqlite3.Connection:
    """A plain read-only connection with the engine's settings for reading (temporary
    b-trees in memory and the page cache's size, as ``open_database`` configures its
    connections)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    return conn


@contextlib.contextmanager
def bench_site(db_path: Path) -> Iterator[tuple[Backends, Ed25519PrivateKey]]:
    """A fresh site whose job database is ``db_path``: its backends and its token key."""
    with tempfile.TemporaryDirectory(prefix="bench-graphql-") as tmp:
        site = Path(tmp) / "site"
        init_site(site)
        config_path = site / "config.json"
        config = json.loads(config_path.read_text())
        config["main"]["db"] = str(db_path.resolve())
        config["archive"]["path"] = str(site / "var" / "job-archive")
        config_path.write_text(json.dumps(config))
        backends = build_backends(load_config(config_path), load_secrets(config_path))
        try:
            key = load_private_key(str(dotenv_values(site / ".env")["JWT_PRIVATE_KEY"]))
            yield backends, key
        finally:
            backends.close()


# -- the four paths --------------------------------------------------------------------


@dataclass
class Paths:
    """Runs one request each way (see the module docstring), on one site and connection."""

    backends: Backends
    conn: sqlite3.Connection
    port: int
    key: Ed25519PrivateKey
    page: int
    connections: dict[str, Connection] = field(default_factory=dict)
    #: The statements our path sent per query key: (kind, SQL, parameters).
    statements: dict[str, list[tuple[str, str, Any]]] = field(default_factory=dict)

    async def in_process(self, q: PageQuery) -> dict[str, Any]:
        """The GraphQL result, executed in this process as the handler executes it."""
        request_id = uuid.uuid4().hex[:12]
        context = GraphQLContext(q.actor, self.backends, request_id)
        _, result = await graphql(
            executable_schema(),
            q.body(self.page),
            context_value=context,
            **graphql_options(request_id),
        )
        return result

    async def http(self, q: PageQuery) -> dict[str, Any]:
        """The decoded answer of ``POST /query`` (one keep-alive connection per query)."""
        conn = self.connections.get(q.key)
        if conn is None:
            conn = Connection(self.port, issue_token(q.actor, self.key))
            await conn.open()
            self.connections[q.key] = conn
        status, payload = await conn.request("POST", "/query", orjson.dumps(q.body(self.page)))
        result: dict[str, Any] = orjson.loads(payload)
        if status != 200:
            raise RuntimeError(f"({q.key}) /query answered {status}: {payload[:300]!r}")
        return result

    def raw(self, q: PageQuery) -> tuple[list[Any], int]:
        """Our repository's page and count statements, on the plain connection."""
        rows: list[Any] = []
        count = 0
        for kind, sql, params in self.statements[q.key]:
            if kind == "page":
                rows = self.conn.execute(sql, params).fetchall()
            elif kind == "count":
                count = self.conn.execute(sql, params).fetchone()[0]
        return rows, count

    def repository(self, q: PageQuery) -> JobPage:
        """The page and count through ``JobRepository.query``, as the resolver asks."""
        filters = [JobFilter.model_validate(f) for f in q.filters]
        page = PageRequest.model_validate({"itemsPerPage": PAGE_SIZE, "page": self.page})
        order = OrderBy.model_validate(q.order)
        jobs = self.backends.jobs
        return jobs.query(filters, actor=q.actor, order=order, page=page, with_count=True)

    def raw_all(self, q: PageQuery) -> None:
        """Every statement our path sent for the request (page, count, tags, users)."""
        for _, sql, params in self.statements[q.key]:
            self.conn.execute(sql, params).fetchall()

    def cc_backend(self, q: PageQuery) -> tuple[list[Any], int, bool]:
        """cc-backend's page, count and next-page statements."""
        where = f" WHERE {q.cc_where}" if q.cc_where else ""
        select = f"SELECT {CC_COLUMNS} FROM job{where} ORDER BY {q.cc_order}"
        offset = (self.page - 1) * PAGE_SIZE
        rows = self.conn.execute(f"{select} LIMIT {PAGE_SIZE} OFFSET {offset}", q.cc_params)
        page = rows.fetchall()
        count_sql = f"SELECT count(DISTINCT job.id) FROM job{where}"
        count = self.conn.execute(count_sql, q.cc_params).fetchone()[0]
        following = self.conn.execute(f"{select} LIMIT 1 OFFSET {offset + PAGE_SIZE}", q.cc_params)
        return page, count, len(following.fetchall()) == 1

    async def capture(self, q: PageQuery) -> dict[str, Any]:
        """Run ``q`` in process, recording the statements it sends; return its result."""
        sent: list[tuple[str, str, Any]] = []

        def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
            sent.append((_kind(sql), sql, params))

        sa.event.listen(self.backends.db.engine, "before_cursor_execute", record)
        try:
            result = await self.in_process(q)
        finally:
            sa.event.remove(self.backends.db.engine, "before_cursor_execute", record)
        self.statements[q.key] = sent
        return result

    async def close(self) -> None:
        for conn in self.connections.values():
            await conn.close()


def _kind(sql: str) -> str:
    text = " ".join(sql.split()).lower()
    if text.startswith("select count(*)") and " from job" in text:
        return "count"
    if text.startswith("select job.id") and " limit " in text:
        return "page"
    if " from jobtag" in text:
        return "tags"
    if " from hpc_user" in text:
        return "users"
    return "other"


# -- checks ----------------------------------------------------------------------------


def _page_of(result: dict[str, Any], key: str) -> tuple[list[int], int, bool]:
    if result.get("errors"):
        raise RuntimeError(f"({key}) GraphQL errors: {result['errors'][:2]}")
    jobs = result["data"]["jobs"]
    return [int(item["id"]) for item in jobs["items"]], jobs["count"], jobs["hasNextPage"]


def _sort_keys(conn: sqlite3.Connection, q: PageQuery, ids: list[int]) -> list[Any]:
    if not ids:
        return []
    expression = q.cc_order.rsplit(" ", 1)[0]
    marks = ",".join("?" * len(ids))
    found = dict(conn.execute(f"SELECT id, {expression} FROM job WHERE id IN ({marks})", ids))
    return [found[i] for i in ids]


async def check(paths: Paths, q: PageQuery) -> dict[str, Any]:
    """Compare the four paths for ``q`` (also warms them up); the facts of the request."""
    ours = await paths.capture(q)
    ids, count, has_next = _page_of(ours, q.key)
    problems = []
    if orjson.loads(orjson.dumps(ours)) != await paths.http(q):
        problems.append("HTTP answer differs from the in-process one")
    rows, raw_count = paths.raw(q)
    if [r[0] for r in rows[:PAGE_SIZE]] != ids or raw_count != count:
        problems.append("raw SQL gives another page or count")
    if (len(rows) > PAGE_SIZE) != has_next:
        problems.append("raw SQL disagrees on hasNextPage")
    cc_rows, cc_count, cc_next = paths.cc_backend(q)
    cc_ids = [r[0] for r in cc_rows]
    same_keys = _sort_keys(paths.conn, q, cc_ids) == _sort_keys(paths.conn, q, ids)
    if cc_count != count or cc_next != has_next or not (cc_ids == ids or same_keys):
        problems.append("cc-backend's SQL gives another page or count")
    kinds = [kind for kind, _, _ in paths.statements[q.key]]
    return {
        "count": count,
        "items": len(ids),
        "statements": {k: kinds.count(k) for k in dict.fromkeys(kinds)},
        "problems": problems,
        "cc_ties": cc_ids != ids and same_keys,
    }


# -- timing ----------------------------------------------------------------------------


def _ms_since(began: int) -> float:
    return (time.perf_counter_ns() - began) / 1e6


async def measure(paths: Paths, q: PageQuery, repeat: int) -> dict[str, list[float]]:
    """Milliseconds per path, ``repeat`` rounds, the order rotating every round."""
    calls: dict[str, Callable[[], Awaitable[Any] | Any]] = {
        "in-process": lambda: paths.in_process(q),
        "HTTP": lambda: paths.http(q),
        "raw SQL": lambda: paths.raw(q),
        "cc-backend SQL": lambda: paths.cc_backend(q),
        "raw SQL, all statements": lambda: paths.raw_all(q),
        "repository": lambda: paths.repository(q),
    }
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeat):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            began = time.perf_counter_ns()
            outcome = calls[name]()
            if asyncio.iscoroutine(outcome):
                await outcome
            times[name].append(_ms_since(began))
    return times


async def ping(port: int, rounds: int) -> list[float]:
    """Milliseconds of the trivial request of the served app (the HTTP stack's floor)."""
    conn = Connection(port, "")
    await conn.open()
    try:
        times = []
        for _ in range(rounds):
            began = time.perf_counter_ns()
            await conn.request("GET", PING_PATH)
            times.append(_ms_since(began))
        return times
    finally:
        await conn.close()


def _p(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def profile(paths: Paths, queries: list[PageQuery], rounds: int) -> None:
    """cProfile of ``rounds`` in-process requests per query (loop and executor threads)."""
    executor = ProfilingExecutor()
    asyncio.get_running_loop().set_default_executor(executor)
    executor.enabled = True
    loop_profile = cProfile.Profile()
    loop_profile.enable()
    for _ in range(rounds):
        for q in queries:
            await paths.in_process(q)
    loop_profile.disable()
    executor.enabled = False
    stats = pstats.Stats(loop_profile, *executor.profiles, stream=io.StringIO())
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(30)
        console.print(f"[bold]cProfile of the in-process requests, by {order}[/bold]")
        console.print(out.getvalue(), markup=False, highlight=False)


# -- the report ------------------------------------------------------------------------


#: Column names of the paths in the table.
SHORT = {"in-process": "gql", "HTTP": "http", "raw SQL": "raw", "cc-backend SQL": "cc"}


def _where_the_time_goes(results: dict[str, dict[str, Any]]) -> Table:
    """Per request: our statements, the repository's share and the GraphQL layer's (p50)."""
    table = Table(title="where the time goes (ms, p50)", title_justify="left")
    for name in ("request", "our statements", "all of them, raw", "repository", "repo - raw"):
        table.add_column(name, justify="left" if name == "request" else "right")
    for name in ("gql - repo", "http - gql"):
        table.add_column(name, justify="right")
    for key, found in results.items():
        p50 = {name: _p(values, 50) for name, values in found["times"].items()}
        sent = " + ".join(f"{n} {kind}" for kind, n in found["statements"].items())
        table.add_row(
            f"({key})",
            sent,
            f"{p50['raw SQL, all statements']:,.2f}",
            f"{p50['repository']:,.2f}",
            f"{p50['repository'] - p50['raw SQL']:+,.2f}",
            f"{p50['in-process'] - p50['repository']:+,.2f}",
            f"{p50['HTTP'] - p50['in-process']:+,.2f}",
        )
    return table


def report(results: dict[str, dict[str, Any]], ping_ms: list[float]) -> bool:
    """Print the timing table and the goal; return whether the goal holds everywhere."""
    table = Table(title=f"jobs page of {PAGE_SIZE} with count (ms)", title_justify="left")
    table.add_column("request")
    table.add_column("matches", justify="right")
    for name in PATHS:
        table.add_column(f"{SHORT[name]} p50", justify="right")
        table.add_column(f"{SHORT[name]} p95", justify="right")
    for name in ("gql/raw", "http/raw", "cc/raw"):
        table.add_column(name, justify="right")
    met = True
    for key, found in results.items():
        t = found["times"]
        p50 = {name: _p(t[name], 50) for name in t}
        ratio = p50["in-process"] / p50["raw SQL"]
        met = met and ratio <= GOAL and not found["problems"]
        mark = "green" if ratio <= GOAL else "red"
        table.add_row(
            f"({key})",
            f"{found['count']:,}",
            *(f"{_p(t[name], q):,.2f}" for name in PATHS for q in (50, 95)),
            f"[{mark}]{ratio:.2f}[/{mark}]",
            f"{p50['HTTP'] / p50['raw SQL']:.2f}",
            f"{p50['cc-backend SQL'] / p50['raw SQL']:.2f}",
        )
    console.print(table)
    console.print(
        "  gql: in-process GraphQL; http: POST /query; raw: our page and count SQL on sqlite3; "
        "cc: cc-backend's page, count and next-page SQL"
    )
    console.print(_where_the_time_goes(results))
    for key, found in results.items():
        if found["cc_ties"]:
            console.print(f"  ({key}) cc-backend's page differs only in the order of equal keys")
        for problem in found["problems"]:
            console.print(f"  [red]({key}) {problem}[/red]")
    console.print(
        f"  a trivial request of the same app takes {_p(ping_ms, 50):.2f} ms p50 over HTTP"
    )
    verdict = "[green]met[/green]" if met else "[red]missed[/red]"
    console.print(f"goal: in-process GraphQL page within {GOAL}x of the raw SQL (p50): {verdict}")
    return met


async def run(db_path: Path, page: int, repeat: int, profile_rounds: int) -> dict[str, Any]:
    """Benchmark every query on the table at ``db_path``; the results per query."""
    queries = page_queries(db_path)
    with bench_site(db_path) as (backends, key):
        server = ApiServer(backends)
        server.start()
        paths = Paths(backends, _read_only(db_path), server.port, key, page)
        try:
            results: dict[str, dict[str, Any]] = {}
            for q in queries:
                facts = await check(paths, q)
                console.print(f"  measuring ({q.key}) {q.title}: {facts['count']:,} matches ...")
                results[q.key] = {
                    "title": q.title,
                    **facts,
                    "times": await measure(paths, q, repeat),
                }
            ping_ms = await ping(server.port, max(repeat, 10))
            met = report(results, ping_ms)
            if profile_rounds:
                await profile(paths, queries, profile_rounds)
            return {"met": met, "queries": results}
        finally:
            await paths.close()
            paths.conn.close()
            server.stop()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command line entry point; returns the results (for the smoke test)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=positive_int, default=1_000_000, help="job table size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page", type=positive_int, default=1, help="page N of every request")
    parser.add_argument("--repeat", type=positive_int, default=60, help="timed rounds per request")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="afterwards, cProfile ROUNDS in-process requests of every query",
    )
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    parser.add_argument("--check", action="store_true", help="exit with 1 if the goal is missed")
    args = parser.parse_args(argv)
    db_path = database_for(args.data, args.jobs, args.seed)
    console.print(
        f"{db_path}: {args.jobs:,} jobs, page {args.page}, {args.repeat} rounds, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    result = asyncio.run(run(db_path, args.page, args.repeat, args.profile))
    console.print(f"load average after the run: {os.getloadavg()[0]:.2f}")
    if args.check and not result["met"]:
        sys.exit(1)
    return result


if __name__ == "__main__":
    main()
