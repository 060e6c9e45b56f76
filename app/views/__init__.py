"""Views: widgets, tables and plots drawn from a store's params; they never fetch.

A view is a :class:`panel.viewable.Viewer` built on a store; it redraws when the store's
params change and writes user choices back into the store's params.
"""

from app.views.home import ClusterCountsTable, NoticeBanner
from app.views.messages import StoreStatus, forbidden, not_found

__all__ = ["ClusterCountsTable", "NoticeBanner", "StoreStatus", "forbidden", "not_found"]
