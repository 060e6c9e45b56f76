"""Requests of cc-backend's web interface, sent unchanged, against a site holding cc-backend's
reference database (544 jobs on alex and fritz) and the reference cluster files.

Expected values are read from the reference database with plain SQL.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values
from tornado.httpclient import AsyncHTTPClient

from cc_backend.auth.keys import load_private_key
from cc_backend.auth.tokens import issue_token
from cc_backend.config import load_config, load_secrets
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.user import User
from cc_backend.server import build_backends
from tests.web.browser import serving
from tests.web.graphql.conftest import GraphQL, Reply, graphql_app

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


@pytest.fixture
async def reference_gql(site: Path, reference_dir: Path) -> AsyncIterator[GraphQL]:
    """The site with the reference database and clusters, served; requests as ``demo``."""
    shutil.copyfile(reference_dir / "db" / "job.db", site / "var" / "job.db")
    backends = build_backends(load_config(site / "config.json"), load_secrets(site / "config.json"))
    for name in ("alex", "fritz"):
        path = reference_dir / "job-archive" / name / "cluster.json"
        backends.archive.store_cluster(Cluster.from_json(path.read_bytes()))
    backends.clusters.refresh()
    key = load_private_key(str(dotenv_values(site / ".env")["JWT_PRIVATE_KEY"]))
    try:
        async with serving(graphql_app(backends)) as base:
            yield GraphQL(base, lambda user: issue_token(user, key), backends, AsyncHTTPClient())
    finally:
        backends.close()


@pytest.fixture
def reference_db(reference_dir: Path) -> sqlite3.Connection:
    """The reference database, read-only."""
    uri = f"file:{reference_dir / 'db' / 'job.db'}?mode=ro"
    return sqlite3.connect(uri, uri=True)


DEMO = User.build("demo", ["admin", "api"])


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
