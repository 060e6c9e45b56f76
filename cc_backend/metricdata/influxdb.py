"""Metric data from InfluxDB (``kind: "influxdb"``), read with InfluxQL over the v1 API.

Metric collectors (cc-metric-collector's InfluxDB sink) write one measurement per metric,
tagged ``hostname``, ``cluster``, ``type`` (``node``, ``socket``, ``core``, ``hwthread``,
``accelerator``, ``memoryDomain``) and ``type-id``, with the sample in the field
``value``. This backend reads them through the v1 ``/query`` endpoint, which InfluxDB 1.x
serves and InfluxDB 2.x keeps for compatibility (there a database name maps to a bucket).

The scope rules and the shape of the answers are those of every other backend: the
queries of :func:`cc_backend.metricdata.scopes.build_queries` are answered here, so
:class:`InfluxDBData` is :class:`~cc_backend.metricdata.ccms.CCMetricStoreData` with a
transport that speaks InfluxQL. For each metric (and time step) of a request, one
``SELECT mean("value")`` statement fetches the series of the metric's native scope on the
requested hosts in buckets of the time step (aligned to the start of the window, time in
epoch seconds); all statements of a request go in one HTTP request. Series are then
combined as the store combines them: by the metric's ``aggregation`` (sum or average), a
combined value is NaN unless every combined series has one.

Answers follow the built-in store's: a series runs from the start of the window (earlier
buckets without data are NaN) to its last value; statistics are those of the delivered
values; at a coarser resolution, InfluxDB averages each bucket of the coarser step.

Config (``metricDataRepository``): ``url``; ``database`` (or cc-backend's ``bucket``);
optional ``retentionPolicy``; ``token`` (sent as ``Authorization: Token ...``, as
InfluxDB 2.x expects, or ``username:password`` for 1.8 and later) or ``username`` and
``password`` (HTTP basic auth); ``skiptls`` to accept any TLS certificate; ``org`` is
accepted for cc-backend's configs and not needed by the v1 API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt
import orjson
import urllib3
from pydantic import SecretStr

from cc_backend.config.base import close_match, squash
from cc_backend.config.clusters import MetricDataRepository as RepositoryConfig
from cc_backend.domain.cluster import Aggregation, Cluster, MetricConfig, MetricScope
from cc_backend.domain.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound
from cc_backend.metricdata.ccms import CCMetricStoreData
from cc_backend.metricstore.models import ApiMetricData, ApiQuery, ApiQueryRequest, ApiQueryResponse
from cc_backend.metricstore.resample import step_for

__all__ = [
    "InfluxDBData",
    "InfluxQLClient",
    "InfluxQLTransport",
    "InfluxSettings",
    "influxdb_from_config",
    "quote_identifier",
    "quote_string",
]

_Floats = npt.NDArray[np.float64]
#: The series of one statement's answer: (hostname, type-id) -> values on the time grid.
_Grid = dict[tuple[str, str], _Floats]

NO_DATA = "no data in InfluxDB for this series"


# -- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class InfluxSettings:
    """Where the metrics are and how to log in; see the module docstring for the keys."""

    url: str
    database: str
    retention_policy: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    skip_tls: bool = False
    timeout: float = 30.0

    #: Squashed config key -> (field, expected type); ``bucket`` is cc-backend's name.
    _KEYS: ClassVar[dict[str, tuple[str, type]]] = {
        "database": ("database", str),
        "bucket": ("database", str),
        "retentionpolicy": ("retention_policy", str),
        "username": ("username", str),
        "password": ("password", str),
        "skiptls": ("skip_tls", bool),
        "org": ("", str),
    }
    _SPELLINGS: ClassVar[tuple[str, ...]] = (
        "database",
        "bucket",
        "retentionPolicy",
        "username",
        "password",
        "skiptls",
        "org",
    )

    @classmethod
    def from_config(cls, config: RepositoryConfig) -> InfluxSettings:
        """The settings of a ``metricDataRepository`` entry; ConfigError lists every problem
        (unknown keys with a suggestion, values of the wrong type, no database)."""
        values: dict[str, Any] = {}
        problems: list[str] = []
        for key, raw in (config.model_extra or {}).items():
            value = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
            known = cls._KEYS.get(squash(key))
            if known is None:
                hint = close_match(key, list(cls._SPELLINGS))
                suffix = f" (did you mean {hint!r}?)" if hint else ""
                problems.append(f"metricDataRepository.{key}: unknown key for influxdb{suffix}")
                continue
            name, expected = known
            if not isinstance(value, expected):
                problems.append(
                    f"metricDataRepository.{key}: must be a {expected.__name__} for influxdb"
                )
            elif name:
                values[name] = value
        if not values.get("database"):
            problems.append("metricDataRepository.database: required when kind is 'influxdb'")
        if not config.url:
            problems.append("metricDataRepository.url: required when kind is 'influxdb'")
        if problems:
            raise ConfigError(problems)
        token = config.token.get_secret_value() if config.token is not None else None
        return cls(url=str(config.url), token=token or None, **values)


# -- InfluxQL text --------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    """``name`` as a double-quoted InfluxQL identifier (measurement, tag key, database)."""
    return '"' + _escape(name, '"') + '"'


def quote_string(value: str) -> str:
    """``value`` as a single-quoted InfluxQL string literal (e.g. a tag value)."""
    return "'" + _escape(value, "'") + "'"


def _escape(text: str, quote: str) -> str:
    # InfluxQL's scanner knows the escapes \\, \', \" and \n; a raw newline ends a string.
    return text.replace("\\", "\\\\").replace(quote, "\\" + quote).replace("\n", "\\n")


def select_statement(
    measurement: str,
    native: MetricScope,
    hosts: Iterable[str],
    *,
    start: int,
    stop: int,
    step: int,
) -> str:
    """The statement that reads a metric's series on ``hosts`` from ``start`` to ``stop``
    (inclusive, Unix seconds) in buckets of ``step`` seconds that begin at ``start``.

    ``measurement`` is already quoted (possibly qualified with database and retention
    policy). Node series are those tagged ``type=node`` or not tagged with a type.
    """
    if native is MetricScope.NODE:
        kind = f'("type" = {quote_string("node")} OR "type" = {quote_string("")})'
    else:
        kind = f'"type" = {quote_string(str(native))}'
    names = " OR ".join(f'"hostname" = {quote_string(h)}' for h in hosts)
    return (
        f'SELECT mean("value") FROM {measurement}'
        f" WHERE time >= {start}s AND time <= {stop}s AND {kind} AND ({names})"
        f' GROUP BY time({step}s, {start % step}s), "hostname", "type-id" fill(none)'
    )


# -- HTTP -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InfluxSeries:
    """One series of a statement's answer: its tags and its (time, value) rows."""

    tags: dict[str, str]
    times: list[int]
    values: list[float | None]


class InfluxQLClient:
    """Runs InfluxQL statements on one database through ``POST <url>/query`` (keep-alive
    connections, a timeout); every failure is a :class:`BackendUnavailable`."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self.endpoint = settings.url.rstrip("/") + "/query"
        self.headers = {"Accept": "application/json"}
        if settings.token:
            self.headers["Authorization"] = f"Token {settings.token}"
        elif settings.username is not None:
            credentials = f"{settings.username}:{settings.password or ''}"
            self.headers.update(urllib3.make_headers(basic_auth=credentials))
        tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if settings.skip_tls else {}
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(total=settings.timeout), retries=False, maxsize=8, **tls
        )

    def query(self, statements: Sequence[str]) -> list[list[InfluxSeries]]:
        """The series each statement answered, in statement order."""
        if not statements:
            return []
        url = f"{self.endpoint}?{urlencode({'db': self.settings.database, 'epoch': 's'})}"
        try:
            response = self._pool.request(
                "POST",
                url,
                fields={"q": ";\n".join(statements)},
                encode_multipart=False,
                headers=self.headers,
            )
        except urllib3.exceptions.HTTPError as exc:
            failure = _failure(exc, self.settings.timeout)
            raise BackendUnavailable(f"InfluxDB {self.endpoint}: {failure}") from None
        if not 200 <= response.status < 300:
            raise BackendUnavailable(
                f"InfluxDB {self.endpoint} answered {response.status}: {_error_text(response.data)}"
            )
        try:
            return _parse_results(response.data, len(statements))
        except _StatementFailed as exc:
            raise BackendUnavailable(f"InfluxDB {self.endpoint}: {exc}") from None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(
                f"InfluxDB {self.endpoint}: unreadable answer ({exc})"
            ) from None

    def close(self) -> None:
        self._pool.clear()


def _failure(exc: urllib3.exceptions.HTTPError, timeout: float) -> str:
    """Why a request got no answer, without urllib3's connection object in the text."""
    cause = exc.__cause__
    if isinstance(exc, urllib3.exceptions.NewConnectionError) and isinstance(cause, OSError):
        return f"cannot connect ({cause.strerror or cause})"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {timeout:g} s"
    return str(exc)


def _error_text(body: bytes) -> str:
    """The ``error`` of an InfluxDB error body, or the start of the body."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return body[:200].decode(errors="replace").strip() or "(empty body)"


class _StatementFailed(Exception):
    """InfluxDB answered, but with an error instead of (all) the data."""


def _parse_results(raw: bytes, expected: int) -> list[list[InfluxSeries]]:
    """The series of each statement; ValueError (among others) for anything that is not
    an answer, _StatementFailed for a statement that failed or an answer cut short."""
    document = orjson.loads(raw)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    if isinstance(document.get("error"), str):
        raise _StatementFailed(f"query failed: {document['error']}")
    results = document["results"]
    if not isinstance(results, list) or len(results) != expected:
        raise ValueError(f"{expected} statements sent, results do not match")
    answers: list[list[InfluxSeries]] = []
    for result in results:
        if result.get("error") is not None:
            raise _StatementFailed(f"query failed: {result['error']}")
        if result.get("partial"):
            raise _StatementFailed("the answer was cut short (raise the server's max-row-limit)")
        answers.append([_series(item) for item in result.get("series") or []])
    return answers


def _series(item: Mapping[str, Any]) -> InfluxSeries:
    columns = item["columns"]
    if list(columns[:1]) != ["time"] or len(columns) != 2:
        raise ValueError(f"unexpected columns {columns!r}")
    rows = item.get("values") or []
    times = [int(row[0]) for row in rows]
    values = [None if row[1] is None else float(row[1]) for row in rows]
    tags = {str(k): str(v) for k, v in (item.get("tags") or {}).items()}
    return InfluxSeries(tags, times, values)


# -- answering the store's queries ----------------------------------------------------------


@dataclass(frozen=True)
class _Statement:
    """One metric at one time step, for the hosts of the queries that need it."""

    metric: MetricConfig
    step: int
    hosts: dict[str, None]


class InfluxQLTransport:
    """Answers the queries of :class:`CCMetricStoreData` from InfluxDB.

    ``cluster_of`` gives each metric's native scope, time step and aggregation. A query
    of a metric the cluster does not configure, or at a type other than the metric's
    native scope, gets an error result (as a store answers a series it does not have).
    """

    def __init__(self, client: InfluxQLClient, cluster_of: Callable[[str], Cluster]) -> None:
        self.client = client
        self.cluster_of = cluster_of
        database = quote_identifier(client.settings.database)
        policy = client.settings.retention_policy
        self._prefix = f"{database}.{quote_identifier(policy)}." if policy else ""

    def close(self) -> None:
        self.client.close()

    def __call__(self, request: ApiQueryRequest) -> ApiQueryResponse:
        if request.for_all_nodes:
            raise InvalidInput("for-all-nodes queries are not supported by the InfluxDB backend")
        try:
            cluster = self.cluster_of(request.cluster)
        except NotFound as exc:
            raise InvalidInput(exc.message) from exc
        plans: list[tuple[MetricConfig, int] | str] = [
            self._plan(cluster, query) for query in request.queries
        ]
        statements: dict[tuple[str, int], _Statement] = {}
        for query, plan in zip(request.queries, plans, strict=True):
            if isinstance(plan, tuple):
                config, step = plan
                entry = statements.setdefault((config.name, step), _Statement(config, step, {}))
                entry.hosts[query.host] = None
        answers = self.client.query(
            [
                select_statement(
                    self._prefix + quote_identifier(s.metric.name),
                    s.metric.scope,
                    s.hosts,
                    start=request.from_,
                    stop=request.to,
                    step=s.step,
                )
                for s in statements.values()
            ]
        )
        grids = {
            key: _grid(series, request.from_, entry.step)
            for (key, entry), series in zip(statements.items(), answers, strict=True)
        }
        results: list[list[ApiMetricData]] = []
        for query, plan in zip(request.queries, plans, strict=True):
            if isinstance(plan, str):
                results.append([ApiMetricData(error=plan)])
                continue
            config, step = plan
            results.append(_answer(query, config, step, grids[config.name, step], request))
        return ApiQueryResponse(results=results)

    @staticmethod
    def _plan(cluster: Cluster, query: ApiQuery) -> tuple[MetricConfig, int] | str:
        """The metric and time step of ``query``, or why it cannot be answered."""
        try:
            config = cluster.metric(query.metric)
        except NotFound as exc:
            return exc.message
        if query.subtype is not None:
            return "queries with a subtype are not supported by the InfluxDB backend"
        native = config.scope
        if native is MetricScope.NODE:
            wrong = query.type not in (None, str(native))
        else:
            wrong = query.type != str(native) or not query.type_ids
        if wrong:
            asked = f"per {query.type}" if query.type else "without ids"
            return f"metric {query.metric!r} is stored per {native}, not readable {asked}"
        return config, config.timestep * step_for(config.timestep, query.resolution)


def _grid(series: Sequence[InfluxSeries], start: int, step: int) -> _Grid:
    """Each series of an answer on the time grid that starts at ``start`` (NaN where a
    bucket has no value); all series as long as the longest."""
    length = 0
    positions: list[list[int]] = []
    for item in series:
        index = [(t - start) // step for t in item.times]
        if any(i < 0 for i in index):
            raise BackendUnavailable("InfluxDB answered values before the requested time")
        positions.append(index)
        length = max(length, max(index, default=-1) + 1)
    grid: _Grid = {}
    for item, index in zip(series, positions, strict=True):
        row = np.full(length, np.nan)
        row[index] = np.array(item.values, dtype=np.float64)
        key = (item.tags.get("hostname", ""), item.tags.get("type-id", ""))
        grid[key] = row
    return grid


def _answer(
    query: ApiQuery,
    config: MetricConfig,
    step: int,
    grid: _Grid,
    request: ApiQueryRequest,
) -> list[ApiMetricData]:
    """The results of one query: one per id, or one for the ids combined."""
    ids = [""] if config.scope is MetricScope.NODE else list(query.type_ids or [])
    rows = [grid.get((query.host, i)) for i in ids]
    if query.aggregate or len(ids) == 1:
        present = [row for row in rows if row is not None]
        if len(present) < len(rows):
            return [ApiMetricData(error=NO_DATA)]
        table = np.vstack(present)
        combined = table.sum(axis=0) if config.aggregation is Aggregation.SUM else table.mean(0)
        return [_result(combined, step, query, request)]
    return [
        _result(row, step, query, request) if row is not None else ApiMetricData(error=NO_DATA)
        for row in rows
    ]


def _result(values: _Floats, step: int, query: ApiQuery, request: ApiQueryRequest) -> ApiMetricData:
    """One series as the store delivers it: from the window start (or, without padding,
    its first value) to its last value, with statistics and the query's scale."""
    present = np.flatnonzero(~np.isnan(values))
    first = int(present[0]) if present.size and not request.with_padding else 0
    end = int(present[-1]) + 1 if present.size else first
    data = values[first:end]
    if query.scale_by not in (None, 0.0, 1.0):
        data = data * float(query.scale_by or 1.0)
    nan = float("nan")
    avg, low, high = nan, nan, nan
    if request.with_stats and present.size:
        kept = data[~np.isnan(data)]
        avg, low, high = float(kept.mean()), float(kept.min()), float(kept.max())
    origin = request.from_ + first * step
    return ApiMetricData(
        data=np.ascontiguousarray(data) if request.with_data else None,
        from_=origin,
        to=origin + len(data) * step,
        resolution=step,
        avg=avg,
        min=low,
        max=high,
    )


# -- the backend ----------------------------------------------------------------------------


class InfluxDBData(CCMetricStoreData):
    """Metric data of one or more clusters from InfluxDB (see the module docstring)."""

    kind: ClassVar[str] = "influxdb"

    def __init__(
        self,
        cluster_of: Callable[[str], Cluster],
        transport: InfluxQLTransport,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(cluster_of, transport, clock=clock)


def influxdb_from_config(
    cluster_of: Callable[[str], Cluster], config: RepositoryConfig
) -> InfluxDBData:
    """The backend a ``metricDataRepository`` entry of kind ``influxdb`` describes
    (ConfigError if the entry is incomplete or names unknown keys)."""
    settings = InfluxSettings.from_config(config)
    transport = InfluxQLTransport(InfluxQLClient(settings), cluster_of)
    return InfluxDBData(cluster_of, transport)
