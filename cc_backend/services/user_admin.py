"""Administration through the web interface: users and their roles and projects, API
tokens, personal interface settings and the site notice.

The rules are cc-backend's (its ``/config/`` and ``/frontend/`` routes); REST calls them
now and GraphQL can later. Every method takes the acting user first and checks them before
it looks at the input, so a non-admin learns nothing from a malformed request.

Failures are domain errors:

- :class:`PermissionDenied`: an admin-only action by a non-admin, or a token for somebody
  else requested by a non-admin;
- :class:`InvalidInput`: input cc-backend refuses before touching the database (blank
  password of a non-API user, project given to a non-manager, manager without project,
  user name not 1 to 100 characters, no change named, notice too long...);
- :class:`Conflict`: a change the user table refused (user exists, unknown user, role
  already held...), with cc-backend's prefix such as ``"adding role failed: "``;
- :class:`NotFound`: a token for an unknown user.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.config import Config, Secrets
from cc_backend.domain.errors import (
    AlreadyExists,
    ConfigError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from cc_backend.domain.user import AuthSource, Role, User
from cc_backend.repository.userconfig import UserConfigRepository
from cc_backend.repository.users import (
    MAX_PASSWORD_BYTES,
    MAX_USERNAME_LENGTH,
    UserRepository,
    check_username,
)

__all__ = [
    "ASSIGNABLE_ROLES",
    "MAX_NOTICE_LENGTH",
    "NewUser",
    "SiteNotice",
    "TokenSigner",
    "UserAdmin",
    "UserChange",
    "UserSettings",
    "require_admin",
    "site_token_signer",
]

log = logging.getLogger(__name__)

#: Roles an admin can give, in cc-backend's order.
ASSIGNABLE_ROLES: tuple[Role, ...] = (
    Role.API,
    Role.USER,
    Role.MANAGER,
    Role.SUPPORT,
    Role.ADMIN,
)
#: Longest site notice, in characters (cc-backend's limit).
MAX_NOTICE_LENGTH = 10_000

#: Signs an API token for a user.
TokenSigner = Callable[[User], str]


def require_admin(actor: User, action: str) -> None:
    """Raise :class:`PermissionDenied` ("only admins are allowed to <action>") unless
    ``actor`` is an admin."""
    if not actor.has_role(Role.ADMIN):
        raise PermissionDenied(f"only admins are allowed to {action}")


@contextlib.contextmanager
def _refused(prefix: str) -> Iterator[None]:
    """Turn a refusal of the user table into :class:`Conflict` ``"<prefix>: <reason>"``."""
    try:
        yield
    except (InvalidInput, NotFound, AlreadyExists, Conflict) as exc:
        raise Conflict(f"{prefix}: {exc.message}") from exc


def _assignable_role(name: str) -> Role:
    with contextlib.suppress(ValueError):
        role = Role.parse(name)
        if role in ASSIGNABLE_ROLES:
            return role
    valid = ", ".join(r.value for r in ASSIGNABLE_ROLES)
    raise InvalidInput(f"invalid role {name[:40]!r} (valid roles: {valid})")


@dataclass(frozen=True)
class NewUser:
    """The fields of cc-backend's user form (all text, as sent; empty means not given)."""

    username: str
    password: str = ""
    role: str = ""
    name: str = ""
    email: str = ""
    project: str = ""

    def checked(self) -> tuple[User, str | None]:
        """The user to store and their password (``None``: none); :class:`InvalidInput`
        for a form cc-backend refuses, or a user name or password the table cannot hold."""
        if not 1 <= len(self.username) <= MAX_USERNAME_LENGTH:
            raise InvalidInput(f"username must be between 1 and {MAX_USERNAME_LENGTH} characters")
        check_username(self.username)
        role = _assignable_role(self.role)
        if not self.password and role is not Role.API:
            raise InvalidInput(
                "only API users are allowed to have a blank password (login will be impossible)"
            )
        if len(self.password.encode()) > MAX_PASSWORD_BYTES:
            raise InvalidInput(f"the password must not be longer than {MAX_PASSWORD_BYTES} bytes")
        if self.project and role is not Role.MANAGER:
            raise InvalidInput("only managers require a project (can be changed later)")
        if not self.project and role is Role.MANAGER:
            raise InvalidInput("managers require a project to manage (can be changed later)")
        user = User(
            username=self.username,
            roles=frozenset({role}),
            projects=(self.project,) if self.project else (),
            name=self.name,
            email=self.email,
            auth_source=AuthSource.LOCAL,
        )
        return user, self.password or None


@dataclass(frozen=True)
class UserChange:
    """cc-backend's user edit form: the first non-empty field, in this order, is applied."""

    add_role: str = ""
    remove_role: str = ""
    add_project: str = ""
    remove_project: str = ""


class UserAdmin:
    """Users, roles and projects (admins only), and API tokens (admins for anybody, every
    user for themselves). ``sign_token`` is ``None`` when the site cannot sign tokens."""

    def __init__(self, users: UserRepository, sign_token: TokenSigner | None = None) -> None:
        self.users = users
        self.sign_token = sign_token

    def roles(self, actor: User) -> list[str]:
        """The role names an admin can give."""
        require_admin(actor, "fetch a list of roles")
        return [role.value for role in ASSIGNABLE_ROLES]

    def list_users(self, actor: User, *, not_just_user: bool = False) -> list[User]:
        """Every user, or with ``not_just_user`` those with a role beyond ``user``."""
        require_admin(actor, "fetch a list of users")
        return self.users.list(with_roles_only=not_just_user)

    def create_user(self, actor: User, form: NewUser) -> User:
        """Store the user described by ``form``; returns them. Blocks (bcrypt, database)."""
        require_admin(actor, "create new users")
        user, password = form.checked()
        with _refused("adding user failed"):
            self.users.add(user, password)
        log.info("user %r created by %r", user.username, actor.username)
        return user

    def delete_user(self, actor: User, username: str) -> None:
        """Delete ``username`` and their settings."""
        require_admin(actor, "delete a user")
        with _refused("deleting user failed"):
            self.users.delete(username)
        log.info("user %r deleted by %r", username, actor.username)

    def change_user(self, actor: User, username: str, change: UserChange) -> str:
        """Apply the first change ``change`` names to ``username``; returns cc-backend's
        success message (e.g. ``"Add Role Success"``)."""
        require_admin(actor, "update a user")
        steps: tuple[tuple[str, Callable[[str, str], None], str, str], ...] = (
            (change.add_role, self._add_role, "adding role failed", "Add Role Success"),
            (
                change.remove_role,
                self.users.remove_role,
                "removing role failed",
                "Remove Role Success",
            ),
            (
                change.add_project,
                self.users.add_project,
                "adding project failed",
                "Add Project Success",
            ),
            (
                change.remove_project,
                self.users.remove_project,
                "removing project failed",
                "Remove Project Success",
            ),
        )
        for value, apply, failure, success in steps:
            if value:
                with _refused(failure):
                    apply(username, value)
                log.info("user %r changed by %r: %s", username, actor.username, success)
                return success
        raise InvalidInput(
            "no operation specified: must provide add-role, remove-role, add-project, "
            "or remove-project"
        )

    def _add_role(self, username: str, role: str) -> None:
        self.users.add_role(username, _assignable_role(role))

    def token_for(self, actor: User, username: str) -> str:
        """A signed API token for ``username`` with their current roles and projects."""
        if username != actor.username:
            require_admin(actor, "sign JWTs not for themselves")
        try:
            user = self.users.get(username)
        except NotFound as exc:
            raise NotFound(f"getting user failed: {exc.message}") from None
        if self.sign_token is None:
            raise ConfigError(["JWT_PRIVATE_KEY not set: API tokens cannot be signed"])
        return self.sign_token(user)


def site_token_signer(config: Config, secrets: Secrets) -> TokenSigner | None:
    """Signs tokens with the site's ``JWT_PRIVATE_KEY`` for ``auth.jwts.max-age``; ``None``
    without a key. The key is parsed when a token is signed (:class:`ConfigError` if it is
    unusable)."""
    if secrets.jwt_private_key is None:
        return None
    raw = secrets.jwt_private_key.get_secret_value()
    max_age = config.auth.jwts.max_age if config.auth.jwts is not None else None

    def sign(user: User) -> str:
        return issue_token(user, load_private_key(raw), max_age=max_age)

    return sign


class UserSettings:
    """A user's own interface settings (cc-backend's ``/frontend/configuration/``)."""

    def __init__(self, user_config: UserConfigRepository) -> None:
        self.user_config = user_config

    def update(self, actor: User, key: str, value: str) -> None:
        """Store setting ``key`` of ``actor``; ``value`` is JSON text, as the web interface
        sends it. :class:`InvalidInput` for an empty or too long key or a value that is
        not JSON."""
        if not key:
            raise InvalidInput("updating configuration failed: the key must not be empty")
        try:
            decoded: Any = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise InvalidInput(
                f"updating configuration failed: the value of {key[:80]!r} is not JSON"
            ) from None
        self.user_config.set(actor.username, key, decoded)


class SiteNotice:
    """The notice shown to every user, kept in ``var/notice.txt`` of the site."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of_site(cls, config: Config) -> SiteNotice:
        """The notice of the site whose config is ``config``."""
        return cls(config.base_dir / "var" / "notice.txt")

    def read(self) -> str:
        """The current notice; empty if there is none."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def write(self, actor: User, content: str) -> str:
        """Replace the notice (atomically); returns cc-backend's success message."""
        require_admin(actor, "update the notice.txt file")
        if len(content) > MAX_NOTICE_LENGTH:
            raise InvalidInput(
                f"notice content exceeds maximum length of {MAX_NOTICE_LENGTH} characters"
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".notice-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
            os.chmod(temporary, 0o644)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        log.info("site notice updated by %r (%d characters)", actor.username, len(content))
        return "Update Notice Content Success" if content else "Empty Notice Content Success"
