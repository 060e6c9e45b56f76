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

The connection (reconnects, an unreachable server at start, at-most-once delivery) is
:class:`~cc_backend.nats.connection.NatsSubscriber`'s.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from nats.aio.msg import Msg
from nats.aio.subscription import DEFAULT_SUB_PENDING_MSGS_LIMIT

from cc_backend.config.main_section import ApiSubjects
from cc_backend.config.services import NatsConfig
from cc_backend.domain.errors import AlreadyExists, CCError, InvalidInput
from cc_backend.domain.user import User
from cc_backend.nats.connection import MessageHandler, NatsSubscriber
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
from cc_backend.repository.write_batches import WriteBatcher
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


class NatsApi(NatsSubscriber):
    """cc-backend's NATS API: job start/stop events and node state updates.

    ``stats`` counts, per outcome (``"started"``, ``"stopped"``, ``"node_states"``,
    ``"duplicate"``, ``"rejected"``, ``"failed"``, ``"ignored"``), what happened to the
    points received, and as ``"dropped"`` the messages nats-py discarded because its buffer
    for the subscription was full; ``pending`` is the number of commands queued or running.
    """

    label = "NATS API"

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
        writes: WriteBatcher | None = None,
    ) -> None:
        """``drain_timeout`` bounds :meth:`stop`; ``queue_size`` is per worker;
        ``pending_limit`` is the number of messages nats-py keeps per subscription while
        the workers' queues are full (beyond it, messages are dropped and counted).
        ``writes`` runs the lifecycle calls with group commits (else: the executor)."""
        super().__init__(
            config,
            reconnect_wait=reconnect_wait,
            connect_timeout=connect_timeout,
            drain_timeout=drain_timeout,
            pending_limit=pending_limit,
        )
        self.lifecycle = lifecycle
        self.writes = writes
        self.subjects = subjects
        self.actor = actor
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

    @property
    def workers(self) -> tuple[int, int]:
        """Number of (job, node state) workers."""
        return self._jobs.workers, self._nodes.workers

    @property
    def pending(self) -> int:
        """Commands received and not handled yet (queued or running)."""
        return self._jobs.pending + self._nodes.pending

    def _subjects(self) -> list[tuple[str, MessageHandler]]:
        found: list[tuple[str, MessageHandler]] = []
        if self.subjects.subject_job_event:
            found.append((self.subjects.subject_job_event, self._on_job_event))
        if self.subjects.subject_node_state:
            found.append((self.subjects.subject_node_state, self._on_node_state))
        return found

    def _starting(self) -> None:
        for dispatcher in (self._jobs, self._nodes):
            if not dispatcher.started:
                dispatcher.start()

    async def _finish(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for dispatcher in (self._jobs, self._nodes):
            await dispatcher.close(deadline - time.monotonic())

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
        """``fn(*args)`` off the event loop; domain errors are logged and give ``None``."""
        try:
            if self.writes is not None:
                return await self.writes.run(fn, *args)
            return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
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
