"""Tags: labels attached to jobs, with a visibility scope.

A tag's scope is ``global`` (everyone reads, admins and pure API clients write), ``admin``
(admins and support read, admins and pure API clients write) or a user name (private to
that user). The read/write rules live here, once.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cc_backend.domain.user import Role, User

GLOBAL_SCOPE = "global"
ADMIN_SCOPE = "admin"


class Tag(BaseModel):
    """A tag as cc-backend sends it: ``{"id", "type", "name", "scope"}``."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: int | None = Field(default=None, description="Database id")
    type: str = Field(min_length=1, max_length=255, description="Tag type, e.g. 'app'")
    name: str = Field(min_length=1, max_length=255, description="Tag name, e.g. 'python'")
    scope: str = Field(default=GLOBAL_SCOPE, min_length=1, description="Visibility scope")


def _is_pure_api(user: User) -> bool:
    return user.roles == frozenset({Role.API})


def can_read_scope(user: User, scope: str) -> bool:
    """Whether ``user`` may see tags of ``scope``."""
    if scope == GLOBAL_SCOPE:
        return True
    if scope == ADMIN_SCOPE:
        return user.has_any_role((Role.ADMIN, Role.SUPPORT))
    return scope == user.username


def can_write_scope(user: User, scope: str) -> bool:
    """Whether ``user`` may create, attach or delete tags of ``scope``."""
    if scope in (GLOBAL_SCOPE, ADMIN_SCOPE):
        return user.has_role(Role.ADMIN) or _is_pure_api(user)
    return scope == user.username


def readable_scopes(user: User) -> list[str]:
    """The concrete scope values ``user`` may read (for SQL ``IN`` clauses)."""
    scopes = [GLOBAL_SCOPE, user.username]
    if user.has_any_role((Role.ADMIN, Role.SUPPORT)):
        scopes.append(ADMIN_SCOPE)
    return scopes
