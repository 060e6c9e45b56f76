"""Stores: the data of a page and the parameters that select it.

A store is a :class:`param.Parameterized` holding a :class:`~cc_backend.client.Client`; it
is the only part of a page that asks the site for data (see :class:`app.stores.base.Store`).
"""

from app.stores.base import Store
from app.stores.home import ClusterCounts, HomeStore

__all__ = ["ClusterCounts", "HomeStore", "Store"]
