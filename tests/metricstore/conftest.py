"""Fixtures of the metric store tests: the demo clusters, a settable clock and stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cc_backend.config.services import MetricStoreConfig
from cc_backend.demo.clusters import demo_clusters
from cc_backend.domain.cluster import Cluster
from cc_backend.metricstore import MetricStore, SeriesKey, format_line

#: A round time in the past all tests start at (2023-11-14 22:13:20 UTC).
T0 = 1_700_000_000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def clock() -> Clock:
    """The store's notion of "now", starting one day after :data:`T0`."""
    return Clock(T0 + 86_400)


@pytest.fixture(scope="session")
def clusters() -> list[Cluster]:
    """The demo clusters fritz (CPU) and alex (GPU), all metrics at a 60 s time step."""
    return demo_clusters()


MakeStore = Callable[..., MetricStore]


@pytest.fixture
def make_store(clusters: list[Cluster], clock: Clock, tmp_path: Path) -> MakeStore:
    """``make_store(**config)``: a store over the demo clusters with checkpoints in a temp
    folder; keyword arguments are ``metric-store`` config keys (``retention-in-memory``...)."""

    def build(**config: Any) -> MetricStore:
        settings: dict[str, Any] = {
            "checkpoints": {"file-format": "json", "directory": str(tmp_path / "checkpoints")}
        }
        settings.update({key.replace("_", "-"): value for key, value in config.items()})
        return MetricStore(clusters, MetricStoreConfig.model_validate(settings), clock=clock)

    return build


@pytest.fixture
def store(make_store: MakeStore) -> MetricStore:
    """A store with the default retention (48 h)."""
    return make_store()


def lines(*samples: tuple[SeriesKey, float, int]) -> bytes:
    """A payload of one line per ``(key, value, timestamp)``."""
    return "".join(format_line(key, value, ts) + "\n" for key, value, ts in samples).encode()


def node(host: str, metric: str, cluster: str = "fritz") -> SeriesKey:
    """The key of a node-level series."""
    return SeriesKey(cluster, host, (), metric)


def below(host: str, metric: str, *path: str, cluster: str = "fritz") -> SeriesKey:
    """The key of a series below the node, e.g. ``below("f0101", "cpu_user", "hwthread3")``."""
    return SeriesKey(cluster, host, tuple(path), metric)
