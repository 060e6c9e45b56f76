"""Ordered parallel work: items with the same key run one after the other, others at once.

:class:`KeyedDispatcher` owns a fixed number of asyncio worker tasks, each with a bounded
FIFO queue. An item goes to the queue of worker ``hash(key) % workers``, so items sharing a
key are run by the same worker in the order they were submitted, while items of different
keys may run concurrently on other workers. When the chosen queue is full,
:meth:`KeyedDispatcher.submit` waits for room (back-pressure) and never drops an item.

Submissions are admitted one at a time in the order they are made (a fair lock), so that a
submitter waiting for room cannot be overtaken by a later one: the order in which items are
submitted is the order in which they enter their queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["KeyedDispatcher", "Work"]

log = logging.getLogger(__name__)

#: A unit of work: called without arguments by a worker, which awaits the result.
Work = Callable[[], Awaitable[None]]


class KeyedDispatcher:
    """Runs :data:`Work` items on ``workers`` tasks, keeping the order of items per key.

    A work item that raises is logged and does not stop its worker; callers that need to
    count failures catch them inside the item. Use :meth:`start` on the running loop before
    :meth:`submit`, and :meth:`close` to finish.
    """

    def __init__(self, name: str, workers: int, capacity: int) -> None:
        """``workers`` tasks (at least 1), each queueing at most ``capacity`` items (at
        least 1); ``name`` labels the tasks and log messages."""
        if workers < 1 or capacity < 1:
            raise ValueError(f"{name}: workers and capacity must be at least 1")
        self.name = name
        self.workers = workers
        self.capacity = capacity
        self._queues: list[asyncio.Queue[Work]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._admission: asyncio.Lock | None = None
        self._closed = False
        self._pending = 0

    @property
    def started(self) -> bool:
        """True between :meth:`start` and :meth:`close`."""
        return bool(self._tasks) and not self._closed

    @property
    def pending(self) -> int:
        """Items submitted and not finished yet (queued or running)."""
        return self._pending

    def start(self) -> None:
        """Create the queues and the worker tasks on the running event loop."""
        if self._tasks:
            raise RuntimeError(f"{self.name}: already started")
        loop = asyncio.get_running_loop()
        self._closed = False
        self._admission = asyncio.Lock()
        self._queues = [asyncio.Queue(self.capacity) for _ in range(self.workers)]
        self._tasks = [
            loop.create_task(self._work(queue), name=f"{self.name}-{index}")
            for index, queue in enumerate(self._queues)
        ]

    async def submit(self, key: Hashable, work: Work) -> None:
        """Queue ``work`` behind the earlier items of ``key``; wait while its queue is full.

        Raises :class:`RuntimeError` if the dispatcher is not started or already closed.
        """
        if not self.started or self._admission is None:
            raise RuntimeError(f"{self.name}: not accepting work (not started or closed)")
        queue = self._queues[hash(key) % self.workers]
        async with self._admission:
            await queue.put(work)
            self._pending += 1

    async def close(self, timeout: float) -> int:
        """Stop accepting work, wait up to ``timeout`` seconds for the queued items to
        finish, then cancel the workers. Returns the number of items abandoned (0 when
        everything finished in time)."""
        if not self._tasks:
            return 0
        self._closed = True
        deadline = time.monotonic() + max(timeout, 0.0)
        for queue in self._queues:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queue.join(), remaining)
        abandoned = self.pending
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._queues = []
        self._pending = 0
        if abandoned:
            log.warning(
                "%s: %d item(s) not finished within %.1f s, abandoned",
                self.name,
                abandoned,
                timeout,
            )
        return abandoned

    async def _work(self, queue: asyncio.Queue[Work]) -> None:
        """Run the items of ``queue`` one after the other until cancelled."""
        while True:
            work = await queue.get()
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: a work item failed", self.name)
            finally:
                self._pending -= 1
                queue.task_done()
