"""Fixtures of the demo generator tests: generated jobs (with and without metric data),
the demo clusters, the reference application rules and fresh archives."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.archive.fsspec_backend import FsspecArchive
from cc_backend.demo import demo_clusters, iter_demo_jobs
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

#: A fixed end of the generated period (a Tuesday morning), so that runs are reproducible.
END = 1_727_776_800
SEED = 7


@pytest.fixture(scope="session")
def clusters() -> dict[str, Cluster]:
    return {cluster.name: cluster for cluster in demo_clusters()}


@pytest.fixture(scope="session")
def jobs_with_data() -> list[tuple[Job, JobData]]:
    """300 demo jobs with their metric data."""
    result = []
    for job, data in iter_demo_jobs(jobs=300, seed=SEED, end_time=END):
        assert data is not None
        result.append((job, data))
    return result


@pytest.fixture(scope="session")
def meta_jobs() -> list[Job]:
    """5,000 demo jobs without metric data (the default count)."""
    return [job for job, _ in iter_demo_jobs(seed=SEED, end_time=END, with_data=False)]


@pytest.fixture(scope="session")
def detect(reference_dir: Path) -> Callable[[str], str | None]:
    """cc-backend's application detection: the rule files of ``tagger/apps`` in file-name
    order, one regular expression a line, searched in the lower-cased job script; the
    first file with a matching line names the tag."""
    rules = [
        (path.stem, [re.compile(line.strip()) for line in path.read_text().splitlines() if line])
        for path in sorted((reference_dir / "tagger" / "apps").glob("*"))
        if path.is_file()
    ]

    def run(script: str) -> str | None:
        lowered = script.lower()
        for tag, patterns in rules:
            if any(p.search(lowered) for p in patterns):
                return tag
        return None

    return run


@pytest.fixture
def fresh_archive(tmp_path: Path) -> Iterator[Callable[[str], JobArchive]]:
    """``fresh_archive(kind)``: an initialised, empty ``memory`` or ``file`` archive."""
    made: list[JobArchive] = []

    def build(kind: str) -> JobArchive:
        if kind == "memory":
            location = f"memory://demo-test-{uuid.uuid4().hex}"
        else:
            location = str(tmp_path / f"archive-{len(made)}")
        archive = open_archive_url(location)
        made.append(archive)
        return archive

    yield build
    for archive in made:
        archive.close()
        if archive.kind == "memory" and isinstance(archive, FsspecArchive):
            with contextlib.suppress(FileNotFoundError):
                archive.store.fs.rm(archive.store.root, recursive=True)
