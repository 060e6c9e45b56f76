"""``/api/jobs/``: tag, edit meta data and delete jobs (cc-backend's routes and shapes)."""

from __future__ import annotations

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE, Tag
from cc_backend.web.errors import ApiError
from cc_backend.web.rest.base import BaseAPIHandler
from cc_backend.web.rest.jobs import job_json, timestamp

__all__ = [
    "DeleteJobBeforeHandler",
    "DeleteJobByIdHandler",
    "DeleteJobHandler",
    "EditMetaHandler",
    "TagJobHandler",
]

#: Values of ``omit-tagged`` on ``delete_job_before``.
OMIT_TAGGED = ("none", "all", "user")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ApiTag(_Body):
    """A tag in a ``tag_job`` body; an empty scope means ``global``."""

    type: str = Field(min_length=1, max_length=255)
    name: str = Field(min_length=1, max_length=255)
    scope: str = GLOBAL_SCOPE

    @field_validator("scope")
    @classmethod
    def _default_scope(cls, value: str) -> str:
        return value or GLOBAL_SCOPE


class EditMetaRequest(_Body):
    """``{"key", "value"}`` to set in a job's meta data."""

    key: str = Field(min_length=1)
    value: str


class DeleteJobRequest(_Body):
    """Which job ``delete_job/`` removes; ``jobId`` is required."""

    job_id: int | None = Field(default=None, alias="jobId")
    cluster: str | None = None
    start_time: int | None = Field(default=None, alias="startTime")


_TAGS = TypeAdapter(list[ApiTag])


class TagJobHandler(BaseAPIHandler):
    """``POST``/``PATCH /api/jobs/tag_job/{id}`` adds tags (created if new);
    ``DELETE`` removes global and admin tags (private ones are skipped, as cc-backend)."""

    async def post(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        await self.blocking(self._job, db_id)
        tags: list[ApiTag] = self.body_as(_TAGS)
        job = await self.blocking(self._add, db_id, tags)
        self.write_json(job_json(job))

    patch = post

    async def delete(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        await self.blocking(self._job, db_id)
        tags: list[ApiTag] = self.body_as(_TAGS)
        job = await self.blocking(self._remove, db_id, tags)
        self.write_json(job_json(job))

    def _job(self, db_id: int) -> Job:
        job = self.backends.jobs.get(db_id, actor=self.user)
        readable = self.backends.tags.tags_of_jobs([db_id], self.user)[db_id]
        return job.model_copy(update={"tags": readable or None})

    def _add(self, db_id: int, tags: list[ApiTag]) -> Job:
        for item in tags:
            tag = self.backends.tags.get_or_create(item.type, item.name, item.scope, self.user)
            assert tag.id is not None
            self.backends.tags.attach(db_id, tag.id, self.user)
        return self._job(db_id)

    def _remove(self, db_id: int, tags: list[ApiTag]) -> Job:
        for item in tags:
            if item.scope not in (GLOBAL_SCOPE, ADMIN_SCOPE):
                continue
            found: Tag | None = self.backends.tags.find(item.type, item.name, item.scope)
            if found is None or found.id is None:
                raise NotFound(f"tag {item.type}:{item.name} ({item.scope}) does not exist")
            self.backends.tags.detach(db_id, found.id, self.user)
        return self._job(db_id)


class EditMetaHandler(BaseAPIHandler):
    """``PATCH``/``POST /api/jobs/edit_meta/{id}``: set one meta data key; the job."""

    async def patch(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        await self.blocking(self.backends.jobs.get, db_id, self.user)
        request: EditMetaRequest = self.body_as(EditMetaRequest)
        job = await self.blocking(self._edit, db_id, request)
        self.write_json(job_json(job))

    post = patch

    def _edit(self, db_id: int, request: EditMetaRequest) -> Job:
        jobs = self.backends.jobs
        job = jobs.get(db_id, actor=self.user)
        meta = {**(job.meta_data or {}), request.key: request.value}
        jobs.update(db_id, meta_data=orjson.dumps(meta).decode())
        updated = jobs.get(db_id, actor=self.user)
        readable = self.backends.tags.tags_of_jobs([db_id], self.user)[db_id]
        return updated.model_copy(update={"tags": readable or None})


class DeleteJobHandler(BaseAPIHandler):
    """``DELETE /api/jobs/delete_job/`` with ``{jobId, cluster?, startTime?}``.

    Removes the newest matching job from the database (not from the archive).
    """

    async def delete(self) -> None:
        request: DeleteJobRequest = self.body_as(DeleteJobRequest)
        if request.job_id is None:
            raise InvalidInput("the field 'jobId' is required")
        db_id = await self.blocking(self._delete, request)
        self.write_json({"msg": f"Successfully deleted job {db_id}"})

    def _delete(self, request: DeleteJobRequest) -> int:
        assert request.job_id is not None
        jobs = self.backends.jobs
        found = jobs.find(request.job_id, request.cluster, request.start_time, actor=self.user)
        if not found or found[0].id is None:
            raise ApiError(422, f"finding job failed: no job with jobId {request.job_id}")
        db_id = found[0].id
        if jobs.delete([db_id]) == 0:
            raise ApiError(422, f"deleting job failed: job {db_id} is gone")
        return db_id


class DeleteJobByIdHandler(BaseAPIHandler):
    """``DELETE /api/jobs/delete_job/{id}``: remove one job by database id."""

    async def delete(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        deleted = await self.blocking(self.backends.jobs.delete, [db_id])
        if deleted == 0:
            raise ApiError(422, f"deleting job failed: no job with id {db_id}")
        self.write_json({"msg": f"Successfully deleted job {db_id}"})


class DeleteJobBeforeHandler(BaseAPIHandler):
    """``DELETE /api/jobs/delete_job_before/{ts}``: remove jobs that started before ``ts``.

    ``omit-tagged`` keeps tagged jobs: ``all`` any tagged job, ``user`` jobs with a private
    (user-scoped) tag, ``none`` (default) keeps nothing.
    """

    async def delete(self, raw_ts: str) -> None:
        before = self.int_arg(raw_ts, "ts")
        omit = self.get_query_argument("omit-tagged", "") or "none"
        if omit not in OMIT_TAGGED:
            raise InvalidInput("omit-tagged must be one of: none, all, user")
        count = await self.blocking(self._delete, before, omit)
        self.write_json({"msg": f"Successfully deleted {count} jobs"})

    def _delete(self, before: int, omit: str) -> int:
        if before <= 0:
            return 0
        start = {"from": timestamp(0, "ts"), "to": timestamp(before - 1, "ts")}
        window = JobFilter.model_validate({"startTime": start})
        jobs = self.backends.jobs.query([window], actor=None).items
        ids = [j.id for j in jobs if j.id is not None]
        if omit != "none":
            ids = [i for i in ids if not self._keep(i, omit)]
        return self.backends.jobs.delete(ids) if ids else 0

    def _keep(self, db_id: int, omit: str) -> bool:
        tags = self.backends.tags.all_tags_of_job(db_id)
        if omit == "all":
            return bool(tags)
        return any(t.scope not in (GLOBAL_SCOPE, ADMIN_SCOPE) for t in tags)
