"""Invalid configs fail with every problem at once, each as ``<json.path>: <message>``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cc_backend.config import load_config, load_config_data
from cc_backend.domain.errors import ConfigError

WriteConfig = Callable[..., Path]  # the write_config fixture of conftest.py

BASE = Path("/srv/cc")


def problems_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_data(data, BASE)
    return caught.value.problems


def test_all_problems_are_reported_at_once_with_their_json_paths() -> None:
    problems = problems_of(
        {
            "main": {"short-running-jobs-duration": "300", "db-driver": "mysql"},
            "archive": {"kind": "s3"},
            "clusters": [
                {"name": "fritz"},
                {"name": "alex", "metricDataRepository": {"kind": "ccms"}},
                {"name": "fritz", "filterRanges": {"numNodes": {"from": 8, "to": 1}}},
            ],
            "cron": {"duration-worker": "5 minutes"},
        }
    )

    assert problems == [
        "main.db-driver: unknown database driver 'mysql' (known: sqlite3, postgres)",
        "main.short-running-jobs-duration: expected an integer, got a string",
        "archive.bucket: required when kind is 's3'",
        "clusters[1].metricDataRepository.kind: unknown metric data repository kind 'ccms'"
        " (known: cc-metric-store, cc-metric-store-internal, prometheus, influxdb, test)",
        "clusters[2].filterRanges.numNodes.to: must not be smaller than from (8)",
        "cron.duration-worker: invalid duration '5 minutes': expected a number with a unit"
        " (h, m, s, ms, us, ns), e.g. '90s', '5m' or '1h30m'",
        "clusters[2].name: duplicate cluster name 'fritz' (see clusters[0])",
    ]


def test_the_error_message_lists_the_problems_under_a_count() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_data({"main": {"addr": 8080}, "cron": {"footprint-worker": "0"}}, BASE)

    assert str(caught.value) == (
        "invalid configuration: 2 problems\n"
        "  main.addr: expected a string, got a number\n"
        "  cron.footprint-worker: duration '0' must be longer than zero"
    )


def test_paths_use_the_spelling_the_user_wrote() -> None:
    assert problems_of({"main": {"api-allowed-ips": "*"}}) == [
        "main.api-allowed-ips: expected a JSON array, got a string"
    ]
    assert problems_of({"Main": {"ApiAllowedIps": "*"}}) == [
        "Main.ApiAllowedIps: expected a JSON array, got a string"
    ]


def test_a_key_given_in_two_spellings_is_a_problem() -> None:
    problems = problems_of({"main": {"api-allowed-ips": ["*"], "apiAllowedIPs": ["*"]}})

    assert problems == [
        "main.api-allowed-ips: given twice, as 'api-allowed-ips' and 'apiAllowedIPs'; keep only one"
    ]


def test_paths_of_top_level_auth_sections_point_where_the_user_wrote_them() -> None:
    assert problems_of({"jwts": {"max-age": 2000}}) == [
        "jwts.max-age: expected a duration string like '5m' or '1h30m', got a number"
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"arhcive": {}}, "arhcive: unknown key, did you mean 'archive'?"),
        ({"main": {"adr": "x"}}, "main.adr: unknown key, did you mean 'addr'?"),
        (
            {"main": {"apiAllowedIp": ["*"]}},
            "main.apiAllowedIp: unknown key, did you mean 'apiAllowedIPs'?",
        ),
        (
            {"main": {"short-running-job-duration": 1}},
            "main.short-running-job-duration: unknown key,"
            " did you mean 'short-running-jobs-duration'?",
        ),
        (
            {"clusters": [{"name": "a", "filterRange": {}}]},
            "clusters[0].filterRange: unknown key, did you mean 'filterRanges'?",
        ),
        (
            {"archive": {"use-path-styl": True}},
            "archive.use-path-styl: unknown key, did you mean 'use-path-style'?",
        ),
        (
            {"addr": "0.0.0.0:80"},
            "addr: unknown key at the top level; did you mean 'main.addr'?",
        ),
        (
            {"jwts": {}, "auth": {"jwts": {}}},
            "jwts: given both here and in 'auth'; keep only the one in 'auth'",
        ),
        (
            {"nats": {"address": "nats://x", "xyzzy": 1}},
            "nats.xyzzy: unknown key (known keys here:"
            " address, username, password, creds-file-path)",
        ),
    ],
)
def test_unknown_keys_get_a_did_you_mean_hint(data: dict[str, Any], problem: str) -> None:
    assert problems_of(data) == [problem]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            {"archive": {"kind": "files"}},
            "archive.kind: unknown archive kind 'files'; did you mean 'file'?"
            " (known: file, s3, sqlite)",
        ),
        ({"archive": {"kind": 3}}, "archive.kind: archive kind must be one of: file, s3, sqlite"),
        (
            {"clusters": [{"name": "a", "metricDataRepository": {"kind": "prometeus"}}]},
            "clusters[0].metricDataRepository.kind: unknown metric data repository kind"
            " 'prometeus'; did you mean 'prometheus'? (known: cc-metric-store,"
            " cc-metric-store-internal, prometheus, influxdb, test)",
        ),
    ],
)
def test_unknown_kinds_get_a_hint(data: dict[str, Any], problem: str) -> None:
    assert problems_of(data) == [problem]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"archive": {"kind": "sqlite"}}, "archive.dbPath: required when kind is 'sqlite'"),
        ({"archive": {"kind": "s3", "bucket": ""}}, "archive.bucket: required when kind is 's3'"),
        (
            {"clusters": [{"name": "a", "metricDataRepository": {"kind": "cc-metric-store"}}]},
            "clusters[0].metricDataRepository.url: required when kind is 'cc-metric-store'",
        ),
        (
            {"main": {"https-cert-file": "cert.pem"}},
            "main.https-key-file: HTTPS needs both https-cert-file and https-key-file",
        ),
        (
            {"main": {"db-driver": "postgres"}},
            "main.db: a PostgreSQL DSN is required when db-driver is 'postgres'",
        ),
    ],
)
def test_cross_field_rules(data: dict[str, Any], problem: str) -> None:
    assert problems_of(data) == [problem]


def test_required_keys_and_types_inside_sections() -> None:
    problems = problems_of(
        {
            "auth": {"oidc": {}},
            "clusters": [{"metricDataRepository": 5}],
            "nats": [],
            "main": {"api-allowed-ips": "*", "validate": "yes"},
        }
    )

    assert problems == [
        "main.api-allowed-ips: expected a JSON array, got a string",
        "main.validate: expected true or false, got a string",
        "auth.oidc.provider: required key is missing",
        "clusters[0].name: required key is missing",
        "clusters[0].metricDataRepository: expected a JSON object, got a number",
        "nats: expected a JSON object, got an array",
    ]


def test_start_times_must_be_rfc3339_with_a_time_zone() -> None:
    ranges = {"startTime": {"from": "2024-01-01", "to": "tomorrow"}}

    assert problems_of({"clusters": [{"name": "a", "filterRanges": ranges}]}) == [
        "clusters[0].filterRanges.startTime.from: time '2024-01-01' needs a time zone"
        " (RFC 3339), e.g. '2022-01-01T00:00:00Z'",
        "clusters[0].filterRanges.startTime.to: invalid time 'tomorrow': expected RFC 3339,"
        " e.g. '2022-01-01T00:00:00Z'",
    ]


def test_negative_durations_are_rejected() -> None:
    assert problems_of({"metric-store": {"retention-in-memory": "-1h"}}) == [
        "metric-store.retention-in-memory: duration '-1h' must not be negative"
    ]


def test_invalid_json_is_reported_with_line_and_column(write_config: WriteConfig) -> None:
    path = write_config('{\n  "main": {\n    "addr": "x",\n  }\n}\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert caught.value.problems == [
        f"{path}: invalid JSON at line 4, column 3:"
        " Expecting property name enclosed in double quotes"
    ]


def test_a_json_document_that_is_not_an_object_is_rejected(write_config: WriteConfig) -> None:
    with pytest.raises(ConfigError, match=r"\(root\): the configuration must be a JSON object"):
        load_config(write_config("[1, 2]"))


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "config.json"

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}: config file not found")
    assert "cc-backend init" in problem


def test_the_default_path_is_config_json_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    with pytest.raises(ConfigError, match=r"config\.json: config file not found"):
        load_config()

    (tmp_path / "config.json").write_text('{"main": {"addr": "127.0.0.1:9090"}}')
    assert load_config().main.addr == "127.0.0.1:9090"


def test_config_errors_do_not_chain_the_pydantic_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_data({"main": {"addr": 1}}, BASE)

    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
