"""Opening a cc-backend database adopts it in place: every row survives and reads back equal."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import ConfigError
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.migrate import SchemaKind, head_revision, inspect_schema

TABLES = ("job", "tag", "jobtag", "hpc_user", "configuration", "node", "node_state")


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """All rows of the cc-backend tables, BLOBs decoded to text, in primary-key order."""
    conn = sqlite3.connect(path)
    tables = {}
    for table in TABLES:
        rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        tables[table] = [
            tuple(v.decode() if isinstance(v, bytes) else v for v in row) for row in rows
        ]
    conn.close()
    return tables


@pytest.fixture
def cc_backend_db(reference_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "job.db"
    shutil.copyfile(reference_dir / "db" / "job.db", target)
    target.chmod(0o644)
    return target


@pytest.mark.reference
def test_adopting_the_reference_database_keeps_every_row(cc_backend_db: Path) -> None:
    before = snapshot(cc_backend_db)

    db = open_database(f"sqlite:///{cc_backend_db}")
    db.close()

    after = snapshot(cc_backend_db)
    assert after == before
    assert len(after["job"]) == 544
    assert len(after["hpc_user"]) == 1
    assert len(after["tag"]) == 1
    assert len(after["configuration"]) == 2


@pytest.mark.reference
def test_adopted_database_is_managed_and_still_says_cc_backend_version_10(
    cc_backend_db: Path,
) -> None:
    assert (
        inspect_schema(sa.create_engine(f"sqlite:///{cc_backend_db}")).kind is SchemaKind.CC_BACKEND
    )

    db = open_database(f"sqlite:///{cc_backend_db}")
    state = inspect_schema(db.engine)

    assert state.kind is SchemaKind.MANAGED
    assert state.revision == head_revision()
    assert state.cc_backend_version == 10


@pytest.mark.reference
def test_every_adopted_job_reads_back_as_a_job(cc_backend_db: Path) -> None:
    jobs = JobRepository(open_database(f"sqlite:///{cc_backend_db}"))
    page = jobs.query(actor=None)
    assert len(page.items) == 544
    first = jobs.get(1)
    assert first.job_id == 679694
    assert first.cluster == "alex"
    assert first.resources[0].hostname == "a0128"
    assert first.resources[0].accelerators == ["00000000:E1:00.0"]
    assert first.meta_data is not None
    assert first.meta_data["jobName"] == "retrain_SNN"
    assert first.footprint == {
        "acc_mem_used_avg": 1286.562,
        "acc_utilization_avg": 1,
        "cpu_load_avg": 36.87,
        "flops_any_avg": 0,
        "mem_bw_avg": 28.215,
        "mem_used_avg": 37.731,
    }


@pytest.mark.reference
def test_opening_twice_changes_nothing_the_second_time(cc_backend_db: Path) -> None:
    open_database(f"sqlite:///{cc_backend_db}").close()
    before = snapshot(cc_backend_db)
    open_database(f"sqlite:///{cc_backend_db}").close()
    assert snapshot(cc_backend_db) == before


def test_a_new_database_gets_cc_backend_schema_version_10(empty_db: Database) -> None:
    state = inspect_schema(empty_db.engine)
    assert state.kind is SchemaKind.MANAGED
    assert state.revision == head_revision()
    assert state.cc_backend_version == 10
    tables = set(sa.inspect(empty_db.engine).get_table_names())
    assert set(TABLES) | {"job_cache", "schema_migrations"} <= tables


def test_every_id_column_of_a_new_database_numbers_new_rows(empty_db: Database) -> None:
    """``id INTEGER PRIMARY KEY`` numbers rows in SQLite; PostgreSQL needs a sequence for it."""
    meta = sa.MetaData()
    meta.reflect(empty_db.engine, only=["job_cache", "node", "node_state"])
    job_row = {
        "job_id": 1,
        "cluster": "fritz",
        "subcluster": "main",
        "hpc_user": "alice",
        "project": "p",
        "duration": 0,
        "walltime": 60,
        "job_state": "running",
        "resources": "[]",
        "num_nodes": 1,
        "shared": "none",
    }
    node_state = {"time_stamp": 1, "node_state": "idle", "health_state": "full"}
    rows: dict[str, list[dict[str, Any]]] = {
        "job_cache": [job_row, {**job_row, "job_id": 2}],
        "node": [
            {"hostname": f"f010{n}", "cluster": "fritz", "subcluster": "main"} for n in (1, 2)
        ],
        "node_state": [{**node_state, "node_id": 1}, {**node_state, "node_id": 2}],
    }
    with empty_db.engine.begin() as conn:
        for name, values in rows.items():
            table = meta.tables[name]
            ids = [
                conn.execute(sa.insert(table).values(v).returning(table.c.id)).scalar_one()
                for v in values
            ]
            assert ids == [1, 2], name


@pytest.mark.parametrize(
    ("column", "value"), [("job_state", "exploded"), ("shared", "all"), ("monitoring_status", 7)]
)
def test_the_schema_refuses_values_outside_its_check_constraints(
    empty_db: Database, insert_job: Callable[..., int], column: str, value: object
) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        insert_job(empty_db, **{column: value})


def test_an_older_cc_backend_schema_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version uint64, dirty bool)")
    conn.execute("INSERT INTO schema_migrations VALUES (8, 0)")
    conn.execute("CREATE TABLE job (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()

    with pytest.raises(ConfigError, match=r"version 8 found.*-migrate-db"):
        open_database(f"sqlite:///{path}")


def test_a_dirty_cc_backend_migration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "dirty.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_migrations (version uint64, dirty bool)")
    conn.execute("INSERT INTO schema_migrations VALUES (10, 1)")
    conn.commit()
    conn.close()

    with pytest.raises(ConfigError, match="half-applied"):
        open_database(f"sqlite:///{path}")


def test_a_database_of_another_application_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()

    with pytest.raises(ConfigError, match="no known schema version"):
        open_database(f"sqlite:///{path}")
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")] == [
        "invoices"
    ]
