"""Loading checkpoint folders into a store at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cc_backend.metricstore import checkpoints
from cc_backend.metricstore.catalog import Catalog
from cc_backend.metricstore.keys import SeriesKey, unsafe_name
from cc_backend.metricstore.models import RestoreReport

__all__ = ["Loader", "restore_checkpoints"]

log = logging.getLogger(__name__)


class Loader(Protocol):
    """What restoring needs of a store."""

    catalog: Catalog

    def load(
        self, key: SeriesKey, timestamps: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
    ) -> int:
        """Store values of one series; returns how many were kept."""


@dataclass
class _Run:
    loader: Loader
    since: int
    report: RestoreReport = field(default_factory=RestoreReport)
    touched: set[SeriesKey] = field(default_factory=set)
    saved_until: int | None = None

    def file(self, cluster: str, host: str, path: Path) -> None:
        try:
            document = checkpoints.read_checkpoint(path)
            stop = checkpoints.saved_until(document)
            if stop is not None and stop < self.since:
                return
            series = list(checkpoints.series_of(document))
        except checkpoints.CheckpointError as exc:
            self.report.failed.append((str(path), str(exc)))
            return
        self.report.files += 1
        if stop is not None:
            self.saved_until = max(stop, self.saved_until or stop)
        for item in series:
            self.series(SeriesKey(cluster, host, item.path, item.metric), item)

    def series(self, key: SeriesKey, item: checkpoints.SeriesData) -> None:
        if self.loader.catalog.metric(key.cluster, key.metric) is None:
            return
        if any(unsafe_name(name) for name in (key.host, *key.path)):
            return
        stamps = item.timestamps()
        keep = ~np.isnan(item.values) & (stamps >= self.since)
        if not keep.any():
            return
        stamps, values = stamps[keep], item.values[keep]
        count = self.loader.load(key, stamps, values)
        if not count:
            return
        report = self.report
        self.touched.add(key)
        report.values += count
        first, last = int(stamps[0]), int(stamps[-1])
        report.first = first if report.first is None else min(report.first, first)
        report.last = last if report.last is None else max(report.last, last)


def restore_checkpoints(loader: Loader, root: Path, since: int) -> RestoreReport:
    """Load every checkpoint below ``root`` that holds values from ``since`` on.

    A host's files are applied oldest first. Clusters and metrics the store does not know,
    and names that would escape a path, are skipped; unreadable files are reported in the
    result and the log. The log also says which series and time range came back, and that
    whatever arrived after the newest checkpoint is lost.
    """
    run = _Run(loader, since)
    for cluster, host, folder in checkpoints.host_directories(root):
        if loader.catalog.cluster(cluster) is None or unsafe_name(cluster):
            log.warning("metric store: checkpoints of unknown cluster %r ignored", cluster)
            continue
        for path in checkpoints.select_files(folder, since):
            run.file(cluster, host, path)
    report = run.report
    report.series = len(run.touched)
    report.hosts = len({(key.cluster, key.host) for key in run.touched})
    log.info("metric store: %s", report.describe())
    if run.saved_until is not None:
        log.warning(
            "metric store: values received after the last checkpoint (%s) were not saved "
            "before the restart and are lost",
            datetime.fromtimestamp(run.saved_until, UTC).isoformat(timespec="seconds"),
        )
    for name, reason in report.failed:
        log.error("metric store: checkpoint %s not restored: %s", name, reason)
    return report
