"""Password login of local users, with a limit on failed attempts.

:class:`LocalLogin` checks a user name and password against the user table (bcrypt, see
:meth:`~cc_backend.repository.users.UserRepository.authenticate`). Failed attempts are
counted per client address and user name by a :class:`LoginLimiter`, as cc-backend does:
each pair has a budget of 5 failures that refills by one every 3 minutes (5 per 15 minutes).
While the budget is spent every attempt for that pair is refused with
:class:`TooManyAttempts` before the password is looked at, so guessing stays slow; other
user names from the same address and the same user name from other addresses are not
affected. Successful logins cost nothing.

One limiter must serve the whole process (the route table creates it once); it keeps its
counts in memory, so a restart forgets them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from cc_backend.domain.errors import Unauthenticated
from cc_backend.domain.user import User

__all__ = ["LOGIN_ATTEMPTS", "LOGIN_WINDOW", "LocalLogin", "LoginLimiter", "TooManyAttempts"]

log = logging.getLogger(__name__)

#: Failed logins a client may make for one user name before it has to wait.
LOGIN_ATTEMPTS = 5
#: The time in which the whole budget of failed logins refills.
LOGIN_WINDOW = timedelta(minutes=15)
#: cc-backend's words for a spent budget.
TOO_MANY_ATTEMPTS = "too many login attempts, try again in a few minutes"


class TooManyAttempts(Unauthenticated):
    """Too many failed logins for this user name from this address; try again later."""

    code = "TOO_MANY_ATTEMPTS"

    def __init__(self, retry_after: int) -> None:
        super().__init__(TOO_MANY_ATTEMPTS)
        #: Seconds until the next attempt is allowed.
        self.retry_after = retry_after


@dataclass
class _Budget:
    tokens: float
    updated: float


class LoginLimiter:
    """Token buckets of failed logins, one per (client address, user name); thread-safe.

    ``clock`` returns seconds (default :func:`time.monotonic`). At most ``max_entries`` pairs
    are tracked; beyond that, pairs whose budget has refilled are forgotten first, then the
    oldest.
    """

    def __init__(
        self,
        attempts: int = LOGIN_ATTEMPTS,
        window: timedelta = LOGIN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        if attempts < 1 or window.total_seconds() <= 0:
            raise ValueError("a login limit needs at least one attempt in a positive window")
        self.attempts = attempts
        self.refill_seconds = window.total_seconds() / attempts
        self.clock = clock
        self.max_entries = max_entries
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._lock = threading.Lock()

    def check(self, client: str, username: str) -> None:
        """Raise :class:`TooManyAttempts` if the pair has no failed attempt left."""
        with self._lock:
            budget = self._current(client, username)
            if budget is not None and budget.tokens < 1:
                wait = (1 - budget.tokens) * self.refill_seconds
                raise TooManyAttempts(max(1, math.ceil(wait)))

    def failed(self, client: str, username: str) -> None:
        """Count one failed login of ``username`` from ``client``."""
        with self._lock:
            budget = self._current(client, username)
            if budget is None:
                self._forget_some()
                budget = _Budget(float(self.attempts), self.clock())
                self._budgets[(client, username)] = budget
            budget.tokens = max(0.0, budget.tokens - 1)

    def _current(self, client: str, username: str) -> _Budget | None:
        budget = self._budgets.get((client, username))
        if budget is not None:
            now = self.clock()
            refilled = (now - budget.updated) / self.refill_seconds
            budget.tokens = min(float(self.attempts), budget.tokens + refilled)
            budget.updated = now
        return budget

    def _forget_some(self) -> None:
        if len(self._budgets) < self.max_entries:
            return
        now = self.clock()
        for key, budget in list(self._budgets.items()):
            refilled = budget.tokens + (now - budget.updated) / self.refill_seconds
            if refilled >= self.attempts:
                del self._budgets[key]
        while len(self._budgets) >= self.max_entries:
            del self._budgets[next(iter(self._budgets))]


@dataclass(frozen=True)
class LocalLogin:
    """The login use case: ``authenticate(username, password)`` returns the user or raises
    :class:`Unauthenticated` (one message for every failure); ``limiter`` counts failures."""

    authenticate: Callable[[str, str], User]
    limiter: LoginLimiter

    def login(self, username: str, password: str, client: str) -> User:
        """The user ``username`` if ``password`` is theirs; blocks (bcrypt, database).

        Raises :class:`TooManyAttempts` while the pair's budget of failures is spent, and
        :class:`Unauthenticated` for a wrong user name or password (counted as a failure).
        """
        self.limiter.check(client, username)
        try:
            user = self.authenticate(username, password)
        except Unauthenticated:
            self.limiter.failed(client, username)
            log.warning("failed login for user %r from %s", username, client)
            raise
        log.info("user %r logged in from %s", user.username, client)
        return user
