"""Fixtures for the repository tests: databases and a way to put jobs into them."""

from __future__ import annotations

import itertools
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cc_backend.repository import schema
from cc_backend.repository.database import Database, open_database

_job_ids = itertools.count(1000)

InsertJob = Callable[..., int]


def _insert_job(conn_or_db: Connection | Database, **fields: Any) -> int:
    """Insert a finished job row with sensible defaults overridden by ``fields``; return its id."""
    job_id = next(_job_ids)
    row: dict[str, Any] = {
        "job_id": job_id,
        "cluster": "fritz",
        "subcluster": "main",
        "submit_time": 1_700_000_000 + job_id,
        "start_time": 1_700_000_100 + job_id,
        "hpc_user": "alice",
        "project": "project-a",
        "duration": 600,
        "walltime": 3600,
        "job_state": "completed",
        "resources": '[{"hostname": "f0101"}]',
        "num_nodes": 1,
        "shared": "none",
        **fields,
    }
    statement = sa.insert(schema.job).values(row)
    if isinstance(conn_or_db, Database):
        with conn_or_db.engine.begin() as conn:
            key = conn.execute(statement).inserted_primary_key
    else:
        key = conn_or_db.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


@pytest.fixture
def insert_job() -> InsertJob:
    """``insert_job(conn_or_db, **fields) -> int``: add a job row, return its database id."""
    return _insert_job


@pytest.fixture
def empty_db(tmp_path: Path) -> Iterator[Database]:
    """A new, empty job database (SQLite file in ``tmp_path``) with the full schema."""
    db = open_database(f"sqlite:///{tmp_path / 'job.db'}")
    yield db
    db.close()


@pytest.fixture
def reference_db(tmp_path: Path, reference_dir: Path) -> Iterator[Database]:
    """A writable copy of cc-backend's reference job database, adopted and opened."""
    path = tmp_path / "reference-job.db"
    shutil.copyfile(reference_dir / "db" / "job.db", path)
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.close()
