"""``tags`` and the tag mutations: scope rules, all-or-nothing changes, archive write-back."""

from __future__ import annotations

from typing import Any

import pytest

from cc_backend.domain.user import User
from tests.web.graphql.conftest import JOBS, PEOPLE, GraphQL, Seeded

CREATE = """mutation ($type: String!, $name: String!, $scope: String!) {
  createTag(type: $type, name: $name, scope: $scope) { id type name scope } }"""
ADD = """mutation ($job: ID!, $tagIds: [ID!]!) {
  addTagsToJob(job: $job, tagIds: $tagIds) { id type name scope } }"""
REMOVE = """mutation ($job: ID!, $tagIds: [ID!]!) {
  removeTagsFromJob(job: $job, tagIds: $tagIds) { id name } }"""
DELETE_LIST = "mutation ($tagIds: [ID!]!) { removeTagFromList(tagIds: $tagIds) }"
DELETE = "mutation ($id: ID!) { deleteTag(id: $id) }"


def _person(role: str) -> User:
    person = PEOPLE[role]
    assert person is not None
    return person


def _tags_on(gql: GraphQL, job_id: int) -> set[str]:
    """Names of all tags on a job as the database has them (no scope rule)."""
    return {t.name for t in gql.backends.tags.all_tags_of_job(job_id)}


def _all_tag_names(gql: GraphQL) -> set[str]:
    return {t.name for t in gql.backends.tags.list(_person("admin"))} | {
        t.name for t in gql.backends.tags.list(_person("user"))
    }


@pytest.mark.parametrize(
    ("role", "names"),
    [
        ("user", {"python", "keep"}),
        ("manager", {"python"}),
        ("support", {"python", "slow"}),
        ("admin", {"python", "slow"}),
    ],
)
async def test_tags_lists_the_tags_the_caller_may_read(
    gql: GraphQL, seeded: Seeded, role: str, names: set[str]
) -> None:
    tags = (await gql("{ tags { id type name scope } }", role=role)).ok()["tags"]
    assert {t["name"] for t in tags} == names
    expected = {t.id: t for t in gql.backends.tags.list(_person(role))}
    for tag in tags:
        stored = expected[int(tag["id"])]
        assert (tag["type"], tag["scope"]) == (stored.type, stored.scope)


@pytest.mark.parametrize(
    ("role", "scope", "code"),
    [
        ("user", "alice", None),
        ("user", "global", "FORBIDDEN"),
        ("user", "admin", "FORBIDDEN"),
        ("user", "bob", "FORBIDDEN"),
        ("manager", "global", "FORBIDDEN"),
        ("support", "admin", "FORBIDDEN"),
        ("admin", "global", None),
        ("admin", "admin", None),
    ],
)
async def test_create_tag_follows_the_scope_rules(
    gql: GraphQL, seeded: Seeded, role: str, scope: str, code: str | None
) -> None:
    reply = await gql(CREATE, {"type": "t", "name": "new", "scope": scope}, role=role)
    stored = gql.backends.tags.find("t", "new", scope)
    if code is None:
        created = reply.ok()["createTag"]
        assert stored is not None
        assert created == {"id": str(stored.id), "type": "t", "name": "new", "scope": scope}
    else:
        assert reply.codes == [code]
        assert stored is None


async def test_a_tag_name_taken_in_any_scope_or_empty_is_refused(
    gql: GraphQL, seeded: Seeded
) -> None:
    taken = await gql(CREATE, {"type": "app", "name": "python", "scope": "admin"})
    assert taken.codes == ["ALREADY_EXISTS"]
    empty = await gql(CREATE, {"type": "app", "name": "", "scope": "global"})
    assert empty.codes == ["BAD_USER_INPUT"]


async def test_add_tags_to_job_attaches_them_and_answers_the_jobs_tags(
    gql: GraphQL, seeded: Seeded
) -> None:
    job = seeded.jobs["alice_done"]
    reply = await gql(ADD, {"job": str(job), "tagIds": [str(seeded.tags["alice"])]}, role="user")
    assert [t["name"] for t in reply.ok()["addTagsToJob"]] == ["keep"]
    assert _tags_on(gql, job) == {"keep"}


@pytest.mark.parametrize(
    ("role", "job", "tags", "code"),
    [
        ("user", "alice_done", ["global"], "FORBIDDEN"),
        ("user", "alice_done", ["alice", "global"], "FORBIDDEN"),
        ("user", "bob_alex", ["alice"], "NOT_FOUND"),
        ("user", "alice_done", ["admin"], "NOT_FOUND"),
        ("admin", "alice_done", ["alice"], "NOT_FOUND"),
        ("admin", "alice_done", ["global", 99999], "NOT_FOUND"),
        ("support", "carol_done", ["admin"], "FORBIDDEN"),
    ],
)
async def test_add_tags_to_job_changes_nothing_when_one_tag_may_not_be_added(
    gql: GraphQL, seeded: Seeded, role: str, job: str, tags: list[Any], code: str
) -> None:
    ids = [str(seeded.tags[t]) if isinstance(t, str) else str(t) for t in tags]
    before = _tags_on(gql, seeded.jobs[job])
    reply = await gql(ADD, {"job": str(seeded.jobs[job]), "tagIds": ids}, role=role)
    assert reply.codes == [code]
    assert _tags_on(gql, seeded.jobs[job]) == before


async def test_tagging_an_archived_job_rewrites_its_meta_json(gql: GraphQL, seeded: Seeded) -> None:
    archived = JOBS["carol_done"]
    gql.backends.archive.store_meta(archived)
    job = str(seeded.jobs["carol_done"])
    (await gql(ADD, {"job": job, "tagIds": [str(seeded.tags["global"])]})).ok()
    tags = gql.backends.archive.load_meta(archived).tags or []
    assert [(t.type, t.name, t.scope) for t in tags] == [("app", "python", "global")]
    (await gql(DELETE_LIST, {"tagIds": [str(seeded.tags["global"])]})).ok()
    assert not gql.backends.archive.load_meta(archived).tags


async def test_remove_tags_from_job_detaches_only_what_the_caller_may_write(
    gql: GraphQL, seeded: Seeded
) -> None:
    job = seeded.jobs["alice_running"]
    own = {"job": str(job), "tagIds": [str(seeded.tags["alice"])]}
    assert (await gql(REMOVE, own, role="user")).ok() == {
        "removeTagsFromJob": [{"id": str(seeded.tags["global"]), "name": "python"}]
    }
    assert _tags_on(gql, job) == {"python", "slow"}
    global_tag = {"job": str(job), "tagIds": [str(seeded.tags["global"])]}
    assert (await gql(REMOVE, global_tag, role="user")).codes == ["FORBIDDEN"]
    assert (await gql(REMOVE, global_tag, role="admin")).ok()
    assert _tags_on(gql, job) == {"slow"}


async def test_remove_tag_from_list_deletes_tags_with_their_links(
    gql: GraphQL, seeded: Seeded
) -> None:
    ids = [str(seeded.tags["global"]), str(seeded.tags["admin"])]
    reply = await gql(DELETE_LIST, {"tagIds": ids})
    assert reply.ok() == {"removeTagFromList": [int(i) for i in ids]}
    assert _all_tag_names(gql) == {"keep"}
    assert _tags_on(gql, seeded.jobs["alice_running"]) == {"keep"}
    assert _tags_on(gql, seeded.jobs["bob_alex"]) == set()


@pytest.mark.parametrize(
    ("role", "tags", "code"),
    [
        ("user", ["global"], "FORBIDDEN"),
        ("user", ["alice", "global"], "FORBIDDEN"),
        ("admin", ["alice"], "NOT_FOUND"),
        ("admin", ["global", 424242], "NOT_FOUND"),
        ("support", ["admin"], "FORBIDDEN"),
    ],
)
async def test_remove_tag_from_list_deletes_nothing_when_one_tag_may_not_go(
    gql: GraphQL, seeded: Seeded, role: str, tags: list[Any], code: str
) -> None:
    ids = [str(seeded.tags[t]) if isinstance(t, str) else str(t) for t in tags]
    reply = await gql(DELETE_LIST, {"tagIds": ids}, role=role)
    assert reply.codes == [code]
    assert _all_tag_names(gql) == {"python", "slow", "keep"}


async def test_a_user_may_delete_their_private_tag(gql: GraphQL, seeded: Seeded) -> None:
    reply = await gql(DELETE, {"id": str(seeded.tags["alice"])}, role="user")
    assert reply.ok() == {"deleteTag": str(seeded.tags["alice"])}
    assert _all_tag_names(gql) == {"python", "slow"}


async def test_delete_tag_of_an_unknown_id_is_not_found(gql: GraphQL, seeded: Seeded) -> None:
    assert (await gql(DELETE, {"id": "777"})).codes == ["NOT_FOUND"]
    assert (await gql(DELETE, {"id": "x"})).codes == ["BAD_USER_INPUT"]
