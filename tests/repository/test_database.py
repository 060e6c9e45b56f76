"""The settings every SQLite connection of the job database runs with."""

from __future__ import annotations

import contextlib
from pathlib import Path

from cc_backend.repository.database import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_CACHE_KIB,
    open_database,
)


def test_sqlite_connections_share_writes_safely_and_keep_indexes_in_memory(
    tmp_path: Path,
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'job.db'}")
    with contextlib.closing(db), db.connect() as conn:

        def pragma(name: str) -> object:
            return conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()

        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 1  # normal: WAL commits without a sync each
        assert pragma("temp_store") == 2  # memory
        assert pragma("cache_size") == -SQLITE_CACHE_KIB  # negative: KiB, not pages
    assert SQLITE_CACHE_KIB >= 16 * 1024  # a million jobs' start-time index fits
