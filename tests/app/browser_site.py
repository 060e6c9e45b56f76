"""A demo site served by ``cc-backend serve`` for browser tests, and Debian's chromium.

:func:`serve_demo_site` initialises a site with the command line (demo archive, job
database, users with passwords, a notice), starts ``cc-backend serve`` on a free loopback
port and yields a :class:`DemoSite` once the login page answers. :func:`open_tab` opens a
chromium tab on it (a :class:`Tab` that records console errors and every request).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cc_backend.archive import open_archive
from cc_backend.config import load_config, load_secrets
from cc_backend.demo import generate_demo_archive
from cc_backend.domain.filters import JobFilter, StringInput
from cc_backend.domain.job import JobState
from cc_backend.server import build_backends

CHROMIUM = Path("/usr/bin/chromium")
#: Flags for headless chromium in a container, without calls home.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
]
#: Users of the demo site: name -> (roles, password).
ACCOUNTS = {
    "root": ("admin,api", "root-Secret-1"),
    "manny": ("manager", "manny-Secret-1"),
    "bob": ("user", "bob-Secret-1"),
    "robot": ("api", "robot-Secret-1"),
}
NOTICE = "Maintenance on Friday from 8 to 12"
_SECRETS = ("JWT_PUBLIC_KEY", "JWT_PRIVATE_KEY", "SESSION_KEY")


def browser_missing_reason() -> str | None:
    """Why browser tests cannot run here, or ``None`` if they can."""
    if not CHROMIUM.exists():
        return f"Debian's chromium is not installed ({CHROMIUM}; apt-get install chromium)"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (test extra)"
    return None


def require_browser() -> None:
    """Skip the calling test when no browser can run, unless CC_REQUIRE_BROWSER=1 (then
    fail)."""
    reason = browser_missing_reason()
    if reason is None:
        return
    if os.environ.get("CC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CC_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class DemoSite:
    """The served site: its URL and what its pages should show."""

    base: str
    #: Cluster name -> (running jobs, all jobs).
    counts: dict[str, tuple[int, int]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def site_env() -> dict[str, str]:
    """This process's environment without the site secrets (a site reads its own)."""
    return {k: v for k, v in os.environ.items() if k not in _SECRETS}


def run_cli(cwd: Path, env: dict[str, str], *args: str) -> str:
    """Run ``cc-backend ARGS`` in ``cwd``; its standard output (fails the test on an error)."""
    command = [sys.executable, "-m", "cc_backend.cli", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _expected_counts(site: Path) -> dict[str, tuple[int, int]]:
    config_path = site / "config.json"
    backends = build_backends(load_config(config_path), load_secrets(config_path))
    try:
        counts = {}
        for name in backends.clusters.names():
            cluster = JobFilter(cluster=StringInput(eq=name))
            running = JobFilter(state=[JobState.RUNNING])
            counts[name] = (
                backends.jobs.count([cluster, running], actor=None),
                backends.jobs.count([cluster], actor=None),
            )
        return counts
    finally:
        backends.close()


def _wait_until_up(
    base: str, process: subprocess.Popen[str], log_path: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"cc-backend serve ended early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(base + "/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError("cc-backend serve did not answer in time")


@contextlib.contextmanager
def serve_site(site: Path, env: dict[str, str]) -> Iterator[str]:
    """Run ``cc-backend serve`` for the initialised ``site`` on a free loopback port; yield
    its base URL once the login page answers. The server's log goes to ``serve.log`` in
    the site's folder (a pipe nobody reads would stall the server once full). Afterwards
    the server is stopped and its log must hold no traceback."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = site / "serve.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "cc_backend.cli", "serve", "--addr", f"127.0.0.1:{port}"],
            cwd=site,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            _wait_until_up(base, process, log_path)
            yield base
        finally:
            process.kill()
            process.wait(timeout=30)
            shutil.rmtree(site / "var", ignore_errors=True)
    output = log_path.read_text()
    assert "Traceback" not in without_closed_websockets(output), output


def add_accounts(site: Path, env: dict[str, str]) -> None:
    """Create the users of :data:`ACCOUNTS` in ``site``'s database."""
    for name, (roles, password) in ACCOUNTS.items():
        run_cli(site, env, "add-user", f"{name}:{roles}:{password}")


def init_demo_site(folder: Path, jobs: int) -> tuple[Path, dict[str, str]]:
    """A site in ``folder / "site"`` with ``jobs`` demo jobs (without metric data) in its
    archive and job table and the users of :data:`ACCOUNTS`; the site and the environment
    to run its commands in."""
    env = site_env()
    site = folder / "site"
    run_cli(folder, env, "init", str(site))
    archive = open_archive(load_config(site / "config.json").archive)
    generate_demo_archive(archive, jobs=jobs, seed=5, with_data=False)
    archive.close()
    run_cli(site, env, "init-db")
    add_accounts(site, env)
    return site, env


def post_api(base: str, path: str, token: str, body: bytes) -> Any:
    """POST ``body`` to ``path`` of the site at ``base`` with the API ``token``; the decoded
    JSON answer (None for another body). A refused request fails the test."""
    request = urllib.request.Request(
        base + path, data=body, method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{path}: {exc.code} {exc.read().decode()}") from None
    return json.loads(text) if text.strip().startswith(b"{") else None


@contextlib.contextmanager
def serve_demo_site(folder: Path, jobs: int = 30) -> Iterator[DemoSite]:
    """Initialise a demo site in ``folder`` and serve it (see the module docstring)."""
    site, env = init_demo_site(folder, jobs)
    (site / "var").mkdir(exist_ok=True)
    (site / "var" / "notice.txt").write_text(NOTICE)
    counts = _expected_counts(site)
    with serve_site(site, env) as base:
        yield DemoSite(base, counts)


def without_closed_websockets(output: str) -> str:
    """The server's log without Tornado's report of an update sent to a websocket the
    browser had just closed by leaving the page (a race of the framework, harmless)."""
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", output)
    return "\n".join(e for e in entries if not e.rstrip().endswith("WebSocketClosedError"))


#: Where browser tests save their screenshots (ignored by git).
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@dataclass
class Tab:
    """A browser tab on the demo site that records console errors and every request."""

    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    async def log_in(
        self,
        username: str,
        path: str = "/",
        password: str | None = None,
        *,
        login_page: str | None = None,
    ) -> Any:
        """Open ``path``, get sent to the login page (``login_page`` exactly, when given),
        log in with the account's password unless ``password`` is given; the last response."""
        await self.page.goto(self.base + path)
        if login_page is not None:
            assert self.page.url == self.base + login_page
        else:
            assert "/login?redirect=" in self.page.url
        await self.page.fill("input[name=username]", username)
        await self.page.fill("input[name=password]", password or ACCOUNTS[username][1])
        async with self.page.expect_navigation() as navigation:
            await self.page.click("button[type=submit]")
        return await navigation.value

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but this site."""
        own = (self.base + "/", "blob:" + self.base + "/", "data:")
        return [url for url in self.requests if not url.startswith(own)]

    def query(self) -> dict[str, list[str]]:
        """The address bar's query."""
        return parse_qs(urlsplit(self.page.url).query)


@contextlib.asynccontextmanager
async def open_tab(base: str, tab_type: type[Tab] = Tab, **page_options: Any) -> AsyncIterator[Tab]:
    """A new chromium tab (a ``tab_type``) on the site at ``base``; ``page_options`` go to
    Playwright's ``new_page`` (viewport, accept_downloads, ...)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        page = await browser.new_page(**page_options)
        opened = tab_type(page, base)
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: opened.errors.append(str(exc)))
        page.on("request", lambda r: opened.requests.append(r.url))
        try:
            yield opened
        finally:
            await browser.close()
