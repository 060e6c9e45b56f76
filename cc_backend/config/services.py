"""The ``nats``, ``cron`` and ``metric-store`` sections."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from cc_backend.config.base import ConfigModel
from cc_backend.config.fields import (
    ConfigPath,
    Duration,
    OptionalDuration,
    OptionalPath,
    OptionalSecret,
    PositiveDuration,
    one_of,
)

__all__ = [
    "CheckpointsConfig",
    "CronConfig",
    "MetricStoreArchive",
    "MetricStoreCleanup",
    "MetricStoreConfig",
    "MetricStoreDebug",
    "NatsConfig",
    "Subscription",
]

CheckpointFormat = Literal["avro", "json", "wal"]
CleanupMode = Literal["delete", "archive"]


class NatsConfig(ConfigModel):
    """Connection to a NATS server (job events, node states and metric ingestion)."""

    address: str = Field(description="Address of the NATS server, e.g. 'nats://host:4222'.")
    username: str | None = Field(default=None, description="User name, if the server needs one.")
    password: OptionalSecret = Field(default=None, description="Password of that user.")
    creds_file_path: OptionalPath = Field(
        default=None, description="NATS credentials file, instead of user name and password."
    )


class CronConfig(ConfigModel):
    """Intervals of the background workers."""

    commit_job_worker: PositiveDuration = Field(
        default=timedelta(minutes=2), description="Interval of moving started jobs into the DB."
    )
    duration_worker: PositiveDuration = Field(
        default=timedelta(minutes=5), description="Interval of updating running job durations."
    )
    footprint_worker: PositiveDuration = Field(
        default=timedelta(minutes=10), description="Interval of updating job footprints."
    )


class CheckpointsConfig(ConfigModel):
    """Periodic snapshots of the built-in metric store's memory."""

    file_format: Annotated[CheckpointFormat, one_of("checkpoint format", CheckpointFormat)] = Field(
        default="json",
        description="Checkpoint file format: 'json' (written and read here); 'avro' and "
        "'wal' (cc-backend's) are accepted but written as JSON.",
    )
    interval: OptionalDuration = Field(
        default=None, description="Interval between checkpoints, e.g. '1h'."
    )
    directory: ConfigPath = Field(
        default=Path("./var/checkpoints"),
        validate_default=True,
        description="Folder of the checkpoint files.",
    )
    restore: OptionalDuration = Field(
        default=None, description="At start-up, load checkpoints younger than this, e.g. '48h'."
    )


class MetricStoreArchive(ConfigModel):
    """Moving old checkpoints out of the checkpoint folder."""

    interval: OptionalDuration = Field(
        default=None, description="Interval of archiving old checkpoints, e.g. '1h'."
    )
    directory: OptionalPath = Field(default=None, description="Folder of archived checkpoints.")
    delete_instead: bool = Field(
        default=False, description="Delete old checkpoints instead of archiving them."
    )


class MetricStoreCleanup(ConfigModel):
    """What happens to data older than retention-in-memory (cc-backend 1.5)."""

    mode: Annotated[CleanupMode, one_of("cleanup mode", CleanupMode)] = Field(
        default="delete", description="'delete' old data or 'archive' it to a folder."
    )
    directory: OptionalPath = Field(default=None, description="Target folder of 'archive'.")


class MetricStoreDebug(ConfigModel):
    """Debugging aids of the built-in metric store."""

    dump_to_file: OptionalPath = Field(default=None, description="Dump the store to this file.")
    gops: bool = Field(
        default=False, description="Start a gops endpoint for live runtime inspection."
    )


class Subscription(ConfigModel):
    """A NATS subject the built-in metric store ingests metrics from."""

    subscribe_to: str = Field(description="NATS subject to subscribe to.")
    cluster_tag: str | None = Field(
        default=None, description="Cluster assumed for lines without a cluster tag."
    )


class MetricStoreConfig(ConfigModel):
    """The ``metric-store`` section: the built-in metric store (cc-metric-store-internal)."""

    LEGACY_KEYS = {"nats-subscriptions": "subscriptions"}

    num_workers: int | None = Field(
        default=None, description="Workers for checkpointing and archiving (default: by CPUs)."
    )
    checkpoints: CheckpointsConfig = Field(
        default_factory=dict, validate_default=True, description="Checkpointing."
    )
    checkpoint_interval: OptionalDuration = Field(
        default=None, description="Interval between checkpoints (cc-backend 1.5 spelling)."
    )
    archive: MetricStoreArchive | None = Field(
        default=None, description="Archiving of old checkpoints."
    )
    cleanup: MetricStoreCleanup | None = Field(
        default=None, description="Handling of data older than retention-in-memory."
    )
    retention_in_memory: Duration = Field(
        default=timedelta(hours=48), description="How long metric data stays in memory."
    )
    memory_cap: int | None = Field(
        default=None, description="Upper limit of the store's memory use in GB."
    )
    debug: MetricStoreDebug | None = Field(default=None, description="Debugging aids.")
    subscriptions: list[Subscription] = Field(
        default_factory=list, description="NATS subjects to ingest metrics from."
    )
