"""The composition root: builds the site's backends from config and serves them.

One Tornado IOLoop on one port carries the Panel pages of ``app/`` and the HTTP handlers
of the API. Only this module (and test fixtures) constructs backends; handlers reach them
through the Tornado application settings.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import tornado.web

from cc_backend.archive import JobArchive, open_archive
from cc_backend.auth.sessions import SessionAuth
from cc_backend.config import Config, Secrets, load_config, load_secrets
from cc_backend.config.services import MetricStoreConfig
from cc_backend.domain.errors import ConfigError
from cc_backend.metricdata.dispatch import ArchiveDataCache, JobMetricData
from cc_backend.metricdata.registry import MetricDataSources
from cc_backend.metricdata.resample import ResamplingPolicy
from cc_backend.metricdata.resample import prepare as prepare_resampling
from cc_backend.metricstore.store import MetricStore
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.nodes import NodeRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.repository.userconfig import UserConfigRepository
from cc_backend.repository.users import UserRepository
from cc_backend.repository.write_batches import WriteBatcher
from cc_backend.services.archiving import Archiver
from cc_backend.services.cluster_status import ClusterStatusReader
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.services.job_changes import JobChanges
from cc_backend.services.job_lifecycle import JobLifecycle
from cc_backend.services.job_metric_stats import JobMetricStats
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.services.node_overview import NodeOverview
from cc_backend.services.roofline_heatmap import RooflineHeatmaps
from cc_backend.site import site_database_url
from cc_backend.stats.site_index import SiteIndex
from cc_backend.tasks.periodic import PeriodicTasks
from cc_backend.tasks.running_jobs import refresh_durations, refresh_footprints
from cc_backend.web.auth import ApiAuthenticator
from cc_backend.web.routes import api_routes, graphql_routes
from cc_backend.web.swagger import swagger_routes

if TYPE_CHECKING:
    from app.site import AppSite
    from cc_backend.nats.connection import NatsSubscriber
    from cc_backend.nats.metrics import NatsMetricIngest
    from cc_backend.nats.subscriber import NatsApi

log = logging.getLogger(__name__)


@dataclass
class Backends:
    """Everything a request handler may need, built once per process."""

    config: Config
    secrets: Secrets
    db: Database
    archive: JobArchive
    jobs: JobRepository
    users: UserRepository
    tags: TagRepository
    user_config: UserConfigRepository
    nodes: NodeRepository
    clusters: ClusterCatalog
    metric_store: MetricStore | None
    metric_data: MetricDataSources
    job_metric_data: JobMetricData
    statistics_index: SiteIndex
    job_statistics: JobStatistics
    roofline_heatmaps: RooflineHeatmaps
    node_overview: NodeOverview
    cluster_status: ClusterStatusReader
    job_metric_stats: JobMetricStats
    archiving: Archiver
    lifecycle: JobLifecycle
    job_changes: JobChanges
    authenticator: ApiAuthenticator
    #: Runs the scheduler's writes (job starts and stops, node states) with group commits.
    writes: WriteBatcher

    def close(self) -> None:
        self.writes.close()
        self.job_statistics.close()
        self.metric_data.close()
        self.archive.close()
        self.db.close()


def build_backends(config: Config, secrets: Secrets) -> Backends:
    """Open the database (adopting or upgrading its schema), the job archive and the
    built-in metric store (restoring its checkpoints), and build the services.

    Nothing runs in the background yet: :func:`start_background_work` starts the archiver
    and the periodic tasks. A metric data repository whose configuration is wrong raises
    :class:`~cc_backend.domain.errors.ConfigError` before anything is opened.
    """
    MetricDataSources.check_config(config, secrets)
    archive = open_archive(config.archive, secrets)
    db = open_database(site_database_url(config))
    jobs, tags, users = JobRepository(db), TagRepository(db), UserRepository(db)
    nodes = NodeRepository(db)
    clusters = ClusterCatalog(archive)
    metric_store = _open_metric_store(config, clusters)
    metric_data = MetricDataSources(config, clusters.get, metric_store, secrets)
    statistics_index = SiteIndex(archive)
    job_statistics = JobStatistics(
        db,
        clusters,
        statistics_index.index(),
        short_seconds=config.main.short_running_jobs_duration,
    )
    archiving = Archiver(
        jobs,
        tags,
        archive,
        clusters,
        metric_data,
        on_archived=lambda job: statistics_index.upsert([job]),
    )
    return Backends(
        config=config,
        secrets=secrets,
        db=db,
        archive=archive,
        jobs=jobs,
        users=users,
        tags=tags,
        user_config=UserConfigRepository(db),
        nodes=nodes,
        clusters=clusters,
        metric_store=metric_store,
        metric_data=metric_data,
        job_metric_data=JobMetricData(
            metric_data,
            ArchiveDataCache(archive),
            cluster_of=clusters.get,
            resampling=ResamplingPolicy.from_config(config.main.resampling),
        ),
        statistics_index=statistics_index,
        job_statistics=job_statistics,
        roofline_heatmaps=RooflineHeatmaps(
            job_statistics,
            jobs,
            metric_data,
            lookback=_metric_retention(config),
        ),
        node_overview=NodeOverview(clusters.get, nodes, metric_data),
        cluster_status=ClusterStatusReader(clusters.get, metric_data),
        job_metric_stats=JobMetricStats(
            job_statistics,
            jobs,
            metric_data,
            archive=archive,
            lookback=_metric_retention(config),
        ),
        archiving=archiving,
        lifecycle=JobLifecycle(jobs, tags, nodes, clusters, archiving),
        job_changes=JobChanges(jobs, tags, archive, index=statistics_index),
        authenticator=ApiAuthenticator.from_config(config, secrets, users.get),
        writes=WriteBatcher(db),
    )


def _metric_retention(config: Config) -> float | None:
    """How far back metric stores keep data: the built-in store's ``retention-in-memory``
    (None: no limit)."""
    settings = config.metric_store or MetricStoreConfig()
    return settings.retention_in_memory.total_seconds() or None


def _open_metric_store(config: Config, clusters: ClusterCatalog) -> MetricStore | None:
    """The built-in metric store, checkpoints restored, for the clusters that use it
    (``None`` when every cluster of the archive reads its metrics elsewhere)."""
    names = clusters.names()
    internal = [name for name in names if _uses_builtin_store(config, name)]
    if names and not internal:
        return None
    settings = config.metric_store or MetricStoreConfig()
    return MetricStore.open([clusters.get(name) for name in internal], settings)


def _uses_builtin_store(config: Config, cluster: str) -> bool:
    entry = config.cluster_config(cluster)
    return entry is None or entry.metric_data_repository.kind == "cc-metric-store-internal"


def start_background_work(backends: Backends) -> PeriodicTasks:
    """Start the archiver (queueing jobs stopped before the last shutdown) and the
    periodic tasks: running jobs' durations and footprints, the metric store's
    checkpoints and retention. Returns the tasks, for :func:`stop_background_work`."""
    backends.archiving.start()
    threading.Thread(target=prepare_resampling, name="prepare-resampling", daemon=True).start()
    tasks = PeriodicTasks()
    cron = backends.config.cron
    tasks.add(
        "durations",
        cron.duration_worker.total_seconds(),
        lambda: refresh_durations(backends.jobs),
    )
    tasks.add(
        "footprints",
        cron.footprint_worker.total_seconds(),
        lambda: refresh_footprints(backends.jobs, backends.clusters, backends.metric_data),
    )
    store = backends.metric_store
    if store is not None:
        settings = backends.config.metric_store or MetricStoreConfig()
        interval = settings.checkpoints.interval or settings.checkpoint_interval
        if interval is not None:
            tasks.add("checkpoints", interval.total_seconds(), store.checkpoint, run_at_stop=True)
        retention = settings.retention_in_memory.total_seconds()
        if retention > 0:
            tasks.add("retention", min(retention / 2, 3600.0), store.apply_retention)
    tasks.start()
    return tasks


def stop_background_work(backends: Backends, tasks: PeriodicTasks, timeout: float = 30.0) -> None:
    """Archive what is queued (up to ``timeout`` seconds; the rest is archived after the
    next start) and stop the periodic tasks (a last metric store checkpoint)."""
    backends.archiving.stop(timeout)
    tasks.stop(timeout)


def make_api_app(
    backends: Backends, *, dev: bool = False, **settings: Any
) -> tornado.web.Application:
    """A Tornado application serving only the REST API (no Panel pages): for tests,
    benchmarks and embedding; ``dev`` adds Swagger UI. ``settings`` go to the application."""
    routes = api_routes(backends) + graphql_routes(backends, dev=dev)
    routes += swagger_routes() if dev else []
    return tornado.web.Application(routes, backends=backends, **settings)


def make_nats_api(backends: Backends) -> NatsApi | None:
    """The NATS API of the site, if both ``nats`` and ``main.api-subjects`` are configured;
    it acts as the service user ``nats`` (role ``api``) and is not started yet."""
    config = backends.config
    if config.nats is None or config.main.api_subjects is None:
        return None
    from cc_backend.nats.subscriber import NATS_ACTOR, NatsApi  # noqa: PLC0415 - only if used

    return NatsApi(
        backends.lifecycle,
        config.nats,
        config.main.api_subjects,
        NATS_ACTOR,
        writes=backends.writes,
    )


def make_nats_metric_ingest(backends: Backends) -> NatsMetricIngest | None:
    """Metric ingestion over NATS into the built-in store, if ``nats`` and
    ``metric-store.subscriptions`` are configured; not started yet."""
    config = backends.config
    store = backends.metric_store
    if config.nats is None or store is None or config.metric_store is None:
        return None
    if not config.metric_store.subscriptions:
        return None
    from cc_backend.nats.metrics import NatsMetricIngest  # noqa: PLC0415 - only if used

    return NatsMetricIngest(store, config.nats, config.metric_store.subscriptions)


def parse_addr(addr: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``:PORT`` means all interfaces); raise ConfigError if malformed."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError([f"main.addr: expected HOST:PORT, got {addr!r}"])
    return host.strip("[]") or "0.0.0.0", int(port)


def serve(config_path: Path, *, addr: str | None = None, dev: bool = False) -> int:
    """Run the server until SIGINT/SIGTERM; return the exit code.

    One port carries the web app's pages (each needs a login session; see ``app/site.py``),
    the login routes, the REST and GraphQL APIs and, with ``dev``, Swagger UI and GraphiQL.
    Every asset is served from this process (Panel's and Bokeh's bundled files).
    """
    config = load_config(config_path)
    secrets = load_secrets(config_path)
    host, port = parse_addr(addr or config.main.addr)
    backends = build_backends(config, secrets)
    try:
        server = make_web_server(backends, secrets, host, port, dev=dev)
    except BaseException:
        backends.close()
        raise
    loop = server.io_loop
    subscribers = [
        found
        for found in (make_nats_api(backends), make_nats_metric_ingest(backends))
        if found is not None
    ]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("received %s, shutting down", signal.Signals(signum).name)
        loop.add_callback_from_signal(_shutdown, server, loop, subscribers)

    _install_handlers(stop)
    tasks = start_background_work(backends)
    server.start()
    for subscriber in subscribers:
        loop.add_callback(subscriber.start)
    log.info("serving on http://%s:%d/", host, port)
    freeze_startup_objects()
    try:
        loop.start()
    finally:
        stop_background_work(backends, tasks)
        backends.close()
        log.info("stopped")
    return 0


def freeze_startup_objects() -> None:
    """Exempt what start-up created (modules, classes, the site's catalogues: about
    300,000 objects) from the garbage collector's full collections.

    Panel runs a full collection on the event loop after sessions end, and Python runs
    them as objects accumulate; each scanned every object of the process, 0.3 s here, in
    the middle of other users' page loads. Collected first, so no garbage is kept.
    """
    gc.collect()
    gc.freeze()


def make_web_server(
    backends: Backends, secrets: Secrets, host: str, port: int, *, dev: bool = False
) -> Any:
    """The server of :func:`serve` for ``backends``, listening on ``host:port`` but not
    started (``server.start()``, then run ``server.io_loop``): the web app's pages, the
    login routes, the REST and GraphQL APIs. Raises :class:`ConfigError` when the address
    cannot be bound. Serving it in a thread of another program (benchmarks) is allowed."""
    import panel as pn  # noqa: PLC0415 - the web stack loads only for `serve`

    from app import site as web_app  # noqa: PLC0415

    cookie_secret = _cookie_secret(secrets)
    pages = _app_site(backends, cookie_secret)
    web_app.configure_panel(pages)
    try:
        return pn.serve(  # type: ignore[no-untyped-call]
            web_app.panel_apps(pages),
            port=port,
            address=host,
            show=False,
            start=False,
            title="ClusterCockpit",
            websocket_origin=websocket_origins(host, port, backends.config),
            cookie_secret=cookie_secret,
            auth_provider=web_app.auth_provider(pages),
            autoreload=dev,
            extra_patterns=api_routes(backends)
            + web_app.extra_routes(pages)
            + graphql_routes(backends, dev=dev)
            + (swagger_routes() if dev else []),
        )
    except OSError as exc:
        raise ConfigError([f"main.addr: cannot listen on {host}:{port}: {exc.strerror}"]) from None


def _app_site(backends: Backends, cookie_secret: str) -> AppSite:
    """What the web app needs: the login sessions and a client acting as a given user."""
    from app.auth import SessionUsers  # noqa: PLC0415 - the web app loads only for `serve`
    from app.site import AppSite  # noqa: PLC0415
    from cc_backend.client.local import LocalClient  # noqa: PLC0415

    sessions = SessionAuth.from_config(backends.config, backends.users.get)
    return AppSite(
        users=SessionUsers(sessions, cookie_secret),
        client_for=lambda user: LocalClient(backends, user),
    )


def websocket_origins(host: str, port: int, config: Config) -> list[str]:
    """The hosts whose pages may open the pages' websockets: ``127.0.0.1`` and
    ``localhost`` on ``port``, the listening host (the machine's name when listening on
    every interface), and the public host of ``main.redirect-http-to`` (any port)."""
    hosts = {"127.0.0.1", "localhost", host}
    if host in ("0.0.0.0", "::", ""):
        hosts |= {socket.gethostname(), socket.getfqdn()}
    origins = {f"{h}:{port}" for h in hosts if h not in ("0.0.0.0", "::", "")}
    public = urlsplit(config.main.redirect_http_to or "").hostname
    if public:
        origins.add(public)
    return sorted(origins)


async def _shutdown(server: Any, loop: Any, subscribers: list[NatsSubscriber]) -> None:
    """Stop accepting connections and NATS messages (handling what was received); the
    caller then drains the archiving queue and closes the backends once the loop ended."""
    server.stop()
    try:
        for subscriber in subscribers:
            await subscriber.stop()
    finally:
        loop.stop()


def _cookie_secret(secrets: Secrets) -> str:
    """The key that signs session cookies: ``SESSION_KEY``, or a random one for this process
    (sessions then end with a restart), with a warning."""
    if secrets.session_key is not None and secrets.session_key.get_secret_value().strip():
        return secrets.session_key.get_secret_value()
    log.warning("SESSION_KEY not set: using a random key, so logins end when the server stops")
    return token_hex(32)


def _install_handlers(handler: Callable[[int, FrameType | None], None]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
