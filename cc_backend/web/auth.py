"""Authentication of API requests: JWTs, the IP allow-list and cc-backend's role rules.

A token comes in ``X-Auth-Token`` or ``Authorization: Bearer <token>`` and must be an
Ed25519-signed JWT that the site's ``JWT_PUBLIC_KEY`` verifies. Without a configured public key
every token is refused. With ``auth.jwts.validateUser`` the token's user must exist in the
database and the database's roles and projects count; otherwise the token's claims do.

Each URL prefix has cc-backend's role rule (:class:`Access`). Failing authentication or the
role rule is a 401, as cc-backend answers; failing a handler's own check (e.g. admin-only
routes) is a 403.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cc_backend.auth.keys import load_public_key
from cc_backend.auth.tokens import VerifiedTokens
from cc_backend.config import Config, Secrets
from cc_backend.domain.errors import ConfigError, NotFound, Unauthenticated
from cc_backend.domain.user import AuthSource, Role, User

__all__ = ["Access", "ApiAuthenticator", "check_access", "ip_allowed", "token_from_headers"]

log = logging.getLogger(__name__)

#: Roles that, together with ``api``, may use ``/userapi/``.
_USERAPI_PARTNERS = frozenset({Role.USER, Role.MANAGER, Role.SUPPORT, Role.ADMIN})


class Access(enum.Enum):
    """Who may use a group of routes (cc-backend's per-prefix rules)."""

    #: ``/api/``: only the ``api`` role, or both ``admin`` and ``api``; IP allow-list applies.
    API = "api"
    #: ``/userapi/``: only ``api``, or ``api`` with one of user/manager/support/admin.
    USER_API = "userapi"


def check_access(user: User, access: Access) -> None:
    """Raise :class:`Unauthenticated` unless ``user``'s roles satisfy ``access``."""
    roles = user.roles
    if roles == frozenset({Role.API}):
        return
    if access is Access.API and {Role.ADMIN, Role.API} <= roles:
        return
    if access is Access.USER_API and Role.API in roles and roles & _USERAPI_PARTNERS:
        return
    raise Unauthenticated("unauthorized: missing role")


def token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The raw token of a request: ``X-Auth-Token`` first, then ``Authorization: Bearer``.

    ``headers`` must look names up case-insensitively (Tornado's ``HTTPHeaders`` does).
    """
    token = headers.get("X-Auth-Token", "").strip()
    if token:
        return token
    authorization = headers.get("Authorization", "").strip()
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def ip_allowed(remote_ip: str | None, allowed: Iterable[str]) -> bool:
    """Whether ``remote_ip`` passes the ``apiAllowedIPs`` list.

    As in cc-backend, an empty list or a first entry ``*`` lets everybody in. Addresses are
    compared as IP addresses (so ``::ffff:127.0.0.1`` matches ``127.0.0.1``).
    """
    entries = [entry.strip() for entry in allowed if entry.strip()]
    if not entries or entries[0] == "*":
        return True
    client = _parse_ip(remote_ip)
    if client is None:
        return False
    return any(_parse_ip(entry) == client for entry in entries)


def _parse_ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _roles_of(claim: Any) -> frozenset[Role]:
    """Known roles named in a ``roles`` claim; unknown names are ignored."""
    if not isinstance(claim, list):
        return frozenset()
    roles: set[Role] = set()
    for name in claim:
        if isinstance(name, str):
            try:
                roles.add(Role.parse(name))
            except ValueError:
                log.info("ignoring unknown role %r in a token", name)
    return frozenset(roles)


def _projects_of(claim: Any) -> tuple[str, ...]:
    if not isinstance(claim, list):
        return ()
    return tuple(p for p in claim if isinstance(p, str))


@dataclass(frozen=True)
class ApiAuthenticator:
    """Turns a request's headers and address into a :class:`User`, or refuses it.

    ``find_user`` looks a user up in the database (raises ``NotFound``); it is called only
    with ``validate_user``, so :meth:`authenticate` may block and belongs in an executor.
    """

    public_key: Ed25519PublicKey | None
    validate_user: bool
    allowed_ips: tuple[str, ...]
    find_user: Callable[[str], User]
    verified: VerifiedTokens | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.verified is None and self.public_key is not None:
            object.__setattr__(self, "verified", VerifiedTokens(self.public_key))

    @classmethod
    def from_config(
        cls, config: Config, secrets: Secrets, find_user: Callable[[str], User]
    ) -> ApiAuthenticator:
        """Build from the site's config and secrets; a missing or unusable public key
        leaves token authentication off (every token refused), logged once."""
        key: Ed25519PublicKey | None = None
        raw = secrets.jwt_public_key.get_secret_value() if secrets.jwt_public_key else ""
        if raw.strip():
            try:
                key = load_public_key(raw)
            except ConfigError as exc:
                log.error("JWT_PUBLIC_KEY unusable, API tokens are refused: %s", exc)
        else:
            log.warning("JWT_PUBLIC_KEY not set: API tokens are refused")
        jwts = config.auth.jwts
        return cls(
            public_key=key,
            validate_user=bool(jwts and jwts.validate_user),
            allowed_ips=tuple(config.main.api_allowed_ips),
            find_user=find_user,
        )

    @property
    def reads_database(self) -> bool:
        """Whether :meth:`authenticate` may query the database (``validateUser``); if not,
        it costs a dictionary look-up for a known token and may run on the event loop."""
        return self.validate_user

    def authenticate(
        self, headers: Mapping[str, str], remote_ip: str | None, access: Access
    ) -> User:
        """The user making the request; :class:`Unauthenticated` if there is none, the token
        is invalid, the address is not allowed or the roles do not fit ``access``."""
        token = token_from_headers(headers)
        if token is None:
            raise Unauthenticated("unauthorized: no token (X-Auth-Token or Authorization)")
        user = self.user_from_token(token)
        if access is Access.API and not ip_allowed(remote_ip, self.allowed_ips):
            raise Unauthenticated(f"unknown ip: {remote_ip}")
        check_access(user, access)
        return user

    def user_from_token(self, token: str) -> User:
        """The user a valid token stands for; :class:`Unauthenticated` otherwise."""
        if self.public_key is None or self.verified is None:
            raise Unauthenticated("token authentication is not configured (no JWT_PUBLIC_KEY)")
        claims = self.verified.claims(token)
        username = str(claims["sub"])
        if self.validate_user:
            try:
                return self.find_user(username)
            except NotFound:
                raise Unauthenticated(f"unknown user {username!r}") from None
        return User(
            username=username,
            roles=_roles_of(claims.get("roles")),
            projects=_projects_of(claims.get("projects")),
            auth_source=AuthSource.TOKEN,
        )
