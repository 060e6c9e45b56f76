"""The tags page's views: the tags grouped by type, each linking to its jobs, and for
admins a form to delete tags."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import panel as pn

from app.stores.tags import TagEntry, TagStore
from app.views.statistics import JOB_LIST

__all__ = ["TAG_STYLE", "TagDeletion", "TagGroups", "tag_groups_html"]

#: Styles of the tag list (inside its own shadow DOM).
TAG_STYLE = """
section.tag-type { margin-bottom: 1.25rem; }
section.tag-type h3 { font-size: 1.1rem; margin: 0 0 .5rem; }
ul.tags { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem; }
ul.tags a { display: inline-flex; gap: .4rem; align-items: center; padding: .2rem .6rem;
  border-radius: 1rem; border: 1px solid rgba(128, 128, 128, .45); text-decoration: none;
  color: inherit; }
ul.tags a:hover { border-color: var(--design-primary-color, #0072b5); }
ul.tags .count { font-variant-numeric: tabular-nums; padding: 0 .45rem; border-radius: 1rem;
  background: rgba(10, 132, 193, .85); color: #fff; font-size: .85rem; }
ul.tags .scope { font-size: .8rem; opacity: .7; }
"""


def _tag_html(entry: TagEntry) -> str:
    tag = entry.tag
    href = f"{JOB_LIST}?tag={tag.id}"
    scope = "" if tag.scope == "global" else f'<span class="scope">{html.escape(tag.scope)}</span>'
    title = f"{tag.type}: {tag.name} ({entry.count} jobs, scope {tag.scope})"
    return (
        f'<li><a href="{html.escape(href)}" title="{html.escape(title)}">'
        f"{html.escape(tag.name)}{scope}"
        f'<span class="count">{entry.count}</span></a></li>'
    )


def tag_groups_html(groups: Mapping[str, Sequence[TagEntry]], loaded: bool = True) -> str:
    """A section per tag type with its tags, each linking to the job list of its jobs
    and showing their number."""
    if not loaded:
        return '<p class="empty">Loading tags…</p>'
    if not groups:
        return '<p class="empty">No tags yet.</p>'
    return "".join(
        f'<section class="tag-type"><h3>{html.escape(kind)}</h3>'
        f'<ul class="tags">{"".join(_tag_html(e) for e in entries)}</ul></section>'
        for kind, entries in groups.items()
    )


class TagGroups(pn.viewable.Viewer):
    """:func:`tag_groups_html` of a :class:`TagStore`."""

    def __init__(self, store: TagStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._pane = pn.pane.HTML(
            "", stylesheets=[TAG_STYLE], sizing_mode="stretch_width", name="tags"
        )
        store.param.watch(self._update, ["groups", "loaded"])
        self._update()

    def _update(self, *_events: Any) -> None:
        self._pane.object = tag_groups_html(self.store.groups, self.store.loaded)

    def __panel__(self) -> pn.pane.HTML:
        return self._pane


class TagDeletion(pn.viewable.Viewer):
    """For admins: pick global or admin tags and delete them (after a confirmation
    tick), with the outcome below (failures are the store's ``error``)."""

    def __init__(self, store: TagStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.choice = pn.widgets.MultiChoice(
            label="Tags to delete", options={}, placeholder="global and admin tags", width=420
        )
        self.confirm = pn.widgets.Checkbox(label="Also remove them from every job", value=False)
        self.button = pn.widgets.Button(label="Delete tags", color="danger", disabled=True)
        self.outcome = pn.pane.Alert("", alert_type="success", visible=False)
        self.choice.param.watch(self._enable, "value")
        self.confirm.param.watch(self._enable, "value")
        self.button.on_click(lambda _event: pn.state.execute(self.delete))
        store.param.watch(self._update, ["groups", "message"])
        self._layout = pn.Card(
            pn.Row(self.choice, pn.Column(self.confirm, self.button)),
            self.outcome,
            title="Delete tags",
            collapsed=True,
            sizing_mode="stretch_width",
            visible=store.may_delete,
            name="tag-deletion",
        )
        self._update()

    def _enable(self, *_events: Any) -> None:
        self.button.disabled = not (self.choice.value and self.confirm.value)

    def _update(self, *_events: Any) -> None:
        self.choice.options = {
            f"{e.tag.type}: {e.tag.name} ({e.tag.scope}, {e.count} jobs)": e.tag.id
            for e in self.store.entries()
            if e.deletable
        }
        self.outcome.object = html.escape(self.store.message)
        self.outcome.visible = bool(self.store.message)

    async def delete(self) -> None:
        """Delete the chosen tags and clear the form."""
        if await self.store.delete(self.choice.value):
            self.choice.value = []
            self.confirm.value = False

    def __panel__(self) -> pn.Card:
        return self._layout
