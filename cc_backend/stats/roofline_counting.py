"""The roofline counts of archived jobs, in this process or in worker processes.

Counting a job reads its metric data: gunzipping and parsing a data.json of a large job
takes tens of milliseconds, all of it holding the interpreter, so an archive of a million
jobs takes hours on one core. :func:`counted` hands the jobs of a long scan to worker
processes, a chunk at a time and in order, when its caller asks for more than one worker
and the data loader can be sent to another process (a file, S3 or SQLite archive; not an
archive in memory). The first chunk is always counted here, so that a small archive never
waits for processes to start.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import pickle
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from cc_backend.archive.base import ArchiveEntry
from cc_backend.archive.layout import JobRef
from cc_backend.domain.errors import NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.stats.roofline_cells import JobCells, job_cells

__all__ = ["CHUNK", "DataLoader", "cells_of", "counted"]

log = logging.getLogger(__name__)

#: Loads an archived job's metric data.
DataLoader = Callable[[Job], JobData]
#: Entries counted per round trip to the workers (and, first, here).
CHUNK = 1000

Entry = Job | ArchiveEntry


def cells_of(entry: Entry, loader: DataLoader | None) -> JobCells | None:
    """The roofline counts of a job: from the entry's metric data, else from the data
    ``loader`` gives; ``None`` when there is neither (a job archived without metric data)
    or the data cannot be read (logged as a warning: the counts are derived data, their
    absence never stops a scan)."""
    job = entry if isinstance(entry, Job) else entry.meta
    if job is None:
        return None
    try:
        if isinstance(entry, ArchiveEntry) and entry.data is not None:
            return job_cells(entry.data)
        if loader is None:
            return None
        return job_cells(loader(job))
    except NotFound:
        return None
    except Exception as exc:
        log.warning("job %s: no roofline counts (%s)", JobRef.of(job), exc)
        return None


def counted(
    entries: Iterable[Entry],
    count: Callable[[Entry], JobCells | None],
    *,
    loader: DataLoader | None = None,
    workers: int = 1,
    chunk: int | None = None,
) -> Iterator[tuple[Entry, JobCells | None]]:
    """Each of ``entries`` with its roofline counts, in order: ``count(entry)`` in this
    process, or :func:`cells_of` with ``loader`` in a worker.

    With ``workers`` > 1 and a ``loader`` that can be pickled, the jobs after the first
    ``chunk`` entries are counted by that many worker processes (started fresh, not
    forked, so the threads of a server are no concern), ``chunk`` entries at a time
    (default :data:`CHUNK`), except entries that carry their metric data; everything else
    is counted here.
    """
    size = chunk or CHUNK
    chunks = _chunks(iter(entries), size)
    first = next(chunks, [])
    yield from ((entry, count(entry)) for entry in first)
    if len(first) < size:
        return
    if workers <= 1 or loader is None or not _can_send(loader):
        for part in chunks:
            yield from ((entry, count(entry)) for entry in part)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_install, initargs=(loader,)
    ) as pool:
        # One chunk ahead: the workers count the next chunk while this one is consumed.
        ahead: tuple[list[Entry], Iterator[JobCells | None]] | None = None
        for part in chunks:
            jobs = [job for entry in part if (job := _sent(entry)) is not None]
            submitted = (part, pool.map(_remote_cells, jobs, chunksize=25))
            if ahead is not None:
                yield from _joined(*ahead, count)
            ahead = submitted
        if ahead is not None:
            yield from _joined(*ahead, count)


def _sent(entry: Entry) -> Job | None:
    """The job a worker counts for ``entry``; ``None`` for an entry counted here (one
    carrying its data, which stays in this process) or one without meta data."""
    if isinstance(entry, Job):
        return entry
    return entry.meta if entry.data is None else None


def _joined(
    chunk: list[Entry],
    remote: Iterator[JobCells | None],
    count: Callable[[Entry], JobCells | None],
) -> Iterator[tuple[Entry, JobCells | None]]:
    """The entries of ``chunk`` with their counts: the workers' in order, the rest here."""
    for entry in chunk:
        yield entry, next(remote) if _sent(entry) is not None else count(entry)


def _chunks(entries: Iterator[Entry], size: int) -> Iterator[list[Entry]]:
    while chunk := list(itertools.islice(entries, size)):
        yield chunk


def _can_send(loader: DataLoader) -> bool:
    try:
        pickle.dumps(loader)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        log.info("roofline counts in this process only: the data loader stays here (%s)", exc)
        return False
    return True


#: The data loader of a worker process (set by :func:`_install`).
_worker_loader: DataLoader | None = None


def _install(loader: DataLoader) -> None:
    global _worker_loader  # noqa: PLW0603 - one loader per worker process, set at its start
    _worker_loader = loader


def _remote_cells(job: Job) -> JobCells | None:
    return cells_of(job, _worker_loader)
