"""Per-user settings of the web interface (table ``configuration``).

Each row holds one setting of one user: a free-form key such as
``metricConfig_jobListMetrics:fritz`` and its value as JSON text. Values are decoded on
reading; a value that is not valid JSON is handed back as its raw text (and logged), so one
damaged row never breaks a user's page.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cc_backend.domain.errors import Conflict, InvalidInput, NotFound
from cc_backend.repository.database import Database
from cc_backend.repository.schema import configuration, hpc_user

log = logging.getLogger(__name__)

#: Width of the ``confkey`` column.
MAX_KEY_LENGTH = 255


def check_key(key: str) -> None:
    """Raise :class:`InvalidInput` unless ``key`` is 1 to 255 characters long."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"configuration key must be 1 to {MAX_KEY_LENGTH} characters long")


def decode_value(username: str, key: str, raw: str | bytes | None) -> Any:
    """Return the JSON value of a stored setting, or its raw text if it is not valid JSON."""
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        log.warning(
            "configuration %r of user %r is not valid JSON; using it as text", key, username
        )
        return text


def encode_value(value: Any) -> str:
    """Return ``value`` as compact JSON text; raise :class:`InvalidInput` if it has no JSON form."""
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
        raise InvalidInput(f"configuration value cannot be stored as JSON: {exc}") from None


class UserConfigRepository:
    """Reads and writes users' interface settings."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get_all(self, username: str) -> dict[str, Any]:
        """Return all settings of ``username``, key to decoded value.

        A user without settings, or unknown, gets an empty dict; raises nothing beyond
        database errors.
        """
        query = sa.select(configuration.c.confkey, configuration.c.value).where(
            configuration.c.username == username
        )
        with self.db.connect() as conn:
            rows = conn.execute(query.order_by(configuration.c.confkey)).all()
        return {key: decode_value(username, key, raw) for key, raw in rows}

    def get(self, username: str, key: str) -> Any:
        """Return the decoded value of setting ``key`` of ``username``.

        Raises :class:`NotFound` if the user has no such setting.
        """
        with self.db.connect() as conn:
            row = conn.execute(self._select(username, key)).first()
        if row is None:
            raise NotFound(f"user {username!r} has no configuration {key!r}")
        return decode_value(username, key, row.value)

    def set(self, username: str, key: str, value: Any) -> None:
        """Store ``value`` (as JSON) for setting ``key`` of ``username``, replacing any old one.

        Returns nothing. Raises :class:`InvalidInput` for an invalid key or a value without
        a JSON form, :class:`NotFound` for an unknown user and :class:`Conflict` if concurrent
        writers keep getting in the way.
        """
        check_key(key)
        text = encode_value(value)
        for attempt in range(2):
            try:
                with self.db.begin() as conn:
                    self._upsert(conn, username, key, text)
                return
            except sa.exc.IntegrityError:
                # Inserted concurrently, or the user was deleted meanwhile: try once more.
                if attempt:
                    raise Conflict(
                        f"configuration {key!r} of user {username!r} changed concurrently"
                    ) from None

    def delete(self, username: str, key: str) -> None:
        """Delete setting ``key`` of ``username`` (back to the site default).

        Returns nothing. Raises :class:`NotFound` if the user has no such setting.
        """
        condition = (configuration.c.username == username, configuration.c.confkey == key)
        with self.db.begin() as conn:
            if conn.execute(sa.delete(configuration).where(*condition)).rowcount == 0:
                raise NotFound(f"user {username!r} has no configuration {key!r}")

    @staticmethod
    def _select(username: str, key: str) -> sa.Select[Any]:
        return sa.select(configuration.c.value).where(
            configuration.c.username == username, configuration.c.confkey == key
        )

    @staticmethod
    def _upsert(conn: Connection, username: str, key: str, text: str) -> None:
        user = sa.select(hpc_user.c.username).where(hpc_user.c.username == username)
        if conn.execute(user).first() is None:
            raise NotFound(f"user {username!r} not found")
        update = (
            sa.update(configuration)
            .where(configuration.c.username == username, configuration.c.confkey == key)
            .values(value=text)
        )
        if conn.execute(update).rowcount == 0:
            conn.execute(
                sa.insert(configuration).values(username=username, confkey=key, value=text)
            )
