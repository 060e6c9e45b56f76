"""The base of every store: a client, a loading flag, an error message, a small cache."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import param

from cc_backend.client import Client, NotSupported
from cc_backend.domain.errors import CCError

__all__ = ["Store"]

T = TypeVar("T")


class Store(param.Parameterized):
    """Fetches through ``client`` and remembers answers for ``cache_seconds``.

    Subclasses declare their parameters (filters) and results as params and fetch in an
    ``async def load()`` through :meth:`fetch`, which sets ``loading`` while it waits and
    turns a domain error into ``error`` (a message for the page) instead of raising.
    """

    loading = param.Boolean(default=False, doc="A fetch is under way.")
    error = param.String(default="", doc="Why the last fetch failed (empty: it did not).")
    cache_seconds = param.Number(default=30.0, bounds=(0, None), doc="How long answers live.")

    def __init__(self, client: Client, **params: Any) -> None:
        super().__init__(**params)
        self.client = client
        self._cache: dict[Hashable, tuple[float, Any]] = {}
        self._pending = 0

    async def fetch(self, key: Hashable, ask: Callable[[], Awaitable[T]]) -> T | None:
        """The answer of ``ask()``, from the cache while fresh; ``None`` (with ``error``
        set) if the site refused or failed with a domain error."""
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            answer: T = cached[1]
            return answer
        self._pending += 1
        self.loading = True
        try:
            answer = await ask()
        except CCError as exc:
            self.error = exc.message
            return None
        finally:
            self._pending -= 1
            self.loading = self._pending > 0
        self._cache[key] = (now, answer)
        return answer

    async def optional(self, ask: Callable[[], Awaitable[T]], default: T) -> T:
        """``ask()``, or ``default`` where the client cannot answer it (no error) or the
        site refused or failed (``error`` set); uncached."""
        try:
            return await ask()
        except NotSupported:
            return default
        except CCError as exc:
            self.error = exc.message
            return default

    def forget(self) -> None:
        """Drop every cached answer (the next fetch asks the site)."""
        self._cache.clear()
