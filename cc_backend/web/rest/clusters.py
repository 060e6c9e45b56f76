"""``/api/clusters/``: the clusters' configurations (``cluster.json``)."""

from __future__ import annotations

from typing import Any

from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.web.rest.base import BaseAPIHandler

__all__ = ["ClusterListHandler"]


class ClusterListHandler(BaseAPIHandler):
    """``GET /api/clusters/[?cluster=NAME]``: ``{"clusters": [...]}``; unknown name -> 400."""

    async def get(self) -> None:
        name = self.get_query_argument("cluster", None)
        clusters = await self.blocking(self._clusters, name)
        self.write_json({"clusters": clusters})

    def _clusters(self, name: str | None) -> list[dict[str, Any]]:
        catalog = self.backends.clusters
        if name is not None:
            try:
                return [catalog.get(name).to_dict()]
            except NotFound:
                raise InvalidInput(f"unknown cluster: {name}") from None
        return [catalog.get(n).to_dict() for n in catalog.names()]
