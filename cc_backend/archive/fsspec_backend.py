"""Job archives on an fsspec filesystem: a local folder (``file``), S3 (``s3``) or fsspec's
memory store (``memory``), in cc-backend's layout (see :mod:`cc_backend.archive.layout`).

Scans read the documents in batches on a thread pool and never ask whether a file exists:
on S3 one paginated listing per cluster names every file; on a local disk the job folders
are listed and their documents simply opened.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from cc_backend.archive import codec
from cc_backend.archive.base import ArchiveEntry, ArchiveInfo, CleanResult, ClusterInfo, JobArchive
from cc_backend.archive.fsspec_store import Store, bounded_map, open_store
from cc_backend.archive.layout import (
    ARCHIVE_VERSION,
    CLUSTER_FILE,
    COMPRESS_ABOVE_BYTES,
    DATA_FILE,
    DATA_FILE_GZ,
    META_FILE,
    VERSION_FILE,
    JobRef,
    check_cluster_name,
)
from cc_backend.domain.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from cc_backend.archive.base import JobLike
    from cc_backend.config import ArchiveConfig, Secrets
    from cc_backend.domain.cluster import Cluster
    from cc_backend.domain.job import Job
    from cc_backend.domain.jobdata import JobData

__all__ = ["FsspecArchive", "MemoryArchive", "S3Archive", "check_version"]

_JOB_FILES = frozenset({META_FILE, DATA_FILE, DATA_FILE_GZ})
#: Job folders read per task of a scan, without and with metric data.
_BATCH_META, _BATCH_DATA = 256, 8
#: Job folder -> its archive files -> their sizes in bytes.
_Folders = dict[str, dict[str, int]]


class FsspecArchive(JobArchive):
    """A job archive in a :class:`~cc_backend.archive.fsspec_store.Store` (kind ``file``).

    :meth:`from_config` and :meth:`from_location` give an :class:`S3Archive` or a
    :class:`MemoryArchive` for those kinds.
    """

    kind: ClassVar[str] = "file"

    def __init__(self, store: Store) -> None:
        self.store = store

    def __getstate__(self) -> dict[str, Any]:
        """What a copy in another process needs (index builds count jobs in workers); an
        archive in memory lives in this process only and refuses."""
        if self.store.kind == "memory":
            raise TypeError(f"{self.location}: an archive in memory cannot leave its process")
        return self.__dict__.copy()

    @classmethod
    def from_config(cls, config: ArchiveConfig, secrets: Secrets | None = None) -> Self:
        """A ``file`` archive at ``path`` or an ``s3`` archive in ``bucket`` (which may end in
        ``/prefix``). S3 keys from the environment (ARCHIVE_S3_ACCESS_KEY,
        ARCHIVE_S3_SECRET_KEY) win over those in config.json."""
        if config.kind == "file":
            return cls.from_location(os.fspath(config.path))
        if config.kind != "s3" or not config.bucket:
            raise ConfigError([f"archive.kind: {config.kind!r} is not an fsspec archive"])
        access_key = (secrets and secrets.archive_s3_access_key) or config.access_key
        secret_key = (secrets and secrets.archive_s3_secret_key) or config.secret_key
        return cls.from_location(
            f"s3://{config.bucket.strip('/')}",
            endpoint=config.endpoint,
            access_key=access_key,
            secret_key=secret_key,
            region=config.region,
            use_path_style=config.use_path_style,
        )

    @classmethod
    def from_location(cls, location: str, **options: Any) -> Self:
        """A folder (or ``file://`` URL), ``memory://name`` or ``s3://bucket/prefix``.

        S3 options: ``endpoint``, ``access_key``, ``secret_key``, ``region``,
        ``use_path_style``, ``connect_timeout`` (seconds, default 10) and ``retries``
        (attempts of a request, default 3). The other forms take none.
        """
        store = open_store(location, **options)
        kinds: dict[str, type[FsspecArchive]] = {
            "file": FsspecArchive,
            "s3": S3Archive,
            "memory": MemoryArchive,
        }
        return cast(Self, kinds[store.kind](store))

    @property
    def location(self) -> str:
        return self.store.location

    # -- lifecycle --------------------------------------------------------------------

    def init(self) -> int:
        """Check version.txt; write it into an empty location. Never writes otherwise."""
        where = self.store.url(VERSION_FILE)
        with self.store.guard(where):
            try:
                raw = self.store.read(VERSION_FILE)
            except FileNotFoundError:
                raw = None
        if raw is not None:
            return check_version(raw, where, self.location)
        if not self.store.is_empty():
            raise InvalidInput(
                f"{self.location}: not a job archive: {VERSION_FILE} is missing "
                "and the location is not empty"
            )
        with self.store.guard(where):
            try:
                self.store.write(VERSION_FILE, f"{ARCHIVE_VERSION}\n".encode())
            except FileNotFoundError:
                raise BackendUnavailable(
                    f"{self.location}: cannot create {VERSION_FILE}: the location does not "
                    "exist (is the bucket there?)"
                ) from None
        return ARCHIVE_VERSION

    def info(self) -> ArchiveInfo:
        jobs: dict[str, list[tuple[int, int]]] = {name: [] for name in self.clusters()}
        for ref, files in self._jobs(sizes=True):
            if META_FILE in files:
                jobs.setdefault(ref.cluster, []).append((ref.start_time, sum(files.values())))
        return ArchiveInfo(ARCHIVE_VERSION, tuple(_cluster_info(n, jobs[n]) for n in sorted(jobs)))

    # -- clusters ---------------------------------------------------------------------

    def clusters(self) -> list[str]:
        names = [name for name in self.store.folders() if _valid_cluster_name(name)]
        return sorted(n for n in names if self.store.is_file(f"{n}/{CLUSTER_FILE}"))

    def load_cluster(self, name: str) -> Cluster:
        rel = f"{check_cluster_name(name)}/{CLUSTER_FILE}"
        with self.store.guard(f"{self.location}: cluster {name!r}"):
            raw = self.store.read(rel)
        return codec.decode_cluster(raw, self.store.url(rel))

    def store_cluster(self, cluster: Cluster) -> None:
        rel = f"{check_cluster_name(cluster.name)}/{CLUSTER_FILE}"
        with self.store.guard(self.store.url(rel)):
            self.store.write(rel, codec.encode_cluster(cluster))

    # -- single jobs ------------------------------------------------------------------

    def exists(self, job: JobLike) -> bool:
        return self.store.is_file(f"{JobRef.of(job).directory}/{META_FILE}")

    def load_meta(self, job: JobLike) -> Job:
        ref = JobRef.of(job)
        rel = f"{ref.directory}/{META_FILE}"
        with self.store.guard(f"{self.location}: job {ref}"):
            raw = self.store.read(rel)
        return codec.decode_meta(raw, self.store.url(rel))

    def load_data(self, job: JobLike, *, metrics: Collection[str] | None = None) -> JobData:
        ref = JobRef.of(job)
        for name in (DATA_FILE_GZ, DATA_FILE):
            rel = f"{ref.directory}/{name}"
            with self.store.guard(self.store.url(rel)):
                try:
                    raw = self.store.read(rel)
                except FileNotFoundError:
                    continue
            return codec.decode_data(raw, name == DATA_FILE_GZ, self.store.url(rel), metrics)
        raise NotFound(f"{self.location}: job {ref}: no metric data")

    def store_meta(self, job: Job) -> None:
        rel = f"{JobRef.of(job).directory}/{META_FILE}"
        with self.store.guard(self.store.url(rel)):
            self.store.write(rel, codec.encode_meta(job))

    def import_job(self, meta: Job, data: JobData) -> None:
        """Write the data document first and meta.json last; drop a data document of the
        other form (plain or gzipped) left from an earlier import."""
        folder = JobRef.of(meta).directory
        payload, compressed = codec.encode_data(data)
        name, other = (DATA_FILE_GZ, DATA_FILE) if compressed else (DATA_FILE, DATA_FILE_GZ)
        with self.store.guard(self.store.url(folder)):
            self.store.write(f"{folder}/{name}", payload)
            self.store.remove([f"{folder}/{other}"])
            self.store.write(f"{folder}/{META_FILE}", codec.encode_meta(meta))

    # -- many jobs --------------------------------------------------------------------

    def _folders(
        self, clusters: Sequence[str] | None, *, sizes: bool = False, probe: bool = False
    ) -> _Folders:
        """The job folders below ``clusters`` (below every top-level folder if None), from
        one listing per cluster, with their archive files (and their sizes if asked).

        With ``probe`` a local store lists the folders only, leaving the files to be found
        by opening them: one system call per job instead of two.
        """
        names = [None] if clusters is None else [check_cluster_name(c) for c in clusters]
        if probe and self.store.local:
            return {f: {} for name in names for f in self.store.local_folders(name, 4)}
        listings = [self.store.files(name, sizes=sizes, depth=4) for name in names]
        folders: _Folders = {}
        for listing in listings:
            for rel, size in listing.items():
                parts = rel.split("/")
                if len(parts) == 5 and parts[4] in _JOB_FILES:
                    folders.setdefault("/".join(parts[:4]), {})[parts[4]] = size
        return folders

    def _jobs(self, sizes: bool = False) -> Iterator[tuple[JobRef, dict[str, int]]]:
        """Every job folder whose name parses, with its reference."""
        for folder, files in self._folders(None, sizes=sizes).items():
            try:
                yield JobRef.from_directory(folder), files
            except InvalidInput:
                continue

    def iter_jobs(
        self,
        *,
        with_data: bool = False,
        clusters: Sequence[str] | None = None,
        workers: int = 4,
    ) -> Iterator[ArchiveEntry]:
        folders = list(self._folders(clusters, probe=True).items())
        size = _BATCH_DATA if with_data else _BATCH_META
        batches = (folders[i : i + size] for i in range(0, len(folders), size))
        threads = max(1, workers)
        with ThreadPoolExecutor(threads, thread_name_prefix="archive-scan") as pool:
            read = lambda batch: self._read_batch(batch, with_data)  # noqa: E731
            for entries in bounded_map(pool, read, batches, 2 * threads):
                yield from entries

    def _read_batch(
        self, batch: list[tuple[str, dict[str, int]]], with_data: bool
    ) -> list[ArchiveEntry]:
        contents: dict[str, bytes | BaseException] = {}
        if self.store.local:
            batch = [(folder, self._probe(folder, with_data, contents)) for folder, _ in batch]
        else:
            wanted = [f"{folder}/{META_FILE}" for folder, files in batch if META_FILE in files]
            if with_data:
                data = ((folder, _data_name(files), files) for folder, files in batch)
                wanted += [f"{folder}/{name}" for folder, name, files in data if name in files]
            contents = self.store.read_many(wanted)
        # a folder without any archive file is no job (the listing of a store skips it too)
        return [self._entry(f, files, contents, with_data) for f, files in batch if files]

    def _probe(
        self, folder: str, with_data: bool, contents: dict[str, bytes | BaseException]
    ) -> dict[str, int]:
        """Read the documents of a local job folder into ``contents``; return the archive
        files that the folder holds."""
        found: dict[str, int] = {}
        for name in (META_FILE, DATA_FILE_GZ, DATA_FILE) if with_data else (META_FILE,):
            if name == DATA_FILE and DATA_FILE_GZ in found:
                break
            rel = f"{folder}/{name}"
            try:
                contents[rel] = self.store.read(rel)
            except FileNotFoundError:
                continue
            except OSError as exc:
                contents[rel] = exc
            found[name] = 0
        if META_FILE not in found:  # rare: look what else is there
            names = (rel.rsplit("/", 1)[-1] for rel in self.store.files(folder, sizes=False))
            found.update((name, 0) for name in names if name in _JOB_FILES)
        return found

    def _entry(
        self,
        folder: str,
        files: dict[str, int],
        contents: dict[str, bytes | BaseException],
        with_data: bool,
    ) -> ArchiveEntry:
        where = self.store.url(folder)
        try:
            JobRef.from_directory(folder)
            if META_FILE not in files:
                raise InvalidInput(f"{where}: {META_FILE} is missing")
            raw = self._content(contents, f"{folder}/{META_FILE}")
            meta = codec.decode_meta(raw, f"{where}/{META_FILE}")
        except InvalidInput as exc:
            return ArchiveEntry(where, error=exc.message)
        if not with_data:
            return ArchiveEntry(where, meta=meta)
        name = _data_name(files)
        try:
            if name not in files:
                raise InvalidInput(f"{where}: neither {DATA_FILE} nor {DATA_FILE_GZ} is there")
            raw = self._content(contents, f"{folder}/{name}")
            data = codec.decode_data(raw, name == DATA_FILE_GZ, f"{where}/{name}")
        except InvalidInput as exc:
            return ArchiveEntry(where, meta=meta, error=exc.message)
        return ArchiveEntry(where, meta=meta, data=data)

    def _content(self, contents: dict[str, bytes | BaseException], rel: str) -> bytes:
        value = contents.get(rel)
        if isinstance(value, bytes):
            return value
        if value is not None and (unreachable := self.store.unreachable(value)) is not None:
            raise unreachable
        raise InvalidInput(f"{self.store.url(rel)}: cannot be read: {value or 'vanished'}")

    def delete(self, jobs: Iterable[JobLike]) -> int:
        removed = 0
        for item in jobs:
            folder = JobRef.of(item).directory
            found = self.store.files(folder, sizes=False)
            if found:
                with self.store.guard(self.store.url(folder)):
                    self.store.remove(list(found))
                    self.store.prune(folder)
                removed += 1
        return removed

    def clean(self, *, before: int | None = None, after: int | None = None) -> CleanResult:
        doomed = [
            (ref, files)
            for ref, files in self._jobs()
            if (before is not None and ref.start_time < before)
            or (after is not None and ref.start_time > after)
        ]
        with self.store.guard(self.location):
            self.store.remove(
                [f"{ref.directory}/{name}" for ref, files in doomed for name in files]
            )
            for ref, _ in doomed:
                self.store.prune(ref.directory)
        refs = tuple(sorted(ref for ref, _ in doomed))
        return CleanResult(removed=len(refs), refs=refs)

    def compress(self, jobs: Iterable[JobLike]) -> int:
        compressed = 0
        for item in jobs:
            folder = JobRef.of(item).directory
            rel = f"{folder}/{DATA_FILE}"
            with self.store.guard(self.store.url(rel)):
                try:
                    raw = self.store.read(rel)
                except FileNotFoundError:
                    continue
            if len(raw) <= COMPRESS_ABOVE_BYTES:
                continue
            payload, gzipped = codec.encode_data(codec.decode_data(raw, False, self.store.url(rel)))
            if not gzipped:
                continue
            with self.store.guard(self.store.url(folder)):
                self.store.write(f"{folder}/{DATA_FILE_GZ}", payload)
                self.store.remove([rel])
            compressed += 1
        return compressed


class S3Archive(FsspecArchive):
    """A job archive in an S3 bucket, optionally below a prefix (needs s3fs)."""

    kind: ClassVar[str] = "s3"


class MemoryArchive(FsspecArchive):
    """A job archive in fsspec's process-wide memory store (tests, scratch copies)."""

    kind: ClassVar[str] = "memory"


def check_version(raw: bytes, where: str, location: str) -> int:
    """The layout version in version.txt bytes; InvalidInput unless it is the current one."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text.isdigit():
        raise InvalidInput(f"{where}: not a version number: {text[:40]!r}")
    version = int(text)
    if version != ARCHIVE_VERSION:
        raise InvalidInput(
            f"{location}: the archive has layout version {version}, but version "
            f"{ARCHIVE_VERSION} is needed; `cc-archive migrate` upgrades version 2 to 3"
        )
    return version


def _data_name(files: dict[str, int]) -> str:
    """The data document of a job folder: the gzipped one if both are there."""
    return DATA_FILE if DATA_FILE in files and DATA_FILE_GZ not in files else DATA_FILE_GZ


def _valid_cluster_name(name: str) -> bool:
    try:
        check_cluster_name(name)
    except InvalidInput:
        return False
    return True


def _cluster_info(name: str, jobs: list[tuple[int, int]]) -> ClusterInfo:
    starts = [start for start, _ in jobs]
    return ClusterInfo(
        name=name,
        jobs=len(jobs),
        first_start=min(starts, default=None),
        last_start=max(starts, default=None),
        size_bytes=sum(size for _, size in jobs),
    )
