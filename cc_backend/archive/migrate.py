"""Upgrading a job archive from layout version 2 to 3.

Version 3 replaced the integer ``exclusive`` of meta.json by the string ``shared``
(0 = multi_user, 1 = none, 2 = single_user), expects ``submitTime``, ``energy``,
``requestedMemory`` and ``shared`` in every meta.json, and dropped a few per-job summary
fields that now live in ``footprint``. Documents are rewritten one by one (each write is
atomic on a local disk); ``version.txt`` changes last, so an interrupted run is simply run
again: the transformation is idempotent.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fsspec
import orjson
from fsspec.implementations.local import LocalFileSystem

from cc_backend.archive.layout import ARCHIVE_VERSION, META_FILE, VERSION_FILE
from cc_backend.domain.errors import InvalidInput

log = logging.getLogger(__name__)

#: Layout version this module upgrades from.
FROM_VERSION = 2
_SHARED_OF_EXCLUSIVE = {0: "multi_user", 1: "none", 2: "single_user"}
#: Per-job summary values of version 2 that version 3 no longer keeps in meta.json.
DEPRECATED_FIELDS = (
    "mem_used_max",
    "flops_any_avg",
    "mem_bw_avg",
    "load_avg",
    "net_bw_avg",
    "net_data_vol_total",
    "file_bw_avg",
    "file_data_vol_total",
)


def migrate_meta(document: dict[str, Any]) -> dict[str, Any]:
    """The version-3 form of a version-2 meta.json document (a new dict).

    Raises :class:`InvalidInput` for an ``exclusive`` value that has no ``shared`` form.
    """
    result = dict(document)
    if "exclusive" in result:
        value = result.pop("exclusive")
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise InvalidInput(f"exclusive: unexpected value {value!r}")
        shared = _SHARED_OF_EXCLUSIVE.get(int(value))
        if shared is None:
            raise InvalidInput(f"exclusive: unexpected value {value!r} (0, 1 or 2)")
        result["shared"] = shared
    if "submitTime" not in result and "startTime" in result:
        result["submitTime"] = result["startTime"]
    result.setdefault("energy", 0.0)
    result.setdefault("requestedMemory", 0)
    result.setdefault("shared", "none")
    for name in DEPRECATED_FIELDS:
        result.pop(name, None)
    return result


@dataclass
class MigrationReport:
    """Outcome of :func:`migrate_archive`."""

    migrated: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    version_updated: bool = False


def read_version(fs: fsspec.AbstractFileSystem, root: str) -> int:
    """The layout version in ``root``'s version.txt; InvalidInput if missing or malformed."""
    path = f"{root.rstrip('/')}/{VERSION_FILE}"
    try:
        text = fs.cat_file(path).decode().strip()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: missing; is this a job archive?") from None
    if not text.isdigit():
        raise InvalidInput(f"{path}: not a version number: {text!r}")
    return int(text)


def _write(fs: fsspec.AbstractFileSystem, path: str, payload: bytes) -> None:
    if isinstance(fs, LocalFileSystem):
        temporary = f"{path}.migrating"
        fs.pipe_file(temporary, payload)
        fs.mv(temporary, path)
    else:
        fs.pipe_file(path, payload)


def _migrate_one(fs: fsspec.AbstractFileSystem, path: str, dry_run: bool) -> bool:
    original = orjson.loads(fs.cat_file(path))
    if not isinstance(original, dict):
        raise InvalidInput("not a JSON object")
    migrated = migrate_meta(original)
    if migrated == original:
        return False
    if not dry_run:
        _write(fs, path, orjson.dumps(migrated, option=orjson.OPT_INDENT_2))
    return True


def migrate_archive(
    fs: fsspec.AbstractFileSystem,
    root: str,
    *,
    dry_run: bool = False,
    workers: int = 4,
    on_progress: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Upgrade the version-2 archive at ``root`` on ``fs`` to version 3.

    Every meta.json is rewritten (none with ``dry_run``); failures are collected with their
    path and the run goes on. ``version.txt`` is set to 3 only when every job migrated.
    ``on_progress(done, total)`` is called as jobs complete. Raises :class:`InvalidInput`
    when the archive is not at version 2.
    """
    root = root.rstrip("/")
    version = read_version(fs, root)
    if version != FROM_VERSION:
        raise InvalidInput(
            f"{root}: archive version {version}; only version {FROM_VERSION} can be migrated"
        )
    paths = sorted(fs.glob(f"{root}/*/*/*/*/{META_FILE}"))
    report = MigrationReport()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(_migrate_one, fs, path, dry_run): path for path in paths}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            path = futures[future]
            try:
                changed = future.result()
            except (InvalidInput, orjson.JSONDecodeError, OSError) as exc:
                message = exc.message if isinstance(exc, InvalidInput) else str(exc)
                report.failed.append((path, message))
                log.warning("%s: %s", path, message)
            else:
                if changed:
                    report.migrated += 1
                else:
                    report.unchanged += 1
            if on_progress is not None:
                on_progress(done, len(paths))
    if not dry_run and not report.failed:
        fs.pipe_file(f"{root}/{VERSION_FILE}", f"{ARCHIVE_VERSION}\n".encode())
        report.version_updated = True
    return report
