"""A connection to a NATS server whose subscriptions survive server restarts.

:class:`NatsSubscriber` connects (user/password or a credentials file), subscribes to what
its subclass names (:meth:`NatsSubscriber._subjects`), reconnects without limit, and never
raises for an unreachable server: :meth:`start` logs a warning and goes on connecting in
the background. :meth:`stop` unsubscribes, waits until the callbacks have taken every
message received, lets the subclass finish its own work (:meth:`_finish`) and closes.

nats-py writes a flush's PING at once, possibly ahead of the SUB commands still in its
buffer, so a subscription counts as in place only after a second round trip. Core NATS
delivers at most once: what is published while the connection is down, or before the
server has the subscriptions again after a reconnect, is not received.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import DEFAULT_SUB_PENDING_MSGS_LIMIT, Subscription
from nats.errors import SlowConsumerError

from cc_backend.config.services import NatsConfig

__all__ = ["MessageHandler", "NatsSubscriber", "reason_of"]

log = logging.getLogger(__name__)

#: What a subscription calls with each message.
MessageHandler = Callable[[Msg], Awaitable[None]]


class NatsSubscriber(abc.ABC):
    """Subscriptions on one NATS connection (see the module docstring).

    ``stats`` counts what subclasses record, and as ``"dropped"`` the messages nats-py
    discarded because its buffer for a subscription was full (``pending_limit`` messages).
    """

    #: Name of the subscriber in log lines, e.g. ``"NATS API"``.
    label = "NATS"

    def __init__(
        self,
        config: NatsConfig,
        *,
        reconnect_wait: float = 2.0,
        connect_timeout: float = 5.0,
        drain_timeout: float = 30.0,
        pending_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
    ) -> None:
        self.config = config
        self.reconnect_wait = reconnect_wait
        self.connect_timeout = connect_timeout
        self.drain_timeout = drain_timeout
        self.pending_limit = pending_limit
        self.stats: Counter[str] = Counter()
        self._client: Client | None = None
        self._subscriptions: list[Subscription] = []
        self._connecting: asyncio.Task[None] | None = None
        self._last_error: str | None = None
        self._stopped = False

    # -- what subclasses say --------------------------------------------------------------

    @abc.abstractmethod
    def _subjects(self) -> list[tuple[str, MessageHandler]]:
        """The subjects to subscribe to, each with its message handler."""

    def _starting(self) -> None:  # noqa: B027 - optional hook
        """Called by :meth:`start` before connecting (e.g. to start workers)."""

    async def _finish(self, timeout: float) -> None:  # noqa: B027 - optional hook
        """Called by :meth:`stop` after the last message was taken; ``timeout`` seconds
        are left of the drain time."""

    # -- life cycle -----------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True while connected to the NATS server with the subscriptions in place."""
        return self._client is not None and self._client.is_connected and bool(self._subscriptions)

    async def start(self) -> None:
        """Connect and subscribe; never raises for an unreachable server.

        Waits up to ``connect_timeout`` seconds for the connection. If it is not up by
        then, a warning is logged and connecting goes on in the background (every
        ``reconnect_wait`` seconds, without limit) until it succeeds or :meth:`stop`.
        """
        self._stopped = False
        if not self._subjects():
            log.warning("%s: no subjects configured, not subscribing", self.label)
            return
        self._starting()
        task = asyncio.get_running_loop().create_task(self._connect())
        self._connecting = task
        done, _ = await asyncio.wait({task}, timeout=self.connect_timeout)
        if not done:
            log.warning(
                "%s: cannot connect to %s within %.1f s (%s); retrying in the background",
                self.label,
                self.config.address,
                self.connect_timeout,
                self._last_error or "no answer",
            )
            task.add_done_callback(self._connected_late)
            return
        self._connected_late(task)

    def _connected_late(self, task: asyncio.Task[None]) -> None:
        """Report the outcome of the connection ``task`` unless it was cancelled."""
        if self._connecting is task:
            self._connecting = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s: giving up on %s: %s", self.label, self.config.address, reason_of(exc))

    async def stop(self) -> None:
        """Stop connecting and receiving, finish what was received, close the connection.

        Everything already received is handled before this returns, for at most
        ``drain_timeout`` seconds in all.
        """
        self._stopped = True
        deadline = time.monotonic() + self.drain_timeout
        task, self._connecting = self._connecting, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        self._subscriptions = []
        if client is not None and not client.is_closed:
            try:
                # Unsubscribes, then waits until the callbacks have taken every message.
                await client.drain()
            except Exception as exc:  # closing must not fail the shutdown
                log.debug("%s: drain failed (%s); closing", self.label, reason_of(exc))
                await client.close()
            log.info("%s: connection closed", self.label)
        await self._finish(deadline - time.monotonic())

    async def _connect(self) -> None:
        """Connect (retrying without limit) and subscribe to the subjects."""
        creds = self.config.creds_file_path
        user = password = None
        if creds is None and self.config.username and self.config.password is not None:
            user = self.config.username
            password = self.config.password.get_secret_value()
        client = Client()
        try:
            await client.connect(
                self.config.address,
                name="cc-backend",
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=self.reconnect_wait,  # type: ignore[arg-type]
                connect_timeout=self.connect_timeout,  # type: ignore[arg-type]
                error_cb=self._on_error,
                disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected,
                drain_timeout=self.drain_timeout,  # type: ignore[arg-type]
                user=user,
                password=password,
                user_credentials=str(creds) if creds is not None else None,
            )
            subscriptions = [
                await client.subscribe(subject, cb=handler, pending_msgs_limit=self.pending_limit)
                for subject, handler in self._subjects()
            ]
            # The second round trip is the one that proves the server has registered the
            # subscriptions (see the module docstring).
            await client.flush()
            await client.flush()
        except BaseException:
            with contextlib.suppress(Exception):
                await client.close()
            raise
        self._client, self._subscriptions = client, subscriptions
        self._last_error = None
        log.info(
            "%s: connected to %s, subscribed to %s",
            self.label,
            self.config.address,
            ", ".join(s.subject for s in subscriptions),
        )

    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, SlowConsumerError):
            # nats-py's buffer for the subscription is full: the message is lost.
            self.stats["dropped"] += 1
            if self.stats["dropped"] % 1000 == 1:
                log.warning(
                    "%s %s: falling behind, %d message(s) dropped so far",
                    self.label,
                    exc.subject,
                    self.stats["dropped"],
                )
            return
        self._last_error = reason_of(exc)
        log.debug("%s: %s", self.label, self._last_error)

    async def _on_disconnected(self) -> None:
        if not self._stopped:
            log.warning("%s: disconnected from %s, reconnecting", self.label, self.config.address)

    async def _on_reconnected(self) -> None:
        log.info("%s: reconnected to %s", self.label, self.config.address)


def reason_of(exc: BaseException) -> str:
    """An exception as a short log text: its type and message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
