"""A site: the folder holding ``config.json``, ``.env`` and the data under ``var/``.

``init_site`` creates a new one that works at once: a config with cc-backend's keys
listening on ``127.0.0.1:8080``, fresh Ed25519 JWT keys and a session key in ``.env``
(readable by the owner only), an initialised job database and an empty job archive.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cc_backend.auth.keys import generate_keypair, generate_session_key
from cc_backend.config import Config, load_config
from cc_backend.domain.errors import AlreadyExists
from cc_backend.repository.database import database_url, open_database

#: Version of the job-archive layout written to ``version.txt``.
ARCHIVE_VERSION = 3


def default_config() -> dict[str, Any]:
    """The ``config.json`` of a new site (cc-backend's keys and spelling)."""
    return {
        "main": {
            "addr": "127.0.0.1:8080",
            "db-driver": "sqlite3",
            "db": "./var/job.db",
            "apiAllowedIPs": ["*"],
            "short-running-jobs-duration": 300,
        },
        "archive": {"kind": "file", "path": "./var/job-archive"},
        "auth": {"jwts": {"max-age": "2000h"}},
        "clusters": [],
    }


def _env_text() -> str:
    keys = generate_keypair()
    return (
        "# Secrets of this site. Keep this file private (mode 0600).\n"
        "# Ed25519 key pair signing and checking API tokens (base64 of the raw keys).\n"
        f'JWT_PUBLIC_KEY="{keys.public_b64}"\n'
        f'JWT_PRIVATE_KEY="{keys.private_b64}"\n'
        "# Secret signing the login session cookies.\n"
        f'SESSION_KEY="{generate_session_key()}"\n'
    )


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_site` created."""

    directory: Path
    config_path: Path
    env_path: Path
    database: str
    archive: Path


def init_site(directory: Path) -> InitResult:
    """Create a working site in ``directory`` (created if missing).

    Raises :class:`AlreadyExists` if ``directory`` already holds a ``config.json``;
    an existing ``.env`` is kept (its keys may already be in use).
    """
    directory = directory.resolve()
    config_path = directory / "config.json"
    if config_path.exists():
        raise AlreadyExists(f"{config_path} exists: this folder is already a site")
    directory.mkdir(parents=True, exist_ok=True)
    config_path.write_text(json.dumps(default_config(), indent=2) + "\n")
    env_path = directory / ".env"
    if not env_path.exists():
        fd = os.open(env_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(_env_text())
    config = load_config(config_path)
    url = site_database_url(config)
    open_database(url).close()
    archive = init_file_archive(config)
    return InitResult(directory, config_path, env_path, url, archive)


def site_database_url(config: Config) -> str:
    """The SQLAlchemy URL of the site's job database."""
    return database_url(config.main.db_driver, config.main.db)


def init_file_archive(config: Config) -> Path:
    """Create an empty file archive (``version.txt``) at the configured path, if missing.

    Other archive kinds are bootstrapped by their backend when first opened.
    """
    root = Path(config.archive.path)
    if config.archive.kind != "file":
        return root
    root.mkdir(parents=True, exist_ok=True)
    version = root / "version.txt"
    if not version.exists():
        version.write_text(f"{ARCHIVE_VERSION}\n")
    return root
