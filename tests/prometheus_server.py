"""A real Prometheus on a free loopback port, holding test data written before it starts.

The data is backfilled with ``promtool tsdb create-blocks-from openmetrics`` into the
server's storage, so it must lie before the head block (a few hours in the past is safe).
Import the fixture where it is needed (``from tests.prometheus_server import
prometheus_launcher``) and start one server per session with the module's data::

    @pytest.fixture(scope="session")
    def prometheus(prometheus_launcher):
        return prometheus_launcher(series, users={"cc": "secret"}, probe="node_load1")

Without the binaries the fixture skips the test, unless ``CC_REQUIRE_PROMETHEUS=1``
(then it fails it).
"""

from __future__ import annotations

import math
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import orjson
import pytest
import urllib3

from tests.server_processes import free_port, require_binary, stop_process

__all__ = [
    "PromSeries",
    "PrometheusServer",
    "prometheus_launcher",
    "to_openmetrics",
]

#: Start a server: ``launch(series, users=..., probe=...) -> PrometheusServer``.
Launcher = Callable[..., "PrometheusServer"]


@dataclass(frozen=True)
class PromSeries:
    """One series of test data: metric name, labels and (Unix seconds, value) samples."""

    name: str
    labels: Mapping[str, str]
    samples: Sequence[tuple[int, float]]


def _value(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    return repr(float(number))


def to_openmetrics(series: Iterable[PromSeries]) -> str:
    """The series as an OpenMetrics text file, families grouped, ending with ``# EOF``."""
    families: dict[str, list[PromSeries]] = {}
    for one in series:
        families.setdefault(one.name, []).append(one)
    lines = []
    for name, members in families.items():
        lines.append(f"# TYPE {name} gauge")
        for one in members:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(one.labels.items()))
            lines.extend(f"{name}{{{labels}}} {_value(v)} {t}" for t, v in one.samples)
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@dataclass
class PrometheusServer:
    """A ``prometheus`` process serving the data backfilled into ``workdir``."""

    binary: str
    port: int
    workdir: Path
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _headers(self) -> dict[str, str]:
        if not self.users:
            return {}
        name, password = next(iter(self.users.items()))
        return urllib3.make_headers(basic_auth=f"{name}:{password}")

    def _web_config(self) -> Path | None:
        if not self.users:
            return None
        path = self.workdir / "web.yml"
        lines = ["basic_auth_users:"]
        for name, password in self.users.items():
            # Cost 4: the server checks the hash on every request.
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            lines.append(f"  {name}: '{hashed}'")
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        """Start the server and wait until it is ready."""
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        command = [
            self.binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        web_config = self._web_config()
        if web_config is not None:
            command.append(f"--web.config.file={web_config}")
        with (self.workdir / "prometheus.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait(lambda pool: pool.request("GET", self.url + "/-/ready").status == 200, "ready")

    def wait_for_data(self, query: str, at: int) -> None:
        """Wait until the instant ``query`` at time ``at`` has a result (blocks loaded)."""

        def visible(pool: urllib3.PoolManager) -> bool:
            response = pool.request(
                "GET", self.url + "/api/v1/query", fields={"query": query, "time": str(at)}
            )
            if response.status != 200:
                return False
            return bool(orjson.loads(response.data)["data"]["result"])

        self._wait(visible, f"data for {query!r}")

    def _wait(self, condition: Callable[[urllib3.PoolManager], bool], what: str) -> None:
        pool = urllib3.PoolManager(
            headers=self._headers(), timeout=urllib3.Timeout(total=2), retries=False
        )
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    break
                try:
                    if condition(pool):
                        return
                except urllib3.exceptions.HTTPError:
                    pass
                time.sleep(0.05)
        finally:
            pool.clear()
        log = (self.workdir / "prometheus.log").read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"prometheus on port {self.port}: not {what} in time; log:\n{log}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it to exit."""
        stop_process(self.process)
        self.process = None


def _binaries() -> tuple[str, str]:
    require = ("CC_REQUIRE_PROMETHEUS", "prometheus")
    return require_binary("prometheus", *require), require_binary("promtool", *require)


@pytest.fixture(scope="session")
def prometheus_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """``launch(series, *, users=None, probe=None)``: a running Prometheus holding ``series``.

    ``users`` (name -> password) turns on basic auth; ``probe`` is a query that must have
    a result at the last sample's time before the server is handed out. Servers stop at
    the end of the session.
    """
    prometheus, promtool = _binaries()
    servers: list[PrometheusServer] = []

    def launch(
        series: Sequence[PromSeries],
        *,
        users: Mapping[str, str] | None = None,
        probe: str | None = None,
    ) -> PrometheusServer:
        workdir = tmp_path_factory.mktemp("prometheus")
        source = workdir / "data.om"
        source.write_text(to_openmetrics(series))
        subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), "data"],
            cwd=workdir,
            check=True,
            capture_output=True,
        )
        server = PrometheusServer(prometheus, free_port(), workdir, dict(users or {}))
        server.start()
        servers.append(server)
        if probe is not None:
            last = max(t for one in series for t, _ in one.samples)
            server.wait_for_data(probe, last)
        return server

    yield launch
    for server in servers:
        server.stop()
