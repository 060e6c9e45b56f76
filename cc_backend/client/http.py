"""The HTTP client: a running server's GraphQL (``/query``) and REST API, with an API token.

For notebooks and scripts::

    client = HttpClient("http://127.0.0.1:8080", token)   # token: `cc-backend jwt USER`
    running = await client.count_jobs([JobFilter(state=["running"])])

It answers like :class:`~cc_backend.client.local.LocalClient` (see
:mod:`cc_backend.client.base`), as the token's user; :meth:`HttpClient.graphql` sends any
other query of the server's GraphQL API. The API offers no route to read a
user's settings or the site notice: those raise :class:`NotSupported`. ``find_users`` uses
``/api/users/``, which the server answers for admins with the ``api`` role only.
Connection failures raise :class:`BackendUnavailable`.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse

from cc_backend.client.base import (
    DEFAULT_DURATION_BINS,
    DisplayConfig,
    JobLink,
    JobLinks,
    JobList,
    JobsHistograms,
    NotSupported,
)
from cc_backend.client.graphql_shapes import (
    ALLOCATED_NODES_QUERY,
    CLUSTER_FIELDS,
    CLUSTER_METRICS_QUERY,
    FOOTPRINTS_FIELDS,
    JOB_FIELDS,
    JOB_STATS_FIELDS,
    NODE_LIST_QUERY,
    NODE_METRICS_QUERY,
    NODE_REPORTS_QUERY,
    NODE_STATES_TIMED_QUERY,
    ROOFLINE_HEATMAP_QUERY,
    cluster_from_graphql,
    cluster_metrics_from_graphql,
    error_from_graphql,
    footprints_from_graphql,
    job_data_from_graphql,
    job_from_graphql,
    job_stats_from_graphql,
    node_data_from_graphql,
    node_page_from_graphql,
    node_report_from_graphql,
    states_timed_from_graphql,
)
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import (
    BackendUnavailable,
    CCError,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import (
    JobData,
    MetricStatistics,
    ScopedStatistics,
    SeriesStatistics,
)
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE, Tag
from cc_backend.domain.user import User
from cc_backend.repository.nodes import StatesOverTime
from cc_backend.services.cluster_status import ClusterMetrics
from cc_backend.services.node_overview import (
    NodeMetricsPage,
    NodeReport,
    StateChange,
    history_filters,
    history_from_counts,
    jobs_on_node,
)
from cc_backend.stats.statistics_results import (
    Footprints,
    JobsStatistics,
    JobStats,
    MetricHistoPoint,
    MetricHistoPoints,
    RooflineGrid,
)
from cc_backend.stats.stats_results import GroupBy, HistoPoint, SortBy
from cc_backend.web.errors import error_for_status

if TYPE_CHECKING:
    from cc_backend.services.user_admin import NewUser, UserChange

__all__ = ["HttpClient"]

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
_SCOPED_STATS = """
query ($id: ID!, $metrics: [String!], $scopes: [MetricScope!]) {
  scopedJobStats(id: $id, metrics: $metrics, scopes: $scopes) {
    name scope stats { hostname id data { avg min max } }
  }
}"""
_CONCURRENT = """
query ($id: ID!) { job(id: $id) { concurrentJobs { listQuery items { id jobId } } } }"""
_TAG_FIELDS = "id type name scope"
_CREATE_TAG = f"""
mutation ($type: String!, $name: String!, $scope: String!) {{
  createTag(type: $type, name: $name, scope: $scope) {{ {_TAG_FIELDS} }}
}}"""
_ADD_TAGS = f"""
mutation ($job: ID!, $tagIds: [ID!]!) {{
  addTagsToJob(job: $job, tagIds: $tagIds) {{ {_TAG_FIELDS} }}
}}"""
_REMOVE_TAGS = f"""
mutation ($job: ID!, $tagIds: [ID!]!) {{
  removeTagsFromJob(job: $job, tagIds: $tagIds) {{ {_TAG_FIELDS} }}
}}"""


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

    async def graphql(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        """The ``data`` of any query or mutation of the server's GraphQL API (``POST
        /query``; cc-backend's schema) with ``variables``, for what the client's methods
        do not cover. An answer with errors raises the first as the domain error its
        ``extensions.code`` names (:class:`~cc_backend.domain.errors.NotFound`,
        ``PermissionDenied``, ``InvalidInput``, ...); :class:`BackendUnavailable` when
        the server cannot be reached."""
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
        data = await self.graphql(_JOBS_COUNTED if with_count else _JOBS, variables)
        result = data["jobs"]
        return JobList(
            [job_from_graphql(item) for item in result["items"]],
            bool(result["hasNextPage"]),
            result.get("count"),
            tuple(filters),
        )

    async def count_jobs(self, filters: Sequence[JobFilter] = ()) -> int:
        data = await self.graphql(_COUNT, {"filter": [_dump(f) for f in filters]})
        return int(data["jobs"]["count"])

    async def job(self, db_id: int) -> Job:
        data = await self.graphql(_JOB, {"id": str(db_id)})
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
        data = await self.graphql(_JOB_METRICS, variables)
        return job_data_from_graphql(data["jobMetrics"])

    def prefetch_job_data(self, db_id: int) -> None:
        """Nothing: the server keeps recently read job data in its own cache."""

    async def job_stats(
        self, db_id: int, metrics: Sequence[str] | None = None
    ) -> dict[str, MetricStatistics]:
        variables = {"id": str(db_id), "metrics": list(metrics) if metrics is not None else None}
        data = await self.graphql(_JOB_STATS, variables)
        return {e["name"]: MetricStatistics.model_validate(e["data"]) for e in data["jobStats"]}

    # -- site ----------------------------------------------------------------------------

    async def clusters(self) -> list[Cluster]:
        data = await self.graphql(_CLUSTERS)
        return sorted((cluster_from_graphql(c) for c in data["clusters"]), key=lambda c: c.name)

    async def tags(self) -> list[Tag]:
        data = await self.graphql(_TAGS)
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
        await self.graphql(_SET_CONFIG, {"name": key, "value": text})

    async def find_users(self, name_part: str) -> list[str]:
        wanted = name_part.strip().casefold()
        users = await self._rest("/api/users/")
        return [u["username"] for u in users if wanted and wanted in str(u["name"]).casefold()]

    # -- the job view ----------------------------------------------------------------------

    async def job_scoped_stats(
        self,
        db_id: int,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
    ) -> ScopedStatistics:
        variables = {
            "id": str(db_id),
            "metrics": list(metrics) if metrics is not None else None,
            "scopes": [MetricScope(s).value for s in scopes],
        }
        data = await self.graphql(_SCOPED_STATS, variables)
        result: ScopedStatistics = {}
        for entry in data["scopedJobStats"]:
            by_scope = result.setdefault(entry["name"], {})
            by_scope[MetricScope(entry["scope"])] = [
                SeriesStatistics(
                    s["hostname"],
                    s.get("id"),
                    *(_nan_if_none(s["data"].get(k)) for k in ("avg", "min", "max")),
                )
                for s in entry["stats"]
            ]
        return result

    async def concurrent_jobs(self, db_id: int) -> JobLinks:
        data = await self.graphql(_CONCURRENT, {"id": str(db_id)})
        if data["job"] is None:
            raise NotFound(f"no job with id {db_id}")
        found = data["job"]["concurrentJobs"]
        if not found:
            return JobLinks()
        links = [JobLink(int(item["id"]), int(item["jobId"])) for item in found["items"]]
        return JobLinks(links, str(found.get("listQuery") or ""))

    async def add_job_tags(self, db_id: int, tags: Sequence[Tag]) -> list[Tag]:
        """Missing tags are created one by one before any is attached, those of the
        shared scopes (``global``, ``admin``: the ones most often refused) first; a refusal
        leaves the job as it was, but private tags created before it remain unattached."""
        known = {(t.type, t.name, t.scope): t.id for t in await self.tags()}
        ids: dict[tuple[str, str, str], int] = {}
        for tag in sorted(tags, key=lambda t: t.scope not in (GLOBAL_SCOPE, ADMIN_SCOPE)):
            key = (tag.type, tag.name, tag.scope)
            tag_id = known.get(key)
            if tag_id is None:
                named = {"type": tag.type, "name": tag.name, "scope": tag.scope}
                created = await self.graphql(_CREATE_TAG, named)
                tag_id = known[key] = int(created["createTag"]["id"])
            ids[key] = tag_id
        tag_ids = [str(i) for i in dict.fromkeys(ids.values())]
        data = await self.graphql(_ADD_TAGS, {"job": str(db_id), "tagIds": tag_ids})
        return [Tag.model_validate(t) for t in data["addTagsToJob"]]

    async def remove_job_tags(self, db_id: int, tag_ids: Sequence[int]) -> list[Tag]:
        variables = {"job": str(db_id), "tagIds": [str(i) for i in tag_ids]}
        data = await self.graphql(_REMOVE_TAGS, variables)
        return [Tag.model_validate(t) for t in data["removeTagsFromJob"]]

    async def display_config(self) -> DisplayConfig:
        raise NotSupported("the server's API offers no route to read the display settings")

    # -- statistics, tags and administration (user, users, tags and settings pages) -------
    #
    # Statistics, tag counts and look-ups use GraphQL; deleting tags and listing users the
    # REST API (``/api/``, which wants the ``api`` role); user administration, the notice
    # and tokens cc-backend's session routes (``/config/``, ``/frontend/jwt/``), reached
    # with a login session that ``/jwt-login`` opens for the token's user.

    async def jobs_statistics(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        group_by: GroupBy | None = None,
        sort_by: SortBy | None = None,
        page: PageRequest | None = None,
    ) -> list[JobsStatistics]:
        variables = {
            "filter": [_dump(f) for f in filters],
            "page": _dump(page) if page is not None else None,
            "sortBy": SortBy(sort_by).value if sort_by is not None else None,
            "groupBy": GroupBy(group_by).value if group_by is not None else None,
        }
        data = await self.graphql(_STATISTICS, variables)
        return [_statistics_from_graphql(row) for row in data["jobsStatistics"]]

    async def jobs_histograms(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        metrics: Sequence[str] = (),
        duration_bins: str = DEFAULT_DURATION_BINS,
        metric_bins: int | None = None,
    ) -> JobsHistograms:
        variables = {
            "filter": [_dump(f) for f in filters],
            "metrics": list(metrics),
            "bins": duration_bins,
            "metricBins": metric_bins,
        }
        data = await self.graphql(_HISTOGRAMS, variables)
        return _histograms_from_graphql(data["jobsStatistics"][0])

    async def tag_counts(self) -> dict[int, int]:
        ids = [t.id for t in await self.tags() if t.id is not None]
        if not ids:
            return {}
        fields = " ".join(f't{i}: jobs(filter: [{{tags: ["{i}"]}}]) {{ count }}' for i in ids)
        data = await self.graphql(f"query {{ {fields} }}")
        return {i: int(data[f"t{i}"]["count"]) for i in ids}

    async def delete_tags(self, tags: Sequence[Tag]) -> int:
        body = orjson.dumps([{"type": t.type, "name": t.name, "scope": t.scope} for t in tags])
        response = await self._call("DELETE", "/api/tags/", body, {"Content-Type": _JSON})
        if response.code != 200:
            raise _status_error(response)
        found = re.search(rb"(\d+) successfull", response.body or b"")
        return int(found.group(1)) if found else 0

    async def lookup_user(self, username: str) -> User | None:
        data = await self.graphql(_USER, {"username": username})
        found = data["user"]
        if found is None:
            return None
        return User(username=found["username"], name=found["name"], email=found["email"])

    async def users(self) -> list[User]:
        users = await self._rest("/api/users/")
        return [
            User.build(
                u["username"],
                u.get("roles") or [],
                u.get("projects") or [],
                name=u.get("name") or "",
                email=u.get("email") or "",
            )
            for u in users
        ]

    async def create_user(self, form: NewUser) -> User:
        fields = {
            "username": form.username,
            "password": form.password,
            "role": form.role,
            "name": form.name,
            "email": form.email,
            "project": form.project,
        }
        await self._session_form("POST", "/config/users/", fields)
        return User.build(
            form.username,
            [form.role],
            [form.project] if form.project else [],
            name=form.name,
            email=form.email,
        )

    async def change_user(self, username: str, change: UserChange) -> str:
        fields = {
            "add-role": change.add_role,
            "remove-role": change.remove_role,
            "add-project": change.add_project,
            "remove-project": change.remove_project,
        }
        path = "/config/user/" + quote(username, safe="")
        answer = _json(await self._session_form("POST", path, fields))
        return str(answer.get("msg", "")) if isinstance(answer, dict) else ""

    async def delete_user(self, username: str) -> None:
        await self._session_form("DELETE", "/config/users/", {"username": username})

    async def set_notice(self, text: str) -> str:
        response = await self._session_form("POST", "/config/notice/", {"new-content": text})
        return (response.body or b"").decode()

    async def api_token(self, username: str | None = None) -> str:
        name = _token_subject(self.token) if username is None else username
        path = "/frontend/jwt/?" + urlencode({"username": name})
        response = await self._session_form("GET", path, None)
        return (response.body or b"").decode().strip()

    async def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        with_token: bool = True,
        follow_redirects: bool = True,
    ) -> HTTPResponse:
        """One request of any method (``DELETE`` with a body too); connection failures
        are :class:`BackendUnavailable`, statuses are left to the caller."""
        sent = {"Accept": "application/json", **(headers or {})}
        if with_token:
            sent["Authorization"] = f"Bearer {self.token}"
        try:
            return await AsyncHTTPClient().fetch(
                self.base_url + path,
                method=method,
                body=body,
                headers=sent,
                raise_error=False,
                request_timeout=self.timeout,
                follow_redirects=follow_redirects,
                allow_nonstandard_methods=True,
            )
        except (OSError, HTTPClientError) as exc:
            raise BackendUnavailable(f"cannot reach {self.base_url}: {exc}") from None

    async def _session(self) -> str:
        """A ``Cookie`` header with a new login session of the token's user (opened by
        ``/jwt-login``); :class:`Unauthenticated` if the server refuses the token."""
        response = await self._call("GET", "/jwt-login", follow_redirects=False)
        for header in response.headers.get_list("Set-Cookie") if response.code == 302 else []:
            name, _, rest = header.partition("=")
            if name.strip() == _SESSION_COOKIE:
                return f"{_SESSION_COOKIE}={rest.split(';', 1)[0]}"
        raise Unauthenticated(f"the server refused a login with the token ({response.code})")

    async def _session_form(
        self, method: str, path: str, fields: dict[str, str] | None
    ) -> HTTPResponse:
        """Send ``fields`` as a form to a route of the login session; the response, or the
        domain error of a failed request."""
        headers = {"Cookie": await self._session()}
        body = None
        if fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await self._call(method, path, body, headers, with_token=False)
        if response.code == 200:
            return response
        raise _status_error(response)

    # -- job comparison ----------------------------------------------------------------------

    async def job_metric_stats(
        self, filters: Sequence[JobFilter] = (), metrics: Sequence[str] | None = None
    ) -> list[JobStats]:
        variables = {
            "filter": [_dump(f) for f in filters],
            "metrics": None if metrics is None else list(metrics),
        }
        data = await self.graphql(_JOBS_METRIC_STATS, variables)
        return [job_stats_from_graphql(entry) for entry in data["jobsMetricStats"]]

    # -- analysis ----------------------------------------------------------------------------

    async def jobs_footprints(
        self, metrics: Sequence[str], filters: Sequence[JobFilter] = ()
    ) -> Footprints:
        variables = {"filter": [_dump(f) for f in filters], "metrics": list(metrics)}
        data = await self.graphql(_FOOTPRINTS, variables)
        return footprints_from_graphql(data["jobsFootprints"])

    async def roofline_heatmap(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = ()
    ) -> list[list[float]]:
        variables = {
            "filter": [_dump(f) for f in filters],
            "rows": grid.rows,
            "cols": grid.cols,
            "minX": grid.min_x,
            "minY": grid.min_y,
            "maxX": grid.max_x,
            "maxY": grid.max_y,
        }
        data = await self.graphql(ROOFLINE_HEATMAP_QUERY, variables)
        return [[float(v) for v in row] for row in data["rooflineHeatmap"]]

    # -- cluster status (status dashboards) ------------------------------------------------

    async def allocated_nodes(self, cluster: str) -> dict[str, int]:
        data = await self.graphql(ALLOCATED_NODES_QUERY, {"cluster": cluster})
        return {str(e["name"]): int(e["count"]) for e in data["allocatedNodes"]}

    async def node_states_timed(
        self, cluster: str, kind: str = "node", since: int | None = None
    ) -> list[StatesOverTime]:
        wanted: dict[str, Any] = {"cluster": {"eq": cluster}}
        if since is not None:
            wanted["timeStart"] = since
        data = await self.graphql(NODE_STATES_TIMED_QUERY, {"filter": [wanted], "type": kind})
        return states_timed_from_graphql(data["nodeStatesTimed"])

    async def node_metric_data(
        self,
        cluster: str,
        metrics: Sequence[str] | None,
        start: int,
        stop: int,
        hosts: Sequence[str] | None = None,
    ) -> dict[str, JobData]:
        variables = {
            "cluster": cluster,
            "nodes": None if hosts is None else list(hosts),
            "metrics": None if metrics is None else list(metrics),
            "scopes": [MetricScope.NODE.value],
            "from": _rfc3339(start),
            "to": _rfc3339(stop),
        }
        data = await self.graphql(NODE_METRICS_QUERY, variables)
        return node_data_from_graphql(data["nodeMetrics"])

    async def cluster_metrics(
        self, cluster: str, metrics: Sequence[str] | None, start: int, stop: int
    ) -> ClusterMetrics:
        variables = {
            "cluster": cluster,
            "metrics": None if metrics is None else list(metrics),
            "from": _rfc3339(start),
            "to": _rfc3339(stop),
        }
        data = await self.graphql(CLUSTER_METRICS_QUERY, variables)
        return cluster_metrics_from_graphql(data["clusterMetrics"])

    # -- systems and node views (support and admins) ---------------------------------------

    async def node_list(
        self,
        cluster: str,
        *,
        start: int,
        stop: int,
        subcluster: str = "",
        state: str = "all",
        host_filter: str = "",
        metrics: Sequence[str] | None = None,
        page: int = 1,
        items_per_page: int = 10,
        resolution: int | None = None,
    ) -> NodeMetricsPage:
        variables = {
            "cluster": cluster,
            "subCluster": subcluster,
            "stateFilter": state,
            "nodeFilter": host_filter,
            "metrics": None if metrics is None else list(metrics),
            "from": _rfc3339(start),
            "to": _rfc3339(stop),
            "page": {"itemsPerPage": items_per_page, "page": page},
            "resolution": resolution,
        }
        data = await self.graphql(NODE_LIST_QUERY, variables)
        return node_page_from_graphql(data["nodeMetricsList"])

    async def node_reports(
        self, cluster: str, hosts: Sequence[str] | None = None
    ) -> list[NodeReport]:
        if hosts is not None and not hosts:
            return []
        wanted: dict[str, Any] = {"cluster": {"eq": cluster}}
        if hosts is not None:
            wanted["hostname"] = {"in": sorted(hosts)}
        data = await self.graphql(NODE_REPORTS_QUERY, {"filter": [wanted]})
        return [node_report_from_graphql(n) for n in data["nodes"]["items"]]

    async def node_state_history(
        self, cluster: str, host: str, since: int | None = None
    ) -> list[StateChange]:
        wanted = [_dump(f) for f in history_filters(cluster, host, since)]
        data = await self.graphql(NODE_STATES_TIMED_QUERY, {"filter": wanted, "type": "node"})
        return history_from_counts(states_timed_from_graphql(data["nodeStatesTimed"]))

    async def node_jobs(self, cluster: str, host: str, start: int, stop: int) -> list[Job]:
        async def ask(filters: Sequence[JobFilter], order: OrderBy, page: PageRequest) -> list[Job]:
            return (await self.jobs(filters, order=order, page=page)).items

        return await jobs_on_node(ask, cluster, host, start, stop, now=int(time.time()))


def _rfc3339(seconds: int) -> str:
    """Unix ``seconds`` as the API's ``Time`` (RFC 3339, UTC)."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)


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
    return error_for_status(response.code, message)


# -- statistics, tags and administration --------------------------------------------------

_JSON = "application/json"
#: The login session's cookie (:data:`cc_backend.auth.sessions.SESSION_COOKIE`).
_SESSION_COOKIE = "session"
_TOTALS = """
  id name totalUsers totalJobs runningJobs shortJobs totalWalltime totalNodes totalNodeHours
  totalCores totalCoreHours totalAccs totalAccHours
"""
_STATISTICS = f"""
query ($filter: [JobFilter!], $page: PageRequest, $sortBy: SortByAggregate,
       $groupBy: Aggregate) {{
  jobsStatistics(filter: $filter, page: $page, sortBy: $sortBy, groupBy: $groupBy) {{
    {_TOTALS}
  }}
}}"""
_HISTOGRAMS = """
query ($filter: [JobFilter!], $metrics: [String!], $bins: String, $metricBins: Int) {
  jobsStatistics(filter: $filter, metrics: $metrics, numDurationBins: $bins,
                 numMetricBins: $metricBins) {
    histDuration { value count }
    histNumNodes { value count }
    histNumCores { value count }
    histNumAccs { value count }
    histMetrics { metric unit stat data { bin count min max } }
  }
}"""
_USER = "query ($username: String!) { user(username: $username) { username name email } }"
_JOBS_METRIC_STATS = f"""
query ($filter: [JobFilter!], $metrics: [String!]) {{
  jobsMetricStats(filter: $filter, metrics: $metrics) {{ {JOB_STATS_FIELDS} }}
}}"""
_FOOTPRINTS = f"""
query ($filter: [JobFilter!], $metrics: [String!]!) {{
  jobsFootprints(filter: $filter, metrics: $metrics) {{ {FOOTPRINTS_FIELDS} }}
}}"""
_HOUR = 3600


def _statistics_from_graphql(row: dict[str, Any]) -> JobsStatistics:
    """Totals from the API's ``JobsStatistics`` (hours become seconds of whole hours)."""
    return JobsStatistics(
        id=str(row["id"]),
        name=str(row["name"]),
        total_jobs=int(row["totalJobs"]),
        total_users=int(row["totalUsers"]),
        running_jobs=int(row["runningJobs"]),
        short_jobs=int(row["shortJobs"]),
        total_nodes=int(row["totalNodes"]),
        total_cores=int(row["totalCores"]),
        total_accs=int(row["totalAccs"]),
        walltime_seconds=int(row["totalWalltime"]) * _HOUR,
        node_seconds=int(row["totalNodeHours"]) * _HOUR,
        core_seconds=int(row["totalCoreHours"]) * _HOUR,
        acc_seconds=int(row["totalAccHours"]) * _HOUR,
    )


def _points(points: list[dict[str, Any]]) -> tuple[HistoPoint, ...]:
    return tuple(HistoPoint(int(p["value"]), int(p["count"])) for p in points)


def _histograms_from_graphql(row: dict[str, Any]) -> JobsHistograms:
    return JobsHistograms(
        duration=_points(row["histDuration"]),
        num_nodes=_points(row["histNumNodes"]),
        num_cores=_points(row["histNumCores"]),
        num_accs=_points(row["histNumAccs"]),
        metrics=tuple(
            MetricHistoPoints(
                h["metric"],
                h["unit"],
                h.get("stat") or "",
                tuple(
                    MetricHistoPoint(int(d["bin"]), int(d["count"]), int(d["min"]), int(d["max"]))
                    for d in h.get("data") or []
                ),
            )
            for h in row["histMetrics"]
        ),
    )


def _token_subject(token: str) -> str:
    """The user name a JWT names (its ``sub`` claim, read without checking the
    signature: the server checks it); :class:`Unauthenticated` if it names none."""
    try:
        payload = token.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims["sub"])
    except (IndexError, KeyError, TypeError, ValueError):
        raise Unauthenticated("the API token names no user") from None
