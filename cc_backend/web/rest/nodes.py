"""``/api/nodestate/``: node states reported by the scheduler adapter."""

from __future__ import annotations

from cc_backend.services.requests import NodeStatesRequest
from cc_backend.web.rest.base import BaseAPIHandler

__all__ = ["NodeStateHandler"]


class NodeStateHandler(BaseAPIHandler):
    """``POST``/``PUT /api/nodestate/``: record the state of the reported nodes."""

    async def post(self) -> None:
        request: NodeStatesRequest = self.body_as(NodeStatesRequest)
        await self.backends.writes.run(
            self.backends.lifecycle.update_node_states, request, self.user
        )
        self.write_json({"msg": "success"})

    put = post
