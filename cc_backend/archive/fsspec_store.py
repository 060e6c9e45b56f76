"""Files of a job archive on an fsspec filesystem: a local folder, S3 or fsspec's memory store.

:class:`Store` addresses files by their path relative to the archive root, maps storage
errors to the project's errors, writes local files atomically (a temporary file renamed into
place; an S3 PUT is atomic by itself) and lists a folder tree in one call (on S3 one
recursive listing, not one request per folder).
"""

from __future__ import annotations

import importlib
import inspect
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, TypeVar, cast

import fsspec
from fsspec.implementations.local import LocalFileSystem
from pydantic import SecretStr

from cc_backend.domain.errors import BackendUnavailable, ConfigError, NotFound

__all__ = ["Store", "bounded_map", "open_store", "s3_filesystem"]

_T = TypeVar("_T")
_R = TypeVar("_R")


class Store:
    """The files below ``root`` on ``fs``; ``kind`` is ``file``, ``s3`` or ``memory``.

    ``unavailable`` lists the exceptions that mean the storage cannot be reached (beyond
    :class:`ConnectionError` and :class:`TimeoutError`).
    """

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        root: str,
        *,
        kind: str,
        location: str,
        unavailable: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.fs = fs
        self.kind = kind
        self.location = location
        self.root = fs._strip_protocol(root).rstrip("/") or "/"
        self.prefix = self.root if self.root.endswith("/") else self.root + "/"
        self.unavailable: tuple[type[BaseException], ...] = (
            ConnectionError,
            TimeoutError,
            *unavailable,
        )
        self.local = isinstance(fs, LocalFileSystem)

    def path(self, rel: str) -> str:
        """The filesystem path of ``rel``."""
        return self.prefix + rel

    def url(self, rel: str) -> str:
        """``rel`` as users see it: below the archive's location."""
        return f"{self.location.rstrip('/')}/{rel}"

    @contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Map storage errors: missing -> NotFound naming ``what``, unreachable or failing
        storage -> BackendUnavailable."""
        try:
            yield
        except FileNotFoundError:
            raise NotFound(f"{what}: not found") from None
        except self.unavailable as exc:
            raise BackendUnavailable(f"{self.location}: storage unreachable: {exc}") from exc
        except OSError as exc:
            raise BackendUnavailable(f"{what}: storage error: {exc}") from exc

    def unreachable(self, exc: BaseException) -> BackendUnavailable | None:
        """The BackendUnavailable for ``exc`` if it means the storage cannot be reached."""
        if isinstance(exc, self.unavailable):
            return BackendUnavailable(f"{self.location}: storage unreachable: {exc}")
        return None

    def read(self, rel: str) -> bytes:
        """The content of file ``rel`` (FileNotFoundError if absent)."""
        if not self.local:
            return cast(bytes, self.fs.cat_file(self.path(rel)))
        fd = os.open(self.path(rel), os.O_RDONLY)  # a third cheaper than open()
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_many(self, rels: list[str]) -> dict[str, bytes | BaseException]:
        """Contents of many files, the error in place of a file that cannot be read. Remote
        files are fetched concurrently."""
        out: dict[str, bytes | BaseException] = {}
        if self.local:
            for rel in rels:
                try:
                    out[rel] = self.read(rel)
                except OSError as exc:
                    out[rel] = exc
        elif rels:
            found = self.fs.cat([self.path(rel) for rel in rels], on_error="return")
            out = {path[len(self.prefix) :]: value for path, value in found.items()}
        return out

    def write(self, rel: str, payload: bytes) -> None:
        """Create or replace file ``rel`` at once: readers see the old or the new content."""
        path = self.path(rel)
        if not self.local:
            self.fs.pipe_file(path, payload)
            return
        folder, name = os.path.split(path)
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as file:
                file.write(payload)
            os.replace(temporary, path)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary)
            raise

    def remove(self, rels: Sequence[str]) -> None:
        """Remove files (on S3 in bulk requests); missing ones are fine."""
        if self.local:
            for rel in rels:
                with suppress(FileNotFoundError):
                    os.unlink(self.path(rel))
        elif rels:
            with suppress(FileNotFoundError):
                self.fs.rm([self.path(rel) for rel in rels])

    def prune(self, folder: str, keep: int = 1) -> None:
        """Remove ``folder`` and its parents while they are empty, keeping the top ``keep``
        levels. Object stores have no folders of their own: nothing to do there."""
        if not self.local:
            return
        parts = folder.split("/")
        while len(parts) > keep:
            try:
                os.rmdir(self.path("/".join(parts)))
            except OSError:
                return
            parts.pop()

    def files(
        self, rel: str | None = None, *, sizes: bool = True, depth: int | None = None
    ) -> dict[str, int]:
        """Every file below folder ``rel`` (the root if None): relative path -> size (0 unless
        ``sizes``). A local walk descends at most ``depth`` folders below the root; an object
        store lists everything in one paginated request anyway."""
        top = self.root if rel is None else self.path(rel)
        with self.guard(self.location):
            if self.local:
                return self._walk(top, sizes, depth)
            try:
                found = self.fs.find(top, detail=True)
            except FileNotFoundError:
                return {}
        skip = len(self.prefix)
        return {path[skip:]: int(info.get("size") or 0) for path, info in found.items()}

    def local_folders(self, rel: str | None, depth: int) -> list[str]:
        """The folders ``depth`` levels below the root inside folder ``rel`` (the root if
        None) of a local store, by :func:`os.scandir`."""
        skip = len(self.prefix)
        level = [self.root if rel is None else self.path(rel)]
        for _ in range(depth - (0 if rel is None else rel.count("/") + 1)):
            below = []
            for folder in level:
                with self.guard(self.location), suppress(FileNotFoundError, NotADirectoryError):
                    below += [e.path for e in os.scandir(folder) if e.is_dir()]
            level = below
        return [path[skip:] for path in level]

    def _walk(self, top: str, sizes: bool, depth: int | None) -> dict[str, int]:
        """A local :meth:`files` by :func:`os.scandir`, with no stat call unless ``sizes``."""
        out: dict[str, int] = {}
        skip = len(self.prefix)
        pending = [top]
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                if entry.is_dir():
                    if depth is None or entry.path[skip:].count("/") < depth:
                        pending.append(entry.path)
                elif entry.is_file():
                    out[entry.path[skip:]] = entry.stat().st_size if sizes else 0
        return out

    def folders(self) -> list[str]:
        """Names of the folders at the root."""
        with self.guard(self.location):
            try:
                entries = self.fs.ls(self.root, detail=True)
            except FileNotFoundError:
                return []
        return [
            e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e["type"] == "directory"
        ]

    def is_file(self, rel: str) -> bool:
        """Whether file ``rel`` exists."""
        with self.guard(self.location):
            return (
                os.path.isfile(self.path(rel))
                if self.local
                else bool(self.fs.isfile(self.path(rel)))
            )

    def is_empty(self) -> bool:
        """Whether the root holds nothing (or does not exist yet)."""
        with self.guard(self.location):
            try:
                return not self.fs.ls(self.root, detail=False)
            except FileNotFoundError:
                return True


def open_store(location: str, **options: Any) -> Store:
    """The store of a folder (or ``file://`` URL), ``memory://name`` or ``s3://bucket/prefix``.

    Only S3 takes options: those of :func:`s3_filesystem`. ConfigError for unknown ones.
    """
    scheme, _, rest = location.partition("://") if "://" in location else ("", "", location)
    allowed = set(inspect.signature(s3_filesystem).parameters) if scheme == "s3" else set()
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConfigError([f"{location}: unknown archive option(s): {', '.join(unknown)}"])
    if scheme == "s3":
        bucket = rest.strip("/")
        if not bucket:
            raise ConfigError([f"{location}: an S3 location needs a bucket"])
        fs, errors = s3_filesystem(**options)
        return Store(fs, bucket, kind="s3", location=f"s3://{bucket}", unavailable=errors)
    if scheme == "memory":
        name = rest.strip("/")
        if not name:
            raise ConfigError([f"{location}: a memory location needs a name"])
        fs = fsspec.filesystem("memory")
        return Store(fs, f"/{name}", kind="memory", location=f"memory://{name}")
    if scheme in ("", "file"):
        path = os.path.abspath(rest)
        return Store(LocalFileSystem(), path, kind="file", location=path)
    raise ConfigError([f"{location}: unsupported archive location scheme {scheme!r}"])


def s3_filesystem(
    *,
    endpoint: str | None = None,
    access_key: str | SecretStr | None = None,
    secret_key: str | SecretStr | None = None,
    region: str | None = None,
    use_path_style: bool = False,
    connect_timeout: float = 10,
    retries: int = 3,
) -> tuple[fsspec.AbstractFileSystem, tuple[type[BaseException], ...]]:
    """An s3fs filesystem and the botocore exceptions that mean the endpoint is unreachable.

    ``connect_timeout`` is in seconds, ``retries`` counts the attempts of a request. Keys
    left out come from boto's usual sources (AWS_* variables, ~/.aws). Listing caches are
    off, so that files written by other processes are seen at once.
    """
    try:  # imported by name: optional packages without type information
        s3fs = importlib.import_module("s3fs")
        botocore_errors = importlib.import_module("botocore.exceptions")
    except ImportError as exc:
        raise ConfigError(
            [f"archive.kind: the 's3' backend needs a missing package: {exc.name} (extra 's3')"]
        ) from None
    config: dict[str, Any] = {
        "connect_timeout": connect_timeout,
        "read_timeout": 60,
        "retries": {"max_attempts": max(1, retries), "mode": "standard"},
    }
    if use_path_style:
        config["s3"] = {"addressing_style": "path"}
    fs = s3fs.S3FileSystem(
        key=_secret(access_key),
        secret=_secret(secret_key),
        endpoint_url=endpoint,
        client_kwargs={"region_name": region or "us-east-1"},
        config_kwargs=config,
        use_listings_cache=False,
    )
    return fs, (botocore_errors.ConnectionError, botocore_errors.HTTPClientError)


def _secret(value: str | SecretStr | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[_T], _R], items: Iterable[_T], ahead: int
) -> Iterator[_R]:
    """``fn`` over ``items`` on ``pool``, in order, with at most ``ahead`` tasks in flight,
    so that results never pile up in memory when the consumer is slower than the pool."""
    pending: deque[Future[_R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= max(1, ahead):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
