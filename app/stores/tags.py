"""The tags page's data: the tags a user may read, grouped by type, with job counts.

Which tags are listed follows cc-backend's tag list: support and admins see every tag
they may read; other users see their private tags always, and global and admin tags only
while at least one job they can see carries them. Counts are of those jobs. Admins may
delete global and admin tags (with their links to jobs); the site checks that again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import param

from app.stores.base import Store
from cc_backend.client import Client
from cc_backend.domain.errors import CCError
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE, Tag
from cc_backend.domain.user import ALL_JOBS_ROLES, Role, User

__all__ = ["TagEntry", "TagStore", "listed_tags"]

_SHARED_SCOPES = (GLOBAL_SCOPE, ADMIN_SCOPE)


@dataclass(frozen=True)
class TagEntry:
    """A tag with the number of jobs the user can see that carry it."""

    tag: Tag
    count: int

    @property
    def deletable(self) -> bool:
        """Global and admin tags can be deleted (by admins); private ones cannot here."""
        return self.tag.scope in _SHARED_SCOPES


def listed_tags(
    user: User, tags: Iterable[Tag], counts: Mapping[int, int]
) -> dict[str, list[TagEntry]]:
    """The tags ``user`` sees listed (module docstring), by type (sorted), each type's
    tags by name."""
    everything = user.has_any_role(ALL_JOBS_ROLES)
    groups: dict[str, list[TagEntry]] = {}
    for tag in tags:
        count = counts.get(tag.id or -1, 0)
        if everything or tag.scope not in _SHARED_SCOPES or count > 0:
            groups.setdefault(tag.type, []).append(TagEntry(tag, count))
    return {
        kind: sorted(entries, key=lambda e: (e.tag.name, e.tag.scope))
        for kind, entries in sorted(groups.items())
    }


class TagStore(Store):
    """The listed tags (``groups``: type -> entries) of ``user``."""

    groups = param.Dict(default={}, doc="Tag type -> the listed tags of that type.")
    message = param.String(default="", doc="What the last deletion did.")
    loaded = param.Boolean(default=False, doc="A load has finished.")

    def __init__(self, client: Client, user: User, **params: Any) -> None:
        super().__init__(client, **params)
        self.user = user

    @property
    def may_delete(self) -> bool:
        """Whether the page offers deleting tags (admins; the site decides again)."""
        return self.user.has_role(Role.ADMIN)

    def entries(self) -> list[TagEntry]:
        """Every listed tag, by type and name."""
        return [entry for group in self.groups.values() for entry in group]

    async def load(self) -> None:
        """Fetch the tags and their counts."""
        self.error = ""
        try:
            tags = await self.fetch("tags", self.client.tags)
            counts = await self.fetch("counts", self.client.tag_counts)
            if tags is not None and counts is not None:
                self.groups = listed_tags(self.user, tags, counts)
        finally:
            self.loaded = True

    async def delete(self, tag_ids: Iterable[int]) -> bool:
        """Delete the listed tags ``tag_ids``; reloads the list and says how it went."""
        wanted = set(tag_ids)
        tags = [e.tag for e in self.entries() if e.tag.id in wanted and e.deletable]
        self.message, self.error = "", ""
        if not tags:
            self.error = "No deletable tag selected."
            return False
        self.loading = True
        try:
            removed = await self.client.delete_tags(tags)
        except CCError as exc:
            self.error = exc.message
            return False
        finally:
            self.loading = False
        self.forget()
        await self.load()
        names = ", ".join(f"{t.type}:{t.name}" for t in tags)
        self.message = f"Deleted {removed} tag{'s' if removed != 1 else ''} ({names})."
        return True
