"""``tags`` and the tag mutations.

Who may read and write a tag of a scope is :mod:`cc_backend.domain.tag`'s rule: a private
tag (scope = a user name) only its owner; ``global`` and ``admin`` tags are written by
admins and pure API clients; ``admin`` tags are read by admins and support. A tag the caller
may not read is reported as not found. Changes of archived jobs' tags are written back to
their ``meta.json`` (:class:`~cc_backend.services.job_changes.JobChanges`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ariadne import MutationType, QueryType

from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.services.job_changes import ApiTag, ArchiveNotUpdated
from cc_backend.web.graphql.context import Info, context_of
from cc_backend.web.graphql.resolvers.common import parse_id, parse_ids, validated

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = ["delete_tags", "mutation", "query"]

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
    backends, user = context.backends, context.user

    def remove() -> list[Tag]:
        for tag_id in tag_ids:
            backends.tags.get(tag_id, user)  # NotFound for unknown or unreadable tags
        remaining = backends.tags.detach_tags(job_id, tag_ids, user)
        backends.job_changes.sync_archive(job_id)
        return remaining

    return await context.run(remove)


@mutation.field("removeTagFromList")
async def resolve_remove_tag_from_list(
    _: Any,
    info: Info,
    tagIds: list[str],  # noqa: N803 - the GraphQL argument name
) -> list[int]:
    context = context_of(info)
    tag_ids = parse_ids(tagIds, "tag id")
    return await context.run(delete_tags, context.backends, tag_ids, context.user)


@mutation.field("deleteTag")
async def resolve_delete_tag(_: Any, info: Info, id: str) -> str:
    context = context_of(info)
    tag_id = parse_id(id, "tag id")
    await context.run(delete_tags, context.backends, [tag_id], context.user)
    return str(tag_id)


def delete_tags(backends: Backends, tag_ids: Sequence[int], actor: User) -> list[int]:
    """Delete the tags ``tag_ids`` with their links to jobs: all of them or none.

    Raises, deleting nothing, NotFound for a tag that does not exist or ``actor`` may not
    read and PermissionDenied for one ``actor`` may not write. Archived jobs that carried
    the tags are rewritten afterwards (ArchiveNotUpdated if that fails). Returns the ids.
    """
    unique = list(dict.fromkeys(tag_ids))
    for tag_id in unique:
        backends.tags.get(tag_id, actor)
    affected = backends.tags.job_ids_with_tags(unique)
    backends.tags.delete(unique, actor)
    failed: list[ArchiveNotUpdated] = []
    for job_id in affected:
        try:
            backends.job_changes.sync_archive(job_id)
        except ArchiveNotUpdated as exc:
            failed.append(exc)
    if failed:
        raise ArchiveNotUpdated(
            f"the tags are deleted, but {len(failed)} archived jobs were not updated; "
            f"first: {failed[0].message}"
        )
    return unique
