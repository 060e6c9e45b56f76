"""Metric ingestion over NATS: line protocol from node agents into the built-in store.

With a ``nats`` connection and ``metric-store.subscriptions`` configured, each subscription
(``subscribe-to`` subject, optional ``cluster-tag`` for lines without a ``cluster`` tag)
feeds the messages it receives to :meth:`MetricStore.ingest`, off the event loop, exactly
as ``POST /api/write`` does: good lines are stored, refused ones counted and logged (the
first few of each message, with the subject). Messages are ingested in arrival order per
subscription.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from nats.aio.msg import Msg

from cc_backend.config.services import NatsConfig, Subscription
from cc_backend.metricstore.store import MetricStore
from cc_backend.nats.connection import MessageHandler, NatsSubscriber

__all__ = ["NatsMetricIngest"]

log = logging.getLogger(__name__)

#: Refused lines of one message named in the log.
_LOGGED_ERRORS = 3


class NatsMetricIngest(NatsSubscriber):
    """Feeds line protocol received on the configured subjects into ``store``.

    ``stats`` counts ``"messages"``, ``"written"`` (samples stored) and ``"rejected"``
    (lines refused), besides the connection's ``"dropped"``.
    """

    label = "NATS metrics"

    def __init__(
        self,
        store: MetricStore,
        config: NatsConfig,
        subscriptions: Sequence[Subscription],
        *,
        reconnect_wait: float = 2.0,
        connect_timeout: float = 5.0,
        drain_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            config,
            reconnect_wait=reconnect_wait,
            connect_timeout=connect_timeout,
            drain_timeout=drain_timeout,
        )
        self.store = store
        self.subscriptions = list(subscriptions)

    def _subjects(self) -> list[tuple[str, MessageHandler]]:
        return [(s.subscribe_to, self._handler(s.cluster_tag)) for s in self.subscriptions]

    def _handler(self, cluster: str | None) -> MessageHandler:
        async def ingest(msg: Msg) -> None:
            await self._ingest(msg.subject, msg.data, cluster)

        return ingest

    async def _ingest(self, subject: str, payload: bytes, cluster: str | None) -> None:
        self.stats["messages"] += 1
        if not payload.strip():
            return
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                None, lambda: self.store.ingest(payload, cluster=cluster)
            )
        except Exception:  # the subscription must survive whatever one message does
            self.stats["failed"] += 1
            log.exception("%s %s: ingesting a message failed", self.label, subject)
            return
        self.stats["written"] += result.written
        if result.rejected:
            self.stats["rejected"] += result.rejected
            shown = "; ".join(str(e) for e in result.errors[:_LOGGED_ERRORS])
            log.warning(
                "%s %s: %d line(s) refused, %d value(s) stored (%s%s)",
                self.label,
                subject,
                result.rejected,
                result.written,
                shown,
                "; ..." if result.rejected > _LOGGED_ERRORS else "",
            )
