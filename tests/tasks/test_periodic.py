"""Periodic tasks: run at their interval, survive failures, run once more at stop."""

from __future__ import annotations

import logging
import threading

import pytest

from cc_backend.tasks.periodic import PeriodicTasks


def test_a_task_runs_again_and_again_until_stopped() -> None:
    ran = threading.Event()
    calls: list[int] = []

    def work() -> None:
        calls.append(1)
        if len(calls) >= 3:
            ran.set()

    tasks = PeriodicTasks()
    task = tasks.add("work", 0.01, work)
    tasks.start()
    assert ran.wait(10)
    tasks.stop(timeout=5)
    count = len(calls)

    assert task.runs == count >= 3
    assert task.failures == 0
    assert len(calls) == count  # nothing runs after stop


def test_a_failing_run_is_logged_and_the_schedule_kept(caplog: pytest.LogCaptureFixture) -> None:
    second = threading.Event()
    runs: list[int] = []

    def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("disk full")
        second.set()

    tasks = PeriodicTasks()
    task = tasks.add("flaky", 0.01, flaky)
    with caplog.at_level(logging.ERROR):
        tasks.start()
        assert second.wait(10)
        tasks.stop(timeout=5)

    assert task.failures == 1
    assert "periodic task flaky failed" in caplog.text
    assert "disk full" in caplog.text


def test_tasks_marked_run_at_stop_run_once_more_at_stop() -> None:
    calls: list[str] = []
    tasks = PeriodicTasks()
    tasks.add("checkpoint", 3600, lambda: calls.append("checkpoint"), run_at_stop=True)
    tasks.add("other", 3600, lambda: calls.append("other"))
    tasks.start()
    tasks.stop(timeout=5)

    assert calls == ["checkpoint"]


def test_bad_schedules_are_refused() -> None:
    tasks = PeriodicTasks()
    with pytest.raises(ValueError, match="must be positive"):
        tasks.add("never", 0, lambda: None)
    tasks.start()
    with pytest.raises(RuntimeError, match="before start"):
        tasks.add("late", 1, lambda: None)
    tasks.stop(timeout=1)
