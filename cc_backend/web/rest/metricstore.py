"""The built-in metric store's HTTP API, as cc-metric-store serves it.

Mounted under ``/metricstore/api/`` (so a cc-metric-store client configured with
``url: http://HOST:PORT/metricstore`` works unchanged) and, for metric collectors, the write
route also under ``/api/write``. Routes (each with and without a trailing slash):

* ``POST write?cluster=C&precision=s`` — InfluxDB line protocol. Good lines are stored even
  when others are refused; the answer counts both and lists the first problems. Only a
  payload without a single good line is a 400.
* ``GET|POST query`` — cc-metric-store's JSON query request (the body of a GET, as
  cc-backend sends it); the answer has its ``results`` shape.
* ``POST free?to=T`` — body ``[[cluster, host], ...]`` (``[cluster]`` for a whole cluster);
  drops values before ``T``; answers ``buffers freed: N``.
* ``GET|POST debug?selector=cluster:host`` — what the store holds, as JSON.
* ``GET healthcheck?cluster=C&node=H`` — which metrics of a node are fresh, stale or missing.

All routes need a token with the ``api`` role (and pass the ``apiAllowedIPs`` list).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter

from cc_backend.domain.errors import BackendUnavailable, InvalidInput
from cc_backend.metricstore.lineprotocol import LineError
from cc_backend.metricstore.models import ApiQueryRequest, IngestResult
from cc_backend.web.rest.base import BaseAPIHandler, parse_int64

if TYPE_CHECKING:
    from cc_backend.metricstore.store import MetricStore

__all__ = [
    "METRIC_STORE_ROUTES",
    "MetricStoreDebugHandler",
    "MetricStoreFreeHandler",
    "MetricStoreHealthHandler",
    "MetricStoreQueryHandler",
    "MetricStoreWriteHandler",
]

_SELECTORS = TypeAdapter(list[list[str]])
_PRECISIONS = ("s", "ms", "us", "ns")
#: Refused lines listed in a write answer (all are counted).
_LISTED_ERRORS = 20


class _MetricStoreHandler(BaseAPIHandler):
    """Base of the metric store routes: the site's store, or 503 when it has none."""

    @property
    def store(self) -> MetricStore:
        found = self.backends.metric_store
        if found is None:
            raise BackendUnavailable("the built-in metric store is not enabled on this site")
        return found


class MetricStoreWriteHandler(_MetricStoreHandler):
    """``POST .../write``: ingest line protocol."""

    async def post(self) -> None:
        cluster = self.get_query_argument("cluster", None) or None
        precision = self.get_query_argument("precision", None) or None
        if precision is not None and precision not in _PRECISIONS:
            raise InvalidInput(f"precision must be one of {', '.join(_PRECISIONS)}")
        body = self.request.body
        result = await self.blocking(self._ingest, body, cluster, precision)
        answer: dict[str, Any] = {"written": result.written, "rejected": result.rejected}
        if result.errors:
            answer["errors"] = [_describe(e) for e in result.errors[:_LISTED_ERRORS]]
        if result.written == 0 and result.rejected > 0:
            raise InvalidInput(
                f"no line was stored ({result.rejected} refused; first: "
                f"{_describe(result.errors[0])})"
            )
        self.write_json(answer)

    def _ingest(self, body: bytes, cluster: str | None, precision: str | None) -> IngestResult:
        return self.store.ingest(body, cluster=cluster, precision=precision)  # type: ignore[arg-type]


def _describe(error: LineError) -> str:
    """A refused line for the answer: ``"line 3: unknown metric 'x' for cluster 'fritz'"``."""
    return f"line {error.line}: {error.reason}"


class MetricStoreQueryHandler(_MetricStoreHandler):
    """``GET|POST .../query``: cc-metric-store's query API."""

    async def get(self) -> None:
        request: ApiQueryRequest = self.body_as(ApiQueryRequest)
        response = await self.blocking(self.store.query, request)
        self.set_header("Content-Type", "application/json")
        self.finish(response.to_json())

    post = get


class MetricStoreFreeHandler(_MetricStoreHandler):
    """``POST .../free?to=T``: drop old values of the selected clusters or hosts."""

    async def post(self) -> None:
        raw_to = self.get_query_argument("to", "")
        if not raw_to:
            raise InvalidInput("'to' is a required query parameter")
        before = parse_int64(raw_to, "query parameter to")
        selectors = self.body_as(_SELECTORS) if self.request.body.strip() else []
        for selector in selectors:
            if not 1 <= len(selector) <= 2:
                raise InvalidInput(f"a selector is [cluster] or [cluster, host], got {selector}")
        freed = await self.blocking(self._free, before, selectors)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(f"buffers freed: {freed}\n")

    def _free(self, before: int, selectors: list[list[str]]) -> int:
        if not selectors:
            return self.store.free(before)
        return sum(
            self.store.free(before, cluster=sel[0], host=sel[1] if len(sel) > 1 else None)
            for sel in selectors
        )


class MetricStoreDebugHandler(_MetricStoreHandler):
    """``GET|POST .../debug?selector=cluster:host``: the store's content."""

    async def get(self) -> None:
        raw = self.get_query_argument("selector", "")
        parts = [p for p in raw.split(":") if p] if raw else []
        if len(parts) > 2:
            raise InvalidInput("selector is cluster or cluster:host")
        cluster = parts[0] if parts else None
        host = parts[1] if len(parts) > 1 else None
        dump = await self.blocking(self.store.debug, cluster, host)
        self.set_header("Content-Type", "application/json")
        self.finish(orjson.dumps(dump, option=orjson.OPT_SERIALIZE_NUMPY))

    post = get


class MetricStoreHealthHandler(_MetricStoreHandler):
    """``GET .../healthcheck?cluster=C&node=H``: fresh, stale and missing metrics."""

    async def get(self) -> None:
        cluster = self.get_query_argument("cluster", "")
        node = self.get_query_argument("node", "")
        if not cluster or not node:
            raise InvalidInput("'cluster' and 'node' are required query parameters")
        report = await self.blocking(self.store.healthcheck, cluster, node)
        self.write_json(report.model_dump(mode="json"))


#: (path below the mount point, handler); each path also without trailing slash.
METRIC_STORE_ROUTES: tuple[tuple[str, type[BaseAPIHandler]], ...] = (
    ("write", MetricStoreWriteHandler),
    ("query", MetricStoreQueryHandler),
    ("free", MetricStoreFreeHandler),
    ("debug", MetricStoreDebugHandler),
    ("healthcheck", MetricStoreHealthHandler),
)
