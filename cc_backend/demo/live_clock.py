"""When the live demo acts: its clock (the real one, or a test's that does not wait) and
the exponential backoff after failed requests."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Backoff", "Clock", "WallClock"]


class Clock(Protocol):
    """Where the simulator's time comes from."""

    def now(self) -> float:
        """The current Unix time."""
        ...

    async def sleep_until(self, when: float) -> None:
        """Return at Unix time ``when`` (at once if it has passed)."""
        ...


class WallClock:
    """The real time."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, when: float) -> None:
        delay = when - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class Backoff:
    """Consecutive failures of one kind and when to try again: ``first`` seconds after
    the first, twice as long after each further one, at most ``longest``."""

    first: float
    longest: float
    failures: int = 0
    retry_at: float | None = None
    kind: str = ""

    def fail(self, now: float, kind: str) -> float:
        """Count a failure of ``kind`` at ``now`` (another kind counts from one again);
        the pause until the next attempt."""
        self.failures = self.failures + 1 if kind == self.kind else 1
        self.kind = kind
        delay = min(self.first * 2.0 ** (self.failures - 1), self.longest)
        self.retry_at = now + delay
        return delay

    def succeed(self) -> int:
        """Forget the failures; how many there were."""
        failures, self.failures, self.retry_at, self.kind = self.failures, 0, None, ""
        return failures
