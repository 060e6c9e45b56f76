"""The few REST calls the live demo makes, with failures as domain errors.

Every call sends the API token in ``X-Auth-Token``. A server that cannot be reached, times
out or answers 5xx raises :class:`~cc_backend.domain.errors.BackendUnavailable`; another
error answer raises the domain error its status stands for
(:func:`cc_backend.web.errors.error_for_status`) with the server's message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse
from tornado.iostream import StreamClosedError

from cc_backend.domain.errors import BackendUnavailable
from cc_backend.web.errors import error_for_status

__all__ = ["DemoApi"]

#: Running jobs read per page.
_PAGE = 500


class DemoApi:
    """A client of one server (``url`` like ``http://127.0.0.1:8080``) acting with ``token``.

    ``timeout`` bounds every request (seconds). Use it inside a running event loop;
    :meth:`close` releases its connections.
    """

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._client: AsyncHTTPClient | None = None

    async def close(self) -> None:
        """Close the connections (the client is made again by the next call)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> HTTPResponse:
        if self._client is None:
            self._client = AsyncHTTPClient(force_instance=True)
        try:
            response = await self._client.fetch(
                self.url + path,
                method=method,
                body=body,
                headers={"X-Auth-Token": self._token, "Content-Type": content_type},
                request_timeout=self._timeout,
                raise_error=False,
            )
        except (OSError, StreamClosedError, HTTPClientError) as exc:
            raise BackendUnavailable(f"{self.url} cannot be reached: {_reason(exc)}") from None
        if response.code < 400:
            return response
        message = f"{method} {path}: {response.code} {_message(response)}"
        if response.code >= 500:
            raise BackendUnavailable(message)
        raise error_for_status(response.code, message)

    async def clusters(self) -> list[str]:
        """The names of the server's clusters."""
        found = orjson.loads((await self._call("GET", "/api/clusters/")).body)
        return [str(c["name"]) for c in found.get("clusters") or []]

    async def running_jobs(self, cluster: str) -> list[dict[str, Any]]:
        """Every running job of ``cluster`` (cc-backend's job JSON)."""
        jobs: list[dict[str, Any]] = []
        page = 1
        while True:
            path = (
                f"/api/jobs/?state=running&cluster={quote(cluster)}"
                f"&items-per-page={_PAGE}&page={page}"
            )
            found = orjson.loads((await self._call("GET", path)).body).get("jobs") or []
            jobs.extend(found)
            if len(found) < _PAGE:
                return jobs
            page += 1

    async def start_job(self, body: dict[str, Any]) -> int:
        """Start a job; its database id."""
        answer = await self._call("POST", "/api/jobs/start_job/", orjson.dumps(body))
        return int(orjson.loads(answer.body)["id"])

    async def stop_job(self, body: dict[str, Any]) -> None:
        """Stop a running job."""
        await self._call("POST", "/api/jobs/stop_job/", orjson.dumps(body))

    async def node_states(self, cluster: str, nodes: list[dict[str, Any]]) -> None:
        """Report the scheduler state of ``nodes`` of ``cluster``."""
        body = orjson.dumps({"cluster": cluster, "nodes": nodes})
        await self._call("POST", "/api/nodestate/", body)

    async def write(self, cluster: str, lines: bytes) -> dict[str, Any]:
        """Push line protocol to the built-in metric store; its answer (``written``,
        ``rejected``, the first ``errors``)."""
        path = f"/api/write?cluster={quote(cluster)}"
        answer = await self._call("POST", path, lines, "text/plain; charset=utf-8")
        result: dict[str, Any] = orjson.loads(answer.body)
        return result


def _reason(exc: BaseException) -> str:
    if isinstance(exc, HTTPClientError):
        return exc.message or str(exc)
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _message(response: HTTPResponse) -> str:
    """The error message of an answer: its ``error`` field, or the start of its body."""
    try:
        body = orjson.loads(response.body or b"{}")
    except orjson.JSONDecodeError:
        return (response.body or b"").decode("utf-8", "replace")[:200] or response.reason
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return response.reason
