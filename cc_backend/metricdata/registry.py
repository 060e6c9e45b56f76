"""Which metric data backend serves which cluster, built from config on first use.

A cluster's ``metricDataRepository.kind`` selects its backend; a cluster without an entry in
``clusters`` (e.g. one added by dropping its ``cluster.json`` into the archive) uses the
built-in metric store. Backends are created once per cluster and shared by all threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from cc_backend.config import Config
from cc_backend.config.clusters import MetricDataRepository as RepositoryConfig
from cc_backend.config.secrets import Secrets
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import BackendUnavailable, ConfigError
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.metricdata.ccms import CCMetricStoreData, HttpQueryTransport
from cc_backend.metricdata.influxdb import influxdb_from_config
from cc_backend.metricdata.prometheus import PASSWORD_ENV, prometheus_from_config

if TYPE_CHECKING:
    from cc_backend.metricstore.store import MetricStore

__all__ = ["MetricDataSources"]

log = logging.getLogger(__name__)


class MetricDataSources:
    """``sources(cluster_name)`` -> that cluster's :class:`MetricDataRepository`.

    Raises :class:`BackendUnavailable` for a cluster whose backend cannot serve data (the
    built-in store is disabled, or its kind is not supported by this version).
    A misconfigured backend raises :class:`~cc_backend.domain.errors.ConfigError`.
    """

    def __init__(
        self,
        config: Config,
        cluster_of: Callable[[str], Cluster],
        store: MetricStore | None,
        secrets: Secrets | None = None,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.cluster_of = cluster_of
        self.store = store
        self._built: dict[str, MetricDataRepository] = {}
        self._lock = threading.Lock()

    def __call__(self, cluster: str) -> MetricDataRepository:
        found = self._built.get(cluster)
        if found is not None:
            return found
        with self._lock:
            found = self._built.get(cluster)
            if found is None:
                found = self._build(cluster)
                self._built[cluster] = found
        return found

    def _build(self, cluster: str) -> MetricDataRepository:
        entry = self.config.cluster_config(cluster)
        settings = entry.metric_data_repository if entry is not None else RepositoryConfig()
        kind = settings.kind
        if kind == "cc-metric-store-internal":
            if self.store is None:
                raise BackendUnavailable(
                    f"cluster {cluster}: the built-in metric store is not running"
                )
            return CCMetricStoreData(self.cluster_of, self.store.query)
        if kind == "cc-metric-store":
            assert settings.url is not None  # the config requires it for this kind
            token = settings.token.get_secret_value() if settings.token is not None else None
            renamings = (settings.model_extra or {}).get("metricRenamings") or {}
            log.info("cluster %s: metric data from cc-metric-store at %s", cluster, settings.url)
            return CCMetricStoreData(
                self.cluster_of,
                HttpQueryTransport(settings.url, token),
                renamings={str(k): str(v) for k, v in dict(renamings).items()},
            )
        if kind == "prometheus":
            log.info("cluster %s: metric data from Prometheus at %s", cluster, settings.url)
            password = self.secrets.prometheus_password if self.secrets is not None else None
            environ = {PASSWORD_ENV: password.get_secret_value()} if password is not None else {}
            return prometheus_from_config(self.cluster_of, settings, environ=environ)
        if kind == "influxdb":
            log.info("cluster %s: metric data from InfluxDB at %s", cluster, settings.url)
            return influxdb_from_config(self.cluster_of, settings)
        raise BackendUnavailable(
            f"cluster {cluster}: metric data repository kind {kind!r} is not supported "
            f"by this version (supported: cc-metric-store-internal, cc-metric-store, "
            f"prometheus, influxdb)"
        )

    @classmethod
    def check_config(cls, config: Config, secrets: Secrets | None = None) -> None:
        """Build (and close again) the backend of every cluster whose config names an
        external repository, so that a misconfigured one is reported at start-up, before
        anything is opened. No backend is contacted and no cluster is looked up.

        Raises :class:`ConfigError` listing the problems of every such cluster.
        """
        sources = cls(config, _no_cluster_lookup, None, secrets)
        problems: list[str] = []
        try:
            for index, entry in enumerate(config.clusters):
                if entry.metric_data_repository.kind == "cc-metric-store-internal":
                    continue
                try:
                    sources(entry.name)
                except ConfigError as exc:
                    where = f"clusters[{index}] ({entry.name})"
                    problems.extend(f"{where}: {problem}" for problem in exc.problems)
                except BackendUnavailable:
                    pass  # a kind this version does not serve is reported when it is used
        finally:
            sources.close()
        if problems:
            raise ConfigError(problems)

    def close(self) -> None:
        """Close every backend built so far."""
        with self._lock:
            for backend in self._built.values():
                backend.close()
            self._built.clear()


def _no_cluster_lookup(name: str) -> Cluster:
    raise AssertionError(f"cluster {name} looked up while only checking the configuration")
