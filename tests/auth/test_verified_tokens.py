"""A token is verified once and then recognised, but never past its expiry."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cc_backend.auth import tokens
from cc_backend.auth.keys import generate_keypair, load_private_key, load_public_key
from cc_backend.auth.tokens import VerifiedTokens, issue_token
from cc_backend.domain.errors import Unauthenticated
from cc_backend.domain.user import User

ALICE = User.build("alice", ["api"])
Keys = tuple[Ed25519PrivateKey, Ed25519PublicKey]


@pytest.fixture
def keys() -> Keys:
    pair = generate_keypair()
    return load_private_key(pair.private_b64), load_public_key(pair.public_b64)


def test_the_signature_is_checked_once_per_token(keys: Keys) -> None:
    private, public = keys
    token = issue_token(ALICE, private, max_age=timedelta(hours=1))
    cache = VerifiedTokens(public)
    with mock.patch.object(tokens, "verify_token", wraps=tokens.verify_token) as verify:
        for _ in range(5):
            assert cache.claims(token)["sub"] == "alice"
    assert verify.call_count == 1


def test_an_expired_token_is_refused_even_when_remembered(keys: Keys) -> None:
    private, public = keys
    token = issue_token(ALICE, private, max_age=timedelta(seconds=60), now=1000)
    cache = VerifiedTokens(public)
    assert cache.claims(token, now=1030)["sub"] == "alice"
    with pytest.raises(Unauthenticated, match="expired"):
        cache.claims(token, now=1061)


def test_a_forged_token_is_refused_every_time(keys: Keys) -> None:
    _, public = keys
    other = generate_keypair()
    forged = issue_token(ALICE, load_private_key(other.private_b64))
    cache = VerifiedTokens(public)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            cache.claims(forged)


def test_the_cache_is_bounded(keys: Keys) -> None:
    private, public = keys
    cache = VerifiedTokens(public, max_entries=3)
    for n in range(10):
        cache.claims(issue_token(User.build(f"u{n}", ["api"]), private))
    assert len(cache._claims) == 3
