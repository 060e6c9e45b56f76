"""Migration 0003: the node state indexes for counting states over a time window.

A new database and an adopted cc-backend database both get them; the migration can be
applied to a database that already has them, and undone without touching cc-backend's own
indexes or any row.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Engine

from cc_backend.repository import schema
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.migrate import MIGRATIONS_DIR, head_revision, inspect_schema

#: The indexes of migration 0003: name -> columns, in order.
TIME_INDEXES = {
    "node_state_time_state": ["time_stamp", "node_state", "node_id"],
    "node_state_time_health": ["time_stamp", "health_state", "node_id"],
}
#: cc-backend's own indexes on node_state (schema version 10).
CC_BACKEND_INDEXES = {
    "nodestates_state",
    "nodestates_health",
    "nodestates_nodeid_state",
    "nodestates_nodeid_health",
}


def node_state_indexes(engine: Engine) -> dict[str, list[str]]:
    """Name -> columns of every index on ``node_state``."""
    with engine.connect() as conn:
        found = sa.inspect(conn).get_indexes("node_state")
    return {str(i["name"]): [str(c) for c in i["column_names"]] for i in found}


def migrate(engine: Engine, action: str, revision: str) -> None:
    """Run alembic's ``upgrade`` or ``downgrade`` to ``revision`` on ``engine``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def test_the_declared_indexes_are_the_migrated_ones() -> None:
    declared = {str(i.name): [c.name for c in i.columns] for i in schema.node_state.indexes}
    assert declared == TIME_INDEXES


def test_a_new_database_has_the_time_indexes(empty_db: Database) -> None:
    found = node_state_indexes(empty_db.engine)
    assert {name: found.get(name) for name in TIME_INDEXES} == TIME_INDEXES
    assert set(found) >= CC_BACKEND_INDEXES


def test_the_migration_undoes_and_redoes_cleanly(empty_db: Database) -> None:
    engine = empty_db.engine
    migrate(engine, "downgrade", "0002")
    left = node_state_indexes(engine)
    assert not set(TIME_INDEXES) & set(left)
    assert set(left) >= CC_BACKEND_INDEXES
    assert inspect_schema(engine).revision == "0002"

    migrate(engine, "upgrade", "head")
    assert set(TIME_INDEXES) <= set(node_state_indexes(engine))
    assert inspect_schema(engine).revision == head_revision()


def test_indexes_made_by_hand_before_the_migration_are_kept(empty_db: Database) -> None:
    engine = empty_db.engine
    migrate(engine, "downgrade", "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE INDEX node_state_time_state ON node_state (time_stamp, node_state, node_id)"
        )

    migrate(engine, "upgrade", "head")

    found = node_state_indexes(engine)
    assert {name: found.get(name) for name in TIME_INDEXES} == TIME_INDEXES


@pytest.mark.reference
def test_an_adopted_cc_backend_database_gets_them_and_stays_cc_backend_10(
    reference_dir: Path, tmp_path: Path
) -> None:
    path = tmp_path / "job.db"
    shutil.copyfile(reference_dir / "db" / "job.db", path)
    path.chmod(0o644)
    before = node_state_indexes(sa.create_engine(f"sqlite:///{path}"))

    db = open_database(f"sqlite:///{path}")
    try:
        after = node_state_indexes(db.engine)
        assert inspect_schema(db.engine).cc_backend_version == 10
    finally:
        db.close()

    assert after == {**before, **TIME_INDEXES}
    with sqlite3.connect(path) as conn:  # what cc-backend reads: its version, unchanged
        assert conn.execute("SELECT version, dirty FROM schema_migrations").fetchall() == [(10, 0)]
