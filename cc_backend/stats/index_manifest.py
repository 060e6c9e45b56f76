"""The archive index's manifest: which files make up the index now, and build reports.

The manifest is the only file of an index that is ever replaced; everything a reader needs
to know about the current state is in it.

Formats: 1 had no roofline column; 2 adds it (``roofline`` in every file written since,
see :mod:`cc_backend.stats.index_rows`). A manifest of format 1 is still read: its state
keeps working for every statistic, with ``roofline_in_base`` False (the base files lack the
column, so readers put a NULL column in its place) and ``roofline_complete`` False (those
jobs count in no roofline heatmap until the index is rebuilt; a compaction keeps that mark).
Manifests are always written in the current format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import check_metric_name
from cc_backend.stats.index_rows import STATS, footprint_column, stat_column

MANIFEST = "manifest.json"
FORMAT = 2
#: Manifest formats this code reads.
READABLE_FORMATS = (1, 2)
#: Names of the data files the index writes (checked, as they reach DuckDB's file reader).
DATA_FILE_RE = re.compile(r"(base|delta)-[0-9]+(-[0-9]+)?-[0-9a-f]+\.parquet")


@dataclass(frozen=True, slots=True)
class IndexSnapshot:
    """One state of the index, as described by its manifest."""

    generation: int
    version: int
    base: tuple[str, ...]
    deltas: tuple[str, ...]
    #: Metric name -> unit (prefix + base) of every metric with statistics columns.
    metrics: dict[str, str]
    footprints: tuple[str, ...]
    #: Files replaced by the last build or compaction, deleted by the next one.
    retired: tuple[str, ...] = ()
    built_at: float = 0.0
    #: Whether the base files have the roofline column (False for a format 1 base).
    roofline_in_base: bool = True
    #: Whether the base was built with roofline counts (False once a format 1 state was
    #: read, kept by compactions and upserts, True again after a build).
    roofline_complete: bool = True
    #: The format of the manifest this state was read from.
    read_format: int = FORMAT

    def to_json(self) -> bytes:
        """The manifest document."""
        data = {"format": FORMAT, **{f.name: getattr(self, f.name) for f in fields(self)}}
        del data["read_format"]
        return json.dumps(data, indent=1).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: str) -> IndexSnapshot:
        """Read a manifest document; InvalidInput (naming ``where``) if it is not one."""
        try:
            data = json.loads(raw)
            found = data.pop("format")
            if found not in READABLE_FORMATS:
                raise ValueError(f"unsupported format {found!r}")
            snapshot = cls(
                generation=int(data["generation"]),
                version=int(data["version"]),
                base=tuple(map(str, data["base"])),
                deltas=tuple(map(str, data["deltas"])),
                metrics={str(k): str(v) for k, v in data["metrics"].items()},
                footprints=tuple(map(str, data["footprints"])),
                retired=tuple(map(str, data.get("retired", ()))),
                built_at=float(data.get("built_at", 0.0)),
                roofline_in_base=found >= 2 and bool(data.get("roofline_in_base", True)),
                roofline_complete=found >= 2 and bool(data.get("roofline_complete", True)),
                read_format=int(found),
            )
            for name in (*snapshot.metrics, *snapshot.footprints):
                check_metric_name(name)
            for name in (*snapshot.files, *snapshot.retired):
                if not DATA_FILE_RE.fullmatch(name):
                    raise ValueError(f"bad data file name {name!r}")
            return snapshot
        except (ValueError, KeyError, TypeError, InvalidInput) as exc:
            raise InvalidInput(f"{where}: not an archive index manifest ({exc})") from None

    @property
    def files(self) -> tuple[str, ...]:
        """The data files of this state: base files, then deltas from oldest to newest."""
        return self.base + self.deltas

    @property
    def outdated(self) -> bool:
        """Whether some jobs of this state lack roofline counts because the index was
        written before they existed (a rebuild fills them in)."""
        return not self.roofline_complete

    @property
    def columns(self) -> tuple[str, ...]:
        """Every metric and footprint column some file of this state may have."""
        stats = tuple(stat_column(m, s) for m in self.metrics for s in STATS)
        return stats + tuple(footprint_column(k) for k in self.footprints)


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What :meth:`ArchiveIndex.build` did."""

    jobs: int
    broken: int
    duplicates: int
    seconds: float
    files: tuple[str, ...]
    #: ``location: error`` of the first broken entries (``broken`` counts all of them).
    errors: tuple[str, ...] = field(default=(), repr=False)
    #: Metric or footprint names that could not become columns.
    skipped_names: tuple[str, ...] = ()
