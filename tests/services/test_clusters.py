"""The cluster catalog: clusters of the archive, cached, refreshed, looked up by host."""

from __future__ import annotations

import pytest

from cc_backend.archive import JobArchive
from cc_backend.demo import demo_clusters
from cc_backend.domain.errors import NotFound
from cc_backend.services.clusters import ClusterCatalog


def test_names_and_get(demo_archive: JobArchive) -> None:
    catalog = ClusterCatalog(demo_archive)
    assert catalog.names() == ["alex", "fritz"]
    fritz = catalog.get("fritz")
    assert fritz.name == "fritz"
    assert catalog.get("fritz") is fritz  # cached


def test_unknown_cluster_names_the_known_ones(demo_archive: JobArchive) -> None:
    catalog = ClusterCatalog(demo_archive)
    with pytest.raises(NotFound, match=r"'nope'.*alex, fritz"):
        catalog.get("nope")


def test_subcluster_for_host(demo_archive: JobArchive) -> None:
    catalog = ClusterCatalog(demo_archive)
    assert catalog.subcluster_for("fritz", "f0101") == "main"
    assert catalog.subcluster_for("fritz", "f2201") == "spr"
    assert catalog.subcluster_for("alex", "a0301") == "a100"
    with pytest.raises(NotFound, match="x9999"):
        catalog.subcluster_for("fritz", "x9999")
    with pytest.raises(NotFound):
        catalog.subcluster_for("nope", "f0101")


def test_a_cluster_added_to_the_archive_is_seen(demo_archive: JobArchive) -> None:
    catalog = ClusterCatalog(demo_archive)
    assert catalog.names() == ["alex", "fritz"]
    fritz = next(c for c in demo_clusters() if c.name == "fritz")
    demo_archive.store_cluster(fritz.model_copy(update={"name": "fritz2"}))
    assert catalog.names() == ["alex", "fritz"]  # still cached
    assert catalog.get("fritz2").name == "fritz2"  # a miss looks again
    assert catalog.names() == ["alex", "fritz", "fritz2"]


def test_refresh_rereads_the_archive(demo_archive: JobArchive) -> None:
    catalog = ClusterCatalog(demo_archive)
    before = catalog.get("alex")
    alex = next(c for c in demo_clusters() if c.name == "alex")
    demo_archive.store_cluster(alex.model_copy(update={"name": "alex3"}))
    assert catalog.refresh() == ["alex", "alex3", "fritz"]
    assert catalog.names() == ["alex", "alex3", "fritz"]
    assert catalog.get("alex") is not before
