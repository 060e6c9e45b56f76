"""The example configs shipped with cc-backend load unchanged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cc_backend.config import load_config, load_config_data

pytestmark = pytest.mark.reference


def test_production_example_loads(reference_dir: Path) -> None:
    path = reference_dir / "configs" / "config.json"

    config = load_config(path)

    assert config.main.addr == "0.0.0.0:443"
    assert config.main.api_allowed_ips == ["*"]
    assert config.main.user == config.main.group == "clustercockpit"
    assert config.main.https_cert_file == Path("/etc/letsencrypt/live/url/fullchain.pem")
    assert config.main.short_running_jobs_duration == 300
    assert config.main.resampling is not None
    assert config.main.resampling.minimum_points == 600
    assert config.main.resampling.resolutions == [240, 60]
    assert config.cron.commit_job_worker == timedelta(minutes=2)
    assert config.cron.footprint_worker == timedelta(minutes=10)
    assert config.archive.kind == "file"
    assert config.archive.path == path.parent / "var" / "job-archive"
    cluster = config.cluster_config("test")
    assert cluster is not None
    assert cluster.metric_data_repository.kind == "cc-metric-store"
    assert cluster.metric_data_repository.url == "http://localhost:8082"
    assert cluster.filter_ranges is not None
    assert cluster.filter_ranges.start_time is not None
    assert cluster.filter_ranges.start_time.from_ == datetime(2022, 1, 1, tzinfo=UTC)
    assert cluster.filter_ranges.start_time.to is None


def test_demo_example_loads(reference_dir: Path) -> None:
    path = reference_dir / "configs" / "config-demo.json"

    config = load_config(path)

    assert config.main.emission_constant == 317
    assert config.auth.jwts is not None
    assert config.auth.jwts.max_age == timedelta(hours=2000)
    assert config.nats is not None
    assert config.nats.address == "nats://0.0.0.0:4222"
    assert [cluster.name for cluster in config.clusters] == ["fritz", "alex"]
    assert {c.metric_data_repository.kind for c in config.clusters} == {"cc-metric-store-internal"}
    store = config.metric_store
    assert store is not None
    assert store.checkpoints.file_format == "avro"
    assert store.checkpoints.interval == timedelta(hours=1)
    assert store.checkpoints.restore == timedelta(hours=48)
    assert store.checkpoints.directory == path.parent / "var" / "checkpoints"
    assert store.retention_in_memory == timedelta(hours=48)
    assert [(s.subscribe_to, s.cluster_tag) for s in store.subscriptions] == [
        ("hpc-nats", "fritz"),
        ("hpc-nats", "alex"),
    ]


@pytest.mark.parametrize("name", ["config.json", "config-demo.json"])
def test_dump_of_a_reference_config_loads_to_the_same_config(
    reference_dir: Path, name: str
) -> None:
    original = load_config(reference_dir / "configs" / name)

    again = load_config_data(original.dump(include_secrets=True), original.base_dir)

    assert again == original


@pytest.mark.parametrize("name", ["config.json", "config-demo.json"])
def test_dump_keeps_the_reference_key_spellings(reference_dir: Path, name: str) -> None:
    import json

    raw = json.loads((reference_dir / "configs" / name).read_text(encoding="utf-8"))
    dumped = load_config(reference_dir / "configs" / name).dump(include_secrets=True)

    assert dumped == raw
