"""``user``, ``Job.userData`` and the ``updateConfiguration`` mutation.

cc-backend's rule for looking up a person: anybody may look up themselves; managers,
support and admins anybody. A name that is not a known user answers ``null``.
"""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType

from cc_backend.domain.errors import PermissionDenied
from cc_backend.domain.user import Contact, Role
from cc_backend.services.user_admin import UserSettings
from cc_backend.web.graphql.context import GraphQLContext, Info, context_of

__all__ = ["LOOKUP_ROLES", "mutation", "query", "user_data"]

query = QueryType()
mutation = MutationType()

#: Roles that may look up other users.
LOOKUP_ROLES = (Role.ADMIN, Role.SUPPORT, Role.MANAGER)


def _public(contact: Contact) -> dict[str, str]:
    return {"username": contact.username, "name": contact.name, "email": contact.email}


async def user_data(context: GraphQLContext, username: str) -> dict[str, str] | None:
    """Name and email of ``username`` if the caller may look them up (PermissionDenied
    otherwise); ``None`` for an unknown user. Cached for the request."""
    if username != context.user.username and not context.user.has_any_role(LOOKUP_ROLES):
        raise PermissionDenied(f"{context.user.username!r} may not look up other users")
    if username not in context.contacts:
        known = await context.run(context.backends.users.contacts, [username])
        context.contacts[username] = known.get(username)
    found = context.contacts[username]
    return _public(found) if found is not None else None


@query.field("user")
async def resolve_user(_: Any, info: Info, username: str) -> dict[str, str] | None:
    return await user_data(context_of(info), username)


@mutation.field("updateConfiguration")
async def resolve_update_configuration(_: Any, info: Info, name: str, value: str) -> None:
    """Store the caller's setting ``name``; answers ``null`` as cc-backend does."""
    context = context_of(info)
    settings = UserSettings(context.backends.user_config)
    await context.run(settings.update, context.user, name, value)
