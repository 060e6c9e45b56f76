"""The job and node-state API over NATS: subscribes, decodes, calls :class:`JobLifecycle`.

Messages are decoded as they arrive, in the subscription's callback; the commands they carry
are then run in parallel while keeping the order that matters:

- job commands are spread over ``job-concurrency`` workers (``main.api-subjects``; default
  :data:`DEFAULT_JOB_CONCURRENCY`) by their ``jobId``, so all commands about one job are
  applied one after the other in arrival order (a stop never overtakes its start, also when
  the stop leaves out the cluster), while other jobs are handled at the same time;
- node state updates are spread over ``node-concurrency`` workers (default
  :data:`DEFAULT_NODE_CONCURRENCY`) by their cluster, so the updates of one cluster keep
  their order.

Each worker calls the lifecycle (SQL, archive I/O) in the event loop's default executor.
Each worker queues at most ``queue_size`` commands; when a queue is full the subscription
waits (back-pressure) instead of dropping a command, and nats-py holds the messages that
arrive meanwhile, up to ``pending_limit`` per subscription (beyond that nats-py drops them;
the loss is counted and logged). :meth:`NatsApi.stop` drains: it stops taking messages,
lets everything already received finish (up to ``drain_timeout`` seconds) and then closes
the connection.

A message that cannot be decoded or that the service refuses is logged with its subject and
the reason and dropped; the subscriber keeps going. The message forms are described in
:mod:`cc_backend.nats.messages` (line protocol, and plain JSON on the job event subject).

The connection survives server restarts (unlimited reconnect attempts). If the server is
unreachable when :meth:`NatsApi.start` is called, a warning is logged, :meth:`start`
returns, and connecting goes on in the background until it succeeds. Core NATS delivers at
most once: what is published while the connection is down, or before the server has the
subscriptions again after a reconnect, is not received.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import DEFAULT_SUB_PENDING_MSGS_LIMIT, Subscription
from nats.errors import SlowConsumerError

from cc_backend.config.main_section import ApiSubjects
from cc_backend.config.services import NatsConfig
from cc_backend.domain.errors import AlreadyExists, CCError, InvalidInput
from cc_backend.domain.user import User
from cc_backend.nats.dispatch import KeyedDispatcher
from cc_backend.nats.messages import (
    JobCommand,
    StartJob,
    UpdateNodeStates,
    command_job_id,
    is_plain_json,
    iter_points,
    job_command,
    node_state_command,
    plain_job_command,
)
from cc_backend.services.job_lifecycle import JobLifecycle

__all__ = [
    "DEFAULT_JOB_CONCURRENCY",
    "DEFAULT_NODE_CONCURRENCY",
    "DEFAULT_QUEUE_SIZE",
    "NATS_ACTOR",
    "NatsApi",
]

log = logging.getLogger(__name__)

#: The user NATS messages act as: a service account with the ``api`` role.
NATS_ACTOR = User.build("nats", ["api"])

#: Job workers when ``main.api-subjects.job-concurrency`` is unset (or below 1).
DEFAULT_JOB_CONCURRENCY = 8
#: Node state workers when ``main.api-subjects.node-concurrency`` is unset (or below 1).
DEFAULT_NODE_CONCURRENCY = 2
#: Commands each worker queues before the subscription waits for room.
DEFAULT_QUEUE_SIZE = 256

_T = TypeVar("_T")


def _workers(configured: int | None, default: int) -> int:
    return configured if configured is not None and configured >= 1 else default


class NatsApi:
    """cc-backend's NATS API: job start/stop events and node state updates.

    ``stats`` counts, per outcome (``"started"``, ``"stopped"``, ``"node_states"``,
    ``"duplicate"``, ``"rejected"``, ``"failed"``, ``"ignored"``), what happened to the
    points received, and as ``"dropped"`` the messages nats-py discarded because its buffer
    for the subscription was full; ``pending`` is the number of commands queued or running.
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
        drain_timeout: float = 30.0,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        pending_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
    ) -> None:
        """``drain_timeout`` bounds :meth:`stop`; ``queue_size`` is per worker;
        ``pending_limit`` is the number of messages nats-py keeps per subscription while
        the workers' queues are full (beyond it, messages are dropped and counted)."""
        self.lifecycle = lifecycle
        self.config = config
        self.subjects = subjects
        self.actor = actor
        self.reconnect_wait = reconnect_wait
        self.connect_timeout = connect_timeout
        self.drain_timeout = drain_timeout
        self.pending_limit = pending_limit
        self.stats: Counter[str] = Counter()
        self._jobs = KeyedDispatcher(
            "NATS API job events",
            _workers(subjects.job_concurrency, DEFAULT_JOB_CONCURRENCY),
            queue_size,
        )
        self._nodes = KeyedDispatcher(
            "NATS API node states",
            _workers(subjects.node_concurrency, DEFAULT_NODE_CONCURRENCY),
            queue_size,
        )
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

    @property
    def workers(self) -> tuple[int, int]:
        """Number of (job, node state) workers."""
        return self._jobs.workers, self._nodes.workers

    @property
    def pending(self) -> int:
        """Commands received and not handled yet (queued or running)."""
        return self._jobs.pending + self._nodes.pending

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
        for dispatcher in (self._jobs, self._nodes):
            if not dispatcher.started:
                dispatcher.start()
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
        """Stop connecting and receiving, finish what was received, close the connection.

        Commands already received are handled before this returns, for at most
        ``drain_timeout`` seconds in all; what is left then is logged and abandoned.
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
                log.debug("NATS API: drain failed (%s); closing", _reason(exc))
                await client.close()
            log.info("NATS API: connection closed")
        for dispatcher in (self._jobs, self._nodes):
            await dispatcher.close(deadline - time.monotonic())

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
                drain_timeout=self.drain_timeout,  # type: ignore[arg-type]
                user=user,
                password=password,
                user_credentials=str(creds) if creds is not None else None,
            )
            subscriptions = []
            limit = self.pending_limit
            if self.subjects.subject_job_event:
                subscriptions.append(
                    await client.subscribe(
                        self.subjects.subject_job_event,
                        cb=self._on_job_event,
                        pending_msgs_limit=limit,
                    )
                )
            if self.subjects.subject_node_state:
                subscriptions.append(
                    await client.subscribe(
                        self.subjects.subject_node_state,
                        cb=self._on_node_state,
                        pending_msgs_limit=limit,
                    )
                )
            # nats-py writes a flush's PING at once, possibly ahead of the SUB commands
            # still in its buffer: the second round trip is the one that proves the server
            # has registered the subscriptions (messages published before that are lost).
            await client.flush()
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
        if isinstance(exc, SlowConsumerError):
            # nats-py's buffer for the subscription is full: the message is lost.
            self.stats["dropped"] += 1
            if self.stats["dropped"] % 1000 == 1:
                log.warning(
                    "NATS API %s: falling behind, %d message(s) dropped so far",
                    exc.subject,
                    self.stats["dropped"],
                )
            return
        self._last_error = _reason(exc)
        log.debug("NATS API: %s", self._last_error)

    async def _on_disconnected(self) -> None:
        if not self._stopped:
            log.warning("NATS API: disconnected from %s, reconnecting", self.config.address)

    async def _on_reconnected(self) -> None:
        log.info("NATS API: reconnected to %s", self.config.address)

    # -- messages -------------------------------------------------------------------------

    async def _on_job_event(self, msg: Msg) -> None:
        """Decode a job event message and queue its commands, in order."""
        subject, data = msg.subject, msg.data
        if not data:
            self._reject(subject, "empty message")
            return
        try:
            if is_plain_json(data):
                await self._submit_job(subject, plain_job_command(data))
                return
            for point in iter_points(data):
                try:
                    command = job_command(point)
                except InvalidInput as exc:
                    self._reject(subject, exc.message)
                    continue
                if command is None:
                    self._ignore(subject, point.measurement, "job event", logging.DEBUG)
                    continue
                await self._submit_job(subject, command)
        except InvalidInput as exc:
            # A line that is not line protocol ends the message, as in cc-backend.
            self._reject(subject, exc.message)
        except Exception:
            self.stats["failed"] += 1
            log.exception("NATS API %s: handling a message failed", subject)

    async def _on_node_state(self, msg: Msg) -> None:
        """Decode a node state message and queue its updates, in order."""
        subject, data = msg.subject, msg.data
        if not data:
            self._reject(subject, "empty message")
            return
        try:
            for point in iter_points(data):
                try:
                    command = node_state_command(point)
                except InvalidInput as exc:
                    self._reject(subject, exc.message)
                    continue
                if command is None:
                    self._ignore(subject, point.measurement, "node state event", logging.WARNING)
                    continue
                run = functools.partial(self._run_node_states, subject, command)
                await self._nodes.submit(command.request.cluster, run)
        except InvalidInput as exc:
            self._reject(subject, exc.message)
        except Exception:
            self.stats["failed"] += 1
            log.exception("NATS API %s: handling a message failed", subject)

    async def _submit_job(self, subject: str, command: JobCommand) -> None:
        # Keyed by jobId alone: a stop without a cluster still follows its start.
        run = functools.partial(self._run_job, subject, command)
        await self._jobs.submit(command_job_id(command), run)

    def _ignore(self, subject: str, measurement: str, what: str, level: int) -> None:
        self.stats["ignored"] += 1
        log.log(level, "NATS API %s: ignoring a %r point that is no %s", subject, measurement, what)

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
        except Exception:
            self.stats["failed"] += 1
            log.exception("NATS API %s: %s failed", subject, what)
        return None

    def _reject(self, subject: str, reason: str) -> None:
        self.stats["rejected"] += 1
        log.error("NATS API %s: malformed message dropped: %s", subject, reason)


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
