"""Keeping a site's statistics index in step with its archive, best effort.

The Parquet index beside the archive (:func:`~cc_backend.stats.locations.open_archive_index`)
is derived data: when a job is archived or its archived meta data changes, its row is
replaced; a failure is logged (with the advice to rebuild) and never fails the change that
caused it. A site without an index (none built yet) is left without one: building it is
``cc-archive index``'s or ``cc-backend init-db``'s job.

An index written by an older format (one without roofline counts, see
:mod:`cc_backend.stats.index_manifest`) keeps answering as it is; when it is first opened,
it is rebuilt from the archive in a background thread (logged when it starts and ends), and
the rebuilt state replaces it in one step.
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

    def __init__(
        self,
        archive: JobArchive,
        location: str | None = None,
        *,
        rebuild_outdated: bool = True,
    ) -> None:
        self.archive = archive
        self.location = location
        self.rebuild_outdated = rebuild_outdated
        self._lock = threading.Lock()
        self._opened = False
        self._index: ArchiveIndex | None = None
        #: The background rebuild of an outdated index, while one runs or ran.
        self.rebuilding: threading.Thread | None = None

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
                if self._index is not None and self.rebuild_outdated:
                    self._start_rebuild_if_outdated(self._index)
            return self._index

    def _start_rebuild_if_outdated(self, index: ArchiveIndex) -> None:
        try:
            if not index.exists() or not index.snapshot().outdated:
                return
        except Exception:  # an unreadable manifest: reported by the statistics that read it
            log.warning(
                "statistics index at %s: manifest unreadable", index.location, exc_info=True
            )
            return
        log.warning(
            "the statistics index at %s predates roofline counts: rebuilding it from the "
            "archive in the background (it answers as before meanwhile)",
            index.location,
        )
        self.rebuilding = threading.Thread(
            target=self._rebuild, args=(index,), name="statistics-index-rebuild", daemon=True
        )
        self.rebuilding.start()

    def _rebuild(self, index: ArchiveIndex) -> None:
        try:
            report = index.build(self.archive.iter_jobs())  # metric data: the index's loader
        except Exception:
            log.exception("rebuilding the statistics index at %s failed", index.location)
            return
        log.warning(
            "rebuilt the statistics index at %s: %d jobs (%d broken) in %.1f s",
            index.location,
            report.jobs,
            report.broken,
            report.seconds,
        )

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
