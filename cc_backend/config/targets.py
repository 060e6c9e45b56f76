"""Where retention policies copy or move old data: a folder or an S3 bucket."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from cc_backend.config.base import ConfigModel
from cc_backend.config.fields import OptionalPath, OptionalSecret, one_of

__all__ = ["TargetKind", "TransferTarget"]

TargetKind = Literal["file", "s3"]


class TransferTarget(ConfigModel):
    """The ``target-*`` keys shared by the archive and node-state retention sections."""

    target_kind: Annotated[TargetKind | None, one_of("target kind", TargetKind)] = Field(
        default=None, description="Kind of the copy/move target: 'file' or 's3'."
    )
    target_path: OptionalPath = Field(
        default=None, description="Target directory for a 'file' target."
    )
    target_endpoint: str | None = Field(default=None, description="S3 endpoint URL.")
    target_bucket: str | None = Field(default=None, description="S3 bucket name.")
    target_access_key: OptionalSecret = Field(default=None, description="S3 access key.")
    target_secret_key: OptionalSecret = Field(default=None, description="S3 secret key.")
    target_region: str | None = Field(default=None, description="S3 region.")
    target_use_path_style: bool = Field(
        default=False, description="Use path-style S3 URLs (needed for MinIO)."
    )
    max_file_size_mb: int | None = Field(
        default=None, description="Split target files larger than this many MB."
    )
