"""Requests of cc-backend's web interface, sent unchanged, against a site holding cc-backend's
reference database (544 jobs on alex and fritz) and the reference cluster files.

Expected values are read from the reference database with plain SQL.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cc_backend.domain.cluster import Cluster
from cc_backend.services.importer import import_job_files
from tests.web.graphql.conftest import DEMO, GraphQL, Reply

pytestmark = pytest.mark.reference

#: The start query of every page (its ``${extraInitQuery}`` is empty on most pages).
INIT_QUERY = """query {
        clusters {
            name
            partitions
            subClusters {
                name
                nodes
                numberOfNodes
                processorType
                socketsPerNode
                coresPerSocket
                threadsPerCore
                flopRateScalar { unit { base, prefix }, value }
                flopRateSimd { unit { base, prefix }, value }
                memoryBandwidth { unit { base, prefix }, value }
                topology {
                    node
                    socket
                    core
                    accelerators { id }
                }
                metricConfig {
                    name
                    unit { base, prefix }
                    scope
                    aggregation
                    timestep
                    peak
                    normal
                    caution
                    alert
                    lowerIsBetter
                }
                footprint
            }
        }
        tags { id, name, type, scope }
        globalMetrics {
            name
            scope
            footprint
            unit { base, prefix }
            availability { cluster, subClusters }
        }

    }"""

#: The job list (JobList.svelte).
JOB_LIST_QUERY = """
    query (
      $filter: [JobFilter!]!
      $sorting: OrderByInput!
      $paging: PageRequest!
    ) {
      jobs(filter: $filter, order: $sorting, page: $paging) {
        items {
          id
          jobId
          user
          project
          cluster
          subCluster
          startTime
          duration
          numNodes
          numHWThreads
          numAcc
          walltime
          resources {
            hostname
          }
          SMT
          shared
          partition
          arrayJobId
          monitoringStatus
          state
          tags {
            id
            type
            name
            scope
          }
          userData {
            name
          }
          metaData
          footprint {
            name
            stat
            value
          }
        }
        count
        hasNextPage
      }
    }
  """

#: What the job view adds to the start query (Job.root.svelte), the job's id written in.
JOB_VIEW_EXTRA = """
    job(id: "{dbid}") {{
      id, jobId, user, project, cluster, startTime,
      duration, numNodes, numHWThreads, numAcc, energy,
      SMT, shared, partition, subCluster, arrayJobId,
      monitoringStatus, state, walltime,
      tags {{ id, type, scope, name }},
      resources {{ hostname, hwthreads, accelerators }},
      metaData,
      userData {{ name, email }},
      concurrentJobs {{ items {{ id, jobId }}, count, listQuery }},
      footprint {{ name, stat, value }},
      energyFootprint {{ hardware, metric, value }}
    }}
"""

#: The metrics and scopes the job view has data for.
SCOPED_JOB_STATS = """
    query ($dbid: ID!, $selectedMetrics: [String!]!, $selectedScopes: [MetricScope!]!) {
      scopedJobStats(id: $dbid, metrics: $selectedMetrics, scopes: $selectedScopes) {
        name
        scope
        stats { hostname id data { min avg max } }
      }
    }
"""

#: One metric plot's data at a resolution (Metric.svelte).
METRIC_PLOT = """
    query ($dbid: ID!, $selectedMetrics: [String!]!, $selectedScopes: [MetricScope!]!,
           $selectedResolution: Int) {
      singleUpdate: jobMetrics(id: $dbid, metrics: $selectedMetrics, scopes: $selectedScopes,
                               resolution: $selectedResolution) {
        name
        scope
        metric {
          unit { prefix base }
          timestep
          statisticsSeries { min mean median max }
          series { hostname id data statistics { min avg max } }
        }
      }
    }
"""

#: The jobs-per-page setting of the job list.
UPDATE_CONFIGURATION = """
        mutation ($name: String!, $value: String!) {
          updateConfiguration(name: $name, value: $value)
        }
      """

#: Tag management of the job page (TagManagement.svelte).
CREATE_TAG = """
        mutation ($type: String!, $name: String!, $scope: String!) {
          createTag(type: $type, name: $name, scope: $scope) {
            id
            type
            name
            scope
          }
        }
      """
ADD_TAGS_TO_JOB = """
        mutation ($job: ID!, $tagIds: [ID!]!) {
          addTagsToJob(job: $job, tagIds: $tagIds) {
            id
            type
            name
            scope
          }
        }
      """

#: The node state history of the status page.
NODE_STATES_TIMED = """
      query ($filter: [NodeFilter!], $typeNode: String!, $typeHealth: String!) {
        nodeStates: nodeStatesTimed(filter: $filter, type: $typeNode) {
          state
          counts
          times
        }
        healthStates: nodeStatesTimed(filter: $filter, type: $typeHealth) {
          state
          counts
          times
        }
      }
    """


async def _run(gql: GraphQL, query: str, variables: dict[str, Any] | None = None) -> Reply:
    return await gql(query, variables, user=DEMO)


async def test_the_start_query_of_every_page_runs_unchanged(
    reference_gql: GraphQL, reference_db: sqlite3.Connection, reference_dir: Path
) -> None:
    data = (await _run(reference_gql, INIT_QUERY)).ok()
    assert [c["name"] for c in data["clusters"]] == ["alex", "fritz"]
    for cluster in data["clusters"]:
        stored = {
            p
            for (p,) in reference_db.execute(
                "SELECT DISTINCT cluster_partition FROM job WHERE cluster = ?", (cluster["name"],)
            )
        }
        assert cluster["partitions"] == sorted(stored)
        document = json.loads(
            (reference_dir / "job-archive" / cluster["name"] / "cluster.json").read_text()
        )
        assert [s["name"] for s in cluster["subClusters"]] == [
            s["name"] for s in document["subClusters"]
        ]
    tags = reference_db.execute("SELECT id, tag_name, tag_type, tag_scope FROM tag").fetchall()
    readable = [t for t in tags if t[3] in ("global", "admin", "demo")]
    assert data["tags"] == [
        {"id": str(i), "name": n, "type": t, "scope": s} for i, n, t, s in readable
    ]
    assert {m["name"] for m in data["globalMetrics"]} >= {"cpu_load", "flops_any", "mem_bw"}


async def test_the_job_list_query_runs_unchanged_and_matches_the_database(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    variables = {
        "filter": [{"cluster": {"eq": "fritz"}}, {"state": ["completed"]}],
        "sorting": {"field": "startTime", "type": "col", "order": "DESC"},
        "paging": {"itemsPerPage": 10, "page": 2},
    }
    jobs = (await _run(reference_gql, JOB_LIST_QUERY, variables)).ok()["jobs"]
    rows = reference_db.execute(
        "SELECT id, job_id, hpc_user, num_nodes, footprint, shared, cluster_partition FROM job "
        "WHERE cluster = 'fritz' AND job_state = 'completed' "
        "ORDER BY start_time DESC, id DESC LIMIT 10 OFFSET 10"
    ).fetchall()
    (count,) = reference_db.execute(
        "SELECT count(*) FROM job WHERE cluster = 'fritz' AND job_state = 'completed'"
    ).fetchone()
    assert jobs["count"] == count == 241
    assert jobs["hasNextPage"] is True
    assert [int(item["id"]) for item in jobs["items"]] == [r[0] for r in rows]
    for item, (_, job_id, user, nodes, footprint, shared, partition) in zip(
        jobs["items"], rows, strict=True
    ):
        assert (item["jobId"], item["user"], item["numNodes"]) == (job_id, user, nodes)
        assert (item["shared"], item["partition"]) == (shared, partition)
        assert {f"{f['name']}_{f['stat']}": f["value"] for f in item["footprint"]} == json.loads(
            footprint
        )
        assert item["userData"] is None  # the job owners are not users of the site
        assert item["metaData"]["jobScript"]


async def test_the_job_list_page_setting_is_stored_unchanged(reference_gql: GraphQL) -> None:
    variables = {"name": "plot_list_jobsPerPage", "value": "25"}
    assert (await _run(reference_gql, UPDATE_CONFIGURATION, variables)).ok() == {
        "updateConfiguration": None
    }
    assert reference_gql.backends.user_config.get("demo", "plot_list_jobsPerPage") == 25


async def test_tag_management_creates_and_attaches_a_private_tag(
    reference_gql: GraphQL, reference_db: sqlite3.Connection
) -> None:
    created = (
        await _run(reference_gql, CREATE_TAG, {"type": "note", "name": "check", "scope": "demo"})
    ).ok()["createTag"]
    (job_id,) = reference_db.execute("SELECT id FROM job WHERE job_id = 398999").fetchone()
    tags = (
        await _run(reference_gql, ADD_TAGS_TO_JOB, {"job": str(job_id), "tagIds": [created["id"]]})
    ).ok()["addTagsToJob"]
    assert created in tags
    stored = reference_gql.backends.tags.all_tags_of_job(job_id)
    assert ("note", "check", "demo") in {(t.type, t.name, t.scope) for t in stored}


async def test_the_status_page_state_history_runs_unchanged(reference_gql: GraphQL) -> None:
    variables = {
        "filter": {"cluster": {"eq": "fritz"}, "timeStart": 1760096999},
        "typeNode": "node",
        "typeHealth": "health",
    }
    data = (await _run(reference_gql, NODE_STATES_TIMED, variables)).ok()
    assert data == {"nodeStates": [], "healthStates": []}  # no node reported yet


#: The archived reference job with metric data (32 nodes of emmy, a point a minute).
EMMY_JOB = Path("emmy/1404/397/1609300556")


async def test_the_job_view_queries_run_unchanged_on_an_archived_job(
    reference_gql: GraphQL, reference_dir: Path
) -> None:
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
    dbid = str(imported.db_id)
    meta = json.loads((folder / "meta.json").read_text())
    with gzip.open(folder / "data.json.gz") as stored:
        data = json.load(stored)

    start = INIT_QUERY[: INIT_QUERY.rindex("}")] + JOB_VIEW_EXTRA.format(dbid=dbid) + "}"
    job = (await _run(reference_gql, start)).ok()["job"]
    assert (job["id"], job["jobId"], job["cluster"]) == (dbid, meta["jobId"], "emmy")
    assert [r["hostname"] for r in job["resources"]] == [r["hostname"] for r in meta["resources"]]
    assert job["concurrentJobs"] is None  # the job had its nodes to itself

    variables = {
        "dbid": dbid,
        "selectedMetrics": ["mem_bw", "flops_any"],
        "selectedScopes": ["node"],
    }
    stats = (await _run(reference_gql, SCOPED_JOB_STATS, variables)).ok()["scopedJobStats"]
    assert {(s["name"], s["scope"]) for s in stats} == {("mem_bw", "node"), ("flops_any", "node")}
    for entry in stats:
        stored_series = data[entry["name"]]["node"]["series"]
        assert [s["hostname"] for s in entry["stats"]] == [s["hostname"] for s in stored_series]
        for got, series in zip(entry["stats"], stored_series, strict=True):
            values = [v for v in series["data"] if v is not None]
            assert got["data"]["min"] == pytest.approx(min(values))
            assert got["data"]["max"] == pytest.approx(max(values))

    native = {**variables, "selectedMetrics": ["mem_bw"], "selectedResolution": 0}
    (plot,) = (await _run(reference_gql, METRIC_PLOT, native)).ok()["singleUpdate"]
    stored_metric = data["mem_bw"]["node"]
    assert plot["metric"]["timestep"] == stored_metric["timestep"] == 60
    assert plot["metric"]["unit"] == {"prefix": "G", "base": "B/s"}
    first = plot["metric"]["series"][0]
    assert first["hostname"] == stored_metric["series"][0]["hostname"]
    assert first["data"] == pytest.approx(stored_metric["series"][0]["data"], nan_ok=True)
    points = len(stored_metric["series"][0]["data"])
    assert len(plot["metric"]["statisticsSeries"]["median"]) == len(first["data"]) == points

    coarse = {**native, "selectedResolution": 600}
    (resampled,) = (await _run(reference_gql, METRIC_PLOT, coarse)).ok()["singleUpdate"]
    assert resampled["metric"]["timestep"] == 600
    assert len(resampled["metric"]["series"][0]["data"]) < points // 5
