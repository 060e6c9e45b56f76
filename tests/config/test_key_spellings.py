"""Every spelling cc-backend has used for a key is accepted and means the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cc_backend.config import Config, load_config_data

BASE = Path("/srv/cc")

CAMEL_CASE: dict[str, Any] = {
    "main": {
        "apiAllowedIPs": ["10.0.0.1"],
        "shortRunningJobsDuration": 120,
        "emissionConstant": 300,
        "httpsCertFile": "tls/cert.pem",
        "httpsKeyFile": "tls/key.pem",
        "resampling": {"minimumPoints": 300, "trigger": 30, "resolutions": [60]},
    },
    "archive": {
        "kind": "s3",
        "bucket": "jobs",
        "usePathStyle": True,
        "accessKey": "AK",
        "secretKey": "SK",
        "retention": {"policy": "delete", "age": 365, "includeDB": False},
    },
    "clusters": [
        {
            "name": "fritz",
            "metricDataRepository": {"kind": "cc-metric-store", "url": "http://ccms:8082"},
            "filterRanges": {
                "numNodes": {"from": 1, "to": 64},
                "startTime": {"from": "2024-01-01T00:00:00Z", "to": None},
            },
        }
    ],
    "metricStore": {"retentionInMemory": "24h", "checkpoints": {"fileFormat": "json"}},
}

KEBAB_CASE: dict[str, Any] = {
    "main": {
        "api-allowed-ips": ["10.0.0.1"],
        "short-running-jobs-duration": 120,
        "emission-constant": 300,
        "https-cert-file": "tls/cert.pem",
        "https-key-file": "tls/key.pem",
        "resampling": {"minimum-points": 300, "trigger": 30, "resolutions": [60]},
    },
    "archive": {
        "kind": "s3",
        "bucket": "jobs",
        "use-path-style": True,
        "access-key": "AK",
        "secret-key": "SK",
        "retention": {"policy": "delete", "age": 365, "include-db": False},
    },
    "clusters": [
        {
            "name": "fritz",
            "metric-data-repository": {"kind": "cc-metric-store", "url": "http://ccms:8082"},
            "filter-ranges": {
                "num-nodes": {"from": 1, "to": 64},
                "start-time": {"from": "2024-01-01T00:00:00Z", "to": None},
            },
        }
    ],
    "metric-store": {"retention-in-memory": "24h", "checkpoints": {"file-format": "json"}},
}


def test_camel_case_and_kebab_case_give_the_same_config() -> None:
    camel = load_config_data(CAMEL_CASE, BASE)
    kebab = load_config_data(KEBAB_CASE, BASE)

    assert camel == kebab
    assert camel.main.api_allowed_ips == ["10.0.0.1"]
    assert camel.archive.use_path_style is True
    assert camel.clusters[0].filter_ranges is not None


def test_keys_match_case_insensitively_like_go() -> None:
    config = load_config_data({"Main": {"APIALLOWEDIPS": ["*"], "Addr": "0.0.0.0:80"}}, BASE)

    assert config.main.api_allowed_ips == ["*"]
    assert config.main.addr == "0.0.0.0:80"


def test_ldap_accepts_snake_case_of_older_and_kebab_case_of_newer_versions() -> None:
    older = {
        "url": "ldap://dir",
        "user_base": "ou=people",
        "search_dn": "cn=admin",
        "user_bind": "uid={username},ou=people",
        "user_filter": "(objectClass=posixAccount)",
        "sync_interval": "24h",
        "syncUserOnLogin": True,
    }
    newer = {"url": "ldap://dir", "user-base": "ou=people", "search-dn": "cn=admin",
             "user-bind": "uid={username},ou=people", "user-filter": "(objectClass=posixAccount)",
             "sync-interval": "24h", "sync-user-on-login": True}  # fmt: skip

    assert load_config_data({"auth": {"ldap": older}}, BASE) == load_config_data(
        {"auth": {"ldap": newer}}, BASE
    )


@pytest.mark.parametrize("section", ["jwts", "ldap", "oidc"])
def test_auth_sections_at_top_level_are_moved_into_auth(section: str) -> None:
    values = {
        "jwts": {"max-age": "2000h", "cookieName": "cc-jwt", "validateUser": True},
        "ldap": {"url": "ldap://dir", "user_base": "ou=people", "search_dn": "cn=admin",
                 "user_bind": "uid={username}", "user_filter": "(uid=*)"},
        "oidc": {"provider": "https://sso.example.org", "syncUserOnLogin": True},
    }[section]  # fmt: skip

    top_level = load_config_data({section: values}, BASE)
    in_auth = load_config_data({"auth": {section: values}}, BASE)

    assert top_level == in_auth
    assert getattr(top_level.auth, section) is not None


def test_top_level_auth_sections_merge_with_an_auth_section() -> None:
    config = load_config_data(
        {"jwts": {"max-age": "1h"}, "auth": {"oidc": {"provider": "https://sso"}}}, BASE
    )

    assert config.auth.jwts is not None
    assert config.auth.oidc is not None


def test_ui_defaults_is_the_older_name_of_ui() -> None:
    settings = {"plot_general_lineWidth": 3, "job_list_usePaging": False}

    assert load_config_data({"ui-defaults": settings}, BASE).ui == settings
    assert load_config_data({"ui": settings}, BASE).ui == settings


def test_nats_subscriptions_is_another_name_of_subscriptions() -> None:
    subscription = {"subscribe-to": "metrics", "cluster-tag": "fritz"}

    config = load_config_data({"metric-store": {"nats-subscriptions": [subscription]}}, BASE)

    assert config.metric_store is not None
    assert config.metric_store.subscriptions[0].subscribe_to == "metrics"


def test_python_field_names_work_when_building_a_config_in_code() -> None:
    config = Config.model_validate({"main": {"api_allowed_ips": ["*"], "emission_constant": 1}})

    assert config.main.api_allowed_ips == ["*"]
