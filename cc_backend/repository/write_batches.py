"""Group commit: the writes of many concurrent requests in one SQLite transaction.

SQLite has one writer at a time, so concurrent writers gain nothing from a pool of threads;
each of them pays a thread hand-over, a lock hand-over and a commit. A :class:`WriteBatcher`
instead runs write calls (``lifecycle.start_job`` and the like) on a single thread: it takes
every call that is waiting, runs them one after the other in one transaction, commits once,
and then answers every caller. Every repository call of that thread joins the batch's
transaction (see :meth:`Database.begin`): each transaction a repository opens becomes a
savepoint, rolled back if it fails, so a call in a batch keeps exactly the writes it would
keep on its own, and the service layer is the same code either way.

A call that raises gives its caller the exception; the other calls of the batch are kept.
A caller is answered only after the commit, so a reply always describes stored data, and
:meth:`Database.after_commit` callbacks run only then; if the commit fails, every caller of
the batch gets :class:`~cc_backend.domain.errors.BackendUnavailable` and nothing is stored.

On PostgreSQL, which has real concurrent writers, calls simply run in the event loop's
default executor (or directly, from threads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa

from cc_backend.domain.errors import BackendUnavailable
from cc_backend.repository.database import Database

__all__ = ["WriteBatcher"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Most calls in one transaction (bounds how long the first caller of a batch waits).
MAX_BATCH = 64


@dataclass
class _Call:
    """A queued call and where its caller waits: a coroutine's future on its event loop,
    or a thread's :class:`concurrent.futures.Future`."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop | None = None
    waiter: asyncio.Future[Any] | None = None
    future: Future[Any] | None = None
    outcome: Any = None
    error: BaseException | None = None
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def wanted(self) -> bool:
        """False if the caller gave up before the call started (it is skipped then)."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        return self.waiter is not None and not self.waiter.cancelled()

    def answer_thread(self, failure: BaseException | None) -> None:
        assert self.future is not None
        error = failure or self.error
        if error is not None:
            self.future.set_exception(error)
        else:
            self.future.set_result(self.outcome)


def _answer_coroutines(calls: list[_Call], failure: BaseException | None) -> None:
    """Set the futures of ``calls`` (in their event loop's thread)."""
    for item in calls:
        waiter = item.waiter
        if waiter is None or waiter.done():
            continue
        error = failure or item.error
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(item.outcome)


class WriteBatcher:
    """Runs write calls in batches on one thread, one commit per batch (SQLite only).

    :meth:`run` is for coroutines (REST and NATS handlers), :meth:`call` for threads;
    both return what the function returns or raise what it raised. :meth:`close` answers
    every call submitted before it, then stops the thread.
    """

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self.batching = db.dialect == "sqlite"
        self._queue: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: Batches committed and calls run in them, since the start (for monitoring).
        self.batches = 0
        self.calls = 0

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a write batch (in the executor on PostgreSQL)."""
        loop = asyncio.get_running_loop()
        if not self.batching:
            return await loop.run_in_executor(None, fn, *args)
        waiter: asyncio.Future[T] = loop.create_future()
        self._put(_Call(fn, args, loop=loop, waiter=waiter))
        return await waiter

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a write batch, waiting for it (directly on PostgreSQL, and
        when called from within a batch)."""
        if not self.batching or self.db.current_batch is not None:
            return fn(*args)
        future: Future[T] = Future()
        self._put(_Call(fn, args, future=future))
        return future.result()

    def _put(self, item: _Call) -> None:
        if self._closed:
            raise BackendUnavailable("the job database is shutting down")
        self._ensure_thread()
        self._queue.put(item)

    def close(self) -> None:
        """Answer the calls queued so far, then stop the batch thread."""
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()
            self._thread = None

    # -- the batch thread -----------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._serve, name="write-batches", daemon=True)
                thread.start()
                self._thread = thread

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run_batch([item for item in batch if item.wanted()])
            if stop:
                return

    def _run_batch(self, calls: list[_Call]) -> None:
        if not calls:
            return
        self.batches += 1
        self.calls += len(calls)
        failure: BaseException | None = None
        try:
            self._execute(calls)
        except Exception as exc:
            log.exception("a write batch of %d calls failed to commit", len(calls))
            failure = BackendUnavailable(f"job database: the write was not stored: {exc}")
        else:
            for item in calls:
                for callback in item.after_commit:
                    try:
                        callback()
                    except Exception:
                        log.exception("a callback after a write batch's commit failed")
        self._answer(calls, failure)

    @staticmethod
    def _answer(calls: list[_Call], failure: BaseException | None) -> None:
        """Answer every caller: threads at once, coroutines with one hand-over per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
        for item in calls:
            if item.loop is None:
                item.answer_thread(failure)
            else:
                by_loop.setdefault(item.loop, []).append(item)
        for loop, waiting in by_loop.items():
            try:
                loop.call_soon_threadsafe(_answer_coroutines, waiting, failure)
            except RuntimeError:  # the loop is closed: nobody waits any more
                log.warning("%d write results not delivered: event loop closed", len(waiting))

    def _execute(self, calls: list[_Call]) -> None:
        """Run ``calls`` in one transaction and commit it."""
        with self.db.single_writer(), self.db.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                with self.db.running_batch(conn) as batch:
                    for item in calls:
                        batch.after_commit = item.after_commit
                        try:
                            item.outcome = item.fn(*item.args)
                        except BaseException as exc:
                            item.error = exc
                conn.commit()
            except BaseException:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    conn.rollback()
                raise
