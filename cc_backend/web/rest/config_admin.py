"""``/config/``: user management and the site notice for admins, by login session.

cc-backend's routes, form fields and answers:

- ``GET /config/roles/``: the assignable role names (JSON list);
- ``GET /config/users/[?not-just-user=true]``: the users (JSON, as ``/api/users/``);
- ``POST`` or ``PUT /config/users/``: create a user from the form fields ``username``,
  ``password``, ``role``, ``name``, ``email``, ``project``; text ``User NAME successfully
  created!``;
- ``DELETE /config/users/``: delete the user named by the form field ``username``;
- ``POST /config/user/{username}``: apply the first of ``add-role``, ``remove-role``,
  ``add-project``, ``remove-project``; ``{"msg": "Add Role Success"}`` and the like;
- ``POST /config/notice/``: replace the site notice with the form field ``new-content``.

Non-admins get 403, requests without a session 401, malformed forms 400 and changes the
user table refuses 422, each with cc-backend's error body; the rules live in
:mod:`cc_backend.services.user_admin`.
"""

from __future__ import annotations

from typing import Any

from cc_backend.services.user_admin import NewUser, SiteNotice, UserAdmin, UserChange
from cc_backend.web.rest.users import returned_user
from cc_backend.web.session_handlers import SessionAPIHandler

__all__ = ["NoticeHandler", "RoleListHandler", "UserEditHandler", "UsersHandler"]


class _AdminHandler(SessionAPIHandler):
    def user_admin(self) -> UserAdmin:
        return UserAdmin(self.backends.users)


class RoleListHandler(_AdminHandler):
    """``GET /config/roles/``."""

    def get(self) -> None:
        self.write_json(self.user_admin().roles(self.user))


class UsersHandler(_AdminHandler):
    """``GET``, ``POST``, ``PUT`` and ``DELETE /config/users/``."""

    async def get(self) -> None:
        not_just_user = self.get_query_argument("not-just-user", "") == "true"
        users = await self.blocking(self._users, not_just_user)
        self.write_json(users)

    def _users(self, not_just_user: bool) -> list[dict[str, Any]]:
        found = self.user_admin().list_users(self.user, not_just_user=not_just_user)
        return [returned_user(user) for user in found]

    async def post(self) -> None:
        form = NewUser(
            username=self.form_value("username"),
            password=self.form_value("password"),
            role=self.form_value("role"),
            name=self.form_value("name"),
            email=self.form_value("email"),
            project=self.form_value("project"),
        )
        created = await self.blocking(self.user_admin().create_user, self.user, form)
        self.write_text(f"User {created.username} successfully created!\n")

    put = post

    async def delete(self) -> None:
        username = self.form_value("username")
        await self.blocking(self.user_admin().delete_user, self.user, username)
        self.write_text("")


class UserEditHandler(_AdminHandler):
    """``POST /config/user/{username}``."""

    async def post(self, username: str) -> None:
        change = UserChange(
            add_role=self.form_value("add-role"),
            remove_role=self.form_value("remove-role"),
            add_project=self.form_value("add-project"),
            remove_project=self.form_value("remove-project"),
        )
        message = await self.blocking(self.user_admin().change_user, self.user, username, change)
        self.write_json({"msg": message})


class NoticeHandler(SessionAPIHandler):
    """``POST /config/notice/``."""

    async def post(self) -> None:
        notice = SiteNotice.of_site(self.backends.config)
        message = await self.blocking(notice.write, self.user, self.form_value("new-content"))
        self.write_text(message)
