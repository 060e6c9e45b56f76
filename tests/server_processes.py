"""What every fixture that runs a real server on 127.0.0.1 needs: a free port, the server's
binary (or a skip, or a failure where CI requires it), and a clean stop."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

__all__ = ["free_port", "require_binary", "stop_process"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str, require_env: str, package: str) -> str:
    """The path of the program ``name``; without it the test is skipped, or fails when the
    environment variable ``require_env`` is ``1`` (as in CI)."""
    found = shutil.which(name)
    if found is not None:
        return found
    if os.environ.get(require_env) == "1":
        pytest.fail(f"{name} not found on PATH, but {require_env}=1")
    pytest.skip(f"{name} not found on PATH (install Debian's {package})")


def stop_process(process: subprocess.Popen[bytes] | None, *, kill: bool = False) -> None:
    """Stop ``process`` if it runs (SIGTERM, SIGKILL after 10 s; SIGKILL at once with
    ``kill``) and wait for it to exit."""
    if process is None or process.poll() is not None:
        return
    if not kill:
        process.terminate()
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait(timeout=10)
