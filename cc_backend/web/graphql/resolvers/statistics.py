"""The statistics queries: ``jobsStatistics``, ``jobsMetricStats``, ``jobsFootprints`` and
``rooflineHeatmap``.

They translate onto the statistics service (totals, groupBy, histograms, footprints and
roofline over the job table and the archive's statistics index). Until that service is part
of the site's backends, each answers ``NOT_AVAILABLE``; none returns made-up numbers.
"""

from __future__ import annotations

from typing import Any

from ariadne import QueryType

from cc_backend.web.graphql.context import Info
from cc_backend.web.graphql.errors import NotAvailableYet

__all__ = ["STATISTICS_FIELDS", "query"]

query = QueryType()

#: The query fields this module answers.
STATISTICS_FIELDS = ("jobsStatistics", "jobsMetricStats", "jobsFootprints", "rooflineHeatmap")


def _not_available(name: str) -> Any:
    def resolve(_: Any, _info: Info, **_arguments: Any) -> Any:
        raise NotAvailableYet(f"{name} is not available yet: job statistics are not served")

    return resolve


for _field in STATISTICS_FIELDS:
    query.set_field(_field, _not_available(_field))
