"""Which backend serves a cluster's metric data, and how a misconfigured one is reported:
at start-up, every problem at once, before the database or the archive is opened."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cc_backend.config import load_config, load_config_data, load_secrets
from cc_backend.domain.errors import ConfigError
from cc_backend.metricdata.registry import MetricDataSources
from cc_backend.server import build_backends
from tests.server_processes import free_port


def config_with(tmp_path: Path, *repositories: dict[str, Any]) -> Any:
    clusters = [
        {"name": f"cluster{index}", "metricDataRepository": repository}
        for index, repository in enumerate(repositories)
    ]
    return load_config_data({"clusters": clusters}, tmp_path)


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_well_configured_external_repositories_pass_without_being_contacted(
    tmp_path: Path,
) -> None:
    config = config_with(
        tmp_path,
        {"kind": "prometheus", "url": dead_url(), "query-templates": {"cpu_load": "up"}},
        {"kind": "influxdb", "url": dead_url(), "database": "metrics"},
        {"kind": "cc-metric-store", "url": dead_url(), "token": "t"},
        {"kind": "cc-metric-store-internal"},
    )
    MetricDataSources.check_config(config)


def test_every_misconfigured_repository_is_reported_with_its_cluster(tmp_path: Path) -> None:
    config = config_with(
        tmp_path,
        {"kind": "prometheus", "url": dead_url(), "templates": {"cpu_load": "{{.Cluster}}"}},
        {"kind": "influxdb", "url": dead_url()},
    )
    with pytest.raises(ConfigError) as caught:
        MetricDataSources.check_config(config)
    problems = caught.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("clusters[0] (cluster0): ")
    assert "cpu_load" in problems[0]
    assert problems[1].startswith("clusters[1] (cluster1): ")
    assert "database" in problems[1]


def test_a_prometheus_password_from_the_sites_secrets_satisfies_the_check(tmp_path: Path) -> None:
    config = config_with(tmp_path, {"kind": "prometheus", "url": dead_url(), "username": "cc"})
    with pytest.raises(ConfigError, match="no password"):
        MetricDataSources.check_config(config, load_secrets(tmp_path / "config.json", environ={}))
    (tmp_path / ".env").write_text("PROMETHEUS_PASSWORD=secret\n", encoding="utf-8")
    MetricDataSources.check_config(config, load_secrets(tmp_path / "config.json", environ={}))


def test_the_server_refuses_to_start_before_opening_anything(site: Path) -> None:
    path = site / "config.json"
    document = json.loads(path.read_text())
    document["clusters"] = [
        {"name": "fritz", "metricDataRepository": {"kind": "influxdb", "url": dead_url()}}
    ]
    path.write_text(json.dumps(document))
    database = site / "var" / "job.db"
    database.unlink(missing_ok=True)

    with pytest.raises(ConfigError, match=r"clusters\[0\] \(fritz\)"):
        build_backends(load_config(path), load_secrets(path))
    assert not database.exists()
