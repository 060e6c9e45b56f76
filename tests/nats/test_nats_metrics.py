"""Metric ingestion over NATS into the built-in store, through a real nats-server."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client

from cc_backend.config.services import NatsConfig, Subscription
from cc_backend.metricstore.models import ApiQueryRequest
from cc_backend.nats.metrics import NatsMetricIngest
from cc_backend.server import Backends, make_nats_metric_ingest
from tests.metric_lines import TIMESTEP, node_samples, recent_start, to_payload
from tests.nats_server import NatsServer, wait_until
from tests.server_processes import free_port

SUBJECT = "cc.metrics"
STEPS = 5


@pytest.fixture
async def ingest(backends: Backends, nats_server: NatsServer) -> AsyncIterator[NatsMetricIngest]:
    assert backends.metric_store is not None
    subscriber = NatsMetricIngest(
        backends.metric_store,
        NatsConfig(address=nats_server.url),
        [
            Subscription(subscribe_to=SUBJECT),
            Subscription(subscribe_to=f"{SUBJECT}.fritz", cluster_tag="fritz"),
        ],
        reconnect_wait=0.2,
    )
    await subscriber.start()
    assert subscriber.is_connected
    yield subscriber
    await subscriber.stop()


def _mem_used(backends: Backends, host: str, start: int) -> list[float]:
    assert backends.metric_store is not None
    request = ApiQueryRequest.model_validate(
        {
            "cluster": "fritz",
            "from": start,
            "to": start + STEPS * TIMESTEP,
            "queries": [{"metric": "mem_used", "host": host}],
        }
    )
    [[result]] = backends.metric_store.query(request).results
    return [] if result.data is None else [v for v in result.data.tolist() if not math.isnan(v)]


async def test_line_protocol_published_on_a_subject_is_stored(
    backends: Backends, ingest: NatsMetricIngest, publisher: Client
) -> None:
    start = recent_start(STEPS)
    samples = node_samples(backends.clusters.get("fritz"), "f0101", ["mem_used"], start, STEPS)

    await publisher.publish(SUBJECT, to_payload(samples))
    await publisher.flush()

    await wait_until(lambda: len(_mem_used(backends, "f0101", start)) == STEPS, what="samples")
    assert _mem_used(backends, "f0101", start) == list(samples[0].values)
    # the count is updated once the write returns, just after the samples are readable
    await wait_until(lambda: ingest.stats["written"] == STEPS, what="the written count")


async def test_the_subscriptions_cluster_tag_fills_in_a_missing_cluster(
    backends: Backends, ingest: NatsMetricIngest, publisher: Client
) -> None:
    start = recent_start(STEPS)
    lines = [f"mem_used,hostname=f0102,type=node value=7 {start + TIMESTEP * i}" for i in range(3)]

    await publisher.publish(f"{SUBJECT}.fritz", "\n".join(lines).encode())
    await publisher.flush()

    await wait_until(lambda: len(_mem_used(backends, "f0102", start)) == 3, what="samples")


async def test_bad_lines_are_counted_and_logged_and_good_ones_kept(
    backends: Backends,
    ingest: NatsMetricIngest,
    publisher: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start = recent_start(STEPS)
    payload = (
        f"mem_used,cluster=fritz,hostname=f0103,type=node value=1 {start}\n"
        f"no_such_metric,cluster=fritz,hostname=f0103,type=node value=1 {start}\n"
        f"mem_used,cluster=fritz,hostname=../etc,type=node value=1 {start}\n"
        "this is not line protocol\n"
    ).encode()

    with caplog.at_level(logging.WARNING):
        await publisher.publish(SUBJECT, payload)
        await publisher.flush()
        await wait_until(lambda: ingest.stats["rejected"] == 3, what="3 refused lines")

    assert _mem_used(backends, "f0103", start) == [1.0]
    assert f"NATS metrics {SUBJECT}: 3 line(s) refused, 1 value(s) stored" in caplog.text
    assert ingest.is_connected  # the subscription goes on


async def test_an_unreachable_server_is_a_warning_not_a_failure(
    backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    assert backends.metric_store is not None
    subscriber = NatsMetricIngest(
        backends.metric_store,
        NatsConfig(address=f"nats://127.0.0.1:{free_port()}"),
        [Subscription(subscribe_to=SUBJECT)],
        connect_timeout=0.3,
        reconnect_wait=0.1,
    )
    with caplog.at_level(logging.WARNING):
        await subscriber.start()
    await subscriber.stop()

    assert not subscriber.is_connected
    assert "NATS metrics: cannot connect" in caplog.text


@pytest.mark.parametrize(
    "site_config",
    [
        {
            "nats": {"address": "nats://127.0.0.1:4222"},
            "metric-store": {"subscriptions": [{"subscribe-to": "m", "cluster-tag": "fritz"}]},
        }
    ],
)
def test_the_site_subscribes_when_configured(backends: Backends, api_site: Path) -> None:
    made = make_nats_metric_ingest(backends)
    assert made is not None
    assert [s.subscribe_to for s in made.subscriptions] == ["m"]


def test_without_subscriptions_nothing_subscribes(backends: Backends) -> None:
    assert make_nats_metric_ingest(backends) is None
