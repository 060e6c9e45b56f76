"""CSV export of the filtered job list: every page, in the list's order.

:func:`csv_header` and :func:`csv_rows` write jobs as CSV (one line per job: the job's
facts, its tags and nodes, one column per footprint value); :class:`ExportButton` is the
page's download button, which walks the store's pages (at most
:data:`~app.stores.jobs.EXPORT_LIMIT` jobs) and hands the browser the file. Text a
spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is quoted with a
leading apostrophe.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import panel as pn

from app.stores.jobs import EXPORT_LIMIT, JobListStore
from cc_backend.domain.errors import CCError
from cc_backend.domain.job import Job

__all__ = ["BASE_COLUMNS", "ExportButton", "csv_header", "csv_rows", "export_csv"]

#: The columns every export has, before the footprint values.
BASE_COLUMNS = (
    "id",
    "jobId",
    "cluster",
    "subCluster",
    "partition",
    "user",
    "project",
    "jobName",
    "arrayJobId",
    "jobState",
    "startTime",
    "duration",
    "walltime",
    "numNodes",
    "numHWThreads",
    "numAcc",
    "energy",
    "shared",
    "monitoringStatus",
    "tags",
    "nodes",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_header(footprint_keys: Iterable[str]) -> list[str]:
    """The header line: :data:`BASE_COLUMNS`, then ``footprint:<key>`` per value."""
    return [*BASE_COLUMNS, *(f"footprint:{key}" for key in footprint_keys)]


def csv_rows(jobs: Iterable[Job], footprint_keys: list[str]) -> list[list[Any]]:
    """One row per job, in the order of :func:`csv_header`."""
    rows = []
    for job in jobs:
        tags = ";".join(f"{t.type}:{t.name}" for t in job.tags or [])
        footprint = job.footprint or {}
        rows.append(
            [
                job.id,
                job.job_id,
                _text(job.cluster),
                _text(job.sub_cluster),
                _text(job.partition),
                _text(job.user),
                _text(job.project),
                _text((job.meta_data or {}).get("jobName", "")),
                job.array_job_id,
                job.job_state.value,
                _iso(job.start_time),
                job.duration,
                job.walltime,
                job.num_nodes,
                job.num_hwthreads,
                job.num_acc,
                job.energy,
                job.shared.value,
                int(job.monitoring_status),
                _text(tags),
                _text(" ".join(job.hostnames)),
                *(footprint.get(key, "") for key in footprint_keys),
            ]
        )
    return rows


async def export_csv(store: JobListStore, limit: int = EXPORT_LIMIT) -> tuple[bytes, int]:
    """The filtered list as CSV (UTF-8) and the number of jobs in it (at most
    ``limit``). Domain errors propagate."""
    keys = [f.key for f in store.footprint_fields()]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(csv_header(keys))
    written = 0
    async for jobs in store.export_pages(limit):
        writer.writerows(csv_rows(jobs, keys))
        written += len(jobs)
    return buffer.getvalue().encode("utf-8"), written


class ExportButton(pn.viewable.Viewer):
    """Downloads the filtered list as ``jobs.csv`` and says how many jobs it holds."""

    def __init__(self, store: JobListStore, limit: int = EXPORT_LIMIT, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.limit = limit
        self.note = pn.pane.HTML("", margin=(8, 10), name="export-note")
        self.button = pn.widgets.FileDownload(
            callback=self.csv_file,
            filename="jobs.csv",
            label="Export CSV",
            color="success",
            embed=False,
            width=130,
        )
        self._layout = pn.Row(self.button, self.note, name="export")

    async def csv_file(self) -> io.BytesIO:
        """The export as a file for the browser; a failure leaves it empty and says why."""
        try:
            content, written = await export_csv(self.store, self.limit)
        except CCError as exc:
            self.note.object = f"Export failed: {html.escape(exc.message)}"
            return io.BytesIO(b"")
        total = self.store.count
        capped = total is not None and total > written
        self.note.object = (
            f"Exported {written:,} of {total:,} jobs (the export stops at {self.limit:,})."
            if capped
            else f"Exported {written:,} jobs."
        )
        return io.BytesIO(content)

    def __panel__(self) -> pn.Row:
        return self._layout
