"""Checkpoint files in cc-metric-store's JSON layout.

A checkpoint directory holds ``<cluster>/<host>/<timestamp>.json``; each file describes one
host::

    {"from": 1700000000, "to": 1700003600,
     "metrics": {"mem_used": {"frequency": 60, "start": 1699999970, "data": [1.5, null, ...]}},
     "children": {"hwthread0": {"from": ..., "to": ..., "metrics": {...}, "children": {}}}}

Value ``i`` of a metric belongs to time ``start + frequency // 2 + i * frequency`` (``start``
is the beginning of the first time step, as cc-metric-store writes it); ``null`` is a gap.
A file holds what changed since the previous checkpoint of its host, so a host's files are
read oldest first, later ones overwriting earlier values. Files are named by the time they
were written (strictly increasing per host) and appear atomically: they are written to a
temporary name in the same folder and renamed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from cc_backend.metricstore.buffers import SeriesTable

__all__ = [
    "CheckpointError",
    "SeriesData",
    "build_document",
    "changed_series",
    "host_directories",
    "read_checkpoint",
    "saved_until",
    "select_files",
    "series_of",
    "write_checkpoint",
]

_NAME = re.compile(r"^(\d+)\.json$")


class CheckpointError(Exception):
    """A checkpoint file that cannot be read."""


@dataclass(frozen=True, slots=True)
class SeriesData:
    """The values of one series in a checkpoint."""

    path: tuple[str, ...]
    metric: str
    frequency: int
    #: Beginning of the first time step (value 0 is at ``start + frequency // 2``).
    start: int
    values: npt.NDArray[np.float64]

    def timestamps(self) -> npt.NDArray[np.int64]:
        """The time of each value."""
        offsets = np.arange(len(self.values), dtype=np.int64) * self.frequency
        return self.start + self.frequency // 2 + offsets


def changed_series(table: SeriesTable) -> list[SeriesData]:
    """The values of each series of ``table`` from its first changed cell on.

    The caller holds the lock of the table's host; the values are copies.
    """
    assert table.dirty_from is not None
    out = []
    for (path, metric), row in table.series():
        first, last = max(int(table.first[row]), table.dirty_from), int(table.last[row])
        if first > last:
            continue
        values = table.read(np.array([row], dtype=np.int64), first, last)[0]
        start = table.time(first) - table.frequency // 2
        out.append(SeriesData(path, metric, table.frequency, start, values))
    return out


def build_document(series: list[SeriesData], start: int, stop: int) -> dict[str, Any]:
    """The JSON document of one host's checkpoint covering ``[start, stop)``."""
    root = _level(start, stop)
    for item in series:
        level = root
        for name in item.path:
            level = level["children"].setdefault(name, _level(start, stop))
        level["metrics"][item.metric] = {
            "frequency": item.frequency,
            "start": item.start,
            "data": item.values,
        }
    return root


def _level(start: int, stop: int) -> dict[str, Any]:
    return {"from": start, "to": stop, "metrics": {}, "children": {}}


def write_checkpoint(folder: Path, timestamp: int, document: dict[str, Any]) -> Path:
    """Write ``document`` as ``folder/<timestamp>.json`` atomically and return the path.

    The name is moved past existing files so that names keep increasing per host.
    """
    folder.mkdir(parents=True, exist_ok=True)
    newest = max((int(m.group(1)) for m in map(_NAME.match, os.listdir(folder)) if m), default=-1)
    name = max(timestamp, newest + 1)
    target = folder / f"{name}.json"
    temporary = folder / f".{name}.json.tmp"
    body = orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
    with open(temporary, "wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    _sync_directory(folder)
    return target


def _sync_directory(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(descriptor)


def host_directories(root: Path) -> Iterator[tuple[str, str, Path]]:
    """``(cluster, host, folder)`` of every host folder below ``root``, sorted."""
    if not root.is_dir():
        return
    for cluster in sorted(p for p in root.iterdir() if p.is_dir()):
        for host in sorted(p for p in cluster.iterdir() if p.is_dir()):
            yield cluster.name, host.name, host


def select_files(folder: Path, since: int) -> list[Path]:
    """The checkpoint files of a host that may hold values at or after ``since``, oldest first.

    These are the files named ``since`` or later, plus the newest one named before it (it
    may cover ``since``); this is also how cc-metric-store picks them.
    """
    named = sorted(
        (int(match.group(1)), folder / match.group(0))
        for match in map(_NAME.match, os.listdir(folder))
        if match
    )
    chosen = [path for stamp, path in named if stamp >= since]
    earlier = [path for stamp, path in named if stamp < since]
    return ([earlier[-1]] if earlier else []) + chosen


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The parsed document of a checkpoint file (CheckpointError if it is not one)."""
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CheckpointError(f"{path.name}: {exc}") from None
    if not isinstance(document, dict):
        raise CheckpointError(f"{path.name}: not a JSON object")
    return document


def series_of(document: dict[str, Any]) -> Iterator[SeriesData]:
    """Every series of a checkpoint document (CheckpointError on a malformed part)."""
    yield from _series_at(document, ())


def _series_at(level: dict[str, Any], path: tuple[str, ...]) -> Iterator[SeriesData]:
    metrics = level.get("metrics") or {}
    children = level.get("children") or {}
    if not isinstance(metrics, dict) or not isinstance(children, dict):
        raise CheckpointError(f"level {'/'.join(path) or '(host)'}: malformed")
    for metric, entry in metrics.items():
        yield _series(path, metric, entry)
    for name, child in children.items():
        if not isinstance(child, dict):
            raise CheckpointError(f"child {name!r}: not an object")
        yield from _series_at(child, (*path, name))


def _series(path: tuple[str, ...], metric: str, entry: Any) -> SeriesData:
    try:
        frequency, start, data = int(entry["frequency"]), int(entry["start"]), entry["data"]
        values = np.array([np.nan if x is None else x for x in data], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise CheckpointError(f"metric {metric!r} at {path!r}: {exc!r}") from None
    if frequency < 1 or values.ndim != 1:
        raise CheckpointError(f"metric {metric!r} at {path!r}: bad frequency or data")
    return SeriesData(path, metric, frequency, start, values)


def saved_until(document: dict[str, Any]) -> int | None:
    """The ``to`` of a document (None if absent or not a number)."""
    value = document.get("to")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
