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
from cc_backend.web.rest.job_changes import ApiTag, DeleteJobRequest, EditMetaRequest

ERROR = "Error"
#: Placeholder names of the path segments, by route.
PATH_PARAMETERS = {"delete_job_before": "ts"}


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
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
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
    for status, text in sorted(op.statuses.items()):
        ref = op.response if status < 300 and op.response else (ERROR if status >= 400 else None)
        response: dict[str, Any] = {"description": text}
        if ref is not None:
            response["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}
            }
        result["responses"][str(status)] = response
    return result


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
            },
        },
        "security": [{"token": []}, {"bearer": []}],
        "paths": paths,
    }
