"""Relative paths are resolved against the directory of the config file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cc_backend.config import Config, load_config, load_config_data

WriteConfig = Callable[..., Path]  # the write_config fixture of conftest.py


def test_relative_paths_are_resolved_against_the_config_directory(
    write_config: WriteConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        {
            "main": {
                "db": "./var/job.db",
                "https-cert-file": "tls/cert.pem",
                "https-key-file": "/etc/tls/key.pem",
                "machine-state-dir": "var/machine-state",
            },
            "archive": {"kind": "file", "path": "../shared/job-archive"},
            "nats": {"address": "nats://x", "creds-file-path": "nats.creds"},
            "metric-store": {"checkpoints": {"directory": "var/cp"}},
        }
    )
    site = path.parent
    monkeypatch.chdir(tmp_path)  # the working directory does not matter

    config = load_config(path)

    assert config.base_dir == site
    assert config.main.sqlite_path == site / "var" / "job.db"
    assert config.main.https_cert_file == site / "tls" / "cert.pem"
    assert config.main.https_key_file == Path("/etc/tls/key.pem")
    assert config.main.machine_state_dir == site / "var" / "machine-state"
    assert config.archive.path == site / ".." / "shared" / "job-archive"
    assert config.nats is not None
    assert config.nats.creds_file_path == site / "nats.creds"
    assert config.metric_store is not None
    assert config.metric_store.checkpoints.directory == site / "var" / "cp"


def test_path_defaults_are_resolved_too(tmp_path: Path) -> None:
    config = load_config_data({"metric-store": {}}, tmp_path)

    assert config.main.sqlite_path == tmp_path / "var" / "job.db"
    assert config.archive.path == tmp_path / "var" / "job-archive"
    assert config.metric_store is not None
    assert config.metric_store.checkpoints.directory == tmp_path / "var" / "checkpoints"


def test_empty_optional_paths_mean_not_set(tmp_path: Path) -> None:
    config = load_config_data({"main": {"https-cert-file": "", "https-key-file": ""}}, tmp_path)

    assert config.main.https_cert_file is None
    assert config.main.https_key_file is None


def test_a_postgres_dsn_and_sqlite_special_names_are_not_paths(tmp_path: Path) -> None:
    dsn = "postgresql://cc@db.example.org/clustercockpit"
    postgres = load_config_data({"main": {"db-driver": "postgres", "db": dsn}}, tmp_path)
    memory = load_config_data({"main": {"db": ":memory:"}}, tmp_path)

    assert postgres.main.db == dsn
    assert postgres.main.sqlite_path is None
    assert memory.main.db == ":memory:"
    assert memory.main.sqlite_path is None


def test_without_a_base_dir_the_working_directory_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    config = Config.model_validate({"archive": {"path": "archive"}})

    assert config.archive.path == tmp_path / "archive"
    assert config.base_dir == tmp_path


def test_dump_writes_paths_inside_the_site_relative_to_it(tmp_path: Path) -> None:
    data = {
        "main": {"db": "var/job.db", "https-cert-file": "/etc/tls/c.pem", "https-key-file": "k"},
        "archive": {"path": "./var/job-archive"},
    }

    dumped = load_config_data(data, tmp_path).dump()

    assert dumped["main"] == {
        "db": "./var/job.db",
        "https-cert-file": "/etc/tls/c.pem",
        "https-key-file": "./k",
    }
    assert dumped["archive"] == {"path": "./var/job-archive"}
