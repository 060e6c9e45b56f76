"""API tokens: JWTs signed with Ed25519, as cc-backend issues and accepts them.

Tokens carry ``sub`` (user name), ``roles``, ``projects``, ``iat`` and ``exp``. They are
signed with ``alg: EdDSA`` because that is the name cc-backend and its clients expect;
verification accepts ``EdDSA`` and its newer name ``Ed25519`` and nothing else.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jwt
from joserfc.errors import JoseError, SecurityWarning
from joserfc.jwk import OKPKey

from cc_backend.domain.errors import Unauthenticated
from cc_backend.domain.user import User

SIGNING_ALGORITHM = "EdDSA"
ACCEPTED_ALGORITHMS = ("EdDSA", "Ed25519")


def issue_token(
    user: User,
    key: Ed25519PrivateKey,
    max_age: timedelta | None = None,
    now: float | None = None,
) -> str:
    """A signed token for ``user``; without ``max_age`` it does not expire (as cc-backend)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": user.username,
        "roles": sorted(r.value for r in user.roles),
        "projects": list(user.projects),
        "iat": issued,
    }
    if max_age is not None and max_age.total_seconds() > 0:
        claims["exp"] = issued + int(max_age.total_seconds())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        return jwt.encode(
            {"alg": SIGNING_ALGORITHM, "typ": "JWT"},
            claims,
            OKPKey.import_key(key),
            algorithms=[SIGNING_ALGORITHM],
        )


def verify_token(token: str, key: Ed25519PublicKey, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid token; :class:`Unauthenticated` for anything else.

    Rejects other algorithms (``none``, ``HS256``...), bad signatures, malformed tokens and
    expired tokens.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SecurityWarning)
            decoded = jwt.decode(
                token, OKPKey.import_key(key), algorithms=list(ACCEPTED_ALGORITHMS)
            )
    except (JoseError, ValueError) as exc:
        raise Unauthenticated(f"invalid token: {exc}") from None
    claims = dict(decoded.claims)
    expires = claims.get("exp")
    current = now if now is not None else time.time()
    if expires is not None and (not isinstance(expires, int | float) or expires < current):
        raise Unauthenticated("token expired")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Unauthenticated("token has no subject")
    return claims


class VerifiedTokens:
    """Claims of tokens already verified, so that a client sending the same token with every
    request costs one signature check, not one per request.

    Only tokens whose signature verified are remembered; their expiry is checked on every
    use. At most ``max_entries`` tokens are kept (the oldest go first).
    """

    def __init__(self, key: Ed25519PublicKey, max_entries: int = 1024) -> None:
        self.key = key
        self.max_entries = max_entries
        self._claims: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def claims(self, token: str, now: float | None = None) -> dict[str, Any]:
        """The claims of a valid token; :class:`Unauthenticated` as :func:`verify_token`."""
        current = now if now is not None else time.time()
        with self._lock:
            cached = self._claims.get(token)
        if cached is None:
            cached = verify_token(token, self.key, now=current)
            with self._lock:
                self._claims[token] = cached
                while len(self._claims) > self.max_entries:
                    self._claims.popitem(last=False)
        expires = cached.get("exp")
        if expires is not None and expires < current:
            with self._lock:
                self._claims.pop(token, None)
            raise Unauthenticated("token expired")
        return dict(cached)
