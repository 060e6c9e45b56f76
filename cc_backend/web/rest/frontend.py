"""``/frontend/``: what the web interface asks for on behalf of the logged-in user.

cc-backend's routes, by login session:

- ``GET /frontend/jwt/?username=NAME``: a signed API token for ``NAME`` as plain text;
  admins may ask for anybody, other users only for themselves (403), an unknown user is a
  404. The token carries the user's current roles and projects and expires after
  ``auth.jwts.max-age``.
- ``POST /frontend/configuration/``: store the form fields ``key`` and ``value`` (JSON
  text) as one of the user's interface settings; text ``success``.
"""

from __future__ import annotations

from cc_backend.services.user_admin import UserAdmin, UserSettings, site_token_signer
from cc_backend.web.session_handlers import SessionAPIHandler

__all__ = ["ConfigurationHandler", "TokenHandler"]


class TokenHandler(SessionAPIHandler):
    """``GET /frontend/jwt/``."""

    async def get(self) -> None:
        backends = self.backends
        admin = UserAdmin(backends.users, site_token_signer(backends.config, backends.secrets))
        token = await self.blocking(admin.token_for, self.user, self.form_value("username"))
        self.write_text(token)


class ConfigurationHandler(SessionAPIHandler):
    """``POST /frontend/configuration/``."""

    async def post(self) -> None:
        settings = UserSettings(self.backends.user_config)
        key, value = self.form_value("key"), self.form_value("value")
        await self.blocking(settings.update, self.user, key, value)
        self.write_text("success")
