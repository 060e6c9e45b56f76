"""Secrets come from the environment, then from .env, and never show up in output."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from cc_backend.config import Secrets, load_config, load_config_data, load_secrets
from cc_backend.domain.errors import ConfigError

WriteConfig = Callable[..., Path]  # the write_config fixture of conftest.py

ENV_FILE = """\
JWT_PUBLIC_KEY="public-from-file"
JWT_PRIVATE_KEY="private-from-file"
SESSION_KEY="session-from-file"
LDAP_ADMIN_PASSWORD='pa$$word-from-file'
CROSS_LOGIN_JWT_PUBLIC_KEY=""
"""

CONFIG_WITH_SECRETS = {
    "archive": {"kind": "s3", "bucket": "jobs",
                "accessKey": "AKIA-SECRET", "secretKey": "S3-SECRET"},
    "nats": {"address": "nats://localhost:4222", "username": "cc", "password": "NATS-SECRET"},
    "clusters": [
        {
            "name": "fritz",
            "metricDataRepository": {"kind": "cc-metric-store", "url": "http://ccms:8082",
                                     "token": "TOKEN-SECRET"},
        },
        {
            "name": "alex",
            "metricDataRepository": {"kind": "prometheus", "url": "http://prom:9090",
                                     "username": "cc", "password": "PROM-SECRET"},
        },
    ],
}  # fmt: skip
CONFIG_SECRET_VALUES = ["AKIA-SECRET", "S3-SECRET", "NATS-SECRET", "TOKEN-SECRET", "PROM-SECRET"]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder with a config.json and a .env file; returns the config path."""
    (tmp_path / ".env").write_text(ENV_FILE, encoding="utf-8")
    config = tmp_path / "config.json"
    config.write_text("{}", encoding="utf-8")
    return config


def test_secrets_are_read_from_the_env_file_beside_the_config(site: Path) -> None:
    secrets = load_secrets(site, environ={})

    assert secrets.jwt_public_key is not None
    assert secrets.jwt_public_key.get_secret_value() == "public-from-file"
    assert secrets.ldap_admin_password is not None
    assert secrets.ldap_admin_password.get_secret_value() == "pa$$word-from-file"


def test_the_environment_wins_over_the_env_file(site: Path) -> None:
    secrets = load_secrets(site, environ={"JWT_PUBLIC_KEY": "public-from-env"})

    assert secrets.jwt_public_key is not None
    assert secrets.jwt_public_key.get_secret_value() == "public-from-env"
    assert secrets.jwt_private_key is not None
    assert secrets.jwt_private_key.get_secret_value() == "private-from-file"


def test_an_empty_value_means_not_configured_even_when_it_shadows_the_file(site: Path) -> None:
    secrets = load_secrets(site, environ={"SESSION_KEY": ""})

    assert secrets.session_key is None
    assert secrets.cross_login_jwt_public_key is None  # empty in the file


def test_the_process_environment_is_the_default_and_is_not_modified(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    monkeypatch.setenv("SESSION_KEY", "session-from-env")
    monkeypatch.delenv("JWT_PUBLIC_KEY", raising=False)

    secrets = load_secrets(site)

    assert secrets.session_key is not None
    assert secrets.session_key.get_secret_value() == "session-from-env"
    assert "JWT_PUBLIC_KEY" not in os.environ


def test_oidc_client_credentials_accept_both_names(tmp_path: Path) -> None:
    cc_backend_names = load_secrets(tmp_path / "config.json", environ={"OID_CLIENT_ID": "a"})
    long_names = load_secrets(tmp_path / "config.json", environ={"OIDC_CLIENT_SECRET": "b"})

    assert cc_backend_names.oidc_client_id is not None
    assert cc_backend_names.oidc_client_id.get_secret_value() == "a"
    assert long_names.oidc_client_secret is not None
    assert long_names.oidc_client_secret.get_secret_value() == "b"


def test_a_missing_env_file_is_fine(tmp_path: Path) -> None:
    assert load_secrets(tmp_path / "config.json", environ={}) == Secrets()


def test_an_explicit_env_file_can_be_given(tmp_path: Path) -> None:
    env_file = tmp_path / "secrets.env"
    env_file.write_text("SESSION_KEY=abc\n", encoding="utf-8")

    secrets = load_secrets(env_file=env_file, environ={})

    assert secrets.configured() == ["session_key"]


def test_an_unreadable_env_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()  # a folder where the file should be is skipped, not read
    assert load_secrets(tmp_path / "config.json", environ={}) == Secrets()

    bad = tmp_path / "bad.env"
    bad.write_bytes(b"SESSION_KEY=\xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read the secrets file"):
        load_secrets(env_file=bad, environ={})


def test_secret_values_never_appear_in_repr_str_or_dumps(site: Path) -> None:
    secrets = load_secrets(site, environ={"OID_CLIENT_SECRET": "oidc-from-env"})
    values = ["public-from-file", "private-from-file", "session-from-file", "oidc-from-env"]

    for text in (repr(secrets), str(secrets), secrets.model_dump_json(), str(secrets.model_dump())):
        for value in values:
            assert value not in text
    assert "**********" in repr(secrets)


def test_config_credentials_never_appear_in_repr_str_or_dumps(tmp_path: Path) -> None:
    config = load_config_data(CONFIG_WITH_SECRETS, tmp_path)

    outputs = [repr(config), str(config), config.model_dump_json(), str(config.model_dump())]
    outputs += [config.to_json(), repr(config.clusters[1].metric_data_repository.model_extra)]
    for text in outputs:
        for value in CONFIG_SECRET_VALUES:
            assert value not in text


def test_credentials_of_config_json_are_still_usable(tmp_path: Path) -> None:
    config = load_config_data(CONFIG_WITH_SECRETS, tmp_path)

    assert config.nats is not None
    assert config.nats.password is not None
    assert config.nats.password.get_secret_value() == "NATS-SECRET"
    token = config.clusters[0].metric_data_repository.token
    assert token is not None
    assert token.get_secret_value() == "TOKEN-SECRET"
    extra = config.clusters[1].metric_data_repository.model_extra or {}
    assert extra["username"] == "cc"
    assert extra["password"].get_secret_value() == "PROM-SECRET"


def test_secrets_stay_out_of_logs(
    site: Path, write_config: WriteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("test.secrets")

    config = load_config(write_config(CONFIG_WITH_SECRETS))
    secrets = load_secrets(site, environ={})
    logger.debug("config: %r", config)
    logger.debug("config: %s", config)
    logger.info("secrets: %s / %r", secrets, secrets)

    for value in [*CONFIG_SECRET_VALUES, "public-from-file", "session-from-file"]:
        assert value not in caplog.text
    assert "loaded configuration from" in caplog.text


def test_a_password_in_a_postgres_dsn_is_hidden_in_repr(tmp_path: Path) -> None:
    dsn = "postgresql://cc:DB-SECRET@db.example.org/clustercockpit"

    config = load_config_data({"main": {"db-driver": "postgres", "db": dsn}}, tmp_path)

    assert "DB-SECRET" not in repr(config)
    assert "postgresql://cc:***@db.example.org/clustercockpit" in repr(config)
    assert config.main.db == dsn


def test_validation_errors_never_quote_credentials() -> None:
    data = {
        "nats": {"address": 1, "password": "NATS-SECRET"},
        "clusters": [{"metricDataRepository": {"kind": "x", "token": "TOKEN-SECRET"}}],
    }

    with pytest.raises(ConfigError) as caught:
        load_config_data(data, Path("/srv"))

    for value in ("NATS-SECRET", "TOKEN-SECRET"):
        assert value not in str(caught.value)
        assert value not in repr(caught.value)
