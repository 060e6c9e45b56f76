"""``/monitoring/projects/``: job totals per project, for managers, support and admins
(see :mod:`app.pages.users`, which draws both lists)."""

from __future__ import annotations

import panel as pn

from app.context import PageContext
from app.pages.users import group_list_page
from cc_backend.stats.stats_results import GroupBy

__all__ = ["projects_page"]


def projects_page(context: PageContext) -> pn.Column:
    """Totals per project."""
    return group_list_page(context, GroupBy.PROJECT)
