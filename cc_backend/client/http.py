"""The HTTP client: a running server's GraphQL (``/query``) and REST API, with an API token.

For notebooks and scripts::

    client = HttpClient("http://127.0.0.1:8080", token)   # token: `cc-backend jwt USER`
    running = await client.count_jobs([JobFilter(state=["running"])])

It answers like :class:`~cc_backend.client.local.LocalClient` (see
:mod:`cc_backend.client.base`), as the token's user. The API offers no route to read a
user's settings or the site notice: those raise :class:`NotSupported`. ``find_users`` uses
``/api/users/``, which the server answers for admins with the ``api`` role only.
Connection failures raise :class:`BackendUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse

from cc_backend.client.base import JobList, NotSupported
from cc_backend.client.graphql_shapes import (
    CLUSTER_FIELDS,
    JOB_FIELDS,
    cluster_from_graphql,
    error_from_graphql,
    job_data_from_graphql,
    job_from_graphql,
)
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import (
    BackendUnavailable,
    CCError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics
from cc_backend.domain.tag import Tag

__all__ = ["HttpClient"]

_STATUS_ERRORS: dict[int, type[CCError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    503: BackendUnavailable,
}

_JOBS = f"""
query ($filter: [JobFilter!], $page: PageRequest, $order: OrderByInput) {{
  jobs(filter: $filter, page: $page, order: $order) {{
    items {{ {JOB_FIELDS} }} hasNextPage
  }}
}}"""
_JOBS_COUNTED = _JOBS.replace("hasNextPage", "hasNextPage count")
_COUNT = "query ($filter: [JobFilter!]) { jobs(filter: $filter) { count } }"
_JOB = f"query ($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"
_JOB_METRICS = """
query ($id: ID!, $metrics: [String!], $scopes: [MetricScope!], $resolution: Int) {
  jobMetrics(id: $id, metrics: $metrics, scopes: $scopes, resolution: $resolution) {
    name scope
    metric {
      unit { base prefix } timestep
      series { hostname id statistics { avg min max } data }
      statisticsSeries { mean median min max }
    }
  }
}"""
_JOB_STATS = """
query ($id: ID!, $metrics: [String!]) {
  jobStats(id: $id, metrics: $metrics) { name data { avg min max } }
}"""
_CLUSTERS = f"query {{ clusters {{ {CLUSTER_FIELDS} }} }}"
_TAGS = "query { tags { id type name scope } }"
_SET_CONFIG = """
mutation ($name: String!, $value: String!) { updateConfiguration(name: $name, value: $value) }
"""


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class HttpClient:
    """:class:`~cc_backend.client.base.Client` over a server's API (module docstring).

    ``base_url`` is the server's address (``http://host:port``), ``token`` an API token;
    ``timeout`` applies to each request, in seconds.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    # -- transport -----------------------------------------------------------------------

    async def _fetch(self, method: str, path: str, body: bytes | None = None) -> HTTPResponse:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            return await AsyncHTTPClient().fetch(
                self.base_url + path,
                method=method,
                body=body,
                headers=headers,
                raise_error=False,
                request_timeout=self.timeout,
            )
        except (OSError, HTTPClientError) as exc:
            raise BackendUnavailable(f"cannot reach {self.base_url}: {exc}") from None

    async def _graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        body = orjson.dumps({"query": query, "variables": variables or {}})
        response = await self._fetch("POST", "/query", body)
        result = _json(response)
        if isinstance(result, dict) and result.get("errors"):
            raise error_from_graphql(result["errors"])
        if response.code != 200 or not isinstance(result, dict):
            raise _status_error(response)
        return result["data"]

    async def _rest(self, path: str) -> Any:
        response = await self._fetch("GET", path)
        if response.code != 200:
            raise _status_error(response)
        return _json(response)

    # -- jobs ----------------------------------------------------------------------------

    async def jobs(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        order: OrderBy | None = None,
        page: PageRequest | None = None,
        with_count: bool = False,
    ) -> JobList:
        variables = {
            "filter": [_dump(f) for f in filters],
            "page": _dump(page) if page is not None else None,
            "order": _dump(order) if order is not None else None,
        }
        data = await self._graphql(_JOBS_COUNTED if with_count else _JOBS, variables)
        result = data["jobs"]
        return JobList(
            [job_from_graphql(item) for item in result["items"]],
            bool(result["hasNextPage"]),
            result.get("count"),
            tuple(filters),
        )

    async def count_jobs(self, filters: Sequence[JobFilter] = ()) -> int:
        data = await self._graphql(_COUNT, {"filter": [_dump(f) for f in filters]})
        return int(data["jobs"]["count"])

    async def job(self, db_id: int) -> Job:
        data = await self._graphql(_JOB, {"id": str(db_id)})
        if data["job"] is None:
            raise NotFound(f"no job with id {db_id}")
        return job_from_graphql(data["job"])

    # -- metric data ---------------------------------------------------------------------

    async def job_metrics(
        self,
        db_id: int,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
        resolution: int | None = None,
    ) -> JobData:
        variables = {
            "id": str(db_id),
            "metrics": list(metrics) if metrics is not None else None,
            "scopes": [MetricScope(s).value for s in scopes],
            "resolution": resolution,
        }
        data = await self._graphql(_JOB_METRICS, variables)
        return job_data_from_graphql(data["jobMetrics"])

    async def job_stats(
        self, db_id: int, metrics: Sequence[str] | None = None
    ) -> dict[str, MetricStatistics]:
        variables = {"id": str(db_id), "metrics": list(metrics) if metrics is not None else None}
        data = await self._graphql(_JOB_STATS, variables)
        return {e["name"]: MetricStatistics.model_validate(e["data"]) for e in data["jobStats"]}

    # -- site ----------------------------------------------------------------------------

    async def clusters(self) -> list[Cluster]:
        data = await self._graphql(_CLUSTERS)
        return sorted((cluster_from_graphql(c) for c in data["clusters"]), key=lambda c: c.name)

    async def tags(self) -> list[Tag]:
        data = await self._graphql(_TAGS)
        return [Tag.model_validate(t) for t in data["tags"]]

    async def notice(self) -> str:
        raise NotSupported("the server's API offers no route to read the site notice")

    # -- the user ------------------------------------------------------------------------

    async def user_config(self) -> dict[str, Any]:
        raise NotSupported("the server's API offers no route to read a user's settings")

    async def set_user_config(self, key: str, value: Any) -> None:
        try:
            text = orjson.dumps(value).decode()
        except TypeError as exc:
            raise InvalidInput(f"setting {key[:80]!r} has no JSON form: {exc}") from None
        await self._graphql(_SET_CONFIG, {"name": key, "value": text})

    async def find_users(self, name_part: str) -> list[str]:
        wanted = name_part.strip().casefold()
        users = await self._rest("/api/users/")
        return [u["username"] for u in users if wanted and wanted in str(u["name"]).casefold()]


def _json(response: HTTPResponse) -> Any:
    try:
        return orjson.loads(response.body or b"null")
    except orjson.JSONDecodeError:
        return None


def _status_error(response: HTTPResponse) -> CCError:
    """The domain error for a failed request: the GraphQL error or REST error body's
    message, classified by the status code."""
    body = _json(response)
    message = f"the server answered {response.code}"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return error_from_graphql(errors)
        message = str(body.get("error") or message)
    return _STATUS_ERRORS.get(response.code, CCError)(message)
