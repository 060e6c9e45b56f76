"""Users of the web interface and the API (table ``hpc_user``).

Roles and managed projects are stored as JSON lists in text columns (``'["admin","api"]'``),
passwords as bcrypt hashes in the ``$2a$`` format cc-backend writes, so a database can be
shared with cc-backend in both directions.
"""

from __future__ import annotations

import builtins
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import bcrypt
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cc_backend.domain.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from cc_backend.domain.user import AuthSource, Contact, Role, User
from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.prepared import Prepared
from cc_backend.repository.schema import configuration, hpc_user

log = logging.getLogger(__name__)

#: Name and e-mail of the users whose names are the JSON list ``names``.
_CONTACTS = Prepared(
    lambda dialect_name: sa.select(hpc_user.c.username, hpc_user.c.name, hpc_user.c.email).where(
        dialect.in_json_list(hpc_user.c.username, "names", dialect_name)
    )
)

#: bcrypt work factor; cc-backend uses Go's default cost, 10.
BCRYPT_COST = 10
#: bcrypt only looks at the first 72 bytes; longer passwords are refused, as Go's bcrypt does.
MAX_PASSWORD_BYTES = 72
#: cc-backend accepts user names of 1 to 100 characters.
MAX_USERNAME_LENGTH = 100
_USERNAME = re.compile(r"[\w.@-]+")
#: The one message for every failed login, so that callers cannot probe for user names.
LOGIN_FAILED = "invalid username or password"
#: A cost-10 hash checked when there is nothing to check, so failures all take as long.
_DUMMY_HASH = b"$2a$10$bNJcfZlzYHrH6b00zVlVAenQiLI9ZkuFaEv5Z7IOqCn.F/cqnCeWy"


def decode_json_list(raw: str | bytes | None) -> builtins.list[str]:
    """Decode a JSON list of strings stored in a text column; malformed content gives ``[]``."""
    try:
        value = orjson.loads(raw) if raw else []
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, builtins.list):
        log.warning("ignoring malformed JSON list in hpc_user: %r", raw)
        return []
    return [str(item) for item in value if item not in (None, "")]


def _encode_list(items: Iterable[str]) -> str:
    return orjson.dumps(builtins.list(items)).decode()


def _parse_roles(names: Iterable[str]) -> frozenset[Role]:
    roles = set()
    for name in names:
        try:
            roles.add(Role.parse(name))
        except ValueError:
            log.warning("ignoring unknown role %r stored in hpc_user", name)
    return frozenset(roles)


def _text(value: str | bytes | None) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value or ""


def user_from_row(row: Mapping[Any, Any]) -> User:
    """Build a :class:`User` from an ``hpc_user`` row; returns the user.

    Unknown role names are dropped and an unknown auth source counts as local, both logged.
    """
    try:
        source = AuthSource(int(row["ldap"]))
    except (TypeError, ValueError):
        log.warning("unknown auth source %r in hpc_user; treating it as local", row["ldap"])
        source = AuthSource.LOCAL
    return User(
        username=_text(row["username"]),
        roles=_parse_roles(decode_json_list(row["roles"])),
        projects=tuple(decode_json_list(row["projects"])),
        name=_text(row["name"]),
        email=_text(row["email"]),
        auth_source=source,
        password_hash=_text(row["password"]) or None,
    )


def check_username(username: str) -> None:
    """Raise :class:`InvalidInput` unless ``username`` is 1-100 letters, digits or ``._-@``."""
    if not username or len(username) > MAX_USERNAME_LENGTH or not _USERNAME.fullmatch(username):
        raise InvalidInput(
            f"invalid username {username!r}: use 1 to {MAX_USERNAME_LENGTH} letters, "
            "digits or the characters . _ - @"
        )


def hash_password(password: str) -> str:
    """Return the bcrypt hash (``$2a$``, cost 10) of ``password``.

    Raises :class:`InvalidInput` for an empty password or one longer than 72 bytes.
    """
    encoded = password.encode()
    if not encoded:
        raise InvalidInput("the password must not be empty")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidInput(f"the password must not be longer than {MAX_PASSWORD_BYTES} bytes")
    salt = bcrypt.gensalt(rounds=BCRYPT_COST, prefix=b"2a")
    return bcrypt.hashpw(encoded, salt).decode()


def _password_matches(password: str, hashed: str | None) -> bool:
    encoded = password.encode()
    if hashed is None or len(encoded) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"not a password", _DUMMY_HASH)
        return False
    try:
        return bcrypt.checkpw(encoded, hashed.encode())
    except ValueError:
        log.warning("stored password hash is not a valid bcrypt hash")
        return False


class UserRepository:
    """Reads and writes the ``hpc_user`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, user: User, password: str | None = None) -> None:
        """Store a new ``user``, with the bcrypt hash of ``password`` if one is given.

        Returns nothing. Raises :class:`InvalidInput` for an invalid user name or password,
        or projects given to a user without the manager role; :class:`AlreadyExists` when
        the user name is taken.
        """
        check_username(user.username)
        if user.projects and not user.has_role(Role.MANAGER):
            raise InvalidInput(f"user {user.username!r}: only managers may have projects")
        values: dict[str, Any] = {
            "username": user.username,
            "roles": _encode_list(sorted(role.value for role in user.roles)),
            "projects": _encode_list(user.projects),
            "name": user.name or None,
            "email": user.email or None,
            "ldap": int(user.auth_source),
            "password": hash_password(password) if password is not None else None,
        }
        try:
            with self.db.begin() as conn:
                conn.execute(sa.insert(hpc_user).values(values))
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"user {user.username!r} already exists") from None
        log.info("user %r added (roles %s)", user.username, values["roles"])

    def get(self, username: str) -> User:
        """Return the user called ``username``; raise :class:`NotFound` if there is none."""
        with self.db.connect() as conn:
            return user_from_row(self._row(conn, username))

    def contacts(self, usernames: Iterable[str]) -> dict[str, Contact]:
        """Name and e-mail of the users among ``usernames`` that exist, by name (names that
        are no user are left out), e.g. the owners of a page of jobs; one query, reading
        neither roles nor password hashes."""
        names = sorted(set(usernames))
        if not names:
            return {}
        with self.db.connect() as conn:
            rows = _CONTACTS.rows(conn, names=dialect.json_list(names))
        found = (Contact(_text(r["username"]), _text(r["name"]), _text(r["email"])) for r in rows)
        return {contact.username: contact for contact in found}

    def list(
        self, *, with_roles_only: bool = False, auth_source: AuthSource | None = None
    ) -> builtins.list[User]:
        """Return the users ordered by name.

        ``with_roles_only`` keeps only users holding a role other than plain ``user`` (what
        cc-backend's ``/api/users/?not-just-user=true`` returns); ``auth_source`` keeps only
        users from that source. Raises nothing beyond database errors.
        """
        query = sa.select(hpc_user).order_by(hpc_user.c.username)
        if auth_source is not None:
            query = query.where(hpc_user.c.ldap == int(auth_source))
        with self.db.connect() as conn:
            users = [user_from_row(row._mapping) for row in conn.execute(query)]
        if with_roles_only:
            users = [user for user in users if user.roles - {Role.USER}]
        return users

    def count(self) -> int:
        """Return the number of users."""
        with self.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(hpc_user)).scalar_one())

    def delete(self, username: str) -> None:
        """Delete ``username`` together with their configuration rows.

        Returns nothing. Raises :class:`NotFound` if there is no such user.
        """
        with self.db.begin() as conn:
            conn.execute(sa.delete(configuration).where(configuration.c.username == username))
            result = conn.execute(sa.delete(hpc_user).where(hpc_user.c.username == username))
            if result.rowcount == 0:
                raise NotFound(f"user {username!r} not found")
        log.info("user %r deleted", username)

    def add_role(self, username: str, role: Role | str) -> None:
        """Give ``username`` the role ``role``.

        Returns nothing. Raises :class:`NotFound` for an unknown user and
        :class:`InvalidInput` for an unknown role or one the user already has.
        """
        self._change_role(username, _role(role), add=True)

    def remove_role(self, username: str, role: Role | str) -> None:
        """Take the role ``role`` from ``username``.

        Returns nothing. Raises :class:`NotFound` for an unknown user and
        :class:`InvalidInput` for an unknown role, a role the user does not have, or the
        manager role while the user still manages projects.
        """
        self._change_role(username, _role(role), add=False)

    def add_project(self, username: str, project: str) -> None:
        """Make the manager ``username`` manage ``project``.

        Returns nothing. Raises :class:`NotFound` for an unknown user and
        :class:`InvalidInput` for an empty project, a user who is not a manager, or a
        project they already manage.
        """
        if not project:
            raise InvalidInput("the project must not be empty")
        self._change_projects(username, project, add=True)

    def remove_project(self, username: str, project: str) -> None:
        """Stop the manager ``username`` managing ``project``.

        Returns nothing. Raises :class:`NotFound` for an unknown user and
        :class:`InvalidInput` for a user who is not a manager or does not manage ``project``.
        """
        self._change_projects(username, project, add=False)

    def update(self, username: str, *, name: str | None = None, email: str | None = None) -> None:
        """Change the display name and/or e-mail address of ``username`` (``None``: keep).

        Returns nothing. Raises :class:`NotFound` for an unknown user.
        """
        values = {
            key: value or None
            for key, value in (("name", name), ("email", email))
            if value is not None
        }
        with self.db.begin() as conn:
            if values:
                self._set(conn, username, **values)
            else:
                self._row(conn, username)

    def set_password(self, username: str, password: str) -> None:
        """Replace the password of ``username`` by ``password`` (stored as a bcrypt hash).

        Returns nothing. Raises :class:`InvalidInput` for an empty password or one longer
        than 72 bytes, and :class:`NotFound` for an unknown user.
        """
        hashed = hash_password(password)
        with self.db.begin() as conn:
            self._set(conn, username, password=hashed)

    def authenticate(self, username: str, password: str) -> User:
        """Return the local user ``username`` if ``password`` is theirs.

        Only users with the local auth source and a stored password can log in this way.
        Raises :class:`Unauthenticated`, with the same message whether the user is unknown,
        not local, has no password or gave the wrong one.
        """
        with self.db.connect() as conn:
            row = conn.execute(sa.select(hpc_user).where(hpc_user.c.username == username)).first()
        user = user_from_row(row._mapping) if row is not None else None
        local = user is not None and user.auth_source is AuthSource.LOCAL
        hashed = user.password_hash if user is not None and local else None
        if not _password_matches(password, hashed) or user is None:
            raise Unauthenticated(LOGIN_FAILED)
        return user

    @staticmethod
    def _row(conn: Connection, username: str, *, lock: bool = False) -> Mapping[Any, Any]:
        query = sa.select(hpc_user).where(hpc_user.c.username == username)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"user {username!r} not found")
        return row._mapping

    @staticmethod
    def _set(conn: Connection, username: str, **values: Any) -> None:
        update = sa.update(hpc_user).where(hpc_user.c.username == username).values(**values)
        if conn.execute(update).rowcount == 0:
            raise NotFound(f"user {username!r} not found")

    def _change_role(self, username: str, role: Role, *, add: bool) -> None:
        with self.db.begin() as conn:
            row = self._row(conn, username, lock=True)
            names = decode_json_list(row["roles"])
            has_role = role in _parse_roles(names)
            if add and has_role:
                raise InvalidInput(f"user {username!r} already has role {role.value!r}")
            if not add and not has_role:
                raise InvalidInput(f"user {username!r} does not have role {role.value!r}")
            projects = decode_json_list(row["projects"])
            if not add and role is Role.MANAGER and projects:
                raise InvalidInput(
                    f"cannot remove role 'manager' while user {username!r} still manages "
                    f"project(s) {', '.join(projects)}"
                )
            kept = [name for name in names if _parse_roles([name]) != {role}]
            self._set(conn, username, roles=_encode_list([*kept, role.value] if add else kept))

    def _change_projects(self, username: str, project: str, *, add: bool) -> None:
        with self.db.begin() as conn:
            user = user_from_row(self._row(conn, username, lock=True))
            if not user.has_role(Role.MANAGER):
                raise InvalidInput(f"user {username!r} is not a manager")
            if add and project in user.projects:
                raise InvalidInput(f"user {username!r} already manages project {project!r}")
            if not add and project not in user.projects:
                raise InvalidInput(f"user {username!r} does not manage project {project!r}")
            kept = [p for p in user.projects if p != project]
            self._set(conn, username, projects=_encode_list([*kept, project] if add else kept))


def _role(role: Role | str) -> Role:
    if isinstance(role, Role):
        return role
    try:
        return Role.parse(role)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
