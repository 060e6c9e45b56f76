"""Users and roles.

Role names and their order are cc-backend's: a user can hold several roles; the highest
decides what they may see. ``api`` is for machine clients (scheduler adapters).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class Role(enum.StrEnum):
    """A role as stored in ``hpc_user.roles`` and carried in JWT ``roles`` claims."""

    ANONYMOUS = "anonymous"
    API = "api"
    USER = "user"
    MANAGER = "manager"
    SUPPORT = "support"
    ADMIN = "admin"

    @classmethod
    def parse(cls, name: str) -> Role:
        """Parse a role name, case-insensitively; raise ``ValueError`` on an unknown name."""
        try:
            return cls(name.strip().lower())
        except ValueError:
            valid = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown role {name!r} (valid roles: {valid})") from None


class AuthSource(enum.IntEnum):
    """Where a user's identity comes from; stored in ``hpc_user.ldap`` for historic reasons."""

    LOCAL = 0
    LDAP = 1
    TOKEN = 2
    OIDC = 3


#: Roles that may see every job.
ALL_JOBS_ROLES = frozenset({Role.ADMIN, Role.SUPPORT})


@dataclass(frozen=True, slots=True)
class Contact:
    """A user's name and e-mail address: what those allowed to look them up see."""

    username: str
    name: str = ""
    email: str = ""


@dataclass(frozen=True, slots=True)
class User:
    """A person or machine client known to the system."""

    username: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    projects: tuple[str, ...] = ()
    name: str = ""
    email: str = ""
    auth_source: AuthSource = AuthSource.LOCAL
    #: bcrypt hash of the password for local users; never the password itself.
    password_hash: str | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        username: str,
        roles: Iterable[Role | str] = (),
        projects: Iterable[str] = (),
        **kwargs: object,
    ) -> User:
        """Convenience constructor accepting role names as strings."""
        parsed = frozenset(r if isinstance(r, Role) else Role.parse(r) for r in roles)
        return cls(username=username, roles=parsed, projects=tuple(projects), **kwargs)  # type: ignore[arg-type]

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def has_any_role(self, roles: Iterable[Role]) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def sees_all_jobs(self) -> bool:
        """True for admin and support, and for a pure API client (only the ``api`` role)."""
        if self.roles == frozenset({Role.API}):
            return True
        return self.has_any_role(ALL_JOBS_ROLES)
