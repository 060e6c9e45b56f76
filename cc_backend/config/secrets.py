"""Secrets: signing keys, session key and passwords, read from the environment and ``.env``.

As in cc-backend, secrets never live in config.json. Each is read from the process environment
first and, if the variable is not set there, from the ``.env`` file beside the config file.
``os.environ`` is never modified. A variable that is set but empty counts as "not configured".

The values are :class:`~pydantic.SecretStr`: ``repr``, ``str``, logging and model dumps show
``'**********'``; call ``get_secret_value()`` where the real value is needed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cc_backend.domain.errors import ConfigError

__all__ = ["Secrets", "load_secrets"]


class Secrets(BaseModel):
    """The secrets cc-backend takes from the environment; unset ones are ``None``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Environment variable names of each field, in order of precedence.
    ENV_NAMES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "jwt_public_key": ("JWT_PUBLIC_KEY",),
        "jwt_private_key": ("JWT_PRIVATE_KEY",),
        "cross_login_jwt_public_key": ("CROSS_LOGIN_JWT_PUBLIC_KEY",),
        "cross_login_jwt_hs512_key": ("CROSS_LOGIN_JWT_HS512_KEY",),
        "session_key": ("SESSION_KEY",),
        "ldap_admin_password": ("LDAP_ADMIN_PASSWORD",),
        "oidc_client_id": ("OID_CLIENT_ID", "OIDC_CLIENT_ID"),
        "oidc_client_secret": ("OID_CLIENT_SECRET", "OIDC_CLIENT_SECRET"),
        "archive_s3_access_key": ("ARCHIVE_S3_ACCESS_KEY",),
        "archive_s3_secret_key": ("ARCHIVE_S3_SECRET_KEY",),
        "prometheus_password": ("PROMETHEUS_PASSWORD",),
    }

    jwt_public_key: SecretStr | None = Field(
        default=None, description="Base64 Ed25519 public key that validates JWTs."
    )
    jwt_private_key: SecretStr | None = Field(
        default=None, description="Base64 Ed25519 private key that signs JWTs."
    )
    cross_login_jwt_public_key: SecretStr | None = Field(
        default=None, description="Base64 Ed25519 public key of externally issued JWTs."
    )
    cross_login_jwt_hs512_key: SecretStr | None = Field(
        default=None, description="HS512 key of externally issued JWTs."
    )
    session_key: SecretStr | None = Field(
        default=None, description="Random bytes that sign the session cookies."
    )
    ldap_admin_password: SecretStr | None = Field(
        default=None, description="Password of the LDAP search account (auth.ldap.search_dn)."
    )
    oidc_client_id: SecretStr | None = Field(
        default=None, description="Client id registered with the OpenID Connect provider."
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="Client secret registered with the OpenID Connect provider."
    )
    archive_s3_access_key: SecretStr | None = Field(
        default=None, description="S3 access key of the job archive (instead of config.json)."
    )
    archive_s3_secret_key: SecretStr | None = Field(
        default=None, description="S3 secret key of the job archive (instead of config.json)."
    )
    prometheus_password: SecretStr | None = Field(
        default=None,
        description="Password of Prometheus metric data repositories that name a username.",
    )

    @classmethod
    def env_names(cls) -> list[str]:
        """Every environment variable name that is read, in field order."""
        return [name for names in cls.ENV_NAMES.values() for name in names]

    def configured(self) -> list[str]:
        """The names of the fields that have a value (never the values)."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


def load_secrets(
    config_path: Path | str | None = None,
    *,
    env_file: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Secrets:
    """Read the secrets from ``environ`` (default: ``os.environ``), then from a ``.env`` file.

    The ``.env`` file is ``env_file`` if given, else the one in the directory of
    ``config_path`` (default ``./config.json``). A missing ``.env`` file is fine; an
    unreadable one is a :class:`~cc_backend.domain.errors.ConfigError`. Values in the
    environment win over the file, even when empty (which means "not configured").
    """
    if env_file is None:
        config_file = Path(config_path) if config_path is not None else Path("config.json")
        env_path = config_file.absolute().parent / ".env"
    else:
        env_path = Path(env_file)
    environment: Mapping[str, str] = os.environ if environ is None else environ
    from_file = _read_env_file(env_path)

    values: dict[str, str] = {}
    for field, names in Secrets.ENV_NAMES.items():
        value = next((environment[name] for name in names if name in environment), None)
        if value is None:
            value = next((from_file[name] for name in names if from_file.get(name)), None)
        if value:
            values[field] = value
    return Secrets.model_validate(values)


def _read_env_file(path: Path) -> dict[str, str | None]:
    if not path.is_file():
        return {}
    try:
        # No ${VAR} expansion: random keys and passwords must be taken literally.
        return dotenv_values(path, interpolate=False, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the secrets file: {exc}"]) from None
