"""Opening archives by config section or by location, and the errors when that fails."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cc_backend.archive import open_archive, open_archive_url
from cc_backend.archive.fsspec_backend import FsspecArchive, MemoryArchive, S3Archive
from cc_backend.archive.registry import backend_class
from cc_backend.archive.sqlite_backend import SqliteArchive
from cc_backend.config import ArchiveConfig, Secrets
from cc_backend.domain.errors import BackendUnavailable, ConfigError, InvalidInput

KEYS = {"access_key": "testing", "secret_key": "testing"}


def config(**fields: Any) -> ArchiveConfig:
    return ArchiveConfig.model_validate(fields)


class TestOpenArchive:
    def test_file(self, tmp_path: Path) -> None:
        archive = open_archive(config(kind="file", path=str(tmp_path / "jobs")))
        assert type(archive) is FsspecArchive
        assert archive.kind == "file"
        assert archive.location == str(tmp_path / "jobs")
        assert (tmp_path / "jobs" / "version.txt").read_text().strip() == "3"

    def test_sqlite(self, tmp_path: Path) -> None:
        archive = open_archive(config(kind="sqlite", dbPath=str(tmp_path / "a" / "jobs.db")))
        assert isinstance(archive, SqliteArchive)
        assert archive.kind == "sqlite"
        assert archive.location == str(tmp_path / "a" / "jobs.db")
        archive.close()

    def test_s3_with_keys_in_the_config(
        self, s3_endpoint: str, s3_bucket: Callable[[], str]
    ) -> None:
        bucket = s3_bucket()
        section = config(
            kind="s3",
            bucket=f"{bucket}/prefix",
            endpoint=s3_endpoint,
            accessKey="testing",
            secretKey="testing",
            region="us-east-1",
            usePathStyle=True,
        )
        archive = open_archive(section)
        assert isinstance(archive, S3Archive)
        assert archive.kind == "s3"
        assert archive.location == f"s3://{bucket}/prefix"
        assert archive.store.fs.cat_file(f"{bucket}/prefix/version.txt").strip() == b"3"

    def test_s3_keys_from_the_environment_win(
        self, s3_endpoint: str, s3_bucket: Callable[[], str]
    ) -> None:
        section = config(
            kind="s3", bucket=s3_bucket(), endpoint=s3_endpoint, accessKey="wrong", secretKey="x"
        )
        secrets = Secrets.model_validate(
            {"archive_s3_access_key": "from-env", "archive_s3_secret_key": "secret"}
        )
        archive = FsspecArchive.from_config(section, secrets)
        assert isinstance(archive, S3Archive)
        assert archive.store.fs.key == "from-env"
        assert archive.store.fs.secret == "secret"
        archive.init()


class TestOpenArchiveUrl:
    @pytest.mark.parametrize("suffix", [".db", ".sqlite", ".sqlite3"])
    def test_a_database_file_is_an_sqlite_archive(self, tmp_path: Path, suffix: str) -> None:
        archive = open_archive_url(str(tmp_path / f"jobs{suffix}"))
        assert isinstance(archive, SqliteArchive)
        archive.close()

    def test_a_folder_is_a_file_archive(self, tmp_path: Path) -> None:
        archive = open_archive_url(str(tmp_path))
        assert (type(archive), archive.kind) == (FsspecArchive, "file")
        assert open_archive_url(f"file://{tmp_path}").location == str(tmp_path)

    def test_memory(self) -> None:
        archive = open_archive_url("memory://registry-test")
        assert isinstance(archive, MemoryArchive)
        assert (archive.kind, archive.location) == ("memory", "memory://registry-test")
        archive.store.fs.rm(archive.store.root, recursive=True)

    def test_s3(self, s3_endpoint: str, s3_bucket: Callable[[], str]) -> None:
        bucket = s3_bucket()
        archive = open_archive_url(
            f"s3://{bucket}/a/b", endpoint=s3_endpoint, use_path_style=True, **KEYS
        )
        assert (archive.kind, archive.location) == ("s3", f"s3://{bucket}/a/b")
        assert archive.clusters() == []

    def test_an_unknown_option_is_a_config_error(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="endpont"):
            open_archive_url("s3://bucket", endpont="http://127.0.0.1:1")
        with pytest.raises(ConfigError, match="region"):
            open_archive_url(str(tmp_path), region="eu")


class TestFailures:
    def test_an_unknown_kind_suggests_the_closest(self) -> None:
        with pytest.raises(ConfigError, match="did you mean 'sqlite'"):
            backend_class("sqlit")
        section = config(kind="file").model_copy(update={"kind": "fille"})
        with pytest.raises(ConfigError, match="did you mean 'file'"):
            open_archive(section)

    def test_a_dead_s3_endpoint_is_unavailable_quickly_and_clearly(self, unused_port: int) -> None:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as error:
            open_archive_url(
                "s3://bucket/jobs",
                endpoint=f"http://127.0.0.1:{unused_port}",
                connect_timeout=1,
                retries=1,
                **KEYS,
            )
        assert time.monotonic() - started < 10
        assert error.value.message.startswith("s3://bucket/jobs: storage unreachable")
        assert f"127.0.0.1:{unused_port}" in error.value.message

    def test_a_missing_bucket_is_named(self, s3_endpoint: str) -> None:
        with pytest.raises(BackendUnavailable, match="bucket"):
            open_archive_url("s3://no-such-bucket", endpoint=s3_endpoint, **KEYS)

    def test_a_file_that_is_no_database_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "jobs.db"
        path.write_bytes(b"this is not SQLite" * 100)
        with pytest.raises(InvalidInput, match="not a usable SQLite database"):
            open_archive_url(str(path))
