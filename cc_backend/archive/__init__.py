"""The job archive: finished jobs' meta data and metric data, in cc-backend's layout."""

from cc_backend.archive.base import (
    ArchiveEntry,
    ArchiveInfo,
    CleanResult,
    ClusterInfo,
    JobArchive,
)
from cc_backend.archive.layout import ARCHIVE_VERSION, JobRef
from cc_backend.archive.registry import open_archive, open_archive_url
from cc_backend.domain.jobdata import ScopedStatistics, SeriesStatistics

__all__ = [
    "ARCHIVE_VERSION",
    "ArchiveEntry",
    "ArchiveInfo",
    "CleanResult",
    "ClusterInfo",
    "JobArchive",
    "JobRef",
    "ScopedStatistics",
    "SeriesStatistics",
    "open_archive",
    "open_archive_url",
]
