"""Where an archive's Parquet index lives by default: beside the archive.

``var/job-archive`` -> ``var/job-archive-index``; ``s3://bucket/jobs`` ->
``s3://bucket/jobs-index``; ``var/archive.db`` -> ``var/archive.db-index``. The index is
never put inside the archive, which other tools read as cc-backend's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from cc_backend.archive.base import JobArchive
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.stats.archive_index import ArchiveIndex
from cc_backend.stats.roofline_cells import ROOFLINE_METRICS

INDEX_SUFFIX = "-index"


@dataclass(frozen=True)
class RooflineData:
    """Loads the metrics of a job's roofline counts from ``archive``; it goes to the
    worker processes of an index build wherever the archive can go."""

    archive: JobArchive

    def __call__(self, job: Job) -> JobData:
        return self.archive.load_data(job, metrics=ROOFLINE_METRICS)


def index_location_for(archive_location: str) -> str:
    """The default index location of the archive at ``archive_location``."""
    scheme, sep, path = archive_location.partition("://")
    path = path.rstrip("/")
    base = f"{scheme}{sep}{path}" if sep else archive_location.rstrip("/")
    at_bucket_root = sep and scheme == "s3" and "/" not in path
    if not base or (sep and not path) or at_bucket_root:
        raise InvalidInput(
            f"the archive at {archive_location!r} has no parent folder for an index: "
            "give the index location explicitly"
        )
    return base + INDEX_SUFFIX


def open_archive_index(archive: JobArchive, location: str | None = None) -> ArchiveIndex:
    """The Parquet index of ``archive``: at ``location``, or beside the archive.

    An index beside a folder or S3 archive uses the archive's own filesystem (and so its
    credentials); the index of an SQLite archive is a folder beside the database file.
    The index loads a job's roofline metrics from ``archive`` for its roofline counts.
    """
    from cc_backend.archive.fsspec_backend import FsspecArchive  # noqa: PLC0415

    loader = RooflineData(archive)
    if location is not None:
        return ArchiveIndex(location, data_loader=loader)
    where = index_location_for(archive.location)
    if isinstance(archive, FsspecArchive):
        store = archive.store
        return ArchiveIndex(
            store.root.rstrip("/") + INDEX_SUFFIX, filesystem=store.fs, data_loader=loader
        )
    return ArchiveIndex(where, data_loader=loader)
