"""Realistic, reproducible job archives for the demo site, tests and benchmarks.

``generate_demo_archive(archive)`` writes two clusters (``fritz`` with CPU nodes, ``alex``
with GPU nodes) and a few thousand jobs of a few hundred users, with metric data, into any
:class:`~cc_backend.archive.JobArchive`. :func:`demo_clusters` and :func:`iter_demo_jobs`
give the same objects without an archive; ``iter_demo_jobs(with_data=False)`` draws the
jobs' statistics directly, fast enough for hundreds of thousands of jobs. Everything is
drawn from one seed: the same arguments give the same jobs.

Modules: :mod:`~cc_backend.demo.clusters` (the cluster descriptions),
:mod:`~cc_backend.demo.population` (users and projects), :mod:`~cc_backend.demo.apps`
(applications and job scripts), :mod:`~cc_backend.demo.jobs` (the job table),
:mod:`~cc_backend.demo.allocation` (nodes of each job), :mod:`~cc_backend.demo.meta`
(meta.json documents), :mod:`~cc_backend.demo.profiles` and
:mod:`~cc_backend.demo.metrics` (what jobs do and what the metrics then show),
:mod:`~cc_backend.demo.layout` and :mod:`~cc_backend.demo.series` (time series),
:mod:`~cc_backend.demo.stats` (statistics without series) and
:mod:`~cc_backend.demo.generate` (putting it together). :mod:`~cc_backend.demo.simulator`
runs live jobs against a running server (with :mod:`~cc_backend.demo.live_jobs`,
:mod:`~cc_backend.demo.live_values`, :mod:`~cc_backend.demo.occupancy`,
:mod:`~cc_backend.demo.live_clock` and :mod:`~cc_backend.demo.api_client`).
"""

from cc_backend.demo.apps import APPS, App
from cc_backend.demo.clusters import demo_clusters
from cc_backend.demo.generate import DemoSummary, generate_demo_archive, iter_demo_jobs

__all__ = [
    "APPS",
    "App",
    "DemoSummary",
    "demo_clusters",
    "generate_demo_archive",
    "iter_demo_jobs",
]
