"""A real InfluxDB 1.x (``influxd``) on free loopback ports, for the InfluxDB backend tests.

One server per test session, with authentication on and an admin user; each test gets a
database of its own (:func:`influx_database`). Without the binary the fixtures skip the
test, unless ``CC_REQUIRE_INFLUXDB=1`` (then they fail it). Import the fixtures where they
are needed (``from tests.influxdb_server import influx_database, influxdb_server``).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
import urllib3

from tests.server_processes import free_port, require_binary, stop_process

__all__ = ["InfluxServer", "influx_database", "influxdb_server", "line"]

ADMIN = "admin"
ADMIN_PASSWORD = "admin-secret"


def _config(workdir: Path, http_port: int, rpc_port: int) -> str:
    """An influxd config that keeps everything in ``workdir`` and listens on loopback."""
    return f"""\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{workdir / "meta"}"

[data]
  dir = "{workdir / "data"}"
  wal-dir = "{workdir / "wal"}"
  query-log-enabled = false

[monitor]
  store-enabled = false

[http]
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = true
  log-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""


def _escape_tag(value: str) -> str:
    """A tag key or value as line protocol writes it (comma, equals sign and space escaped)."""
    return value.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def line(metric: str, tags: dict[str, str], value: float | str, stamp: int) -> str:
    """One line of line protocol: ``metric`` with ``tags``, field ``value``, time in seconds.

    A ``str`` value is written as a string field (a type no metric should have).
    """
    head = ",".join(
        [_escape_tag(metric)] + [f"{_escape_tag(k)}={_escape_tag(v)}" for k, v in tags.items()]
    )
    field = '"' + value.replace('"', '\\"') + '"' if isinstance(value, str) else repr(float(value))
    return f"{head} value={field} {stamp}"


@dataclass
class InfluxServer:
    """An ``influxd`` process with an admin user; HTTP helpers for preparing test data."""

    binary: str
    workdir: Path
    port: int = 0
    rpc_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self._http = urllib3.PoolManager(timeout=urllib3.Timeout(total=30), retries=False)
        self._auth = urllib3.make_headers(basic_auth=f"{ADMIN}:{ADMIN_PASSWORD}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> tuple[str, str]:
        """User name and password of the admin user."""
        return ADMIN, ADMIN_PASSWORD

    def start(self) -> None:
        """Start the server, wait until it answers, and create the admin user."""
        self.port, self.rpc_port = free_port(), free_port()
        config = self.workdir / "influxdb.conf"
        config.write_text(_config(self.workdir, self.port, self.rpc_port))
        with (self.workdir / "influxd.log").open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_ready()
        # With auth on, InfluxDB accepts one request without credentials: the first user.
        self.query(
            f"CREATE USER {ADMIN} WITH PASSWORD '{ADMIN_PASSWORD}' WITH ALL PRIVILEGES",
            authenticate=False,
        )

    def _wait_until_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                if self._http.request("GET", self.url + "/ping").status == 204:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.1)
        log = (self.workdir / "influxd.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"influxd did not answer on port {self.port}:\n{log}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        stop_process(self.process)
        self.process = None
        self._http.clear()

    def query(
        self, statement: str, database: str | None = None, *, authenticate: bool = True
    ) -> Any:
        """Run a statement as the admin; RuntimeError if InfluxDB reports an error."""
        params = {"q": statement, **({"db": database} if database else {})}
        response = self._http.request(
            "POST",
            self.url + "/query",
            fields=params,
            encode_multipart=False,
            headers=self._auth if authenticate else {},
        )
        body = orjson.loads(response.data)
        errors = [r["error"] for r in body.get("results", []) if "error" in r]
        if response.status != 200 or "error" in body or errors:
            raise RuntimeError(f"influxd refused {statement!r}: {response.data!r}")
        return body

    def write(
        self, database: str, lines: Iterable[str], *, retention_policy: str | None = None
    ) -> None:
        """Write line protocol (timestamps in seconds) into ``database``."""
        fields = {"db": database, "precision": "s"}
        if retention_policy:
            fields["rp"] = retention_policy
        payload = "\n".join(lines).encode()
        response = self._http.request(
            "POST",
            self.url + "/write?" + urlencode(fields),
            body=payload,
            headers=self._auth,
        )
        if response.status != 204:
            raise RuntimeError(f"influxd refused the write: {response.status} {response.data!r}")


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """A running ``influxd`` with authentication and an admin user; skipped without the
    binary unless ``CC_REQUIRE_INFLUXDB=1``."""
    binary = require_binary("influxd", "CC_REQUIRE_INFLUXDB", "influxdb")
    server = InfluxServer(binary, tmp_path_factory.mktemp("influxdb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influx_database(influxdb_server: InfluxServer) -> Iterator[str]:
    """The name of a new, empty database on :func:`influxdb_server`, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxdb_server.query(f'CREATE DATABASE "{name}"')
    yield name
    influxdb_server.query(f'DROP DATABASE "{name}"')
