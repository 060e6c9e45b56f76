"""``/api/jobs/``: tag jobs, edit their meta data, delete them, list the nodes in use.

Handlers parse the request and call :class:`~cc_backend.services.job_changes.JobChanges`,
which holds the rules; only the statuses that cc-backend answers differently from the
error table (422 for an unknown job on the delete routes) are decided here.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.services.job_changes import (
    ApiTag,
    DeleteJobRequest,
    EditMetaRequest,
    JobChanges,
    JobMetaRequest,
    OmitTagged,
)
from cc_backend.web.errors import ApiError
from cc_backend.web.rest.base import BaseAPIHandler, parse_int64
from cc_backend.web.rest.jobs import job_json, timestamp

__all__ = [
    "TAG_LIST",
    "ApiTag",
    "DeleteJobBeforeHandler",
    "DeleteJobByIdHandler",
    "DeleteJobHandler",
    "DeleteJobRequest",
    "EditMetaByRequestHandler",
    "EditMetaHandler",
    "EditMetaRequest",
    "JobChangesHandler",
    "JobMetaRequest",
    "TagJobHandler",
    "UsedNodesHandler",
]

#: A request body holding a list of tags.
TAG_LIST: TypeAdapter[list[ApiTag]] = TypeAdapter(list[ApiTag])


class JobChangesHandler(BaseAPIHandler):
    """Base of the handlers that change jobs: the site's :class:`JobChanges`."""

    @property
    def changes(self) -> JobChanges:
        """The site's service (built once by the composition root)."""
        return self.backends.job_changes


class TagJobHandler(JobChangesHandler):
    """``POST``/``PATCH /api/jobs/tag_job/{id}`` attach tags (created if new);
    ``DELETE`` detaches global and admin tags (private ones are skipped, as cc-backend).
    Both answer the job with the tags the caller may read."""

    async def post(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        changes = self.changes
        await self.blocking(changes.job, db_id, self.user)
        tags: list[ApiTag] = self.body_as(TAG_LIST)
        job = await self.blocking(changes.add_tags, db_id, tags, self.user)
        self.write_json(job_json(job))

    patch = post

    async def delete(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        changes = self.changes
        await self.blocking(changes.job, db_id, self.user)
        tags: list[ApiTag] = self.body_as(TAG_LIST)
        job = await self.blocking(changes.remove_tags, db_id, tags, self.user)
        self.write_json(job_json(job))


class EditMetaHandler(JobChangesHandler):
    """``PATCH``/``POST /api/jobs/edit_meta/{id}`` with ``{key, value}``: the job."""

    async def patch(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        changes = self.changes
        await self.blocking(changes.job, db_id, self.user)
        request: EditMetaRequest = self.body_as(EditMetaRequest)
        job = await self.blocking(changes.edit_meta, db_id, request.key, request.value, self.user)
        self.write_json(job_json(job))

    post = patch


class EditMetaByRequestHandler(JobChangesHandler):
    """``PATCH /api/jobs/edit_meta/`` with ``{jobId, cluster?, startTime?, payload: {key,
    value}}``: edits the newest matching job; the job."""

    async def patch(self) -> None:
        request: JobMetaRequest = self.body_as(JobMetaRequest)
        job = await self.blocking(self.changes.edit_meta_by_request, request, self.user)
        self.write_json(job_json(job))


class DeleteJobHandler(JobChangesHandler):
    """``DELETE /api/jobs/delete_job/`` with ``{jobId, cluster?, startTime?}``: removes the
    newest matching job from the database (not from the archive); 422 if there is none."""

    async def delete(self) -> None:
        request: DeleteJobRequest = self.body_as(DeleteJobRequest)
        try:
            db_id = await self.blocking(self.changes.delete_job_by_request, request, self.user)
        except NotFound as exc:
            raise ApiError(422, f"finding job failed: {exc.message}") from None
        self.write_json({"msg": f"Successfully deleted job {db_id}"})


class DeleteJobByIdHandler(JobChangesHandler):
    """``DELETE /api/jobs/delete_job/{id}``: removes one job by database id; 422 if absent."""

    async def delete(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        try:
            await self.blocking(self.changes.delete_job, db_id)
        except NotFound as exc:
            raise ApiError(422, f"deleting job failed: {exc.message}") from None
        self.write_json({"msg": f"Successfully deleted job {db_id}"})


class DeleteJobBeforeHandler(JobChangesHandler):
    """``DELETE /api/jobs/delete_job_before/{ts}[?omit-tagged=none|all|user]``: removes the
    jobs that started before ``ts``, sparing tagged ones as ``omit-tagged`` says."""

    async def delete(self, raw_ts: str) -> None:
        before = self.int_arg(raw_ts, "ts")
        timestamp(before, "ts")  # a point in time or 400, as before
        raw_omit = self.get_query_argument("omit-tagged", "") or OmitTagged.NONE.value
        try:
            omit = OmitTagged(raw_omit)
        except ValueError:
            raise InvalidInput("omit-tagged must be one of: none, all, user") from None
        count = await self.blocking(self.changes.delete_jobs_before, before, omit)
        self.write_json({"msg": f"Successfully deleted {count} jobs"})


class UsedNodesHandler(BaseAPIHandler):
    """``GET /api/jobs/used_nodes?ts=T``: ``{"usedNodes": {cluster: [host, ...]}}``, the
    nodes of the jobs running now that started before ``T``."""

    async def get(self) -> None:
        raw = self.get_query_argument("ts", "")
        if not raw:
            raise InvalidInput("missing required query parameter: ts")
        before = parse_int64(raw, "query parameter ts")
        used = await self.blocking(self.backends.jobs.used_nodes, before)
        self.write_json({"usedNodes": used})
