"""Tagging, meta data edits, deletion and the nodes in use, through a real HTTP server.

Every refused request leaves the database as it was; an archived job's meta.json on disk
follows its tags and meta data.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.archive import JobArchive, JobRef, open_archive_url
from cc_backend.domain.job import JobState, MetricStatistics, MonitoringStatus
from cc_backend.repository import schema
from cc_backend.services.job_changes import JobChanges

GROMACS = {"type": "app", "name": "gromacs", "scope": "global"}
SLOW = {"type": "review", "name": "slow", "scope": "admin"}
STATISTICS_UNITS = {
    "cpu_user": "",
    "cpu_load": "",
    "mem_used": "B",
    "flops_any": "F/s",
    "mem_bw": "B/s",
}


async def start(
    api: Any, job_payload: Callable[..., Any], job_id: int = 1000, **fields: Any
) -> int:
    """Start a job through the API; its database id."""
    started = await api.call("POST", "/api/jobs/start_job/", job_payload(job_id, **fields))
    assert started.code == 201, started.body
    return int(api.body(started)["id"])


def archive(api: Any, db_id: int) -> Path:
    """Finish job ``db_id`` and put it into the site's archive as the archiver would; the
    path of its meta.json."""
    api.backends.jobs.update(
        db_id,
        job_state="completed",
        duration=600,
        monitoring_status=int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
    )
    job = api.backends.jobs.get(db_id)
    statistics = {  # the metrics cc-backend's schema requires of every archived job
        name: MetricStatistics(unit={"base": base}, avg=1.0, min=0.0, max=2.0)
        for name, base in STATISTICS_UNITS.items()
    }
    api.backends.archive.store_meta(job.model_copy(update={"statistics": statistics}))
    return Path(api.backends.archive.location) / JobRef.of(job).directory / "meta.json"


def rows(api: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the job, tag and jobtag tables."""
    with api.backends.db.engine.connect() as conn:
        return {
            table.name: sorted(tuple(r) for r in conn.execute(sa.select(table)))
            for table in (schema.job, schema.tag, schema.jobtag)
        }


def tag_names(job: dict[str, Any]) -> list[str]:
    return [f"{t['type']}:{t['name']}:{t['scope']}" for t in job.get("tags", [])]


def refused(api: Any, response: Any, status: int) -> str:
    """The error message of a refusal in cc-backend's shape."""
    assert response.code == status, response.body
    body = api.body(response)
    assert set(body) == {"status", "error"}
    return str(body["error"])


# -- tags of one job ------------------------------------------------------------------------


async def test_tag_job_attaches_and_detaches_tags(
    api: Any, job_payload: Callable[..., Any], token_for: Callable[..., str]
) -> None:
    db_id = await start(api, job_payload)
    tagged = await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    assert tagged.code == 200, tagged.body
    job = api.body(tagged)
    assert (job["id"], job["jobId"], tag_names(job)) == (db_id, 1000, ["app:gromacs:global"])
    assert isinstance(job["tags"][0]["id"], int)

    root = token_for("root")
    patched = await api.call("PATCH", f"/api/jobs/tag_job/{db_id}", [SLOW], token=root)
    assert tag_names(api.body(patched)) == ["app:gromacs:global", "review:slow:admin"]

    untagged = await api.call("DELETE", f"/api/jobs/tag_job/{db_id}", [GROMACS], token=root)
    assert untagged.code == 200, untagged.body
    assert tag_names(api.body(untagged)) == ["review:slow:admin"]
    bare = await api.call("DELETE", f"/api/jobs/tag_job/{db_id}", [SLOW], token=root)
    assert "tags" not in api.body(bare)  # as cc-backend: no empty list


async def test_a_tag_without_scope_is_global(api: Any, job_payload: Callable[..., Any]) -> None:
    db_id = await start(api, job_payload)
    tagged = await api.call("POST", f"/api/jobs/tag_job/{db_id}", [{"type": "a", "name": "b"}])
    assert tag_names(api.body(tagged)) == ["a:b:global"]


async def test_tags_of_another_users_private_scope_are_refused(
    api: Any, job_payload: Callable[..., Any], token_for: Callable[..., str]
) -> None:
    db_id = await start(api, job_payload)
    before = rows(api)
    private = {"type": "note", "name": "mine", "scope": "alice"}
    for token in (api.token, token_for("root")):
        response = await api.call(
            "POST", f"/api/jobs/tag_job/{db_id}", [GROMACS, private], token=token
        )
        assert "scope 'alice'" in refused(api, response, 403)
    assert rows(api) == before


async def test_removing_private_tags_is_skipped_and_unknown_tags_are_not_found(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    db_id = await start(api, job_payload)
    await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    before = rows(api)
    private = {"type": "app", "name": "gromacs", "scope": "alice"}
    skipped = await api.call("DELETE", f"/api/jobs/tag_job/{db_id}", [private])
    assert tag_names(api.body(skipped)) == ["app:gromacs:global"]
    unknown = {"type": "app", "name": "vasp", "scope": "global"}
    response = await api.call("DELETE", f"/api/jobs/tag_job/{db_id}", [GROMACS, unknown])
    assert "app:vasp (global) does not exist" in refused(api, response, 404)
    assert rows(api) == before


# -- meta data --------------------------------------------------------------------------------


async def test_edit_meta_sets_one_key_and_keeps_the_others(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    db_id = await start(api, job_payload)
    for method in ("PATCH", "POST"):
        edited = await api.call(
            method, f"/api/jobs/edit_meta/{db_id}", {"key": method, "value": "v"}
        )
        assert edited.code == 200, edited.body
    assert api.body(edited)["metaData"] == {
        "jobName": "test",
        "jobScript": "#!/bin/sh",
        "PATCH": "v",
        "POST": "v",
    }


async def test_edit_meta_by_request_edits_the_newest_matching_job(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    old = await start(api, job_payload, startTime=1_600_000_000)
    new = await start(api, job_payload, startTime=1_700_000_000)
    body = {"jobId": 1000, "cluster": "fritz", "payload": {"key": "issue", "value": "slow"}}
    edited = await api.call("PATCH", "/api/jobs/edit_meta/", body)
    assert edited.code == 200, edited.body
    assert (api.body(edited)["id"], api.body(edited)["metaData"]["issue"]) == (new, "slow")
    pinned = {**body, "startTime": 1_600_000_000, "payload": {"key": "issue", "value": "old"}}
    assert api.body(await api.call("PATCH", "/api/jobs/edit_meta/", pinned))["id"] == old
    assert api.backends.jobs.get(new).meta_data["issue"] == "slow"


async def test_edit_meta_by_request_needs_a_job_id_a_payload_and_a_match(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    await start(api, job_payload)
    before = rows(api)
    entry = {"key": "k", "value": "v"}
    cases = [
        ({"cluster": "fritz", "payload": entry}, 400, "'jobId' is required"),
        ({"jobId": 1000}, 400, "'payload' is required"),
        ({"jobId": 1000, **entry}, 400, "key"),  # key and value belong in "payload"
        ({"jobId": 1001, "payload": entry}, 404, "no job with jobId 1001"),
        ({"jobId": 1000, "cluster": "alex", "payload": entry}, 404, "on cluster alex"),
    ]
    for body, status, message in cases:
        response = await api.call("PATCH", "/api/jobs/edit_meta/", body)
        assert message in refused(api, response, status), body
    assert (await api.call("POST", "/api/jobs/edit_meta/", {"jobId": 1000})).code == 405
    assert rows(api) == before


# -- unknown jobs, bad requests, wrong roles ---------------------------------------------------


async def test_an_unknown_job_is_answered_as_cc_backend_does(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    await start(api, job_payload)
    before = rows(api)
    cases = [
        ("POST", "/api/jobs/tag_job/99", [GROMACS], 404),
        ("PATCH", "/api/jobs/tag_job/99", [GROMACS], 404),
        ("DELETE", "/api/jobs/tag_job/99", [GROMACS], 404),
        ("PATCH", "/api/jobs/edit_meta/99", {"key": "k", "value": "v"}, 404),
        ("PATCH", "/api/jobs/edit_meta/", {"jobId": 7, "payload": {"key": "k", "value": "v"}}, 404),
        ("DELETE", "/api/jobs/delete_job/", {"jobId": 7}, 422),
        ("DELETE", "/api/jobs/delete_job/99", None, 422),
    ]
    for method, path, body, status in cases:
        refused(api, await api.call(method, path, body), status)
    assert rows(api) == before


#: (method, path with ``{id}``) of every route with a JSON body.
BODY_ROUTES = [
    ("POST", "/api/jobs/tag_job/{id}"),
    ("PATCH", "/api/jobs/tag_job/{id}"),
    ("DELETE", "/api/jobs/tag_job/{id}"),
    ("PATCH", "/api/jobs/edit_meta/{id}"),
    ("PATCH", "/api/jobs/edit_meta/"),
    ("DELETE", "/api/jobs/delete_job/"),
    ("DELETE", "/api/tags/"),
]
BAD_BODIES = {
    "malformed JSON": b'[{"type": "app", "name": ',
    "empty body": b"",
    "unknown field": json.dumps([{**GROMACS, "colour": "red"}]).encode(),
    "unknown field (object)": b'{"jobId": 1000, "key": "k", "value": "v", "colour": "red"}',
    "wrong type": b'{"jobId": "1000", "key": 1, "value": 2}',
    "wrong shape": b'"gromacs"',
}


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_bad_bodies_are_400_and_change_nothing(
    api: Any, job_payload: Callable[..., Any], method: str, path: str
) -> None:
    db_id = await start(api, job_payload)
    await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    before = rows(api)
    for name, raw in BAD_BODIES.items():
        response = await api.call(method, path.format(id=db_id), raw=raw)
        assert "parsing request body failed" in refused(api, response, 400), name
    assert rows(api) == before


NEW_ROUTES = [
    ("PATCH", "/api/jobs/edit_meta/", {"jobId": 1000, "payload": {"key": "k", "value": "v"}}),
    ("DELETE", "/api/tags/", [GROMACS]),
    ("GET", "/api/jobs/used_nodes?ts=1800000000", None),
    ("POST", "/api/jobs/tag_job/{id}", [GROMACS]),
    ("DELETE", "/api/jobs/tag_job/{id}", [GROMACS]),
    ("PATCH", "/api/jobs/edit_meta/{id}", {"key": "k", "value": "v"}),
]


@pytest.mark.parametrize(("method", "path", "body"), NEW_ROUTES)
async def test_users_without_the_api_role_are_refused(
    api: Any,
    job_payload: Callable[..., Any],
    token_for: Callable[..., str],
    method: str,
    path: str,
    body: Any,
) -> None:
    db_id = await start(api, job_payload)
    await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    before = rows(api)
    for token in (token_for("alice"), token_for("bob"), ""):
        response = await api.call(method, path.format(id=db_id), body, token=token)
        refused(api, response, 401)
    assert rows(api) == before


# -- tags of all jobs --------------------------------------------------------------------------


async def test_deleting_tags_removes_them_from_every_job(
    api: Any, job_payload: Callable[..., Any], token_for: Callable[..., str]
) -> None:
    ids = [await start(api, job_payload, 1000 + n) for n in range(2)]
    for db_id in ids:
        await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS, SLOW])
    private = {"type": "note", "name": "x", "scope": "alice"}
    deleted = await api.call("DELETE", "/api/tags/", [GROMACS, private], token=token_for("root"))
    assert deleted.code == 200, deleted.body
    assert deleted.headers["Content-Type"].startswith("text/plain")
    assert deleted.body == b"Deleted Tags from DB: 1 successfull of 2 requested\n"
    with api.backends.db.engine.connect() as conn:
        names = [r.tag_name for r in conn.execute(sa.select(schema.tag))]
        links = conn.execute(sa.select(sa.func.count()).select_from(schema.jobtag)).scalar()
    assert (names, links) == (["slow"], 2)


async def test_deleting_an_unknown_tag_deletes_nothing(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    db_id = await start(api, job_payload)
    await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    before = rows(api)
    unknown = {"type": "app", "name": "vasp", "scope": "global"}
    response = await api.call("DELETE", "/api/tags/", [GROMACS, unknown])
    assert "does not exist" in refused(api, response, 404)
    assert rows(api) == before


# -- deleting jobs -------------------------------------------------------------------------------


async def test_deleting_a_job_by_request_by_id_and_before_a_time(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    ids = [
        await start(api, job_payload, 3000 + n, startTime=1_700_000_000 + n * 100) for n in range(4)
    ]
    await api.call("POST", f"/api/jobs/tag_job/{ids[1]}", [GROMACS])

    deleted = await api.call("DELETE", "/api/jobs/delete_job/", {"jobId": 3003, "cluster": "fritz"})
    assert api.body(deleted) == {"msg": f"Successfully deleted job {ids[3]}"}
    assert (await api.call("DELETE", f"/api/jobs/delete_job/{ids[2]}")).code == 200
    again = await api.call("DELETE", f"/api/jobs/delete_job/{ids[2]}")
    assert "deleting job failed" in refused(api, again, 422)
    missing = await api.call("DELETE", "/api/jobs/delete_job/", {"cluster": "fritz"})
    assert "'jobId' is required" in refused(api, missing, 400)

    bad = await api.call("DELETE", "/api/jobs/delete_job_before/1800000000?omit-tagged=some")
    assert "omit-tagged must be one of" in refused(api, bad, 400)
    spared = await api.call("DELETE", "/api/jobs/delete_job_before/1800000000?omit-tagged=all")
    assert api.body(spared) == {"msg": "Successfully deleted 1 jobs"}
    remaining = api.backends.jobs.query([], actor=None).items
    assert [(j.job_id, j.job_state) for j in remaining] == [(3001, JobState.RUNNING)]
    everything = await api.call("DELETE", "/api/jobs/delete_job_before/1800000000")
    assert api.body(everything) == {"msg": "Successfully deleted 1 jobs"}
    assert api.job_count() == 0


# -- nodes in use --------------------------------------------------------------------------------


async def test_used_nodes_lists_the_hosts_of_running_jobs_per_cluster(
    api: Any, job_payload: Callable[..., Any]
) -> None:
    hosts = [{"hostname": "f0102"}, {"hostname": "f0101"}]
    await start(api, job_payload, 1, numNodes=2, resources=hosts, startTime=1_700_000_000)
    await start(api, job_payload, 2, resources=[{"hostname": "f0102"}], startTime=1_700_000_100)
    await start(api, job_payload, 3, resources=[{"hostname": "f0103"}], startTime=1_700_009_000)
    await start(api, job_payload, 4, resources=[{"hostname": "f0104"}], startTime=1_700_000_000)
    stop = {"jobId": 4, "cluster": "fritz", "jobState": "completed", "stopTime": 1_700_000_600}
    assert (await api.call("POST", "/api/jobs/stop_job/", stop)).code == 200

    used = await api.call("GET", "/api/jobs/used_nodes?ts=1700005000")
    assert used.code == 200, used.body
    assert api.body(used) == {"usedNodes": {"fritz": ["f0101", "f0102"]}}
    none = await api.call("GET", "/api/jobs/used_nodes?ts=1600000000")
    assert api.body(none) == {"usedNodes": {}}
    for query, message in (("", "missing required query parameter: ts"), ("?ts=soon", "ts")):
        response = await api.call("GET", f"/api/jobs/used_nodes{query}")
        assert message in refused(api, response, 400)


# -- the archive ---------------------------------------------------------------------------------


async def test_an_archived_jobs_meta_json_follows_tags_and_meta_data(
    api: Any, job_payload: Callable[..., Any], token_for: Callable[..., str]
) -> None:
    db_id = await start(api, job_payload)
    meta_json = archive(api, db_id)
    root = token_for("root")

    await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS, SLOW], token=root)
    await api.call("PATCH", f"/api/jobs/edit_meta/{db_id}", {"key": "issue", "value": "I/O"})
    written = json.loads(meta_json.read_text())
    assert written["tags"] == [
        {"type": "app", "name": "gromacs", "scope": "global"},
        {"type": "review", "name": "slow", "scope": "admin"},
    ]
    assert written["metaData"] == {"jobName": "test", "jobScript": "#!/bin/sh", "issue": "I/O"}
    assert written["statistics"]["cpu_load"]["avg"] == 1.0  # the rest is left as it was

    await api.call("DELETE", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    assert [t["name"] for t in json.loads(meta_json.read_text())["tags"]] == ["slow"]
    by_request = {"jobId": 1000, "payload": {"key": "issue", "value": "fixed"}}
    await api.call("PATCH", "/api/jobs/edit_meta/", by_request)
    assert json.loads(meta_json.read_text())["metaData"]["issue"] == "fixed"
    await api.call("DELETE", "/api/tags/", [SLOW], token=root)
    assert "tags" not in json.loads(meta_json.read_text())


@pytest.mark.reference
async def test_the_rewritten_meta_json_follows_cc_backends_schema(
    api: Any, job_payload: Callable[..., Any], schema_validator: Callable[[str], Any]
) -> None:
    db_id = await start(api, job_payload)
    meta_json = archive(api, db_id)
    await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    await api.call("PATCH", f"/api/jobs/edit_meta/{db_id}", {"key": "issue", "value": "I/O"})
    schema_validator("job-meta.schema.json").validate(json.loads(meta_json.read_text()))


@pytest.fixture
def sqlite_archive(tmp_path: Path) -> Iterator[JobArchive]:
    """An SQLite archive that gives up quickly when another connection holds its write lock."""
    opened = open_archive_url(str(tmp_path / "archive.db"), busy_timeout=0.05)
    yield opened
    opened.close()


async def test_an_unwritable_archive_is_reported_and_the_database_keeps_the_change(
    api: Any, job_payload: Callable[..., Any], sqlite_archive: JobArchive
) -> None:
    db_id = await start(api, job_payload)
    archive(api, db_id)
    job = api.backends.jobs.get(db_id)
    sqlite_archive.store_meta(job)
    backends = api.backends
    backends.job_changes = JobChanges(backends.jobs, backends.tags, sqlite_archive)
    holder = sqlite3.connect(sqlite_archive.location, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # as a long-running archive tool would
        tagged = await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
        edited = await api.call("PATCH", f"/api/jobs/edit_meta/{db_id}", {"key": "k", "value": "v"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for response in (tagged, edited):
        message = refused(api, response, 503)
        assert f"job {db_id}: the change is saved in the database" in message
    assert [t.name for t in api.backends.tags.all_tags_of_job(db_id)] == ["gromacs"]
    assert api.backends.jobs.get(db_id).meta_data["k"] == "v"
    assert sqlite_archive.load_meta(job).tags is None

    retried = await api.call("POST", f"/api/jobs/tag_job/{db_id}", [GROMACS])
    assert retried.code == 200, retried.body
    archived = sqlite_archive.load_meta(job)
    assert [t.name for t in archived.tags or []] == ["gromacs"]
    assert (archived.meta_data or {})["k"] == "v"
