"""Token, role and address rules of API authentication, without a server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cc_backend.config import Secrets, load_config
from cc_backend.domain.errors import NotFound, Unauthenticated
from cc_backend.domain.user import User
from cc_backend.web.auth import (
    Access,
    ApiAuthenticator,
    check_access,
    ip_allowed,
    token_from_headers,
)


def _no_user(name: str) -> User:
    raise NotFound(name)


@pytest.mark.parametrize("public_key", [None, "", "   "])
def test_without_a_public_key_every_token_is_refused(
    api_site: Path, token_for: Callable[..., str], public_key: str | None
) -> None:
    config = load_config(api_site / "config.json")
    secrets = Secrets.model_validate({} if public_key is None else {"jwt_public_key": public_key})
    authenticator = ApiAuthenticator.from_config(config, secrets, _no_user)
    with pytest.raises(Unauthenticated):
        authenticator.user_from_token(token_for("adapter"))
    with pytest.raises(Unauthenticated):
        authenticator.user_from_token("")


@pytest.mark.parametrize(
    ("roles", "api", "userapi"),
    [
        (["api"], True, True),
        (["admin", "api"], True, True),
        (["user", "api"], False, True),
        (["support", "api"], False, True),
        (["admin"], False, False),
        (["user"], False, False),
        ([], False, False),
    ],
)
def test_role_rules_per_prefix(roles: list[str], api: bool, userapi: bool) -> None:
    user = User.build("u", roles)
    for access, allowed in ((Access.API, api), (Access.USER_API, userapi)):
        if allowed:
            check_access(user, access)
        else:
            with pytest.raises(Unauthenticated):
                check_access(user, access)


@pytest.mark.parametrize(
    ("ip", "allowed", "ok"),
    [
        ("127.0.0.1", [], True),
        ("127.0.0.1", ["*"], True),
        ("127.0.0.1", ["10.0.0.1"], False),
        ("::ffff:10.0.0.1", ["10.0.0.1"], True),
        (None, ["10.0.0.1"], False),
        ("::1", ["::1"], True),
    ],
)
def test_ip_allow_list(ip: str | None, allowed: list[str], ok: bool) -> None:
    assert ip_allowed(ip, allowed) is ok


def test_token_header_precedence() -> None:
    assert token_from_headers({"X-Auth-Token": "a", "Authorization": "Bearer b"}) == "a"
    assert token_from_headers({"Authorization": "Bearer b"}) == "b"
    assert token_from_headers({"Authorization": "Basic b"}) is None
    assert token_from_headers({}) is None
