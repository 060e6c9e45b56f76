"""The clusters a site knows: the ``cluster.json`` documents of its job archive, cached.

A cluster added to the archive (its ``cluster.json`` dropped in) becomes known on the next
:meth:`ClusterCatalog.refresh`, or as soon as it is asked for by name.
"""

from __future__ import annotations

import logging
import threading

from cc_backend.archive.base import JobArchive
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput, NotFound

__all__ = ["ClusterCatalog"]

log = logging.getLogger(__name__)


class ClusterCatalog:
    """Cached, thread-safe view of the clusters stored in a job archive."""

    def __init__(self, archive: JobArchive) -> None:
        self._archive = archive
        self._lock = threading.Lock()
        self._names: list[str] | None = None
        self._clusters: dict[str, Cluster] = {}

    def refresh(self) -> list[str]:
        """Forget every cached cluster and re-read the archive's cluster list.

        Returns the names now known, sorted. Raises what the archive raises when it
        cannot be read (e.g. :class:`BackendUnavailable`).
        """
        names = sorted(self._archive.clusters())
        with self._lock:
            self._names = names
            self._clusters = {}
        return list(names)

    def names(self) -> list[str]:
        """Names of the known clusters, sorted (read from the archive on first use)."""
        with self._lock:
            cached = self._names
        if cached is None:
            return self.refresh()
        return list(cached)

    def get(self, name: str) -> Cluster:
        """The cluster called ``name``.

        A name not in the cache makes the catalog look into the archive again, so a newly
        added cluster is found. Raises :class:`NotFound` (listing the known names) if the
        archive holds no such cluster and :class:`InvalidInput` if its ``cluster.json`` is
        broken.
        """
        with self._lock:
            cached = self._clusters.get(name)
        if cached is not None:
            return cached
        try:
            loaded = self._archive.load_cluster(name)
        except NotFound:
            known = self.refresh()
            listing = ", ".join(known) if known else "none"
            raise NotFound(f"unknown cluster {name!r} (known clusters: {listing})") from None
        except InvalidInput:
            log.warning("cluster.json of cluster %r cannot be read", name)
            raise
        with self._lock:
            self._clusters[name] = loaded
            if self._names is not None and name not in self._names:
                self._names = sorted([*self._names, name])
        return loaded

    def subcluster_for(self, cluster: str, hostname: str) -> str:
        """Name of the subcluster of ``cluster`` whose node list holds ``hostname``.

        Raises :class:`NotFound` for an unknown cluster or a host of no subcluster.
        """
        return self.get(cluster).subcluster_of(hostname).name
