"""The REST API served by ``cc-backend serve`` together with the Panel pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server_processes import free_port

SECRET_ENV = ("JWT_PUBLIC_KEY", "JWT_PRIVATE_KEY", "SESSION_KEY")


@pytest.fixture
def served(api_site: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cc_backend.cli", "serve", "--addr", f"127.0.0.1:{port}"],
        cwd=api_site,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in SECRET_ENV},
    )
    yield port
    process.kill()
    output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output, output


def _request(url: str, token: str, body: Any, deadline: float) -> tuple[int, Any]:
    data = json.dumps(body).encode()
    while True:
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"X-Auth-Token": token}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
def test_start_job_through_the_served_site(
    served: int, token_for: Callable[..., str], job_payload: Callable[..., Any]
) -> None:
    url = f"http://127.0.0.1:{served}/api/jobs/start_job/"
    status, body = _request(url, token_for("adapter"), job_payload(), time.monotonic() + 60)
    assert status == 201, body
    assert body["msg"] == "success"

    status, body = _request(url, "", job_payload(), time.monotonic() + 10)
    assert status == 401
    assert body["status"] == "Unauthorized"
