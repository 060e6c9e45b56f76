"""What a page builder gets: the user, a client acting as them, and the request's URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from cc_backend.client import Client
from cc_backend.domain.user import User

__all__ = ["PageContext", "Theme"]

#: Panel's theme names: light (``default``) and dark.
Theme = Literal["default", "dark"]


@dataclass(frozen=True)
class PageContext:
    """The request a page is built for.

    ``client`` answers as ``user`` (roles and visibility are enforced by the services);
    ``path_params`` holds the ``{name}`` parts of the page's route, ``query`` the URL
    query arguments (every value of repeated ones, in order).
    """

    user: User
    client: Client
    path: str = "/"
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, list[str]] = field(default_factory=dict)
    theme: Theme = "default"

    def arg(self, name: str, default: str = "") -> str:
        """The first value of query argument ``name``, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default
