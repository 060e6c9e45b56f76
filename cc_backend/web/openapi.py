"""The OpenAPI 3 description of the REST API.

Operations are described here, next to the route table; request and response bodies come
from the same pydantic models the handlers validate with, so the schemas cannot drift. A
test checks that every route and method the server answers is described and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from cc_backend import __version__
from cc_backend.domain.job import Job
from cc_backend.services.requests import NodeStatesRequest, StopJobRequest
from cc_backend.web.rest.job_changes import (
    ApiTag,
    DeleteJobRequest,
    EditMetaRequest,
    JobMetaRequest,
)

ERROR = "Error"
JSON = "application/json"
TEXT = "text/plain"
HTML = "text/html"
#: Placeholder names of the path segments, by route.
PATH_PARAMETERS = {"delete_job_before": "ts", "user": "username"}


@dataclass(frozen=True)
class Operation:
    """One method of one path."""

    summary: str
    statuses: dict[int, str]
    body: type[BaseModel] | None = None
    body_is_list: bool = False
    response: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    tags: tuple[str, ...] = field(default=("jobs",))
    #: Form fields (name, description, required), URL-encoded or multipart.
    form: tuple[tuple[str, str, bool], ...] = ()
    #: Media type of the answers (``text/html`` also for errors).
    produces: str = JSON
    #: Security scheme other than the token: ``"session"``, or ``""`` for none.
    security: str | None = None
    #: Schema type of the path parameter.
    path_type: str = "integer"


_AUTH = {401: "Missing, invalid or expired token, or a role without access"}
_BAD = {400: "Malformed JSON, unknown field or wrong type"}

OPERATIONS: dict[str, dict[str, Operation]] = {
    "/api/jobs/start_job/": {
        "post": Operation(
            "Add a running job (scheduler hook)",
            {201: "Job added", **_BAD, **_AUTH, 422: "The job was started within the last 24 h"},
            body=Job,
            response="StartResponse",
        ),
        "put": Operation(
            "Same as POST", {201: "Job added", **_BAD, **_AUTH, 422: "Duplicate"}, body=Job
        ),
    },
    "/api/jobs/stop_job/": {
        "post": Operation(
            "Stop the newest running job with this id on this cluster",
            {200: "The stopped job", **_BAD, **_AUTH, 404: "No such job", 422: "Already stopped"},
            body=StopJobRequest,
            response="Job",
        ),
        "put": Operation(
            "Same as POST", {200: "The stopped job", **_BAD, **_AUTH}, body=StopJobRequest
        ),
    },
    "/api/jobs/": {
        "get": Operation(
            "List jobs",
            {200: "A page of jobs", **_BAD, **_AUTH},
            response="JobList",
            query=(
                ("state", "Job state"),
                ("cluster", "Cluster name"),
                ("start-time", "Range FROM-TO in Unix seconds"),
                ("page", "Page number, from 1"),
                ("items-per-page", "Jobs per page"),
                ("with-metadata", "Include meta data"),
            ),
        )
    },
    "/api/jobs/{id}": {
        "get": Operation(
            "A job with its metric data", {200: "Meta and Data", **_AUTH, 422: "No such job"}
        ),
        "post": Operation(
            "A job with the metric data of the listed metrics",
            {200: "Meta and Data", **_BAD, **_AUTH, 422: "No such job"},
        ),
    },
    "/api/jobs/tag_job/{id}": {
        "post": Operation(
            "Attach tags",
            {200: "The job", **_BAD, **_AUTH, 404: "No such job"},
            body=ApiTag,
            body_is_list=True,
        ),
        "patch": Operation(
            "Attach tags", {200: "The job", **_BAD, **_AUTH}, body=ApiTag, body_is_list=True
        ),
        "delete": Operation(
            "Detach tags", {200: "The job", **_BAD, **_AUTH}, body=ApiTag, body_is_list=True
        ),
    },
    "/api/jobs/edit_meta/{id}": {
        "patch": Operation(
            "Set one meta data key", {200: "The job", **_BAD, **_AUTH}, body=EditMetaRequest
        ),
        "post": Operation("Same as PATCH", {200: "The job", **_BAD, **_AUTH}, body=EditMetaRequest),
    },
    "/api/jobs/delete_job/": {
        "delete": Operation(
            "Delete a job by job id, cluster and start",
            {200: "Deleted", **_BAD, **_AUTH, 422: "No such job"},
            body=DeleteJobRequest,
        )
    },
    "/api/jobs/delete_job/{id}": {
        "delete": Operation(
            "Delete a job by database id", {200: "Deleted", **_AUTH, 422: "No such job"}
        )
    },
    "/api/jobs/delete_job_before/{ts}": {
        "delete": Operation(
            "Delete jobs that started before a Unix time", {200: "Deleted", **_AUTH}
        )
    },
    "/api/jobs/edit_meta/": {
        "patch": Operation(
            "Set one meta data key of the newest job with this job id (cluster, start)",
            {200: "The job", **_BAD, **_AUTH, 404: "No such job"},
            body=JobMetaRequest,
            response="Job",
        )
    },
    "/api/jobs/used_nodes": {
        "get": Operation(
            "Nodes used by running jobs that started before a Unix time, per cluster",
            {200: "Host names per cluster", **_BAD, **_AUTH},
            response="UsedNodes",
            query=(("ts", "Unix time (required): jobs that started before it"),),
        )
    },
    "/api/tags/": {
        "delete": Operation(
            "Delete global and admin tags and remove them from every job (plain text answer)",
            {
                200: "Deleted Tags from DB: N successfull of M requested",
                **_BAD,
                **_AUTH,
                404: "No such tag",
                503: "Tags deleted, archive not updated",
            },
            body=ApiTag,
            body_is_list=True,
            produces=TEXT,
            tags=("tags",),
        )
    },
    "/api/nodestate/": {
        "post": Operation(
            "Report node states",
            {200: "Stored", **_BAD, **_AUTH},
            body=NodeStatesRequest,
            tags=("nodes",),
        ),
        "put": Operation(
            "Same as POST",
            {200: "Stored", **_BAD, **_AUTH},
            body=NodeStatesRequest,
            tags=("nodes",),
        ),
    },
    "/api/clusters/": {
        "get": Operation("Cluster configurations", {200: "Clusters", **_AUTH}, tags=("clusters",))
    },
    "/api/users/": {
        "get": Operation(
            "Users (admin)", {200: "Users", **_AUTH, 403: "Not an admin"}, tags=("users",)
        )
    },
    "/userapi/jobs/": {
        "get": Operation("List own jobs", {200: "A page of jobs", **_AUTH}, response="JobList")
    },
    "/userapi/jobs/{id}": {
        "get": Operation("One own job", {200: "Meta and Data", **_AUTH, 422: "No such job"}),
        "post": Operation(
            "One own job with the metric data of the listed metrics",
            {200: "Meta and Data", **_BAD, **_AUTH, 422: "No such job"},
        ),
    },
}


_SESSION = {401: "No valid login session"}
_ADMIN = {**_SESSION, 403: "Not an admin"}
_FORM = {400: "Missing or malformed form field"}
_REFUSED = {422: "The user table refused the change"}
_NEW_USER = (
    ("username", "1 to 100 letters, digits or . _ - @", True),
    ("password", "Required unless the role is api", False),
    ("role", "One of /config/roles/", True),
    ("name", "Full name", False),
    ("email", "E-mail address", False),
    ("project", "Required for (and only for) managers", False),
)

#: Routes of the login session (cc-backend's /login, /logout, /config/ and /frontend/).
SESSION_OPERATIONS: dict[str, dict[str, Operation]] = {
    "/login": {
        "get": Operation(
            "The login form", {200: "HTML form"}, produces=HTML, security="", tags=("session",)
        ),
        "post": Operation(
            "Log in; sets the session cookie",
            {302: "To the redirect path or /", 401: "Wrong user or password", 429: "Too many"},
            form=(
                ("username", "User name", True),
                ("password", "Password", True),
                ("redirect", "A path on this site to go to afterwards", False),
            ),
            query=(("redirect", "A path on this site to go to afterwards"),),
            produces=HTML,
            security="",
            tags=("session",),
        ),
    },
    "/jwt-login": {
        "get": Operation(
            "Log in with an API token of an existing user (login-token or Bearer)",
            {302: "To redirect or /, with a session cookie", 401: "Invalid token or user"},
            query=(("login-token", "The token"), ("redirect", "A path of this site")),
            produces=HTML,
            security="",
            tags=("session",),
        )
    },
    "/logout": {
        "get": Operation(
            "Log out", {302: "To /login"}, produces=HTML, security="", tags=("session",)
        ),
        "post": Operation(
            "Log out", {302: "To /login"}, produces=HTML, security="", tags=("session",)
        ),
    },
    "/config/roles/": {
        "get": Operation(
            "Assignable roles (admin)",
            {200: "Role names", **_ADMIN},
            security="session",
            tags=("config",),
        )
    },
    "/config/users/": {
        "get": Operation(
            "Users (admin)",
            {200: "Users", **_ADMIN},
            query=(("not-just-user", "true: only users with a role beyond user"),),
            security="session",
            tags=("config",),
        ),
        "post": Operation(
            "Create a user (admin)",
            {200: "Created", **_FORM, **_ADMIN, **_REFUSED},
            form=_NEW_USER,
            produces=TEXT,
            security="session",
            tags=("config",),
        ),
        "put": Operation(
            "Same as POST",
            {200: "Created", **_FORM, **_ADMIN, **_REFUSED},
            form=_NEW_USER,
            produces=TEXT,
            security="session",
            tags=("config",),
        ),
        "delete": Operation(
            "Delete a user (admin)",
            {200: "Deleted", **_ADMIN, **_REFUSED},
            form=(("username", "The user to delete", True),),
            produces=TEXT,
            security="session",
            tags=("config",),
        ),
    },
    "/config/user/{username}": {
        "post": Operation(
            "Change a user's roles or projects (admin); the first given field applies",
            {200: '{"msg": ...}', **_FORM, **_ADMIN, **_REFUSED},
            form=(
                ("add-role", "Role to give", False),
                ("remove-role", "Role to take", False),
                ("add-project", "Project to manage", False),
                ("remove-project", "Project no longer managed", False),
            ),
            security="session",
            path_type="string",
            tags=("config",),
        )
    },
    "/config/notice/": {
        "post": Operation(
            "Replace the site notice (admin)",
            {200: "Stored", **_FORM, **_ADMIN},
            form=(("new-content", "At most 10000 characters; empty removes it", False),),
            produces=TEXT,
            security="session",
            tags=("config",),
        )
    },
    "/frontend/jwt/": {
        "get": Operation(
            "An API token for a user (admins: anybody; others: themselves)",
            {200: "The token", **_SESSION, 403: "Not for yourself", 404: "No such user"},
            query=(("username", "The token's user"),),
            produces=TEXT,
            security="session",
            tags=("frontend",),
        )
    },
    "/frontend/configuration/": {
        "post": Operation(
            "Store one of the user's interface settings",
            {200: "success", **_FORM, **_SESSION},
            form=(("key", "Setting name", True), ("value", "JSON text", True)),
            produces=TEXT,
            security="session",
            tags=("frontend",),
        )
    },
}
OPERATIONS.update(SESSION_OPERATIONS)

_STORE = ("metricstore",)
_WRITE = Operation(
    "Store metric values in InfluxDB line protocol (good lines are kept, bad ones counted)",
    {200: "Lines written and refused", 400: "No line could be stored", **_AUTH},
    query=(
        ("cluster", "Cluster of lines without a cluster tag"),
        ("precision", "Unit of the timestamps: s, ms, us or ns"),
    ),
    tags=_STORE,
)
_QUERY = Operation(
    "cc-metric-store query: series and statistics of hosts and scopes over a time range",
    {200: "One list of results per query", **_BAD, **_AUTH},
    tags=_STORE,
)
#: The built-in metric store's API (each path with and without trailing slash).
METRIC_STORE_OPERATIONS: dict[str, dict[str, Operation]] = {
    "write": {"post": _WRITE},
    "query": {"get": _QUERY, "post": _QUERY},
    "free": {
        "post": Operation(
            "Drop values before a time of the listed [cluster, host] selectors",
            {200: "buffers freed: N", **_BAD, **_AUTH},
            query=(("to", "Unix time (required)"),),
            produces=TEXT,
            tags=_STORE,
        )
    },
    "debug": {
        method: Operation(
            "What the store holds of a cluster or host",
            {200: "The store's content", **_BAD, **_AUTH},
            query=(("selector", "cluster or cluster:host"),),
            tags=_STORE,
        )
        for method in ("get", "post")
    },
    "healthcheck": {
        "get": Operation(
            "Fresh, stale and missing metrics of a node",
            {200: "Health report", **_BAD, **_AUTH},
            query=(("cluster", "Cluster (required)"), ("node", "Host name (required)")),
            tags=_STORE,
        )
    },
}
for _name, _methods in METRIC_STORE_OPERATIONS.items():
    for _slash in ("", "/"):
        OPERATIONS[f"/metricstore/api/{_name}{_slash}"] = _methods
        if _name == "write":
            OPERATIONS[f"/api/write{_slash}"] = _methods

_METRICS = Operation(
    "A job's metric data (metric and scope repeatable; from the store or the archive)",
    {200: "jobMetrics, or an error message", 400: "Unknown scope", **_AUTH, 422: "No such job"},
    query=(("metric", "Metric name (repeatable; default all)"), ("scope", "Scope (repeatable)")),
)
OPERATIONS["/api/jobs/metrics/{id}"] = {"get": _METRICS}
OPERATIONS["/userapi/jobs/metrics/{id}"] = {"get": _METRICS}


def path_template(pattern: str) -> str:
    """``/api/jobs/tag_job/([^/]+)`` -> ``/api/jobs/tag_job/{id}``."""
    name = next((p for key, p in PATH_PARAMETERS.items() if f"/{key}/" in pattern), "id")
    return re.sub(r"\(\[\^/\]\+\)", "{" + name + "}", pattern)


def _schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(path: str, method: str, op: Operation, components: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags), "responses": {}}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": op.path_type}}
        for name in re.findall(r"\{(\w+)\}", path)
    ]
    parameters += [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": text,
            "schema": {"type": "string"},
        }
        for name, text in op.query
    ]
    if parameters:
        result["parameters"] = parameters
    if op.body is not None:
        schema = _schema(op.body, components)
        if op.body_is_list:
            schema = {"type": "array", "items": schema}
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    if op.form:
        result["requestBody"] = _form_body(op.form)
    if op.security is not None:
        result["security"] = [{op.security: []}] if op.security else []
    for status, text in sorted(op.statuses.items()):
        ref = op.response if status < 300 and op.response else (ERROR if status >= 400 else None)
        response: dict[str, Any] = {"description": text}
        if op.produces != JSON and (status < 300 or op.produces == HTML):
            response["content"] = {op.produces: {"schema": {"type": "string"}}}
        elif ref is not None:
            response["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}
            }
        result["responses"][str(status)] = response
    return result


def _form_body(fields: tuple[tuple[str, str, bool], ...]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: {"type": "string", "description": text} for name, text, _ in fields},
    }
    required = [name for name, _, needed in fields if needed]
    if required:
        schema["required"] = required
    media = ("application/x-www-form-urlencoded", "multipart/form-data")
    return {"required": True, "content": {m: {"schema": schema} for m in media}}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the REST API."""
    components: dict[str, Any] = {
        ERROR: {
            "type": "object",
            "properties": {"status": {"type": "string"}, "error": {"type": "string"}},
            "required": ["status", "error"],
        },
        "StartResponse": {
            "type": "object",
            "properties": {"msg": {"type": "string"}, "id": {"type": "integer"}},
        },
        "UsedNodes": {
            "type": "object",
            "properties": {
                "usedNodes": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                }
            },
        },
        "JobList": {
            "type": "object",
            "properties": {
                "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
                "items": {"type": "integer"},
                "page": {"type": "integer"},
            },
        },
    }
    _schema(Job, components)
    paths = {
        path: {method: _operation(path, method, op, components) for method, op in methods.items()}
        for path, methods in OPERATIONS.items()
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cc-backend REST API",
            "version": __version__,
            "description": "Job lifecycle and read API compatible with ClusterCockpit.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"token": []}, {"bearer": []}],
        "paths": paths,
    }
