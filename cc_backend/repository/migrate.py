"""Schema migrations: create, adopt and upgrade job databases with alembic.

Three starting points are handled:

* an empty database gets cc-backend's schema version 10 and then this project's revisions;
* a cc-backend database at schema version 10 (``schema_migrations``) is adopted: it is
  stamped with the matching baseline revision and upgraded, keeping every row;
* a database already managed here is upgraded to the newest revision.

Revisions after the baseline only add (indexes, data normalisation), so cc-backend can still
open an adopted database.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from cc_backend.domain.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: cc-backend's schema version that the baseline revision reproduces.
CC_BACKEND_SCHEMA_VERSION = 10
BASELINE_REVISION = "0001"


class SchemaKind(enum.Enum):
    EMPTY = "empty"
    CC_BACKEND = "cc-backend"
    MANAGED = "managed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SchemaState:
    """What :func:`inspect_schema` found in a database."""

    kind: SchemaKind
    revision: str | None = None
    cc_backend_version: int | None = None
    dirty: bool = False


def _alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def inspect_schema(engine: Engine) -> SchemaState:
    """Tell what kind of schema ``engine``'s database holds, without changing it."""
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        revision = MigrationContext.configure(conn).get_current_revision()
        version, dirty = None, False
        if "schema_migrations" in tables:
            row = conn.exec_driver_sql(
                "SELECT version, dirty FROM schema_migrations ORDER BY version DESC LIMIT 1"
            ).first()
            if row is not None:
                version, dirty = int(row[0]), bool(row[1])
    if revision is not None:
        return SchemaState(SchemaKind.MANAGED, revision, version, dirty)
    if version is not None:
        return SchemaState(SchemaKind.CC_BACKEND, None, version, dirty)
    if not tables - {"alembic_version"}:
        return SchemaState(SchemaKind.EMPTY)
    return SchemaState(SchemaKind.UNKNOWN)


def upgrade(engine: Engine) -> tuple[SchemaState, str]:
    """Bring the database to the newest revision; return the state found and the new revision.

    Raises :class:`ConfigError` for a database that cannot be adopted safely (another
    cc-backend schema version, a half-applied cc-backend migration, foreign tables).
    """
    state = inspect_schema(engine)
    if state.kind is SchemaKind.UNKNOWN:
        raise ConfigError(
            ["main.db: the database has tables but no known schema version; refusing to touch it"]
        )
    if state.kind is SchemaKind.CC_BACKEND:
        _check_adoptable(state)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        if state.kind is SchemaKind.CC_BACKEND:
            log.info("adopting cc-backend database at schema version %s", state.cc_backend_version)
            command.stamp(cfg, BASELINE_REVISION)
        command.upgrade(cfg, "head")
    head = head_revision()
    if state.revision != head:
        log.info("job database schema: %s -> %s", state.revision or state.kind.value, head)
    return state, head


def _check_adoptable(state: SchemaState) -> None:
    version = state.cc_backend_version
    if state.dirty:
        raise ConfigError(
            [
                f"main.db: cc-backend left migration {version} half-applied (dirty); "
                "repair it with cc-backend before opening it here"
            ]
        )
    if version != CC_BACKEND_SCHEMA_VERSION:
        hint = (
            "upgrade it with cc-backend's -migrate-db first"
            if version is not None and version < CC_BACKEND_SCHEMA_VERSION
            else "this version of cc-backend's schema is not supported yet"
        )
        raise ConfigError(
            [
                f"main.db: cc-backend schema version {version} found, "
                f"version {CC_BACKEND_SCHEMA_VERSION} is required: {hint}"
            ]
        )
