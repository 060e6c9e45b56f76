"""Every route answers bad requests with the right status and cc-backend's error body,
changes nothing, and sends the security headers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from dotenv import dotenv_values

from cc_backend.auth.keys import generate_keypair, load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.domain.errors import CCError, Conflict
from cc_backend.domain.user import User
from cc_backend.web.errors import STATUS_BY_ERROR, error_for_status, status_of
from cc_backend.web.rest.base import SECURITY_HEADERS

#: (method, path template, a valid body); ``{id}`` is the database id of a running job.
ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/api/jobs/start_job/", "START"),
    (
        "POST",
        "/api/jobs/stop_job/",
        {"jobId": 1000, "jobState": "completed", "stopTime": 1_700_003_600},
    ),
    ("POST", "/api/nodestate/", {"cluster": "fritz", "nodes": [{"hostname": "f0101"}]}),
    ("GET", "/api/jobs/", None),
    ("GET", "/api/jobs/{id}", None),
    ("POST", "/api/jobs/{id}", []),
    ("POST", "/api/jobs/tag_job/{id}", [{"type": "a", "name": "b", "scope": "global"}]),
    ("DELETE", "/api/jobs/tag_job/{id}", [{"type": "a", "name": "b", "scope": "global"}]),
    ("PATCH", "/api/jobs/edit_meta/{id}", {"key": "k", "value": "v"}),
    ("PATCH", "/api/jobs/edit_meta/", {"jobId": 1000, "payload": {"key": "k", "value": "v"}}),
    ("DELETE", "/api/tags/", [{"type": "a", "name": "b", "scope": "global"}]),
    ("GET", "/api/jobs/used_nodes?ts=1800000000", None),
    ("DELETE", "/api/jobs/delete_job/", {"jobId": 1000}),
    ("DELETE", "/api/jobs/delete_job/{id}", None),
    ("DELETE", "/api/jobs/delete_job_before/1800000000", None),
    ("GET", "/api/clusters/", None),
    ("GET", "/api/users/", None),
    ("GET", "/userapi/jobs/", None),
]
BODY_ROUTES = [r for r in ROUTES if r[2] is not None]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    signing = (
        f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}."
        f"{_b64(json.dumps(claims).encode())}"
    )
    signature = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(signature)}"


async def _running_job(api: Any, job_payload: Callable[..., Any]) -> int:
    started = await api.call("POST", "/api/jobs/start_job/", job_payload(1000))
    assert started.code == 201, started.body
    return int(api.body(started)["id"])


def _check_error(api: Any, response: Any, status: int, reason: str) -> dict[str, Any]:
    assert response.code == status, response.body
    body: dict[str, Any] = api.body(response)
    assert set(body) == {"status", "error"}
    assert body["status"] == reason
    assert "Traceback" not in body["error"]
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["Content-Type"].startswith("application/json")
    return body


def _bad_tokens(api_site: Any) -> dict[str, str]:
    env = dotenv_values(api_site / ".env")
    site_key = load_private_key(str(env["JWT_PRIVATE_KEY"]))
    other_key = load_private_key(generate_keypair().private_b64)
    adapter = User.build("adapter", ["api"])
    claims = {"sub": "adapter", "roles": ["api"], "iat": int(time.time())}
    public = base64.b64decode(str(env["JWT_PUBLIC_KEY"]))
    return {
        "forged": issue_token(adapter, other_key),
        "expired": issue_token(
            adapter, site_key, max_age=timedelta(seconds=10), now=time.time() - 3600
        ),
        "alg none": _unsigned(claims),
        "HS256": _hs256(claims, public),
        "garbage": "not-a-token",
        "wrong role": issue_token(User.build("alice", ["user", "api"]), site_key),
        "no role": issue_token(User.build("x", []), site_key),
    }


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_refused_tokens_are_401_and_change_nothing(
    api: Any, api_site: Any, job_payload: Callable[..., Any], method: str, path: str, body: Any
) -> None:
    db_id = await _running_job(api, job_payload)
    payload = job_payload(1001) if body == "START" else body
    before = api.job_count()
    tokens = {**_bad_tokens(api_site), "none": ""}
    if path.startswith("/userapi/"):
        tokens.pop("wrong role")  # user+api is allowed there
    for name, token in tokens.items():
        response = await api.call(method, path.format(id=db_id), payload, token=token)
        message = _check_error(api, response, 401, "Unauthorized")["error"]
        assert message, name
    assert api.job_count() == before


@pytest.mark.parametrize(("method", "path", "body"), BODY_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b'{"jobId": 1000, "surprise": 1}', b'[{"type": "a", "bogus": 2}]', b"42"],
)
async def test_malformed_bodies_are_400(
    api: Any,
    job_payload: Callable[..., Any],
    method: str,
    path: str,
    body: Any,
    raw: bytes,
) -> None:
    db_id = await _running_job(api, job_payload)
    before = api.job_count()
    response = await api.call(method, path.format(id=db_id), raw=raw)
    _check_error(api, response, 400, "Bad Request")
    assert api.job_count() == before


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/jobs/start_job/", {"jobId": "1001"}, "jobId"),
        ("POST", "/api/jobs/start_job/", {"numNodes": 1.5}, "numNodes"),
        ("POST", "/api/jobs/start_job/", {"resources": "f0101"}, "resources"),
        ("POST", "/api/jobs/start_job/", {"unknownField": 1}, "unknownField"),
        ("POST", "/api/jobs/stop_job/", {"stopTime": "soon"}, "stopTime"),
        ("POST", "/api/jobs/stop_job/", {"jobState": "exploded"}, "jobState"),
        ("POST", "/api/nodestate/", {"nodes": {"hostname": "f0101"}}, "nodes"),
        ("PATCH", "/api/jobs/edit_meta/{id}", {"value": 3}, "value"),
        ("DELETE", "/api/jobs/delete_job/", {"startTime": "x"}, "startTime"),
    ],
)
async def test_wrong_types_are_400_naming_the_field(
    api: Any,
    job_payload: Callable[..., Any],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    db_id = await _running_job(api, job_payload)
    base: dict[str, Any] = {
        "/api/jobs/start_job/": job_payload(1001),
        "/api/jobs/stop_job/": {"jobId": 1000, "jobState": "completed", "stopTime": 1_700_003_600},
        "/api/nodestate/": {"cluster": "fritz", "nodes": []},
        "/api/jobs/edit_meta/{id}": {"key": "k", "value": "v"},
        "/api/jobs/delete_job/": {"jobId": 1000},
    }[path]
    before = api.job_count()
    response = await api.call(method, path.format(id=db_id), {**base, **body})
    assert field in _check_error(api, response, 400, "Bad Request")["error"]
    assert api.job_count() == before
    assert api.body(await api.call("GET", "/api/jobs/?state=running"))["jobs"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/jobs/start_job/", {"cluster": "nowhere"}, 400),
        (
            "POST",
            "/api/jobs/start_job/",
            {"resources": [{"hostname": "zz9"}], "subCluster": ""},
            400,
        ),
        ("POST", "/api/jobs/start_job/", {"numNodes": 2}, 400),
        ("POST", "/api/nodestate/", {"cluster": "nowhere", "nodes": []}, 400),
        ("POST", "/api/jobs/stop_job/", {"jobId": 999, "jobState": "failed", "stopTime": 1}, 404),
        ("GET", "/api/jobs/424242", None, 422),
        ("POST", "/api/jobs/424242", [], 422),
        ("POST", "/api/jobs/tag_job/424242", [], 404),
        ("PATCH", "/api/jobs/edit_meta/424242", {"key": "k", "value": "v"}, 404),
        ("DELETE", "/api/jobs/delete_job/", {"jobId": 999}, 422),
        ("DELETE", "/api/jobs/delete_job/424242", None, 422),
        ("GET", "/api/jobs/abc", None, 400),
        ("GET", "/api/jobs/99999999999999999999999", None, 400),
        ("DELETE", "/api/jobs/delete_job_before/99999999999999999", None, 400),
        ("GET", "/api/jobs/?start-time=0-99999999999999999", None, 400),
        ("GET", "/api/jobs/?items-per-page=9999999&page=99999999999999", None, 400),
        ("DELETE", "/api/jobs/delete_job_before/x", None, 400),
        ("DELETE", "/api/jobs/delete_job_before/1?omit-tagged=maybe", None, 400),
        ("GET", "/api/jobs/?state=exploded", None, 400),
        ("GET", "/api/jobs/?start-time=5", None, 400),
        ("GET", "/api/jobs/?page=0", None, 400),
        ("GET", "/api/jobs/?items-per-page=x", None, 400),
        ("GET", "/api/jobs/?sort=jobId", None, 400),
        ("GET", "/api/nowhere/", None, 404),
        ("PUT", "/api/jobs/", None, 405),
    ],
)
async def test_unknown_things_and_bad_parameters(
    api: Any,
    job_payload: Callable[..., Any],
    method: str,
    path: str,
    body: Any,
    status: int,
) -> None:
    await _running_job(api, job_payload)
    if path == "/api/jobs/start_job/":
        body = job_payload(1001, **body)
    before = api.job_count()
    response = await api.call(method, path, body)
    reasons = {
        400: "Bad Request",
        404: "Not Found",
        405: "Method Not Allowed",
        422: "Unprocessable Entity",
    }
    _check_error(api, response, status, reasons[status])
    assert api.job_count() == before


async def test_stop_before_start_and_non_final_state(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    await _running_job(api, job_payload)
    early = {"jobId": 1000, "jobState": "completed", "stopTime": 5}
    assert (await api.call("POST", "/api/jobs/stop_job/", early)).code in (400, 422)
    running = {"jobId": 1000, "jobState": "running", "stopTime": 1_800_000_000}
    _check_error(api, await api.call("POST", "/api/jobs/stop_job/", running), 400, "Bad Request")
    assert api.body(await api.call("GET", "/api/jobs/?state=running"))["jobs"]


async def test_success_responses_carry_the_security_headers(api: Any) -> None:
    response = await api.call("GET", "/api/jobs/")
    assert response.code == 200
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


async def test_an_unexpected_failure_is_a_500_without_details(
    api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(api.backends.jobs, "query", explode)
    with caplog.at_level(logging.ERROR):
        response = await api.call("GET", "/api/jobs/")
    body = _check_error(api, response, 500, "Internal Server Error")
    assert "hunter2" not in response.body.decode()
    request_id = body["error"].split("request id ")[1].rstrip(")")
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


@pytest.mark.parametrize("site_config", [{"main": {"apiAllowedIPs": ["10.9.8.7"]}}])
async def test_api_allowed_ips_refuses_other_addresses(api: Any) -> None:
    refused = await api.call("GET", "/api/jobs/")
    assert "unknown ip" in _check_error(api, refused, 401, "Unauthorized")["error"]
    spoofed = await api.call("GET", "/api/jobs/", headers={"X-Real-Ip": "10.9.8.7"})
    assert spoofed.code == 401


@pytest.mark.parametrize("site_config", [{"main": {"apiAllowedIPs": ["10.9.8.7", "127.0.0.1"]}}])
async def test_api_allowed_ips_admits_listed_addresses(api: Any) -> None:
    assert (await api.call("GET", "/api/jobs/")).code == 200


@pytest.mark.parametrize(
    "site_config", [{"auth": {"jwts": {"max-age": "2000h", "validateUser": True}}}]
)
async def test_validate_user_takes_roles_from_the_database(
    api: Any, token_for: Callable[..., str]
) -> None:
    assert (await api.call("GET", "/api/jobs/")).code == 200
    ghost = await api.call("GET", "/api/jobs/", token=token_for("ghost", ["api"]))
    _check_error(api, ghost, 401, "Unauthorized")
    # alice's token claims only "api", but the database says user+api: not enough for /api/.
    claimed = await api.call("GET", "/api/jobs/", token=token_for("alice", ["api"]))
    _check_error(api, claimed, 401, "Unauthorized")


def test_a_clients_error_for_a_status_maps_back_to_that_status() -> None:
    for _, status in STATUS_BY_ERROR:
        error = error_for_status(status, "why")
        assert status_of(error) == status
        assert error.message == "why"
    assert type(error_for_status(422, "taken")) is Conflict
    assert type(error_for_status(418, "odd")) is CCError
