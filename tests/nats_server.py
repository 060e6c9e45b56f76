"""A real ``nats-server`` on a free loopback port, for every test that needs one.

Import the fixtures where they are needed (``from tests.nats_server import nats_server``):
``tests/nats/conftest.py`` does so for the NATS API tests, the load test of the REST and
NATS APIs imports them directly. Without the binary the fixtures skip the test, unless
``CC_REQUIRE_NATS=1`` (then they fail it).
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client

from tests.server_processes import free_port, require_binary, stop_process

__all__ = ["NatsServer", "nats_server", "publisher", "wait_until"]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nats-server did not listen on port {port} within {timeout} s")


@dataclass
class NatsServer:
    """A ``nats-server`` process that can be killed and started again on the same port."""

    binary: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = (self.workdir / "nats-server.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_for_port(self.port)

    def kill(self) -> None:
        """Kill the server (SIGKILL) and wait for it to exit."""
        stop_process(self.process, kill=True)
        self.process = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A running ``nats-server``; skipped without the binary unless ``CC_REQUIRE_NATS=1``."""
    binary = require_binary("nats-server", "CC_REQUIRE_NATS", "nats-server")
    server = NatsServer(binary, free_port(), tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def publisher(nats_server: NatsServer) -> AsyncIterator[Client]:
    """A nats-py client connected to :func:`nats_server` that reconnects after restarts."""
    client = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield client
    await client.close()


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    what: str = "",
    state: Callable[[], object] | None = None,
) -> None:
    """Poll ``condition`` (plain or async) every 50 ms until it holds; fail after ``timeout``,
    naming ``what`` was awaited and, if given, what ``state()`` returns then."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            found = f" (found: {state()})" if state is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}{found}")
        await asyncio.sleep(0.05)
