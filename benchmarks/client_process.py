"""A benchmark's client in a process of its own, as real clients are, driven over a pipe.

The server under test runs in the benchmark's process, so the CPU time this process spends
while the client works is the server's alone (:meth:`ClientProcess.ask`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ClientProcess"]


class ClientProcess:
    """Runs ``target(pipe, *args)`` in a spawned process; ``target`` answers each command
    it receives on ``pipe`` and returns on ``("end",)``."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), daemon=True)
        self.process.start()
        child.close()

    def ask(self, *command: Any) -> tuple[Any, float]:
        """Send ``command``; the client's answer and the CPU seconds of this process
        (the server) meanwhile."""
        cpu = time.process_time()
        self.pipe.send(command)
        answer = self.pipe.recv()
        return answer, time.process_time() - cpu

    def close(self) -> None:
        """Tell the client to end and wait for it (terminate it after 30 s)."""
        with contextlib.suppress(OSError):
            self.pipe.send(("end",))
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
