"""``/api/users/``: the user list for administrators."""

from __future__ import annotations

from typing import Any

from cc_backend.domain.errors import PermissionDenied
from cc_backend.domain.user import Role, User
from cc_backend.web.rest.base import BaseAPIHandler

__all__ = ["UserListHandler", "returned_user"]


def returned_user(user: User) -> dict[str, Any]:
    """cc-backend's ``ApiReturnedUser``: never the password hash or auth source."""
    return {
        "username": user.username,
        "name": user.name,
        "roles": sorted(r.value for r in user.roles),
        "email": user.email,
        "projects": list(user.projects),
    }


class UserListHandler(BaseAPIHandler):
    """``GET /api/users/[?not-just-user=true]``: admins only (403 otherwise)."""

    async def get(self) -> None:
        if not self.user.has_role(Role.ADMIN):
            raise PermissionDenied("only admins are allowed to fetch a list of users")
        special_only = self.get_query_argument("not-just-user", "") == "true"
        users = await self.blocking(self._users, special_only)
        self.write_json(users)

    def _users(self, special_only: bool) -> list[dict[str, Any]]:
        found = self.backends.users.list(with_roles_only=special_only)
        return [returned_user(u) for u in found]
