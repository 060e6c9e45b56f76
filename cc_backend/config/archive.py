"""The ``archive`` section: where finished jobs are stored (file, S3 or SQLite backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from cc_backend.config.base import ConfigModel, Problem
from cc_backend.config.fields import ConfigPath, OptionalPath, OptionalSecret, one_of
from cc_backend.config.targets import TransferTarget

__all__ = ["ARCHIVE_KINDS", "ArchiveConfig", "ArchiveKind", "RetentionConfig"]

ArchiveKind = Literal["file", "s3", "sqlite"]
ARCHIVE_KINDS: tuple[str, ...] = get_args(ArchiveKind)
RetentionPolicy = Literal["none", "delete", "copy", "move"]


class RetentionConfig(TransferTarget):
    """Automatic clean-up of old jobs from the archive (and optionally the database)."""

    policy: Annotated[RetentionPolicy, one_of("retention policy", RetentionPolicy)] = Field(
        default="none",
        description="'none', 'delete' old jobs, 'copy' or 'move' them to another location.",
    )
    age: int | None = Field(
        default=None, description="Act on jobs that started more than this many days ago."
    )
    include_db: bool = Field(
        default=True,
        alias="includeDB",
        description="Also remove the jobs from the job database.",
    )
    omit_tagged: bool = Field(
        default=False, alias="omitTagged", description="Keep jobs that carry a tag."
    )
    location: OptionalPath = Field(
        default=None, description="Target directory of 'move' (cc-backend 1.4 spelling)."
    )
    format: str | None = Field(
        default=None, description="File format of the copied/moved jobs, e.g. 'json'."
    )


class ArchiveConfig(ConfigModel):
    """The ``archive`` section of config.json."""

    kind: Annotated[ArchiveKind, one_of("archive kind", ArchiveKind)] = Field(
        default="file", description="Archive backend: 'file', 's3' or 'sqlite'."
    )
    path: ConfigPath = Field(
        default=Path("./var/job-archive"),
        validate_default=True,
        description="Root folder of a 'file' archive.",
    )
    db_path: OptionalPath = Field(
        default=None, alias="dbPath", description="Database file of a 'sqlite' archive."
    )
    endpoint: str | None = Field(
        default=None, description="S3 endpoint URL (for MinIO and other S3-compatible stores)."
    )
    access_key: OptionalSecret = Field(
        default=None, alias="accessKey", description="S3 access key id."
    )
    secret_key: OptionalSecret = Field(
        default=None, alias="secretKey", description="S3 secret access key."
    )
    bucket: str | None = Field(default=None, description="S3 bucket of an 's3' archive.")
    region: str | None = Field(default=None, description="S3 region (default 'us-east-1').")
    use_path_style: bool = Field(
        default=False, alias="usePathStyle", description="Use path-style S3 URLs (MinIO)."
    )
    compression: int | None = Field(
        default=None, description="Compress the data of jobs older than this many days."
    )
    retention: RetentionConfig | None = Field(
        default=None, description="Automatic clean-up of old jobs."
    )

    @classmethod
    def check_input(cls, data: dict[str, Any]) -> list[Problem]:
        """An 's3' archive needs a bucket, an 'sqlite' archive a database file."""
        kind = data.get("kind")
        if kind == "s3" and not data.get("bucket"):
            return [("bucket", "required when kind is 's3'")]
        if kind == "sqlite" and not data.get("dbPath"):
            return [("dbPath", "required when kind is 'sqlite'")]
        return []
