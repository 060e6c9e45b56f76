"""Smoke test of the web app benchmark on a small site (no timings checked).

The benchmark serves the web app in its own process (Panel's settings are global), so it
runs as a command here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.app.browser_site import require_browser, without_closed_websockets


@pytest.mark.slow
def test_every_page_is_timed_and_the_memory_per_session_is_reported() -> None:
    require_browser()
    command = [sys.executable, "-m", "benchmarks.bench_web_app"]
    args = ["--rounds", "1", "--sessions", "2", "--nodes", "4", "--list-jobs", "20"]
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for page in ("home", "job list", "job view, cold", "job view, warm"):
        assert f"│ {page}" in out, out
    assert "data floor (the view's series loaded by the server, cache emptied)" in out
    assert "with 2 job views open" in out
    assert "Traceback" not in without_closed_websockets(done.stderr)


def test_a_count_below_one_is_refused() -> None:
    command = [sys.executable, "-m", "benchmarks.bench_web_app", "--sessions", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "must be at least 1" in done.stderr
