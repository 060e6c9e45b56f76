"""The URL table of the REST API: cc-backend's paths, trailing slashes and prefixes.

``/api/`` carries the scheduler and admin routes (role ``api``, IP allow-list);
``/userapi/`` the read-only job routes for users who also hold ``api``. ``/login`` and
``/logout`` manage the login session, which authenticates ``/config/`` (admin settings) and
``/frontend/`` (requests of the web interface). Any other path below ``/api/``,
``/userapi/``, ``/config/`` or ``/frontend/`` answers a JSON 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tornado.web import RequestHandler

from cc_backend.auth.local import LoginLimiter
from cc_backend.web.auth import Access
from cc_backend.web.graphql.handler import GraphQLHandler
from cc_backend.web.graphql.playground import playground_routes
from cc_backend.web.rest.base import NotFoundHandler
from cc_backend.web.rest.clusters import ClusterListHandler
from cc_backend.web.rest.config_admin import (
    NoticeHandler,
    RoleListHandler,
    UserEditHandler,
    UsersHandler,
)
from cc_backend.web.rest.frontend import ConfigurationHandler, TokenHandler
from cc_backend.web.rest.job_changes import (
    DeleteJobBeforeHandler,
    DeleteJobByIdHandler,
    DeleteJobHandler,
    EditMetaByRequestHandler,
    EditMetaHandler,
    TagJobHandler,
    UsedNodesHandler,
)
from cc_backend.web.rest.jobs import (
    JobByIdHandler,
    JobListHandler,
    JobMetricsHandler,
    StartJobHandler,
    StopJobHandler,
)
from cc_backend.web.rest.metricstore import METRIC_STORE_ROUTES, MetricStoreWriteHandler
from cc_backend.web.rest.nodes import NodeStateHandler
from cc_backend.web.rest.tags import TagsHandler
from cc_backend.web.rest.users import UserListHandler
from cc_backend.web.session_handlers import JwtLoginHandler, LoginHandler, LogoutHandler

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = [
    "API_ROUTES",
    "CONFIG_ROUTES",
    "FRONTEND_ROUTES",
    "USER_API_ROUTES",
    "Route",
    "api_routes",
    "graphql_routes",
]

#: A Tornado rule: pattern, handler class, handler init arguments.
Route = tuple[str, type[RequestHandler], dict[str, Any]]

_SEGMENT = r"([^/]+)"

#: Paths below ``/api`` (order matters: the ``{id}`` catch-all comes last).
API_ROUTES: tuple[tuple[str, type[RequestHandler]], ...] = (
    ("/users/", UserListHandler),
    ("/clusters/", ClusterListHandler),
    ("/nodestate/", NodeStateHandler),
    ("/jobs/start_job/", StartJobHandler),
    ("/jobs/stop_job/", StopJobHandler),
    ("/jobs/", JobListHandler),
    (f"/jobs/tag_job/{_SEGMENT}", TagJobHandler),
    (f"/jobs/edit_meta/{_SEGMENT}", EditMetaHandler),
    ("/jobs/edit_meta/", EditMetaByRequestHandler),
    ("/jobs/used_nodes", UsedNodesHandler),
    ("/jobs/delete_job/", DeleteJobHandler),
    (f"/jobs/delete_job/{_SEGMENT}", DeleteJobByIdHandler),
    (f"/jobs/delete_job_before/{_SEGMENT}", DeleteJobBeforeHandler),
    ("/tags/", TagsHandler),
    (f"/jobs/metrics/{_SEGMENT}", JobMetricsHandler),
    ("/write", MetricStoreWriteHandler),
    ("/write/", MetricStoreWriteHandler),
    (f"/jobs/{_SEGMENT}", JobByIdHandler),
)

#: Paths below ``/userapi``.
USER_API_ROUTES: tuple[tuple[str, type[RequestHandler]], ...] = (
    ("/jobs/", JobListHandler),
    (f"/jobs/metrics/{_SEGMENT}", JobMetricsHandler),
    (f"/jobs/{_SEGMENT}", JobByIdHandler),
)

#: Admin settings by login session (cc-backend mounts them with their full paths).
CONFIG_ROUTES: tuple[tuple[str, type[RequestHandler]], ...] = (
    ("/config/roles/", RoleListHandler),
    ("/config/users/", UsersHandler),
    (f"/config/user/{_SEGMENT}", UserEditHandler),
    ("/config/notice/", NoticeHandler),
)

#: Requests of the web interface by login session.
FRONTEND_ROUTES: tuple[tuple[str, type[RequestHandler]], ...] = (
    ("/frontend/jwt/", TokenHandler),
    ("/frontend/configuration/", ConfigurationHandler),
)


def _session_routes(extra: dict[str, Any]) -> list[Route]:
    """``/login``, ``/logout`` and the session-authenticated routes, sharing one limiter
    of failed logins."""
    rules: list[Route] = [
        ("/login", LoginHandler, {**extra, "limiter": LoginLimiter()}),
        ("/logout", LogoutHandler, dict(extra)),
        ("/jwt-login", JwtLoginHandler, dict(extra)),
    ]
    rules += [(path, handler, dict(extra)) for path, handler in CONFIG_ROUTES + FRONTEND_ROUTES]
    return rules


def api_routes(backends: Backends | None = None) -> list[Route]:
    """Every REST rule, ready for ``tornado.web.Application`` or Panel's ``extra_patterns``.

    With ``backends`` each handler receives them as init argument; without, handlers take
    them from the application setting ``"backends"``.
    """
    extra: dict[str, Any] = {} if backends is None else {"backends": backends}
    rules: list[Route] = []
    metric_store = tuple(
        (f"/{name}{slash}", handler) for name, handler in METRIC_STORE_ROUTES for slash in ("", "/")
    )
    for prefix, table, access in (
        ("/api", API_ROUTES, Access.API),
        ("/userapi", USER_API_ROUTES, Access.USER_API),
        ("/metricstore/api", metric_store, Access.API),
    ):
        rules += [(prefix + path, handler, {**extra, "access": access}) for path, handler in table]
    rules += _session_routes(extra)
    for prefix in ("/api", "/userapi", "/config", "/frontend", "/metricstore"):
        rules.append((prefix + r"/.*", NotFoundHandler, dict(extra)))
    return rules


def graphql_routes(backends: Backends | None = None, *, dev: bool = False) -> list[Route]:
    """``/query`` (GraphQL, by API token or login session, as cc-backend serves it with the
    pages) and, with ``dev``, GraphiQL at ``/playground``; like :func:`api_routes`, the
    handler takes ``backends`` as init argument or from the application settings."""
    extra: dict[str, Any] = {} if backends is None else {"backends": backends}
    rules: list[Route] = [("/query", GraphQLHandler, extra)]
    return rules + (playground_routes() if dev else [])
