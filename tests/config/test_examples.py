"""The example files in the project's config/ folder stay valid and free of real secrets."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from cc_backend.config import Secrets, load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "config"


def test_the_example_config_loads() -> None:
    config = load_config(EXAMPLES / "config.example.json")

    assert config.archive.kind == "file"
    assert [cluster.name for cluster in config.clusters] == ["woody", "fritz"]
    kinds = [cluster.metric_data_repository.kind for cluster in config.clusters]
    assert kinds == ["cc-metric-store-internal", "cc-metric-store"]
    assert config.metric_store is not None


def test_the_env_example_names_every_secret_and_holds_no_values() -> None:
    values = dotenv_values(EXAMPLES / "env.example", interpolate=False)

    assert all(value == "" for value in values.values())
    primary_names = [names[0] for names in Secrets.ENV_NAMES.values()]
    assert list(values) == primary_names
