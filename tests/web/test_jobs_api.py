"""The scheduler adapter's conversation and the job routes, through a real HTTP server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


async def test_the_adapters_conversation(api: Any, job_payload: Callable[..., Any]) -> None:
    listed = await api.call("GET", "/api/jobs/?state=running&items-per-page=9999999")
    assert listed.code == 200
    assert api.body(listed) == {"jobs": [], "items": 9999999, "page": 1}

    started = await api.call("POST", "/api/jobs/start_job/", job_payload(1000))
    assert started.code == 201, started.body
    assert api.body(started)["msg"] == "success"
    again = await api.call("POST", "/api/jobs/start_job/", job_payload(1000))
    assert again.code == 422
    assert api.body(again)["status"] == "Unprocessable Entity"

    listed = await api.call("GET", "/api/jobs/?state=running&items-per-page=9999999")
    jobs = api.body(listed)["jobs"]
    assert [(j["jobId"], j["jobState"], j["cluster"]) for j in jobs] == [(1000, "running", "fritz")]
    assert "metaData" not in jobs[0]

    stop = {"jobId": 1000, "cluster": "fritz", "jobState": "completed", "stopTime": 1_700_003_600}
    stopped = await api.call("POST", "/api/jobs/stop_job/", stop)
    assert stopped.code == 200, stopped.body
    job = api.body(stopped)
    assert job["jobState"] == "completed"
    assert job["duration"] == 3600
    assert (await api.call("POST", "/api/jobs/stop_job/", stop)).code == 422
    assert len(api.backends.archiving) == 1

    nodes = {
        "cluster": "fritz",
        "nodes": [
            {"hostname": "f0101", "states": ["idle"], "cpusAllocated": 0, "jobsRunning": 0},
            {"hostname": "f0102", "states": ["allocated"], "cpusAllocated": 72},
        ],
    }
    reported = await api.call("POST", "/api/nodestate/", nodes)
    assert reported.code == 200, reported.body
    assert api.body(reported) == {"msg": "success"}


async def test_header_names_are_case_insensitive_and_bearer_works(
    api: Any, token_for: Callable[..., str]
) -> None:
    for headers in (
        {"x-auth-token": api.token},
        {"Authorization": f"Bearer {api.token}"},
    ):
        response = await api.call("GET", "/api/jobs/", token="", headers=headers)
        assert response.code == 200, headers


async def test_job_list_filters_and_pages(api: Any, job_payload: Callable[..., Any]) -> None:
    for n in range(3):
        payload = job_payload(2000 + n, startTime=1_700_000_000 + n * 100)
        assert (await api.call("POST", "/api/jobs/start_job/", payload)).code == 201
    page = api.body(await api.call("GET", "/api/jobs/?items-per-page=2&page=2"))
    assert [j["jobId"] for j in page["jobs"]] == [2000]
    assert (page["items"], page["page"]) == (2, 2)
    window = api.body(await api.call("GET", "/api/jobs/?start-time=1700000050-1700000150"))
    assert [j["jobId"] for j in window["jobs"]] == [2001]
    other = api.body(await api.call("GET", "/api/jobs/?cluster=alex&project=project-a"))
    assert other["jobs"] == []
    meta = api.body(await api.call("GET", "/api/jobs/?with-metadata"))
    assert meta["jobs"][0]["metaData"]["jobName"] == "test"


async def test_get_and_post_a_job_by_id(api: Any, job_payload: Callable[..., Any]) -> None:
    started = api.body(await api.call("POST", "/api/jobs/start_job/", job_payload()))
    got = await api.call("GET", f"/api/jobs/{started['id']}")
    assert got.code == 200
    body = api.body(got)
    assert body["Meta"]["jobId"] == 1000
    assert body["Data"] is None
    posted = await api.call("POST", f"/api/jobs/{started['id']}", ["flops_any"])
    assert posted.code == 200
    assert api.body(posted)["Data"] == []


async def test_clusters_and_users(api: Any, token_for: Callable[..., str]) -> None:
    clusters = api.body(await api.call("GET", "/api/clusters/"))["clusters"]
    assert sorted(c["name"] for c in clusters) == ["alex", "fritz"]
    one = api.body(await api.call("GET", "/api/clusters/?cluster=alex"))
    assert [c["name"] for c in one["clusters"]] == ["alex"]
    assert (await api.call("GET", "/api/clusters/?cluster=nope")).code == 400

    listed = await api.call("GET", "/api/users/", token=token_for("root"))
    assert listed.code == 200
    users = {u["username"]: u for u in api.body(listed)}
    assert set(users) == {"adapter", "root", "alice", "bob"}
    assert set(users["root"]) == {"username", "name", "roles", "email", "projects"}
    special = api.body(
        await api.call("GET", "/api/users/?not-just-user=true", token=token_for("root"))
    )
    assert "bob" not in {u["username"] for u in special}
    denied = await api.call("GET", "/api/users/")
    assert denied.code == 403
    assert api.body(denied)["status"] == "Forbidden"


async def test_userapi_shows_a_user_only_their_jobs(
    api: Any, job_payload: Callable[..., Any], token_for: Callable[..., str]
) -> None:
    await api.call("POST", "/api/jobs/start_job/", job_payload(1, user="alice"))
    await api.call("POST", "/api/jobs/start_job/", job_payload(2, user="carol"))
    mine = await api.call("GET", "/userapi/jobs/", token=token_for("alice"))
    assert mine.code == 200
    assert [j["user"] for j in api.body(mine)["jobs"]] == ["alice"]
    assert (await api.call("GET", "/api/jobs/", token=token_for("alice"))).code == 401
    assert (await api.call("GET", "/userapi/jobs/", token=token_for("bob"))).code == 401
