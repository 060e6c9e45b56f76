"""Choosing and opening an archive backend by its ``kind``.

Built-in backends are imported lazily, so an optional dependency (s3fs) is needed only when
its backend is configured. Third-party backends register through the entry point group
``cc_backend.archives`` (name = kind, value = ``module:Class``).
"""

from __future__ import annotations

import difflib
import importlib
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cc_backend.domain.errors import ConfigError

if TYPE_CHECKING:
    from cc_backend.archive.base import JobArchive
    from cc_backend.config import ArchiveConfig, Secrets

#: kind -> "module:Class" of the built-in backends.
BUILTIN_BACKENDS = {
    "file": "cc_backend.archive.fsspec_backend:FsspecArchive",
    "s3": "cc_backend.archive.fsspec_backend:FsspecArchive",
    "memory": "cc_backend.archive.fsspec_backend:FsspecArchive",
    "sqlite": "cc_backend.archive.sqlite_backend:SqliteArchive",
}
ENTRY_POINT_GROUP = "cc_backend.archives"


def _backends() -> dict[str, str]:
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return found | BUILTIN_BACKENDS


def backend_class(kind: str) -> type[JobArchive]:
    """The class implementing archive ``kind``; ConfigError with a hint if unknown."""
    backends = _backends()
    target = backends.get(kind)
    if target is None:
        hint = difflib.get_close_matches(kind, backends, n=1)
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        known = ", ".join(sorted(backends))
        raise ConfigError([f"archive.kind: unknown archive kind {kind!r} ({known}){suggestion}"])
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            [f"archive.kind: the {kind!r} backend needs a missing package: {exc.name}"]
        ) from None
    cls: type[JobArchive] = getattr(module, class_name)
    return cls


def open_archive(config: ArchiveConfig, secrets: Secrets | None = None) -> JobArchive:
    """Build and initialise the archive described by the ``archive`` config section."""
    archive = backend_class(config.kind).from_config(config, secrets)
    archive.init()
    return archive


def open_archive_url(location: str, **options: Any) -> JobArchive:
    """Open an archive named on a command line and initialise it.

    ``location`` is a folder, an ``s3://bucket/prefix`` URL (options: ``endpoint``,
    ``access_key``, ``secret_key``, ``region``, ``use_path_style``), ``memory://name`` or an
    SQLite archive file (``*.db``, ``*.sqlite``, ``*.sqlite3``).
    """
    if location.startswith(("s3://", "memory://")):
        kind = location.split("://", 1)[0]
    elif Path(location).suffix in (".db", ".sqlite", ".sqlite3"):
        kind = "sqlite"
    else:
        kind = "file"
    archive = backend_class(kind).from_location(location, **options)
    archive.init()
    return archive
