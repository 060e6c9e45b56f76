"""``/monitoring/tags/``: the tags the user may read, grouped by type, with the number
of their jobs; each tag links to the job list of its jobs. Admins may delete tags."""

from __future__ import annotations

import panel as pn

from app.context import PageContext
from app.stores.tags import TagStore
from app.views.messages import StoreStatus
from app.views.tags import TagDeletion, TagGroups

__all__ = ["tags_page"]


def tags_page(context: PageContext) -> pn.Column:
    """The page; its data loads once the browser is connected."""
    store = TagStore(context.client, context.user)
    if pn.state.curdoc is not None:
        pn.state.onload(store.load)
    return pn.Column(
        pn.pane.Markdown("## Tags"),
        StoreStatus(store),
        TagGroups(store),
        TagDeletion(store),
        sizing_mode="stretch_width",
        name="tag-list",
    )
