"""The requests of cc-backend's web pages beyond the job list and the job view, sent unchanged
to a site holding cc-backend's reference database (544 finished jobs on alex and fritz, no
node states, no metric data for 2023) and the reference cluster files.

Every document is kept as the page sends it (the ``gql`` template of the named Svelte file of
``web/frontend/src``, with ``${...}`` written in where the page interpolates). Each one must
validate against the served schema and answer without errors with the variables its page
sends, as the role the page is for; the statistics are checked against plain SQL on the
reference database.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, parse, validate

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.user import User
from cc_backend.services.importer import import_job_files
from cc_backend.web.graphql.schema import executable_schema
from tests.web.graphql.conftest import DEMO, GraphQL, Reply

pytestmark = pytest.mark.reference

# --- List.root.svelte (users and projects lists; ``groupBy: ${type}`` written in) ---------

LIST_USERS = """
        query($jobFilters: [JobFilter!]!) {
          rows: jobsStatistics(filter: $jobFilters, groupBy: USER) {
            id
            name
            totalJobs
            totalWalltime
            totalCoreHours
            totalAccHours
          }
        }"""

LIST_PROJECTS = """
        query($jobFilters: [JobFilter!]!) {
          rows: jobsStatistics(filter: $jobFilters, groupBy: PROJECT) {
            id
            name
            totalJobs
            totalWalltime
            totalCoreHours
            totalAccHours
          }
        }"""

# --- User.root.svelte (the summary above a user's job list) ---------------------------------

USER_STATS = """
        query ($jobFilters: [JobFilter!]!, $selectedHistograms: [String!], $numDurationBins: String, $numMetricBins: Int) {
          jobsStatistics(filter: $jobFilters, metrics: $selectedHistograms, numDurationBins: $numDurationBins , numMetricBins: $numMetricBins ) {
            totalJobs
            shortJobs
            totalWalltime
            totalCoreHours
            histDuration {
              count
              value
            }
            histNumNodes {
              count
              value
            }
            histMetrics {
              metric
              unit
              stat
              data {
                min
                max
                count
                bin
              }
            }
          }
        }
      """  # noqa: E501 - sent as the page writes it

# --- Analysis.root.svelte ---------------------------------------------------------------------

ANALYSIS_STATS = """
        query ($jobFilters: [JobFilter!]!) {
          stats: jobsStatistics(filter: $jobFilters) {
            totalJobs
            shortJobs
            totalWalltime
            totalNodeHours
            totalCoreHours
            totalAccHours
            histDuration {
              count
              value
            }
            histNumCores {
              count
              value
            }
          }
        }
      """

ANALYSIS_TOP = """
        query (
          $jobFilters: [JobFilter!]!
          $paging: PageRequest!
          $sortBy: SortByAggregate!
          $groupBy: Aggregate!
        ) {
          topList: jobsStatistics(
            filter: $jobFilters
            page: $paging
            sortBy: $sortBy
            groupBy: $groupBy
          ) {
            id
            name
            totalWalltime
            totalNodeHours
            totalCoreHours
            totalAccHours
          }
        }
      """

ANALYSIS_FOOTPRINTS = """
        query ($jobFilters: [JobFilter!]!, $metrics: [String!]!) {
          footprints: jobsFootprints(filter: $jobFilters, metrics: $metrics) {
            timeWeights {
              nodeHours
              accHours
              coreHours
            }
            metrics {
              metric
              data
            }
          }
        }
      """

ANALYSIS_ROOFLINE = """
        query (
          $jobFilters: [JobFilter!]!
          $rows: Int!
          $cols: Int!
          $minX: Float!
          $minY: Float!
          $maxX: Float!
          $maxY: Float!
        ) {
          rooflineHeatmap(
            filter: $jobFilters
            rows: $rows
            cols: $cols
            minX: $minX
            minY: $minY
            maxX: $maxX
            maxY: $maxY
          )
        }
      """

#: The setting writes of the analysis page, the systems pages, the node list and the
#: histogram and metric selections (one text in all of them).
UPDATE_CONFIGURATION = """
        mutation ($name: String!, $value: String!) {
          updateConfiguration(name: $name, value: $value)
        }
      """

# --- Node.root.svelte -------------------------------------------------------------------------

NODE_METRICS = """
    query ($cluster: String!, $nodes: [String!], $from: Time!, $to: Time!) {
      nodeMetrics(cluster: $cluster, nodes: $nodes, from: $from, to: $to) {
        host
        state
        subCluster
        metrics {
          name
          scope
          metric {
            timestep
            unit {
              base
              prefix
            }
            series {
              statistics {
                min
                avg
                max
              }
              data
            }
          }
        }
      }
    }
  """

NODE_JOBS = """
    query (
      $filter: [JobFilter!]!
      $sorting: OrderByInput!
      $paging: PageRequest!
    ) {
      jobs(filter: $filter, order: $sorting, page: $paging) {
        count
      }
    }
  """

# --- systems/NodeList.svelte and systems/NodeOverview.svelte ----------------------------------

NODE_LIST = """
    query ($cluster: String!, $subCluster: String!, $nodeFilter: String!, $stateFilter: String!, $metrics: [String!],
           $scopes: [MetricScope!]!, $from: Time!, $to: Time!, $paging: PageRequest!, $selectedResolution: Int
    ) {
      nodeMetricsList(
        cluster: $cluster
        subCluster: $subCluster
        nodeFilter: $nodeFilter
        stateFilter: $stateFilter,
        scopes: $scopes
        metrics: $metrics
        from: $from
        to: $to
        page: $paging
        resolution: $selectedResolution
      ) {
        items {
          host
          state
          subCluster
          metrics {
            name
            scope
            metric {
              timestep
              unit {
                base
                prefix
              }
              series {
                id
                hostname
                data
                statistics {
                  min
                  avg
                  max
                }
              }
              statisticsSeries {
                min
                median
                max
              }
            }
          }
        }
        totalNodes
        hasNextPage
      }
    }
  """  # noqa: E501 - sent as the page writes it

NODE_OVERVIEW = """
      query ($cluster: String!, $metrics: [String!], $from: Time!, $to: Time!) {
        nodeMetrics(
          cluster: $cluster
          metrics: $metrics
          from: $from
          to: $to
        ) {
          host
          state
          subCluster
          metrics {
            name
            scope
            metric {
              timestep
              unit {
                base
                prefix
              }
              series {
                statistics {
                  min
                  avg
                  max
                }
                data
              }
            }
          }
        }
      }
    """

# --- status/dashdetails/StatusDash.svelte (the status tab of the status page) -----------------

STATUS_DASH = """
      query (
        $cluster: String!
        $metrics: [String!]
        $from: Time!
        $to: Time!
        $jobFilter: [JobFilter!]!
        $nodeFilter: [NodeFilter!]!
        $paging: PageRequest!
        $sorting: OrderByInput!
      ) {
        # Node 5 Minute Averages for Roofline
        nodeMetrics(
          cluster: $cluster
          metrics: $metrics
          from: $from
          to: $to
        ) {
          host
          subCluster
          metrics {
            name
            metric {
              series {
                statistics {
                  avg
                }
              }
            }
          }
        }
        # Running Job Metric Average for Rooflines
        jobsMetricStats(filter: $jobFilter, metrics: $metrics) {
          id
          jobId
          duration
          numNodes
          numAccelerators
          subCluster
          stats {
            name
            data {
              avg
            }
          }
        }
        # Get Jobs for Per-Node Counts
        jobs(filter: $jobFilter, order: $sorting, page: $paging) {
          items {
            jobId
            resources {
              hostname
            }
          }
          count
        }
        # Only counts shared nodes once 
        allocatedNodes(cluster: $cluster) {
          name
          count
        }
        # Get States for Node Roofline; $sorting unused in backend: Use placeholder
        nodes(filter: $nodeFilter, order: $sorting) {
          count
          items {
            hostname
            cluster
            subCluster
            schedulerState
          }
        }
        # Get Current States fir Pie Charts
        nodeStates(filter: $nodeFilter) {
          state
          count
        }
        # totalNodes includes multiples if shared jobs
        jobsStatistics(
          filter: $jobFilter
          page: $paging
          sortBy: TOTALJOBS
          groupBy: SUBCLUSTER
        ) {
          id
          totalJobs
          totalUsers
          totalCores
          totalAccs
        }
      }
    """  # noqa: W291 - sent as the page writes it

# --- status/dashdetails/UsageDash.svelte (the usage tab) --------------------------------------

USAGE_TOP = """
            query ($filter: [JobFilter!]!, $paging: PageRequest!) {
              topUserJobs: jobsStatistics(
                filter: $filter
                page: $paging
                sortBy: TOTALJOBS
                groupBy: USER
              ) {
                id
                name
                totalJobs
              }
              topProjectJobs: jobsStatistics(
                filter: $filter
                page: $paging
                sortBy: TOTALJOBS
                groupBy: PROJECT
              ) {
                id
                totalJobs
              }
              topUserNodes: jobsStatistics(
                filter: $filter
                page: $paging
                sortBy: TOTALNODES
                groupBy: USER
              ) {
                id
                name
                totalNodes
              }
              topProjectNodes: jobsStatistics(
                filter: $filter
                page: $paging
                sortBy: TOTALNODES
                groupBy: PROJECT
              ) {
                id
                totalNodes
              }
              topUserAccs: jobsStatistics(
                filter: $filter
                page: $paging
                sortBy: TOTALACCS
                groupBy: USER
              ) {
                id
                name
                totalAccs
              }
              topProjectAccs: jobsStatistics(
                filter: $filter
                page: $paging
                sortBy: TOTALACCS
                groupBy: PROJECT
              ) {
                id
                totalAccs
              }
            }
          """

USAGE_HISTOGRAMS = """
            query (
              $filter: [JobFilter!]!
              $selectedHistograms: [String!]
              $numDurationBins: String
            ) {
              jobsStatistics(
                filter: $filter
                metrics: $selectedHistograms
                numDurationBins: $numDurationBins
              ) {
                histDuration {
                  count
                  value
                }
                histNumNodes {
                  count
                  value
                }
                histNumAccs {
                  count
                  value
                }
              }
            }
          """

# --- status/dashdetails/StatisticsDash.svelte (the statistics tab) ----------------------------

STATISTICS_DASH = """
      query (
        $filter: [JobFilter!]!
        $selectedHistograms: [String!]
      ) {
        jobsStatistics(filter: $filter, metrics: $selectedHistograms) {
          histMetrics {
            metric
            unit
            data {
              min
              max
              count
              bin
            }
          }
        }
      }
    """

# --- status/DashInternal.svelte and DashPublic.root.svelte (the wall dashboards) --------------

DASH_INTERNAL_STATUS = """
      query (
        $cluster: String!
        $metrics: [String!]
        $from: Time!
        $to: Time!
        $clusterFrom: Time!
        $jobFilter: [JobFilter!]!
        $paging: PageRequest!
        $sorting: OrderByInput!
      ) {
        # Node 5 Minute Averages for Roofline
        nodeMetrics(
          cluster: $cluster
          metrics: $metrics
          from: $from
          to: $to
        ) {
          host
          subCluster
          metrics {
            name
            metric {
              series {
                statistics {
                  avg
                }
              }
            }
          }
        }
        # Running Job Metric Average for Rooflines
        jobsMetricStats(filter: $jobFilter, metrics: $metrics) {
          id
          jobId
          duration
          numNodes
          numAccelerators
          subCluster
          stats {
            name
            data {
              avg
            }
          }
        }
        # Get Jobs for Per-Node Counts
        jobs(filter: $jobFilter, order: $sorting, page: $paging) {
          items {
            jobId
            resources {
              hostname
            }
          }
          count
        }
        # Only counts shared nodes once 
        allocatedNodes(cluster: $cluster) {
          name
          count
        }
        # totalNodes includes multiples if shared jobs: Info-Card Data
        jobsStatistics(
          filter: $jobFilter
          page: $paging
          sortBy: TOTALJOBS
          groupBy: SUBCLUSTER
        ) {
          id
          totalJobs
          totalUsers
          totalCores
          totalAccs
        }
        # ClusterMetrics for doubleMetricPlot
        clusterMetrics(
          cluster: $cluster
          metrics: $metrics
          from: $clusterFrom
          to: $to
        ) {
          nodeCount
          metrics {
            name
            unit {
              prefix
              base
            }
            timestep
            data
          }
        }
      }
    """  # noqa: W291 - sent as the page writes it

DASH_INTERNAL_TOP_PROJECTS = """
      query (
        $filter: [JobFilter!]!
        $paging: PageRequest!
      ) {
        jobsStatistics(
          filter: $filter
          page: $paging
          sortBy: TOTALJOBS
          groupBy: PROJECT
        ) {
          id
          totalJobs
        }
      }
    """

DASH_PUBLIC_STATES = """
      query ($filter: [NodeFilter!], $type: String!) {
        nodeStatesTimed(filter: $filter, type: $type) {
          state
          counts
          times
        }
      }
    """

DASH_PUBLIC_STATUS = """
      query (
        $cluster: String!
        $metrics: [String!]
        $from: Time!
        $to: Time!
        $clusterFrom: Time!
        $jobFilter: [JobFilter!]!
        $nodeFilter: [NodeFilter!]!
        $paging: PageRequest!
        $sorting: OrderByInput!
      ) {
        # Node 5 Minute Averages for Roofline
        nodeMetrics(
          cluster: $cluster
          metrics: $metrics
          from: $from
          to: $to
        ) {
          host
          subCluster
          metrics {
            name
            metric {
              series {
                statistics {
                  avg
                }
              }
            }
          }
        }
        # Running Job Metric Average for Rooflines
        jobsMetricStats(filter: $jobFilter, metrics: $metrics) {
          id
          jobId
          duration
          numNodes
          numAccelerators
          subCluster
          stats {
            name
            data {
              avg
            }
          }
        }
        # Get Jobs for Per-Node Counts
        jobs(filter: $jobFilter, order: $sorting, page: $paging) {
          items {
            jobId
            resources {
              hostname
            }
          }
          count
        }
        # Only counts shared nodes once 
        allocatedNodes(cluster: $cluster) {
          name
          count
        }
        # Get Current States fir Pie Charts
        nodeStates(filter: $nodeFilter) {
          state
          count
        }
        # Get States for Node Roofline; $sorting unused in backend: Use placeholder
        nodes(filter: $nodeFilter, order: $sorting) {
          count
          items {
            hostname
            cluster
            subCluster
            schedulerState
          }
        }
        # totalNodes includes multiples if shared jobs: Info-Card Data
        jobsStatistics(
          filter: $jobFilter
          page: $paging
          sortBy: TOTALJOBS
          groupBy: SUBCLUSTER
        ) {
          id
          totalJobs
          totalUsers
          totalCores
          totalAccs
        }
        # ClusterMetrics for doubleMetricPlot
        clusterMetrics(
          cluster: $cluster
          metrics: $metrics
          from: $clusterFrom
          to: $to
        ) {
          nodeCount
          metrics {
            name
            unit {
              prefix
              base
            }
            timestep
            data
          }
        }
      }
    """  # noqa: W291 - sent as the page writes it

# --- generic/JobCompare.svelte, generic/joblist/JobListRow.svelte ------------------------------

JOB_COMPARE = """
    query ($filter: [JobFilter!]!, $metrics: [String!]!) {
      jobsMetricStats(filter: $filter, metrics: $metrics) {
        id
        jobId
        startTime
        duration
        cluster
        subCluster
        numNodes
        numHWThreads
        numAccelerators
        stats {
          name
          data {
            min
            avg
            max
          }
        }
      }
    }
  """

JOB_LIST_ROW_METRICS = """
    query ($id: ID!, $metrics: [String!]!, $scopes: [MetricScope!]!, $selectedResolution: Int) {
      jobMetrics(id: $id, metrics: $metrics, scopes: $scopes, resolution: $selectedResolution) {
        name
        scope
        metric {
          unit {
            prefix
            base
          }
          timestep
          statisticsSeries {
            min
            mean
            median
            max
          }
          series {
            hostname
            id
            data
            statistics {
              min
              avg
              max
            }
          }
        }
      }
    }
  """

# --- job/jobsummary/JobFootprintPolar.svelte ---------------------------------------------------

JOB_FOOTPRINT_POLAR = """
      query ($dbid: ID!, $selectedMetrics: [String!]!) {
        jobStats(id: $dbid, metrics: $selectedMetrics) {
          name
          data {
            min
            avg
            max
          }
        }
      }
    """

# --- Tags.root.svelte --------------------------------------------------------------------------

REMOVE_TAG_FROM_LIST = """
        mutation ($tagIds: [ID!]!) {
          removeTagFromList(tagIds: $tagIds)
        }
      """

#: Every document above by page and operation, for the schema check.
DOCUMENTS: dict[str, str] = {
    "List.root/users": LIST_USERS,
    "List.root/projects": LIST_PROJECTS,
    "User.root/stats": USER_STATS,
    "Analysis.root/stats": ANALYSIS_STATS,
    "Analysis.root/topList": ANALYSIS_TOP,
    "Analysis.root/footprints": ANALYSIS_FOOTPRINTS,
    "Analysis.root/rooflineHeatmap": ANALYSIS_ROOFLINE,
    "settings/updateConfiguration": UPDATE_CONFIGURATION,
    "Node.root/nodeMetrics": NODE_METRICS,
    "Node.root/jobs": NODE_JOBS,
    "NodeList/nodeMetricsList": NODE_LIST,
    "NodeOverview/nodeMetrics": NODE_OVERVIEW,
    "StatusDash/status": STATUS_DASH,
    "UsageDash/top": USAGE_TOP,
    "UsageDash/histograms": USAGE_HISTOGRAMS,
    "StatisticsDash/histMetrics": STATISTICS_DASH,
    "DashInternal/status": DASH_INTERNAL_STATUS,
    "DashInternal/topProjects": DASH_INTERNAL_TOP_PROJECTS,
    "DashPublic.root/nodeStatesTimed": DASH_PUBLIC_STATES,
    "DashPublic.root/status": DASH_PUBLIC_STATUS,
    "JobCompare/jobsMetricStats": JOB_COMPARE,
    "JobListRow/jobMetrics": JOB_LIST_ROW_METRICS,
    "JobFootprintPolar/jobStats": JOB_FOOTPRINT_POLAR,
    "Tags.root/removeTagFromList": REMOVE_TAG_FROM_LIST,
}


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_every_page_document_validates_against_the_served_schema(document: str) -> None:
    assert validate(executable_schema(), parse(document)) == []


def test_every_page_document_is_of_the_reference_schema_version(reference_dir: Path) -> None:
    reference = build_schema((reference_dir / "api" / "schema.graphqls").read_text())
    invalid = {
        name: [e.message for e in validate(reference, parse(document))]
        for name, document in DOCUMENTS.items()
    }
    assert {name: errors for name, errors in invalid.items() if errors} == {}


# --- the site's people and the variables the pages send ---------------------------------------

#: Support staff: the role of the node, system and status pages.
SUPPORT = User.build("sue", ["support"])

#: The cluster of the list, analysis and node pages: 303 jobs of 41 users in 23 projects.
CLUSTER = "alex"

#: A start time range covering the reference jobs (as the filter component sends it).
START_TIME = {"startTime": {"from": "2023-02-01T00:00:00.000Z", "to": "2023-03-01T00:00:00.000Z"}}

#: The job filters of a page showing the cluster's jobs of that range.
CLUSTER_JOBS: list[dict[str, Any]] = [{"cluster": {"eq": CLUSTER}}, START_TIME]

#: The running jobs of the cluster (status pages); the reference jobs have all finished.
RUNNING: list[dict[str, Any]] = [{"state": ["running"]}, {"cluster": {"eq": CLUSTER}}]

#: A node time range of the node and system pages (their default: the last four hours).
FROM, TO = "2023-02-07T12:00:00.000Z", "2023-02-07T16:00:00.000Z"

SORT_BY_START = {"field": "startTime", "type": "col", "order": "DESC"}
ALL_PAGES = {"itemsPerPage": -1, "page": 1}
TOP_TEN = {"itemsPerPage": 10, "page": 1}

#: What ``sum(...) / 3600`` of the job table gives per group, as the statistics are cut off.
HOURS_SQL = (
    "count(*), sum(duration) / 3600, sum(duration * num_hwthreads) / 3600, "
    "sum(duration * num_acc) / 3600"
)
IN_RANGE = "cluster = 'alex' AND start_time BETWEEN 1675209600 AND 1677628800"


async def _ok(gql: GraphQL, query: str, variables: dict[str, Any], user: User = DEMO) -> Any:
    reply: Reply = await gql(query, variables, user=user)
    return reply.ok()


def _busiest(db: sqlite3.Connection, column: str) -> str:
    """The user or project of the cluster with the most jobs."""
    (name,) = db.execute(
        f"SELECT {column} FROM job WHERE {IN_RANGE} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    return str(name)


# --- List.root: the users and projects lists ---------------------------------------------------


@pytest.mark.parametrize(
    ("document", "column"),
    [(LIST_USERS, "hpc_user"), (LIST_PROJECTS, "project")],
    ids=["users", "projects"],
)
async def test_the_user_and_project_lists_match_the_database(
    reference_gql: GraphQL, reference_db: sqlite3.Connection, document: str, column: str
) -> None:
    rows = (await _ok(reference_gql, document, {"jobFilters": CLUSTER_JOBS}))["rows"]
    expected = {
        name: (jobs, walltime, core_hours, acc_hours)
        for name, jobs, walltime, core_hours, acc_hours in reference_db.execute(
            f"SELECT {column}, {HOURS_SQL} FROM job WHERE {IN_RANGE} GROUP BY 1"
        )
    }
    assert len(expected) == (41 if column == "hpc_user" else 23)
    assert {
        r["id"]: (r["totalJobs"], r["totalWalltime"], r["totalCoreHours"], r["totalAccHours"])
        for r in rows
    } == expected
    assert {r["name"] for r in rows} == {""}  # the job owners are not users of the site


# --- User.root: the summary above a user's jobs ------------------------------------------------


async def test_the_user_page_summary_matches_the_database_as_the_user_sees_it(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    name = _busiest(reference_db, "hpc_user")
    variables = {
        "jobFilters": [*CLUSTER_JOBS, {"user": {"eq": name}}],
        "selectedHistograms": ["flops_any", "mem_bw"],
        "numDurationBins": "1h",
        "numMetricBins": 10,
    }
    owner = User.build(name, ["user"])
    (stats,) = (await _ok(reference_gql, USER_STATS, variables, owner))["jobsStatistics"]

    mine = f"{IN_RANGE} AND hpc_user = ?"
    jobs, walltime, core_hours, _ = reference_db.execute(
        f"SELECT {HOURS_SQL} FROM job WHERE {mine}", (name,)
    ).fetchone()
    (short,) = reference_db.execute(
        f"SELECT count(*) FROM job WHERE {mine} AND duration < 300", (name,)
    ).fetchone()
    assert (stats["totalJobs"], stats["totalWalltime"], stats["totalCoreHours"]) == (
        jobs,
        walltime,
        core_hours,
    )
    assert stats["shortJobs"] == short
    nodes = dict(
        reference_db.execute(
            f"SELECT num_nodes, count(*) FROM job WHERE {mine} GROUP BY 1", (name,)
        ).fetchall()
    )
    assert {p["value"]: p["count"] for p in stats["histNumNodes"] if p["count"]} == nodes
    assert sum(p["count"] for p in stats["histDuration"]) == jobs
    assert [h["metric"] for h in stats["histMetrics"]] == ["flops_any", "mem_bw"]
    assert all(len(h["data"]) == 10 for h in stats["histMetrics"])


# --- Analysis.root -----------------------------------------------------------------------------


async def test_the_analysis_totals_and_histograms_match_the_database(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    (stats,) = (await _ok(reference_gql, ANALYSIS_STATS, {"jobFilters": CLUSTER_JOBS}))["stats"]
    jobs, walltime, core_hours, acc_hours = reference_db.execute(
        f"SELECT {HOURS_SQL} FROM job WHERE {IN_RANGE}"
    ).fetchone()
    (node_hours,) = reference_db.execute(
        f"SELECT sum(duration * num_nodes) / 3600 FROM job WHERE {IN_RANGE}"
    ).fetchone()
    assert jobs == 303
    assert stats["totalJobs"] == jobs
    assert stats["totalWalltime"] == walltime
    assert stats["totalNodeHours"] == node_hours
    assert stats["totalCoreHours"] == core_hours
    assert stats["totalAccHours"] == acc_hours
    cores = dict(
        reference_db.execute(
            f"SELECT num_hwthreads, count(*) FROM job WHERE {IN_RANGE} GROUP BY 1"
        ).fetchall()
    )
    assert {p["value"]: p["count"] for p in stats["histNumCores"]} == cores
    (first_hour,) = reference_db.execute(
        f"SELECT count(*) FROM job WHERE {IN_RANGE} AND duration <= 3600"
    ).fetchone()
    assert stats["histDuration"][0] == {"value": 3600, "count": first_hour}


@pytest.mark.parametrize(
    ("group_by", "column", "sort_by", "field"),
    [
        ("USER", "hpc_user", "TOTALWALLTIME", "totalWalltime"),
        ("PROJECT", "project", "TOTALCOREHOURS", "totalCoreHours"),
        ("USER", "hpc_user", "TOTALACCHOURS", "totalAccHours"),
    ],
    ids=["users-by-walltime", "projects-by-core-hours", "users-by-acc-hours"],
)
async def test_the_analysis_top_ten_are_those_of_the_database(
    reference_gql: GraphQL,
    reference_db: sqlite3.Connection,
    group_by: str,
    column: str,
    sort_by: str,
    field: str,
) -> None:
    variables = {
        "jobFilters": CLUSTER_JOBS,
        "paging": TOP_TEN,
        "sortBy": sort_by,
        "groupBy": group_by,
    }
    top = (await _ok(reference_gql, ANALYSIS_TOP, variables))["topList"]
    position = {"totalWalltime": 2, "totalCoreHours": 3, "totalAccHours": 4}[field]
    totals = {
        row[0]: row[position]
        for row in reference_db.execute(
            f"SELECT {column}, {HOURS_SQL} FROM job WHERE {IN_RANGE} GROUP BY 1"
        )
    }
    assert len(top) == 10
    assert [t[field] for t in top] == sorted(totals.values(), reverse=True)[:10]
    assert all(totals[t["id"]] == t[field] for t in top)


async def test_the_analysis_footprints_weigh_every_job_by_its_time(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    """The weights are cc-backend's: seconds / 60 times nodes, accelerators or cores."""
    variables = {"jobFilters": CLUSTER_JOBS, "metrics": ["flops_any", "mem_bw"]}
    footprints = (await _ok(reference_gql, ANALYSIS_FOOTPRINTS, variables))["footprints"]
    rows = reference_db.execute(
        f"SELECT duration * num_nodes / 60.0, duration * num_acc / 60.0, "
        f"duration * num_hwthreads / 60.0 FROM job WHERE {IN_RANGE}"
    ).fetchall()
    weights = footprints["timeWeights"]
    for key, index in (("nodeHours", 0), ("accHours", 1), ("coreHours", 2)):
        assert sorted(weights[key]) == pytest.approx(sorted(r[index] for r in rows))
    assert [m["metric"] for m in footprints["metrics"]] == ["flops_any", "mem_bw"]
    assert all(len(m["data"]) == len(rows) for m in footprints["metrics"])


async def test_the_analysis_roofline_heatmap_has_the_requested_tiles(
    reference_gql: GraphQL,
) -> None:
    variables = {
        "jobFilters": CLUSTER_JOBS,
        "rows": 50,
        "cols": 50,
        "minX": 0.01,
        "minY": 1.0,
        "maxX": 1000.0,
        "maxY": 37433.0,  # the highest SIMD flop rate of alex's subclusters
    }
    tiles = (await _ok(reference_gql, ANALYSIS_ROOFLINE, variables))["rooflineHeatmap"]
    assert len(tiles) == 50
    assert {len(row) for row in tiles} == {50}


# --- the settings the pages store ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("analysisView_selectedTopEntity:alex", '"project"'),
        ("analysisView_selectedTopCategory:alex", '"totalCoreHours"'),
        ("nodeOverview_selectedMetric:alex", '"flops_any"'),
        ("nodeList_nodesPerPage", "25"),
        ("userView_histogramMetrics:alex", '["flops_any","mem_bw"]'),
        ("statusView_selectedHistograms:alex", '["mem_bw"]'),
    ],
    ids=["Analysis-entity", "Analysis-category", "Systems", "NodeList", "User", "Status"],
)
async def test_the_settings_of_the_pages_are_stored(
    reference_gql: GraphQL, name: str, value: str
) -> None:
    variables = {"name": name, "value": value}
    assert await _ok(reference_gql, UPDATE_CONFIGURATION, variables) == {
        "updateConfiguration": None
    }
    assert reference_gql.backends.user_config.get("demo", name) == json.loads(value)


# --- Node.root and the systems pages (support staff) -------------------------------------------


def _hosts(reference_dir: Path, cluster: str) -> dict[str, str]:
    """The hosts of a cluster's subclusters (``nodes`` lists like ``a0[121-129],a0221``)."""
    document = json.loads((reference_dir / "job-archive" / cluster / "cluster.json").read_text())
    hosts: dict[str, str] = {}
    for sub in document["subClusters"]:
        for part in _split_ranges(sub["nodes"]):
            prefix, _, rest = part.partition("[")
            if not rest:
                hosts[prefix] = sub["name"]
                continue
            for span in rest.rstrip("]").split(","):
                first, _, last = span.partition("-")
                for n in range(int(first), int(last or first) + 1):
                    hosts[f"{prefix}{n:0{len(first)}d}"] = sub["name"]
    return hosts


def _split_ranges(nodes: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in nodes:
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


async def test_the_node_page_shows_the_node_and_its_running_jobs(
    reference_gql: GraphQL, reference_dir: Path, reference_db: sqlite3.Connection
) -> None:
    host = "a0128"
    variables = {"cluster": CLUSTER, "nodes": [host], "from": FROM, "to": TO}
    (node,) = (await _ok(reference_gql, NODE_METRICS, variables, SUPPORT))["nodeMetrics"]
    assert (node["host"], node["subCluster"]) == (host, _hosts(reference_dir, CLUSTER)[host])
    assert node["state"] == ""  # no node state reported: the page shows "notindb"
    assert node["metrics"] == []  # the metric store holds nothing for 2023

    variables = {
        "filter": [{"cluster": {"eq": CLUSTER}}, {"node": {"eq": host}}, {"state": ["running"]}],
        "sorting": SORT_BY_START,
        "paging": {"itemsPerPage": 50, "page": 1},
    }
    jobs = (await _ok(reference_gql, NODE_JOBS, variables, SUPPORT))["jobs"]
    (running,) = reference_db.execute(
        "SELECT count(*) FROM job WHERE job_state = 'running' AND CAST(resources AS TEXT) LIKE ?",
        (f'%"{host}"%',),
    ).fetchone()
    assert jobs == {"count": running}
    finished = {**variables, "filter": variables["filter"][:2]}
    (ran,) = reference_db.execute(
        "SELECT count(*) FROM job WHERE cluster = 'alex' AND CAST(resources AS TEXT) LIKE ?",
        (f'%"{host}"%',),
    ).fetchone()
    assert ran > 0
    assert (await _ok(reference_gql, NODE_JOBS, finished, SUPPORT))["jobs"] == {"count": ran}


async def test_the_node_overview_and_node_list_show_every_host_of_the_cluster(
    reference_gql: GraphQL, reference_dir: Path
) -> None:
    hosts = _hosts(reference_dir, CLUSTER)
    variables = {"cluster": CLUSTER, "metrics": ["flops_any"], "from": FROM, "to": TO}
    overview = (await _ok(reference_gql, NODE_OVERVIEW, variables, SUPPORT))["nodeMetrics"]
    assert {n["host"]: n["subCluster"] for n in overview} == hosts

    variables = {
        "cluster": CLUSTER,
        "subCluster": "",
        "stateFilter": "all",
        "nodeFilter": "",
        "scopes": ["core", "socket", "accelerator"],
        "metrics": ["flops_any", "mem_bw", "acc_utilization"],
        "from": FROM,
        "to": TO,
        "paging": {"itemsPerPage": 10, "page": 1},
        "selectedResolution": 0,
    }
    listed = (await _ok(reference_gql, NODE_LIST, variables, SUPPORT))["nodeMetricsList"]
    assert listed["totalNodes"] == len(hosts)
    assert listed["hasNextPage"] is (len(hosts) > 10)
    assert [n["host"] for n in listed["items"]] == sorted(hosts)[:10]

    filtered = {**variables, "nodeFilter": "a02"}
    listed = (await _ok(reference_gql, NODE_LIST, filtered, SUPPORT))["nodeMetricsList"]
    assert listed["totalNodes"] == sum("a02" in h for h in hosts)


# --- the status page's tabs and the wall dashboards (support staff) -----------------------------


def _status_variables(**extra: Any) -> dict[str, Any]:
    return {
        "cluster": CLUSTER,
        "metrics": ["flops_any", "mem_bw"],
        "from": FROM,
        "to": TO,
        "jobFilter": RUNNING,
        "paging": ALL_PAGES,
        "sorting": SORT_BY_START,
        **extra,
    }


@pytest.mark.parametrize(
    ("document", "extra"),
    [
        (STATUS_DASH, {"nodeFilter": {"cluster": {"eq": CLUSTER}}}),
        (DASH_INTERNAL_STATUS, {"clusterFrom": "2023-02-07T08:00:00.000Z"}),
        (
            DASH_PUBLIC_STATUS,
            {"clusterFrom": "2023-02-07T08:00:00.000Z", "nodeFilter": {"cluster": {"eq": CLUSTER}}},
        ),
    ],
    ids=["StatusDash", "DashInternal", "DashPublic.root"],
)
async def test_the_status_views_show_an_idle_cluster_without_node_states(
    reference_gql: GraphQL,
    reference_dir: Path,
    reference_db: sqlite3.Connection,
    document: str,
    extra: dict[str, Any],
) -> None:
    data = await _ok(reference_gql, document, _status_variables(**extra), SUPPORT)
    (running,) = reference_db.execute(
        "SELECT count(*) FROM job WHERE job_state = 'running'"
    ).fetchone()
    assert running == 0
    assert data["jobs"] == {"items": [], "count": 0}
    assert data["jobsMetricStats"] == []
    assert data["allocatedNodes"] == []
    assert data["jobsStatistics"] == []
    assert {n["host"] for n in data["nodeMetrics"]} == set(_hosts(reference_dir, CLUSTER))
    if "nodes" in data:
        assert data["nodes"] == {"count": 0, "items": []}
        assert data["nodeStates"] == []
    if "clusterMetrics" in data:  # no node has data for the time range
        assert data["clusterMetrics"] == {"nodeCount": 0, "metrics": []}


async def test_the_usage_tab_counts_no_running_jobs(reference_gql: GraphQL) -> None:
    variables = {"filter": RUNNING, "paging": TOP_TEN}
    top = await _ok(reference_gql, USAGE_TOP, variables, SUPPORT)
    assert top == {
        "topUserJobs": [],
        "topProjectJobs": [],
        "topUserNodes": [],
        "topProjectNodes": [],
        "topUserAccs": [],
        "topProjectAccs": [],
    }
    assert await _ok(reference_gql, DASH_INTERNAL_TOP_PROJECTS, variables, SUPPORT) == {
        "jobsStatistics": []
    }
    variables = {"filter": RUNNING, "selectedHistograms": [], "numDurationBins": "1h"}
    (histograms,) = (await _ok(reference_gql, USAGE_HISTOGRAMS, variables, SUPPORT))[
        "jobsStatistics"
    ]
    assert histograms["histDuration"]
    assert sum(p["count"] for p in histograms["histDuration"]) == 0
    assert histograms["histNumNodes"] == histograms["histNumAccs"] == []


async def test_the_usage_top_lists_of_finished_jobs_match_the_database(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    """The same request over the finished jobs (the tab's filter with another state)."""
    finished = [{"state": ["completed"]}, {"cluster": {"eq": CLUSTER}}]
    top = await _ok(reference_gql, USAGE_TOP, {"filter": finished, "paging": TOP_TEN}, SUPPORT)
    for key, column, measure in (
        ("topUserJobs", "hpc_user", "count(*)"),
        ("topProjectNodes", "project", "sum(num_nodes)"),
        ("topUserAccs", "hpc_user", "sum(num_acc)"),
    ):
        expected = [
            n
            for (n,) in reference_db.execute(
                f"SELECT {measure} FROM job WHERE cluster = 'alex' GROUP BY {column} "
                "ORDER BY 1 DESC LIMIT 10"
            )
        ]
        field = {"topUserJobs": "totalJobs", "topProjectNodes": "totalNodes"}.get(key, "totalAccs")
        assert [row[field] for row in top[key]] == expected


async def test_the_statistics_tab_bins_the_selected_metrics(reference_gql: GraphQL) -> None:
    variables = {"filter": RUNNING, "selectedHistograms": ["flops_any", "mem_bw"]}
    (stats,) = (await _ok(reference_gql, STATISTICS_DASH, variables, SUPPORT))["jobsStatistics"]
    assert [h["metric"] for h in stats["histMetrics"]] == ["flops_any", "mem_bw"]
    assert {h["unit"] for h in stats["histMetrics"]} == {"GFlops/s", "GB/s"}
    assert all(sum(p["count"] for p in h["data"]) == 0 for h in stats["histMetrics"])


async def test_the_public_dashboard_node_states_are_empty_without_reports(
    reference_gql: GraphQL,
) -> None:
    variables = {"filter": {"cluster": {"eq": CLUSTER}, "timeStart": 1675777167}, "type": "node"}
    assert await _ok(reference_gql, DASH_PUBLIC_STATES, variables, SUPPORT) == {
        "nodeStatesTimed": []
    }


# --- the job comparison, a job list row and the job's footprint polar plot ---------------------

#: The archived reference job with metric data (32 nodes of emmy, a point a minute).
EMMY_JOB = Path("emmy/1404/397/1609300556")


@dataclass
class Imported:
    """The imported emmy job: database id, its meta data and the archive's data folder."""

    dbid: str
    meta: dict[str, Any]
    folder: Path = field(repr=False)


@pytest.fixture
def emmy_job(reference_gql: GraphQL, reference_dir: Path) -> Imported:
    """The archived emmy job imported into the reference site (with its cluster)."""
    backends = reference_gql.backends
    folder = reference_dir / "job-archive" / EMMY_JOB
    emmy = reference_dir / "job-archive" / "emmy" / "cluster.json"
    backends.archive.store_cluster(Cluster.from_json(emmy.read_bytes()))
    backends.clusters.refresh()
    imported = import_job_files(
        folder / "meta.json",
        folder / "data.json.gz",
        backends.archive,
        backends.jobs,
        backends.tags,
    )
    return Imported(str(imported.db_id), json.loads((folder / "meta.json").read_text()), folder)


def _stats_of(meta: dict[str, Any], name: str) -> dict[str, float]:
    return {k: float(meta["statistics"][name][k]) for k in ("min", "avg", "max")}


async def test_the_job_comparison_lists_the_selected_job(
    reference_gql: GraphQL, emmy_job: Imported
) -> None:
    """The test site has no statistics index built: the archived job's statistics come
    from its meta.json, as on cc-backend."""
    variables = {"filter": [{"dbId": [emmy_job.dbid]}], "metrics": ["mem_bw", "flops_any"]}
    (job,) = (await _ok(reference_gql, JOB_COMPARE, variables))["jobsMetricStats"]
    meta = emmy_job.meta
    assert (job["id"], job["jobId"], job["cluster"]) == (int(emmy_job.dbid), "1404397", "emmy")
    assert (job["startTime"], job["duration"], job["numNodes"]) == (
        meta["startTime"],
        meta["duration"],
        meta["numNodes"],
    )
    assert [entry["name"] for entry in job["stats"]] == ["mem_bw", "flops_any"]
    for entry in job["stats"]:
        assert entry["data"] == _stats_of(meta, entry["name"])


async def test_a_job_list_row_plots_every_node_of_a_multi_node_job(
    reference_gql: GraphQL, emmy_job: Imported
) -> None:
    variables = {
        "id": emmy_job.dbid,
        "metrics": ["mem_bw", "flops_any"],
        "scopes": ["node"],  # the row's scope of a job on more than one node
        "selectedResolution": 0,
    }
    metrics = (await _ok(reference_gql, JOB_LIST_ROW_METRICS, variables))["jobMetrics"]
    assert {(m["name"], m["scope"]) for m in metrics} == {("mem_bw", "node"), ("flops_any", "node")}
    hosts = [r["hostname"] for r in emmy_job.meta["resources"]]
    for entry in metrics:
        assert entry["metric"]["timestep"] == 60
        assert [s["hostname"] for s in entry["metric"]["series"]] == hosts
        assert len(entry["metric"]["statisticsSeries"]["mean"]) == len(
            entry["metric"]["series"][0]["data"]
        )


async def test_the_footprint_polar_plot_has_the_statistics_of_meta_json(
    reference_gql: GraphQL, emmy_job: Imported
) -> None:
    """As on cc-backend, an archived job answers with the statistics its meta.json stores,
    and with zeros for a metric of its cluster that it stores none of."""
    selected = ["cpu_load", "mem_bw", "flops_any", "nfs4_read"]
    variables = {"dbid": emmy_job.dbid, "selectedMetrics": selected}
    stats = (await _ok(reference_gql, JOB_FOOTPRINT_POLAR, variables))["jobStats"]
    assert [s["name"] for s in stats] == selected
    by_name = {s["name"]: s["data"] for s in stats}
    for name in ("cpu_load", "mem_bw", "flops_any"):
        assert by_name[name] == _stats_of(emmy_job.meta, name)
    assert by_name["nfs4_read"] == {"min": 0.0, "avg": 0.0, "max": 0.0}


# --- Tags.root ---------------------------------------------------------------------------------


async def test_the_tag_list_removes_a_tag_everywhere(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    (tag_id,) = reference_db.execute("SELECT id FROM tag WHERE tag_scope = 'demo'").fetchone()
    variables = {"tagIds": [str(tag_id)]}
    assert await _ok(reference_gql, REMOVE_TAG_FROM_LIST, variables) == {
        "removeTagFromList": [tag_id]
    }
    remaining = {t.id for t in reference_gql.backends.tags.list(DEMO)}
    assert tag_id not in remaining
    assert reference_gql.backends.tags.job_ids_with_tags([tag_id]) == []
