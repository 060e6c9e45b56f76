"""The job's tags, and adding and removing them within the scope rules.

Every tag the user may read is shown as a link to the job list of that tag. A tag whose
scope the user may write (:func:`cc_backend.domain.tag.can_write_scope`: their own
private tags; global and admin tags for admins) has a button that removes it from the
job. New tags are written ``type:name`` (an existing tag can be picked from the
suggestions) with a scope among those the user may write; a tag that does not exist yet
is created. Refusals are shown beside the form; the job's tags stay as they were.
"""

from __future__ import annotations

import functools
import html
from typing import Any

import panel as pn

from app.stores.job import JobStore
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE, Tag, can_write_scope
from cc_backend.domain.user import User

__all__ = ["TAG_STYLE", "JobTags", "parse_tag", "tag_scopes", "tags_html"]

TAG_STYLE = """
.cc-tags { display: flex; flex-wrap: wrap; gap: .3rem; }
.cc-tags a { display: inline-block; padding: .1rem .5rem; border-radius: .8rem;
  font-size: .85rem; text-decoration: none; color: #fff; background: #0d6efd; }
.cc-tags a.scope-admin { background: #6f42c1; }
.cc-tags a.scope-private { background: #198754; }
.cc-tags .empty { opacity: .7; }
"""


def _scope_class(tag: Tag) -> str:
    if tag.scope == GLOBAL_SCOPE:
        return "scope-global"
    return "scope-admin" if tag.scope == ADMIN_SCOPE else "scope-private"


def tags_html(tags: list[Tag]) -> str:
    """The tags as links to the job list of each tag."""
    if not tags:
        return '<div class="cc-tags"><span class="empty">No tags</span></div>'
    links = "".join(
        f'<a class="{_scope_class(t)}" href="/monitoring/jobs/?tag={t.id}" '
        f'title="scope: {html.escape(t.scope)}">{html.escape(t.type)}: {html.escape(t.name)}</a>'
        for t in tags
    )
    return f'<div class="cc-tags">{links}</div>'


def tag_scopes(user: User) -> dict[str, str]:
    """Label -> scope of the scopes ``user`` may write tags of (private first)."""
    scopes = {f"private ({user.username})": user.username}
    for scope in (GLOBAL_SCOPE, ADMIN_SCOPE):
        if can_write_scope(user, scope):
            scopes[scope] = scope
    return scopes


def parse_tag(text: str) -> tuple[str, str]:
    """``type:name`` (spaces around either part are dropped) as a pair; ValueError with
    a message for the user otherwise."""
    type_, sep, name = text.partition(":")
    type_, name = type_.strip(), name.strip()
    if not sep or not type_ or not name:
        raise ValueError("Write the tag as type:name, for example app:gromacs.")
    return type_, name


class JobTags(pn.viewable.Viewer):
    """The tag list, a remove button per writable tag and the form to add one."""

    def __init__(self, store: JobStore, user: User, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.user = user
        self.list = pn.pane.HTML("", stylesheets=[TAG_STYLE], sizing_mode="stretch_width",
                                 name="job-tags")  # fmt: skip
        self.removers = pn.FlexBox(sizing_mode="stretch_width")
        self.entry = pn.widgets.AutocompleteInput(
            label="Add a tag", placeholder="type:name", options=[], min_characters=1,
            search_strategy="includes", case_sensitive=False, restrict=False,
            sizing_mode="stretch_width",
        )  # fmt: skip
        self.scope = pn.widgets.Select(label="Scope", options=tag_scopes(user), width=150)
        self.add = pn.widgets.Button(label="Add tag", color="primary", width=100)
        self.add.on_click(self._add)
        self.feedback = pn.pane.Alert("", alert_type="danger", visible=False,
                                      sizing_mode="stretch_width")  # fmt: skip
        self._layout = pn.Column(
            self.list,
            self.removers,
            pn.Row(self.entry, self.scope, self.add, sizing_mode="stretch_width"),
            self.feedback,
            sizing_mode="stretch_width",
        )
        store.param.watch(self._update, ["job", "readable_tags"])
        store.param.watch(self._error, ["tag_error"])
        self._update()

    def _update(self, *_events: Any) -> None:
        job = self.store.job
        tags = list(job.tags or []) if job is not None else []
        self.list.object = tags_html(tags)
        buttons = []
        for tag in tags:
            if tag.id is not None and can_write_scope(self.user, tag.scope):
                button = pn.widgets.Button(
                    label=f"✕ {tag.type}: {tag.name}", color="light",
                    description=f"Remove {tag.type}:{tag.name} from this job",
                )  # fmt: skip
                button.on_click(functools.partial(self._remove, tag.id))
                buttons.append(button)
        self.removers.objects = buttons
        self.entry.options = sorted(
            {f"{t.type}:{t.name}" for t in self.store.readable_tags}, key=str.casefold
        )

    def _error(self, *_events: Any) -> None:
        self.feedback.object = html.escape(self.store.tag_error)
        self.feedback.visible = bool(self.store.tag_error)

    async def add_tag(self, text: str, scope: str) -> bool:
        """Attach tag ``text`` (``type:name``) of ``scope``; False (and a message) if
        it is malformed or refused."""
        try:
            type_, name = parse_tag(text)
        except ValueError as exc:
            self.store.tag_error = str(exc)
            return False
        added = await self.store.add_tag(type_, name, scope)
        if added:
            self.entry.value = ""
        return added

    async def _add(self, _event: Any) -> None:
        await self.add_tag(self.entry.value or self.entry.value_input or "", self.scope.value)

    def _remove(self, tag_id: int, _event: Any = None) -> None:
        async def remove() -> None:
            await self.store.remove_tag(tag_id)

        pn.state.execute(remove)

    def __panel__(self) -> pn.Column:
        return self._layout
