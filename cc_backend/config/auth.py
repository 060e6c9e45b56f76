"""The ``auth`` section: JWT, LDAP and OpenID Connect settings.

Keys, passwords and client secrets are not part of config.json; they come from the
environment (see :mod:`cc_backend.config.secrets`).
"""

from __future__ import annotations

from pydantic import Field

from cc_backend.config.base import ConfigModel
from cc_backend.config.fields import OptionalDuration

__all__ = ["AuthConfig", "JwtConfig", "LdapConfig", "OidcConfig"]


class JwtConfig(ConfigModel):
    """Authentication with JSON Web Tokens (API clients and cross-login)."""

    max_age: OptionalDuration = Field(
        default=None, description="How long an issued token is valid, e.g. '2000h'."
    )
    cookie_name: str | None = Field(
        default=None,
        alias="cookieName",
        description="Cookie checked for a token when there is no Authorization header.",
    )
    validate_user: bool = Field(
        default=False,
        alias="validateUser",
        description="Reject token users unknown to the database; take roles from the database.",
    )
    trusted_issuer: str | None = Field(
        default=None,
        alias="trustedIssuer",
        description="Issuer ('iss' claim) accepted for externally generated tokens.",
    )
    sync_user_on_login: bool = Field(
        default=False,
        alias="syncUserOnLogin",
        description="Add an unknown user to the database from the token's claims.",
    )
    update_user_on_login: bool = Field(
        default=False,
        alias="updateUserOnLogin",
        description="Update a known user's attributes from the token's claims.",
    )


class LdapConfig(ConfigModel):
    """Login against an LDAP directory, and synchronisation of its users."""

    url: str = Field(description="URL of the LDAP server, e.g. 'ldap://ldap.example.org'.")
    user_base: str = Field(alias="user_base", description="Base DN of the user tree.")
    search_dn: str = Field(
        alias="search_dn", description="DN of the read-only account used for searches and sync."
    )
    user_bind: str = Field(
        alias="user_bind",
        description="DN template to bind as a user; must contain 'uid={username}'.",
    )
    user_filter: str = Field(alias="user_filter", description="Filter selecting the users.")
    username_attr: str = Field(
        default="gecos",
        alias="username_attr",
        description="Attribute holding the user's full name.",
    )
    sync_interval: OptionalDuration = Field(
        default=None,
        alias="sync_interval",
        description="Interval of the user synchronisation, e.g. '24h'; unset disables it.",
    )
    sync_del_old_users: bool = Field(
        default=False,
        alias="sync_del_old_users",
        description="Delete database users that are no longer in the directory.",
    )
    sync_user_on_login: bool = Field(
        default=False,
        alias="syncUserOnLogin",
        description="Add a user found in the directory to the database at first login.",
    )
    update_user_on_login: bool = Field(
        default=False,
        alias="updateUserOnLogin",
        description="Update a known user's attributes from the directory at login.",
    )


class OidcConfig(ConfigModel):
    """Login through an OpenID Connect provider."""

    provider: str = Field(description="URL of the OpenID Connect provider (issuer).")
    sync_user_on_login: bool = Field(
        default=False,
        alias="syncUserOnLogin",
        description="Add an unknown user to the database from the provider's claims.",
    )
    update_user_on_login: bool = Field(
        default=False,
        alias="updateUserOnLogin",
        description="Update a known user's attributes from the provider's claims.",
    )


class AuthConfig(ConfigModel):
    """The ``auth`` section (older configs have ``jwts``/``ldap``/``oidc`` at the top level)."""

    jwts: JwtConfig | None = Field(default=None, description="JWT authentication.")
    ldap: LdapConfig | None = Field(default=None, description="LDAP authentication and sync.")
    oidc: OidcConfig | None = Field(default=None, description="OpenID Connect login.")
