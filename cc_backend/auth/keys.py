"""Ed25519 key pairs in cc-backend's format.

cc-backend keeps its JWT keys as standard base64 of the raw key bytes: 32 bytes for the
public key and 64 bytes (seed followed by public key) for the private key, in the
``JWT_PUBLIC_KEY`` / ``JWT_PRIVATE_KEY`` environment variables.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cc_backend.domain.errors import ConfigError

_SEED_BYTES = 32
_PRIVATE_BYTES = 64


@dataclass(frozen=True, repr=False)
class KeyPair:
    """A key pair as the two base64 strings cc-backend stores."""

    public_b64: str
    private_b64: str

    def __repr__(self) -> str:
        return f"KeyPair(public_b64={self.public_b64!r}, private_b64=<hidden>)"


def generate_keypair() -> KeyPair:
    """A fresh Ed25519 key pair in cc-backend's format."""
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    public = private.public_key().public_bytes_raw()
    return KeyPair(
        public_b64=base64.b64encode(public).decode(),
        private_b64=base64.b64encode(seed + public).decode(),
    )


def _decode(value: str, name: str) -> bytes:
    text = value.strip()
    if not text:
        raise ConfigError([f"{name}: the key is empty"])
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError([f"{name}: not valid base64"]) from None


def load_private_key(value: str, name: str = "JWT_PRIVATE_KEY") -> Ed25519PrivateKey:
    """Parse a base64 private key (64 bytes as cc-backend writes it, or a bare 32-byte seed)."""
    raw = _decode(value, name)
    if len(raw) not in (_SEED_BYTES, _PRIVATE_BYTES):
        raise ConfigError([f"{name}: expected 64 bytes of Ed25519 key, got {len(raw)}"])
    key = Ed25519PrivateKey.from_private_bytes(raw[:_SEED_BYTES])
    if len(raw) == _PRIVATE_BYTES and key.public_key().public_bytes_raw() != raw[_SEED_BYTES:]:
        raise ConfigError([f"{name}: the public half does not belong to the private key"])
    return key


def load_public_key(value: str, name: str = "JWT_PUBLIC_KEY") -> Ed25519PublicKey:
    """Parse a base64 32-byte Ed25519 public key."""
    raw = _decode(value, name)
    if len(raw) != _SEED_BYTES:
        raise ConfigError([f"{name}: expected 32 bytes of Ed25519 public key, got {len(raw)}"])
    return Ed25519PublicKey.from_public_bytes(raw)


def generate_session_key() -> str:
    """Random hex secret for signing session cookies."""
    return secrets.token_hex(32)
