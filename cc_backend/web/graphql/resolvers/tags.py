"""``tags`` and the tag mutations.

Who may read and write a tag of a scope is :mod:`cc_backend.domain.tag`'s rule: a private
tag (scope = a user name) only its owner; ``global`` and ``admin`` tags are written by
admins and pure API clients; ``admin`` tags are read by admins and support. A tag the caller
may not read is reported as not found. Changes of archived jobs' tags are written back to
their ``meta.json`` (:class:`~cc_backend.services.job_changes.JobChanges`).
"""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType

from cc_backend.domain.tag import Tag
from cc_backend.services.job_changes import ApiTag
from cc_backend.web.graphql.context import Info, context_of
from cc_backend.web.graphql.resolvers.common import parse_id, parse_ids, validated

__all__ = ["mutation", "query"]

query = QueryType()
mutation = MutationType()


@query.field("tags")
async def resolve_tags(_: Any, info: Info) -> list[Tag]:
    context = context_of(info)
    return await context.run(context.backends.tags.list, context.user)


@mutation.field("createTag")
async def resolve_create_tag(_: Any, info: Info, type: str, name: str, scope: str) -> Tag:
    context = context_of(info)
    new = validated(Tag, {"type": type, "name": name, "scope": scope}, "tag")
    return await context.run(context.backends.tags.create, new, context.user)


@mutation.field("addTagsToJob")
async def resolve_add_tags_to_job(
    _: Any,
    info: Info,
    job: str,
    tagIds: list[str],  # noqa: N803 - the GraphQL argument name
) -> list[Tag]:
    context = context_of(info)
    job_id, tag_ids = parse_id(job, "job"), parse_ids(tagIds, "tag id")
    backends, user = context.backends, context.user

    def add() -> list[Tag]:
        tags = [backends.tags.get(tag_id, user) for tag_id in tag_ids]
        named = [ApiTag(type=t.type, name=t.name, scope=t.scope) for t in tags]
        return backends.job_changes.add_tags(job_id, named, user).tags or []

    return await context.run(add)


@mutation.field("removeTagsFromJob")
async def resolve_remove_tags_from_job(
    _: Any,
    info: Info,
    job: str,
    tagIds: list[str],  # noqa: N803 - the GraphQL argument name
) -> list[Tag]:
    context = context_of(info)
    job_id, tag_ids = parse_id(job, "job"), parse_ids(tagIds, "tag id")
    changes = context.backends.job_changes
    return await context.run(changes.detach_tags, job_id, tag_ids, context.user)


@mutation.field("removeTagFromList")
async def resolve_remove_tag_from_list(
    _: Any,
    info: Info,
    tagIds: list[str],  # noqa: N803 - the GraphQL argument name
) -> list[int]:
    context = context_of(info)
    tag_ids = parse_ids(tagIds, "tag id")
    return await context.run(context.backends.job_changes.delete_tags, tag_ids, context.user)


@mutation.field("deleteTag")
async def resolve_delete_tag(_: Any, info: Info, id: str) -> str:
    context = context_of(info)
    tag_id = parse_id(id, "tag id")
    await context.run(context.backends.job_changes.delete_tags, [tag_id], context.user)
    return str(tag_id)
