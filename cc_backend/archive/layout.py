"""Where a job lives in an archive, exactly as cc-backend lays it out.

``<cluster>/<jobId // 1000>/<jobId % 1000, three digits>/<startTime>/`` holds ``meta.json``
and ``data.json`` or ``data.json.gz``; ``<cluster>/cluster.json`` describes the cluster and
``version.txt`` at the top says which layout version the archive follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job

#: The archive layout version this code reads and writes.
ARCHIVE_VERSION = 3
VERSION_FILE = "version.txt"
CLUSTER_FILE = "cluster.json"
META_FILE = "meta.json"
DATA_FILE = "data.json"
DATA_FILE_GZ = "data.json.gz"
#: Data documents larger than this many bytes are stored gzip-compressed.
COMPRESS_ABOVE_BYTES = 2000

_JOB_DIR = re.compile(r"^(?P<cluster>[^/]+)/(?P<hi>\d+)/(?P<lo>\d{3})/(?P<start>\d+)$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def check_cluster_name(name: str) -> str:
    """Return ``name`` if it is usable as a folder name, else raise InvalidInput."""
    if not _CLUSTER_NAME.fullmatch(name):
        raise InvalidInput(f"invalid cluster name {name!r}")
    return name


@dataclass(frozen=True, order=True, slots=True)
class JobRef:
    """What identifies a job in an archive: cluster, scheduler job id and start time."""

    cluster: str
    job_id: int
    start_time: int

    @classmethod
    def of(cls, job: Job | JobRef) -> JobRef:
        """The reference of ``job`` (a :class:`Job` or already a reference)."""
        if isinstance(job, JobRef):
            return job
        return cls(job.cluster, job.job_id, job.start_time)

    @property
    def directory(self) -> str:
        """The job's folder relative to the archive root, e.g. ``emmy/1403/244/1608923076``."""
        check_cluster_name(self.cluster)
        if self.job_id < 0 or self.start_time < 0:
            raise InvalidInput(f"job id and start time must not be negative: {self}")
        return f"{self.cluster}/{self.job_id // 1000}/{self.job_id % 1000:03d}/{self.start_time}"

    @classmethod
    def from_directory(cls, directory: str) -> JobRef:
        """Parse a job folder path (relative to the root); InvalidInput if it is not one."""
        match = _JOB_DIR.match(directory.strip("/"))
        if match is None:
            raise InvalidInput(f"not a job folder: {directory!r}")
        job_id = int(match["hi"]) * 1000 + int(match["lo"])
        return cls(match["cluster"], job_id, int(match["start"]))

    def __str__(self) -> str:
        return f"{self.cluster}/{self.job_id}@{self.start_time}"
