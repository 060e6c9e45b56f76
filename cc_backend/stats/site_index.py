"""Keeping a site's statistics index in step with its archive, best effort.

The Parquet index beside the archive (:func:`~cc_backend.stats.locations.open_archive_index`)
is derived data: when a job is archived or its archived meta data changes, its row is
replaced; a failure is logged (with the advice to rebuild) and never fails the change that
caused it. A site without an index (none built yet) is left without one: building it is
``cc-archive index``'s or ``cc-backend init-db``'s job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

from cc_backend.archive import JobArchive
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job

if TYPE_CHECKING:
    from cc_backend.stats.archive_index import ArchiveIndex

__all__ = ["SiteIndex"]

log = logging.getLogger(__name__)


class SiteIndex:
    """The statistics index of a site's archive, opened on first use (thread-safe)."""

    def __init__(self, archive: JobArchive, location: str | None = None) -> None:
        self.archive = archive
        self.location = location
        self._lock = threading.Lock()
        self._opened = False
        self._index: ArchiveIndex | None = None

    def index(self) -> ArchiveIndex | None:
        """The index object (its files may not exist yet), or None if the archive has no
        place for one."""
        with self._lock:
            if not self._opened:
                from cc_backend.stats.locations import open_archive_index  # noqa: PLC0415

                try:
                    self._index = open_archive_index(self.archive, self.location)
                except InvalidInput as exc:
                    log.info("no statistics index for %s: %s", self.archive.location, exc.message)
                self._opened = True
            return self._index

    def upsert(self, jobs: Iterable[Job]) -> None:
        """Replace the rows of ``jobs`` (archived meta data, with database ids) if the site
        keeps an index; failures are logged only."""
        rows = list(jobs)
        index = self.index()
        if index is None or not rows:
            return
        try:
            with self._lock:
                if index.exists():
                    index.upsert(rows)
        except Exception:  # derived data: never fail a change for it
            log.warning(
                "%d job(s) (first id %s): the statistics index at %s was not updated; rebuild it",
                len(rows),
                rows[0].id,
                index.location,
                exc_info=True,
            )
