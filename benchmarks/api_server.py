"""The site's API app served in a thread of a benchmark, with the trivial handlers its
figures are compared against.

:class:`ApiServer` serves ``make_api_app(backends)`` on a free loopback port with an event
loop of its own (blocking work in that loop's thread pool, as in production) plus two
baselines: ``GET /bench/ping`` (a constant JSON body, the cheapest request the app can
serve) and ``POST /bench/sink`` (reads the body and answers its size, the cheapest write).
The pool profiles its tasks while :meth:`ApiServer.profiling` is on.
"""

from __future__ import annotations

import asyncio
import cProfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from cc_backend.server import Backends, make_api_app

__all__ = ["PING_PATH", "SINK_PATH", "ApiServer", "ProfilingExecutor"]

PING_PATH = "/bench/ping"
SINK_PATH = "/bench/sink"

T = TypeVar("T")


class PingHandler(tornado.web.RequestHandler):
    """``GET /bench/ping``: a constant JSON body."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(b'{"msg":"pong"}')


class SinkHandler(tornado.web.RequestHandler):
    """``POST /bench/sink``: reads the body and answers its size."""

    def post(self) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(b'{"bytes":%d}' % len(self.request.body))


class ProfilingExecutor(ThreadPoolExecutor):
    """A thread pool that profiles every task with a per-thread cProfile profiler."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="handlers")
        self.enabled = False
        self.profiles: list[cProfile.Profile] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def _profiler(self) -> cProfile.Profile:
        found: cProfile.Profile | None = getattr(self._local, "profile", None)
        if found is None:
            found = cProfile.Profile()
            self._local.profile = found
            with self._lock:
                self.profiles.append(found)
        return found

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if not self.enabled:
            return fn(*args)
        profile = self._profiler()
        profile.enable()
        try:
            return fn(*args)
        finally:
            profile.disable()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn`` in a pool thread, under that thread's profiler while enabled."""
        return super().submit(self._run, fn, *args, **kwargs)


@dataclass
class ApiServer:
    """The API app and the baselines, served by an event loop in a thread of its own."""

    backends: Backends
    port: int = 0
    executor: ProfilingExecutor = field(default_factory=ProfilingExecutor)
    loop_profile: cProfile.Profile = field(default_factory=cProfile.Profile)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind a free port and serve until :meth:`stop`."""
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.set_default_executor(self.executor)
            app = make_api_app(self.backends)
            app.add_handlers(r".*", [(PING_PATH, PingHandler), (SINK_PATH, SinkHandler)])
            server = HTTPServer(app)
            server.add_sockets(sockets)
            self._loop = loop
            loop.call_soon(ready.set)
            loop.run_forever()
            server.stop()
            loop.run_until_complete(server.close_all_connections())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

        self._thread = threading.Thread(target=serve, name="server", daemon=True)
        self._thread.start()
        ready.wait()

    def run_in_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in the server's loop thread and wait for it."""
        assert self._loop is not None
        done = threading.Event()

        def call() -> None:
            try:
                fn()
            finally:
                done.set()

        self._loop.call_soon_threadsafe(call)
        done.wait()

    def profiling(self, on: bool) -> None:
        """Switch the profilers of the loop thread and the handler threads on or off."""
        self.executor.enabled = on
        self.run_in_loop(self.loop_profile.enable if on else self.loop_profile.disable)

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
