"""The job and node-state API over NATS: subscribes, decodes, calls :class:`JobLifecycle`.

Messages on one subject are handled one after the other, in the order they arrive, so a
stop never overtakes the start of the same job. The lifecycle calls (SQL, archive I/O) run
in the event loop's default executor. A message that cannot be decoded or that the service
refuses is logged with its subject and the reason and dropped; the subscriber keeps going.

The connection survives server restarts (unlimited reconnect attempts). If the server is
unreachable when :meth:`NatsApi.start` is called, a warning is logged, :meth:`start`
returns, and connecting goes on in the background until it succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from cc_backend.config.main_section import ApiSubjects
from cc_backend.config.services import NatsConfig
from cc_backend.domain.errors import AlreadyExists, CCError, InvalidInput
from cc_backend.domain.user import User
from cc_backend.nats.messages import (
    JobCommand,
    Point,
    StartJob,
    UpdateNodeStates,
    iter_points,
    job_command,
    node_state_command,
)
from cc_backend.services.job_lifecycle import JobLifecycle

__all__ = ["NATS_ACTOR", "NatsApi"]

log = logging.getLogger(__name__)

#: The user NATS messages act as: a service account with the ``api`` role.
NATS_ACTOR = User.build("nats", ["api"])

_T = TypeVar("_T")


class NatsApi:
    """cc-backend's NATS API: job start/stop events and node state updates.

    ``stats`` counts, per outcome (``"started"``, ``"stopped"``, ``"node_states"``,
    ``"duplicate"``, ``"rejected"``, ``"failed"``, ``"ignored"``), what happened to the
    points received.
    """

    def __init__(
        self,
        lifecycle: JobLifecycle,
        config: NatsConfig,
        subjects: ApiSubjects,
        actor: User = NATS_ACTOR,
        *,
        reconnect_wait: float = 2.0,
        connect_timeout: float = 5.0,
    ) -> None:
        self.lifecycle = lifecycle
        self.config = config
        self.subjects = subjects
        self.actor = actor
        self.reconnect_wait = reconnect_wait
        self.connect_timeout = connect_timeout
        self.stats: Counter[str] = Counter()
        self._client: Client | None = None
        self._subscriptions: list[Subscription] = []
        self._connecting: asyncio.Task[None] | None = None
        self._last_error: str | None = None
        self._stopped = False

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
        if not self.subjects.subject_job_event and not self.subjects.subject_node_state:
            log.warning("NATS API: no subjects configured, not subscribing")
            return
        task = asyncio.get_running_loop().create_task(self._connect())
        self._connecting = task
        done, _ = await asyncio.wait({task}, timeout=self.connect_timeout)
        if not done:
            log.warning(
                "NATS API: cannot connect to %s within %.1f s (%s); retrying in the background",
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
            log.error("NATS API: giving up on %s: %s", self.config.address, _reason(exc))

    async def stop(self) -> None:
        """Stop connecting, let handlers in progress finish and close the connection."""
        self._stopped = True
        task, self._connecting = self._connecting, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        self._subscriptions = []
        if client is None or client.is_closed:
            return
        try:
            await client.drain()
        except Exception as exc:  # closing must not fail the shutdown
            log.debug("NATS API: drain failed (%s); closing", _reason(exc))
            await client.close()
        log.info("NATS API: connection closed")

    async def _connect(self) -> None:
        """Connect (retrying without limit) and subscribe to the configured subjects."""
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
                user=user,
                password=password,
                user_credentials=str(creds) if creds is not None else None,
            )
            subscriptions = []
            if self.subjects.subject_job_event:
                subscriptions.append(
                    await client.subscribe(self.subjects.subject_job_event, cb=self._on_job_event)
                )
            if self.subjects.subject_node_state:
                subscriptions.append(
                    await client.subscribe(self.subjects.subject_node_state, cb=self._on_node_state)
                )
            await client.flush()
        except BaseException:
            with contextlib.suppress(Exception):
                await client.close()
            raise
        self._client, self._subscriptions = client, subscriptions
        self._last_error = None
        log.info(
            "NATS API: connected to %s, subscribed to %s",
            self.config.address,
            ", ".join(s.subject for s in subscriptions),
        )

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = _reason(exc)
        log.debug("NATS API: %s", self._last_error)

    async def _on_disconnected(self) -> None:
        if not self._stopped:
            log.warning("NATS API: disconnected from %s, reconnecting", self.config.address)

    async def _on_reconnected(self) -> None:
        log.info("NATS API: reconnected to %s", self.config.address)

    # -- messages -------------------------------------------------------------------------

    async def _on_job_event(self, msg: Msg) -> None:
        await self._handle(msg, self._job_point)

    async def _on_node_state(self, msg: Msg) -> None:
        await self._handle(msg, self._node_state_point)

    async def _handle(
        self, msg: Msg, handle_point: Callable[[str, Point], Awaitable[None]]
    ) -> None:
        """Decode ``msg`` point by point and hand each to ``handle_point``."""
        subject = msg.subject
        if not msg.data:
            self._reject(subject, "empty message")
            return
        try:
            for point in iter_points(msg.data):
                await handle_point(subject, point)
        except InvalidInput as exc:
            # A line that is not line protocol ends the message, as in cc-backend.
            self._reject(subject, exc.message)
        except Exception:
            self.stats["failed"] += 1
            log.exception("NATS API %s: handling a message failed", subject)

    async def _job_point(self, subject: str, point: Point) -> None:
        try:
            command = job_command(point)
        except InvalidInput as exc:
            self._reject(subject, exc.message)
            return
        if command is None:
            self.stats["ignored"] += 1
            log.debug(
                "NATS API %s: ignoring a %r point that is no job event", subject, point.measurement
            )
            return
        await self._run_job(subject, command)

    async def _node_state_point(self, subject: str, point: Point) -> None:
        try:
            command = node_state_command(point)
        except InvalidInput as exc:
            self._reject(subject, exc.message)
            return
        if command is None:
            self.stats["ignored"] += 1
            log.warning(
                "NATS API %s: ignoring a %r point that is no node state event",
                subject,
                point.measurement,
            )
            return
        await self._run_node_states(subject, command)

    async def _run_job(self, subject: str, command: JobCommand) -> None:
        if isinstance(command, StartJob):
            job = command.job
            started = await self._call(
                subject, "start_job", self.lifecycle.start_job, job, self.actor
            )
            if started is not None:
                self.stats["started"] += 1
                log.info(
                    "NATS API %s: started job (id %s): cluster=%s, jobId=%d",
                    subject,
                    started.id,
                    started.cluster,
                    started.job_id,
                )
            return
        request = command.request
        stopped = await self._call(
            subject, "stop_job", self.lifecycle.stop_job, request, self.actor
        )
        if stopped is not None:
            self.stats["stopped"] += 1
            log.info(
                "NATS API %s: stopped job (id %s): cluster=%s, jobId=%d, state=%s",
                subject,
                stopped.id,
                stopped.cluster,
                stopped.job_id,
                stopped.job_state.value,
            )

    async def _run_node_states(self, subject: str, command: UpdateNodeStates) -> None:
        stored = await self._call(
            subject,
            "nodestate",
            self.lifecycle.update_node_states,
            command.request,
            self.actor,
        )
        if stored is not None:
            self.stats["node_states"] += 1
            log.debug(
                "NATS API %s: %d node state(s) of cluster %s stored",
                subject,
                stored,
                command.request.cluster,
            )

    async def _call(
        self, subject: str, what: str, fn: Callable[..., _T], *args: object
    ) -> _T | None:
        """``fn(*args)`` in the executor; domain errors are logged and give ``None``."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, fn, *args)
        except AlreadyExists as exc:
            self.stats["duplicate"] += 1
            log.warning("NATS API %s: %s refused, duplicate: %s", subject, what, exc.message)
        except CCError as exc:
            self.stats["rejected"] += 1
            log.error("NATS API %s: %s refused (%s): %s", subject, what, exc.code, exc.message)
        return None

    def _reject(self, subject: str, reason: str) -> None:
        self.stats["rejected"] += 1
        log.error("NATS API %s: malformed message dropped: %s", subject, reason)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
