"""The composition root: builds the site's backends from config and serves them.

One Tornado IOLoop on one port carries the Panel pages of ``app/`` and the HTTP handlers
of the API. Only this module (and test fixtures) constructs backends; handlers reach them
through the Tornado application settings.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from secrets import token_hex
from types import FrameType
from typing import TYPE_CHECKING, Any

import tornado.web

from cc_backend import __version__
from cc_backend.archive import JobArchive, open_archive
from cc_backend.config import Config, Secrets, load_config, load_secrets
from cc_backend.domain.errors import ConfigError
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.nodes import NodeRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.repository.userconfig import UserConfigRepository
from cc_backend.repository.users import UserRepository
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.services.job_changes import JobChanges
from cc_backend.services.job_lifecycle import JobLifecycle, PendingArchiving
from cc_backend.site import site_database_url
from cc_backend.web.auth import ApiAuthenticator
from cc_backend.web.routes import api_routes
from cc_backend.web.swagger import swagger_routes

if TYPE_CHECKING:
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
    archiving: PendingArchiving
    lifecycle: JobLifecycle
    job_changes: JobChanges
    authenticator: ApiAuthenticator

    def close(self) -> None:
        self.archive.close()
        self.db.close()


def build_backends(config: Config, secrets: Secrets) -> Backends:
    """Open the database (adopting or upgrading its schema) and the job archive, and build
    the repositories."""
    archive = open_archive(config.archive, secrets)
    db = open_database(site_database_url(config))
    jobs, tags, users = JobRepository(db), TagRepository(db), UserRepository(db)
    nodes = NodeRepository(db)
    clusters = ClusterCatalog(archive)
    archiving = PendingArchiving()
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
        archiving=archiving,
        lifecycle=JobLifecycle(jobs, tags, nodes, clusters, archiving),
        job_changes=JobChanges(jobs, tags, archive),
        authenticator=ApiAuthenticator.from_config(config, secrets, users.get),
    )


def make_api_app(
    backends: Backends, *, dev: bool = False, **settings: Any
) -> tornado.web.Application:
    """A Tornado application serving only the REST API (no Panel pages): for tests,
    benchmarks and embedding; ``dev`` adds Swagger UI. ``settings`` go to the application."""
    routes = api_routes(backends) + (swagger_routes() if dev else [])
    return tornado.web.Application(routes, backends=backends, **settings)


def make_nats_api(backends: Backends) -> NatsApi | None:
    """The NATS API of the site, if both ``nats`` and ``main.api-subjects`` are configured;
    it acts as the service user ``nats`` (role ``api``) and is not started yet."""
    config = backends.config
    if config.nats is None or config.main.api_subjects is None:
        return None
    from cc_backend.nats.subscriber import NATS_ACTOR, NatsApi  # noqa: PLC0415 - only if used

    return NatsApi(backends.lifecycle, config.nats, config.main.api_subjects, NATS_ACTOR)


def parse_addr(addr: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``:PORT`` means all interfaces); raise ConfigError if malformed."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError([f"main.addr: expected HOST:PORT, got {addr!r}"])
    return host.strip("[]") or "0.0.0.0", int(port)


def site_summary(backends: Backends) -> dict[str, Any]:
    """Figures for the overview page."""
    return {
        "version": __version__,
        "clusters": sorted(
            {c.name for c in backends.config.clusters} | set(backends.archive.clusters())
        ),
        "jobs": backends.jobs.count(actor=None),
        "users": backends.users.count(),
    }


def serve(config_path: Path, *, addr: str | None = None, dev: bool = False) -> int:
    """Run the server until SIGINT/SIGTERM; return the exit code."""
    import panel as pn  # noqa: PLC0415 - the web stack loads only for `serve`

    from app.pages import overview_page  # noqa: PLC0415

    config = load_config(config_path)
    secrets = load_secrets(config_path)
    host, port = parse_addr(addr or config.main.addr)
    backends = build_backends(config, secrets)

    def overview() -> Any:
        return overview_page(site_summary(backends))

    origins = [f"{h}:{port}" for h in {host, "127.0.0.1", "localhost"}]
    cookie_secret = _cookie_secret(secrets)
    try:
        server = pn.serve(  # type: ignore[no-untyped-call]
            {"/": overview},
            port=port,
            address=host,
            show=False,
            start=False,
            title="ClusterCockpit",
            websocket_origin=origins,
            cookie_secret=cookie_secret,
            autoreload=dev,
            extra_patterns=api_routes(backends) + (swagger_routes() if dev else []),
        )
    except OSError as exc:
        backends.close()
        raise ConfigError([f"main.addr: cannot listen on {host}:{port}: {exc.strerror}"]) from None
    loop = server.io_loop
    nats_api = make_nats_api(backends)
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("received %s, shutting down", signal.Signals(signum).name)
        loop.add_callback_from_signal(_shutdown, server, loop, nats_api)

    _install_handlers(stop)
    server.start()
    if nats_api is not None:
        loop.add_callback(nats_api.start)
    log.info("serving on http://%s:%d/", host, port)
    try:
        loop.start()
    finally:
        backends.close()
        log.info("stopped")
    return 0


async def _shutdown(server: Any, loop: Any, nats_api: NatsApi | None) -> None:
    server.stop()
    try:
        if nats_api is not None:
            await nats_api.stop()
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
