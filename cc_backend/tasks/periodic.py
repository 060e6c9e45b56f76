"""A small scheduler of periodic tasks, each in a daemon thread of its own.

A task runs every ``interval`` seconds, counted from the end of its previous run, so a slow
run never overlaps the next. A run that raises is logged and the task keeps its schedule.
:meth:`PeriodicTasks.stop` wakes every task, lets a running one finish (up to a timeout)
and then runs the tasks registered with ``run_at_stop`` once more (e.g. a last metric store
checkpoint).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["PeriodicTasks", "Task"]

log = logging.getLogger(__name__)


@dataclass
class Task:
    """One periodic task and what it has done so far."""

    name: str
    interval: float
    run: Callable[[], object]
    run_at_stop: bool = False
    runs: int = 0
    failures: int = 0
    last_duration: float | None = None
    _thread: threading.Thread | None = field(default=None, repr=False)

    def run_once(self) -> bool:
        """Run the task now in the calling thread; False if it raised (logged)."""
        began = time.perf_counter()
        try:
            self.run()
        except Exception:
            self.failures += 1
            log.exception("periodic task %s failed", self.name)
            return False
        finally:
            self.runs += 1
            self.last_duration = time.perf_counter() - began
        return True


class PeriodicTasks:
    """Runs registered tasks at their intervals until :meth:`stop`."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []
        self._stop = threading.Event()
        self._started = False

    def add(
        self,
        name: str,
        interval: float,
        run: Callable[[], object],
        *,
        run_at_stop: bool = False,
    ) -> Task:
        """Register ``run`` to be called every ``interval`` seconds (first after one
        interval); with ``run_at_stop`` it is also called once when the tasks stop."""
        if interval <= 0:
            raise ValueError(f"the interval of task {name!r} must be positive, got {interval}")
        if self._started:
            raise RuntimeError("tasks must be added before start()")
        task = Task(name, interval, run, run_at_stop)
        self.tasks.append(task)
        return task

    def start(self) -> None:
        """Start one daemon thread per task."""
        if self._started:
            raise RuntimeError("the periodic tasks run already")
        self._started = True
        for task in self.tasks:
            thread = threading.Thread(
                target=self._loop, args=(task,), name=f"task-{task.name}", daemon=True
            )
            task._thread = thread
            thread.start()
        if self.tasks:
            log.info(
                "periodic tasks: %s",
                ", ".join(f"{t.name} every {t.interval:g} s" for t in self.tasks),
            )

    def _loop(self, task: Task) -> None:
        while not self._stop.wait(task.interval):
            task.run_once()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop scheduling, wait up to ``timeout`` seconds for running tasks, then run the
        ``run_at_stop`` tasks once more."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for task in self.tasks:
            if task._thread is not None:
                task._thread.join(max(deadline - time.monotonic(), 0.1))
                if task._thread.is_alive():
                    log.warning("periodic task %s still running at shutdown", task.name)
        for task in self.tasks:
            if task.run_at_stop:
                task.run_once()
