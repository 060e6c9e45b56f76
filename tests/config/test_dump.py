"""Writing a config back out, as ``cc-backend init`` does."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from cc_backend.config import load_config, load_config_data

WriteConfig = Callable[..., Path]  # the write_config fixture of conftest.py

SITE = {
    "main": {"api-allowed-ips": ["*"], "session-max-age": "", "emission-constant": 300},
    "archive": {"kind": "s3", "bucket": "jobs", "secretKey": "S3-SECRET", "usePathStyle": True},
    "jwts": {"max-age": "1h30m"},
    "clusters": [
        {
            "name": "fritz",
            "metricDataRepository": {
                "kind": "cc-metric-store",
                "url": "http://ccms:8082",
                "token": "TOKEN-SECRET",
            },
            "filterRanges": {"startTime": {"from": "2024-01-01T00:00:00Z", "to": None}},
        }
    ],
    "ui-defaults": {"plot_general_lineWidth": 3},
}


def test_dump_spells_keys_as_cc_backend_and_leaves_out_credentials(tmp_path: Path) -> None:
    dumped = load_config_data(SITE, tmp_path).dump()

    assert dumped == {
        "main": {"apiAllowedIPs": ["*"], "session-max-age": "", "emission-constant": 300},
        "archive": {"kind": "s3", "bucket": "jobs", "usePathStyle": True},
        "auth": {"jwts": {"max-age": "1h30m"}},
        "clusters": [
            {
                "name": "fritz",
                "metricDataRepository": {"kind": "cc-metric-store", "url": "http://ccms:8082"},
                "filterRanges": {"startTime": {"from": "2024-01-01T00:00:00Z", "to": None}},
            }
        ],
        "ui": {"plot_general_lineWidth": 3},
    }


def test_credentials_are_written_only_on_request(tmp_path: Path) -> None:
    dumped = load_config_data(SITE, tmp_path).dump(include_secrets=True)

    assert dumped["archive"]["secretKey"] == "S3-SECRET"
    assert dumped["clusters"][0]["metricDataRepository"]["token"] == "TOKEN-SECRET"


def test_to_json_round_trips_through_a_file(tmp_path: Path, write_config: WriteConfig) -> None:
    original = load_config(write_config(SITE))
    path = original.base_dir / "rewritten.json"

    path.write_text(original.to_json(include_secrets=True), encoding="utf-8")
    again = load_config(path)

    assert again == original
    assert json.loads(path.read_text(encoding="utf-8"))["auth"]["jwts"]["max-age"] == "1h30m"


def test_durations_are_written_in_go_syntax(tmp_path: Path) -> None:
    config = load_config_data({"cron": {"duration-worker": "90s"}}, tmp_path)
    config.cron.footprint_worker = timedelta(hours=1, minutes=15)

    assert config.dump()["cron"] == {"duration-worker": "1m30s", "footprint-worker": "1h15m"}


def test_cluster_config_finds_a_cluster_by_name(tmp_path: Path) -> None:
    config = load_config_data(SITE, tmp_path)

    fritz = config.cluster_config("fritz")
    assert fritz is not None
    assert fritz.metric_data_repository.url == "http://ccms:8082"
    assert config.cluster_config("emmy") is None


def test_a_cluster_without_metric_data_repository_uses_the_built_in_store(
    tmp_path: Path,
) -> None:
    config = load_config_data({"clusters": [{"name": "woody"}]}, tmp_path)

    cluster = config.cluster_config("woody")
    assert cluster is not None
    assert cluster.metric_data_repository.kind == "cc-metric-store-internal"
    assert config.dump()["clusters"] == [{"name": "woody"}]
