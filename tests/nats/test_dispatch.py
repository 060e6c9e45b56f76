"""The keyed dispatcher: order per key, parallel across keys, back-pressure, draining."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable

import pytest

from cc_backend.nats.dispatch import KeyedDispatcher, Work


@pytest.fixture
async def dispatcher() -> AsyncIterator[KeyedDispatcher]:
    """Four workers with room for two items each."""
    built = KeyedDispatcher("test", workers=4, capacity=2)
    built.start()
    yield built
    await built.close(timeout=5)


def recorder(log: list[tuple[int, int]], key: int, seq: int, rng: random.Random) -> Work:
    """Work that records (key, seq) after a random number of loop turns."""

    async def work() -> None:
        for _ in range(rng.randrange(5)):
            await asyncio.sleep(0)
        log.append((key, seq))

    return work


def blocker(started: list[str], name: str, release: asyncio.Event) -> Work:
    async def work() -> None:
        started.append(name)
        await release.wait()

    return work


async def until(condition: Callable[[], bool]) -> None:
    """Let the loop run until ``condition`` holds (bounded, so a bug fails rather than hangs)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail("condition never held")


async def test_items_of_one_key_run_in_submission_order(dispatcher: KeyedDispatcher) -> None:
    rng = random.Random(3)
    done: list[tuple[int, int]] = []
    for seq in range(50):
        for key in range(10):
            await dispatcher.submit(key, recorder(done, key, seq, rng))
    await dispatcher.close(timeout=10)
    assert len(done) == 500
    for key in range(10):
        assert [seq for k, seq in done if k == key] == list(range(50))


async def test_items_of_different_keys_run_at_the_same_time(
    dispatcher: KeyedDispatcher,
) -> None:
    release = asyncio.Event()
    started: list[str] = []
    await dispatcher.submit(0, blocker(started, "a", release))
    await dispatcher.submit(1, blocker(started, "b", release))
    await dispatcher.submit(0, blocker(started, "a2", release))
    await until(lambda: len(started) == 2)
    assert sorted(started) == ["a", "b"]  # a2 waits for a, on the same worker
    assert dispatcher.pending == 3
    release.set()
    await until(lambda: dispatcher.pending == 0)
    assert started[-1] == "a2"


async def test_a_full_queue_makes_the_submitter_wait(dispatcher: KeyedDispatcher) -> None:
    release = asyncio.Event()
    started: list[str] = []
    await dispatcher.submit(0, blocker(started, "running", release))
    await dispatcher.submit(0, blocker(started, "queued 1", release))
    await dispatcher.submit(0, blocker(started, "queued 2", release))
    waiting = asyncio.create_task(dispatcher.submit(0, blocker(started, "waiting", release)))
    await until(lambda: started == ["running"])
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiting.done()  # nothing dropped, nothing beyond capacity queued
    release.set()
    await waiting
    await until(lambda: dispatcher.pending == 0)
    assert started == ["running", "queued 1", "queued 2", "waiting"]


async def test_a_failing_item_is_logged_and_the_worker_goes_on(
    dispatcher: KeyedDispatcher, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[str] = []

    async def fail() -> None:
        raise ValueError("boom")

    async def succeed() -> None:
        done.append("after")

    await dispatcher.submit(0, fail)
    await dispatcher.submit(0, succeed)
    await until(lambda: dispatcher.pending == 0)
    assert done == ["after"]
    assert any("a work item failed" in r.getMessage() for r in caplog.records)


async def test_close_waits_for_queued_items() -> None:
    dispatcher = KeyedDispatcher("test", workers=2, capacity=100)
    dispatcher.start()
    done: list[tuple[int, int]] = []
    rng = random.Random(5)
    for seq in range(100):
        await dispatcher.submit(seq % 3, recorder(done, seq % 3, seq, rng))
    assert await dispatcher.close(timeout=10) == 0
    assert len(done) == 100
    assert dispatcher.pending == 0


async def test_close_abandons_what_is_not_done_in_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    dispatcher = KeyedDispatcher("test", workers=1, capacity=10)
    dispatcher.start()
    never = asyncio.Event()
    started: list[str] = []
    await dispatcher.submit(0, blocker(started, "stuck", never))
    await dispatcher.submit(0, blocker(started, "behind", never))
    assert await dispatcher.close(timeout=0.05) == 2
    assert started == ["stuck"]
    assert any("2 item(s) not finished" in r.getMessage() for r in caplog.records)


async def test_no_work_is_taken_before_start_or_after_close() -> None:
    dispatcher = KeyedDispatcher("test", workers=1, capacity=1)

    async def work() -> None:
        return None

    with pytest.raises(RuntimeError, match="not accepting work"):
        await dispatcher.submit(0, work)
    dispatcher.start()
    await dispatcher.close(timeout=1)
    with pytest.raises(RuntimeError, match="not accepting work"):
        await dispatcher.submit(0, work)


def test_workers_and_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        KeyedDispatcher("test", workers=0, capacity=1)
    with pytest.raises(ValueError, match="at least 1"):
        KeyedDispatcher("test", workers=1, capacity=0)
