"""Changes to stored jobs: tags, meta data and deletion, kept in step with the job archive.

REST (``/api/jobs/tag_job/``, ``edit_meta/``, ``delete_job*/``, ``/api/tags/``) and GraphQL
parse their input into the request models below and call :class:`JobChanges`; every failure
is a domain error (:mod:`cc_backend.domain.errors`) for them to map.

The rules are cc-backend's:

- a tag without a scope is ``global``; adding tags creates the ones that do not exist yet,
  and the actor must be allowed to write each tag's scope (:mod:`cc_backend.domain.tag`);
- removing tags by request (from one job or from all jobs) handles ``global`` and ``admin``
  tags only: private tags named in a request are skipped;
- editing meta data sets one key and keeps the others;
- deleting jobs removes them from the database only, never from the archive.

One request changes everything it names or, when any part is refused (an unknown job or
tag, a scope the actor may not write), nothing.

Archive write-back: when the tags or the meta data of a job change that is archived
(monitoring status "archiving successful" and present in the archive), its archived
``meta.json`` is rewritten: ``tags`` become every tag of the job in the database (type,
name and scope, without database ids, as cc-backend writes them) and ``metaData`` the
archived meta data updated with the database's. The database is changed first (it is what
users see, as in cc-backend), then the archive. When the archive cannot be written, the
change stays in the database, the failure is logged with the job, and the caller gets
:class:`ArchiveNotUpdated`; repeating the request (or any later change of the job, or
:meth:`JobChanges.sync_archive`) writes the archive again from the database. When a
Parquet statistics index is kept beside the archive, the job's row in it is replaced too;
a failure there is logged only (the index is derived data and can be rebuilt).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cc_backend.archive.base import JobArchive
from cc_backend.domain.errors import BackendUnavailable, CCError, InvalidInput, NotFound
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.tag import ADMIN_SCOPE, GLOBAL_SCOPE, Tag
from cc_backend.domain.user import User
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.stats.site_index import SiteIndex

__all__ = [
    "ApiTag",
    "ArchiveNotUpdated",
    "DeleteJobRequest",
    "EditMetaRequest",
    "JobChanges",
    "JobMetaRequest",
    "OmitTagged",
    "TagRemoval",
]

log = logging.getLogger(__name__)

#: The scopes a request may remove tags of (private tags are skipped, as in cc-backend).
REMOVABLE_SCOPES = (GLOBAL_SCOPE, ADMIN_SCOPE)


# -- requests ---------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ApiTag(_Body):
    """A tag named in a request: ``{"type", "name", "scope"}``; an empty scope is ``global``."""

    type: str = Field(min_length=1, max_length=255, description="Tag type, e.g. 'app'")
    name: str = Field(min_length=1, max_length=255, description="Tag name, e.g. 'gromacs'")
    scope: str = Field(default=GLOBAL_SCOPE, description="global, admin or a user name")

    @field_validator("scope")
    @classmethod
    def _default_scope(cls, value: str) -> str:
        return value or GLOBAL_SCOPE

    def as_tag(self) -> Tag:
        """The tag (without database id)."""
        return Tag(type=self.type, name=self.name, scope=self.scope)

    def describe(self) -> str:
        """``type:name (scope)`` for messages."""
        return f"{self.type}:{self.name} ({self.scope})"


class EditMetaRequest(_Body):
    """``{"key", "value"}``: one meta data key of a job and its new value."""

    key: str = Field(min_length=1, description="Meta data key, e.g. 'jobScript'")
    value: str = Field(description="New value")


class JobMetaRequest(_Body):
    """``PATCH /api/jobs/edit_meta/``: a job by scheduler id (and cluster, start time) and
    the meta data entry to set, ``{"jobId", "cluster", "startTime", "payload": {key, value}}``.

    ``jobId`` and ``payload`` are optional here so that a missing one is reported by the
    service (as cc-backend reports a missing ``jobId``) rather than as a parse error.
    """

    job_id: int | None = Field(default=None, alias="jobId", description="Scheduler job id")
    cluster: str | None = Field(default=None, description="Cluster of the job")
    start_time: int | None = Field(
        default=None, alias="startTime", description="Start of the job, Unix seconds"
    )
    payload: EditMetaRequest | None = Field(default=None, description="The entry to set")


class DeleteJobRequest(_Body):
    """``DELETE /api/jobs/delete_job/``: which job to remove; ``jobId`` is required (checked
    by the service), ``cluster`` and ``startTime`` narrow the choice."""

    job_id: int | None = Field(default=None, alias="jobId", description="Scheduler job id")
    cluster: str | None = Field(default=None, description="Cluster of the job")
    start_time: int | None = Field(
        default=None, alias="startTime", description="Start of the job, Unix seconds"
    )


class OmitTagged(enum.StrEnum):
    """Which jobs ``delete_job_before`` keeps: none, any tagged job, or jobs with a
    private (user-scoped) tag."""

    NONE = "none"
    ALL = "all"
    USER = "user"


@dataclass(frozen=True)
class TagRemoval:
    """What removing tags from all jobs did: tags removed of those named in the request."""

    removed: int
    requested: int


class ArchiveNotUpdated(BackendUnavailable):
    """The database holds the change, but the job archive could not be brought in line."""

    code = "ARCHIVE_NOT_UPDATED"


# -- the service ------------------------------------------------------------------------


class JobChanges:
    """Tags, meta data and deletion of stored jobs, on behalf of an ``actor``.

    ``index`` keeps the site's statistics index in step with archived jobs (none: a
    :class:`SiteIndex` beside the archive). Safe to use from many threads: archive
    write-backs of this instance are serialised.
    """

    def __init__(
        self,
        jobs: JobRepository,
        tags: TagRepository,
        archive: JobArchive,
        *,
        index: SiteIndex | None = None,
    ) -> None:
        self.jobs = jobs
        self.tags = tags
        self.archive = archive
        self.index = index if index is not None else SiteIndex(archive)
        self._archive_lock = threading.Lock()

    # -- reading ------------------------------------------------------------------------

    def job(self, db_id: int, actor: User) -> Job:
        """Job ``db_id`` with the tags ``actor`` may read; NotFound if ``actor`` cannot see it."""
        found = self.jobs.get(db_id, actor=actor)
        readable = self.tags.tags_of_jobs([db_id], actor)[db_id]
        return found.model_copy(update={"tags": readable or None})

    def find_job(
        self, job_id: int, cluster: str | None, start_time: int | None, actor: User
    ) -> Job:
        """The newest job with scheduler id ``job_id`` (on ``cluster``, at ``start_time``
        when given) that ``actor`` can see; NotFound if there is none."""
        found = self.jobs.find(job_id, cluster, start_time, actor=actor)
        if not found or found[0].id is None:
            where = "" if cluster is None else f" on cluster {cluster}"
            raise NotFound(f"no job with jobId {job_id}{where}")
        return found[0]

    # -- tags ---------------------------------------------------------------------------

    def add_tags(self, db_id: int, tags: Sequence[ApiTag], actor: User) -> Job:
        """Attach ``tags`` to job ``db_id``, creating missing tags; return the job.

        Raises, changing nothing, NotFound for a job ``actor`` cannot see, PermissionDenied
        for a scope ``actor`` may not write and AlreadyExists for a type and name taken in
        another scope; ArchiveNotUpdated (after the change) as described in the module.
        """
        if tags:
            self.tags.attach_tags(db_id, [t.as_tag() for t in tags], actor)
            self._write_back(db_id)
        return self.job(db_id, actor)

    def remove_tags(self, db_id: int, tags: Sequence[ApiTag], actor: User) -> Job:
        """Detach the global and admin tags of ``tags`` from job ``db_id``; return the job.

        Private tags in ``tags`` are skipped. Raises, changing nothing, NotFound for a job
        ``actor`` cannot see or a tag that does not exist; ArchiveNotUpdated (after the
        change) as described in the module.
        """
        self.jobs.get(db_id, actor=actor)
        ids = [self._tag_id(t) for t in self._removable(tags)]
        if ids:
            self.tags.detach_tags(db_id, ids, actor)
            self._write_back(db_id)
        return self.job(db_id, actor)

    def detach_tags(self, db_id: int, tag_ids: Sequence[int], actor: User) -> list[Tag]:
        """Detach the tags ``tag_ids`` (private ones included) from job ``db_id``; return
        the job's tags ``actor`` may read afterwards.

        Raises, changing nothing, NotFound for a tag that does not exist or ``actor`` may
        not read and for a job ``actor`` cannot see, PermissionDenied for a scope ``actor``
        may not write; ArchiveNotUpdated (after the change) as described in the module.
        """
        for tag_id in tag_ids:
            self.tags.get(tag_id, actor)
        remaining = self.tags.detach_tags(db_id, list(tag_ids), actor)
        self._write_back(db_id)
        return remaining

    def delete_tags(self, tag_ids: Sequence[int], actor: User) -> list[int]:
        """Delete the tags ``tag_ids`` (any scope) with their links to jobs: all or none;
        return the ids deleted, each once.

        Raises, deleting nothing, NotFound for a tag that does not exist or ``actor`` may
        not read and PermissionDenied for one ``actor`` may not write; ArchiveNotUpdated
        (after the deletion) when archived jobs that carried the tags could not be
        rewritten.
        """
        unique = list(dict.fromkeys(tag_ids))
        for tag_id in unique:
            self.tags.get(tag_id, actor)
        affected = self.tags.job_ids_with_tags(unique)
        self.tags.delete(unique, actor)
        self._write_back_many(affected)
        return unique

    def remove_tags_globally(self, tags: Sequence[ApiTag], actor: User) -> TagRemoval:
        """Delete the global and admin tags of ``tags`` together with their links to jobs.

        Private tags in ``tags`` are skipped (and not counted as removed). Raises, deleting
        nothing, NotFound for a tag that does not exist and PermissionDenied for a scope
        ``actor`` may not write; ArchiveNotUpdated (after the deletion) when archived jobs
        that carried the tags could not be rewritten.
        """
        removable = self._removable(tags)
        ids = [self._tag_id(item) for item in removable]
        affected = self.tags.job_ids_with_tags(ids)
        self.tags.delete(ids, actor)
        self._write_back_many(affected)
        return TagRemoval(removed=len(removable), requested=len(tags))

    # -- meta data ----------------------------------------------------------------------

    def edit_meta(self, db_id: int, key: str, value: str, actor: User) -> Job:
        """Set meta data ``key`` of job ``db_id`` to ``value``; return the job.

        Raises InvalidInput for an empty key and NotFound for a job ``actor`` cannot see
        (changing nothing); ArchiveNotUpdated (after the change) as described in the module.
        """
        if not key:
            raise InvalidInput("the meta data key must not be empty")
        self.jobs.get(db_id, actor=actor)
        self.jobs.set_meta_data_key(db_id, key, value)
        self._write_back(db_id)
        return self.job(db_id, actor)

    def edit_meta_by_request(self, request: JobMetaRequest, actor: User) -> Job:
        """:meth:`edit_meta` of the newest job matching ``request``; InvalidInput without
        ``jobId`` or ``payload``, NotFound when no visible job matches."""
        if request.job_id is None:
            raise InvalidInput("the field 'jobId' is required")
        if request.payload is None:
            raise InvalidInput("the field 'payload' is required")
        found = self.find_job(request.job_id, request.cluster, request.start_time, actor)
        assert found.id is not None
        return self.edit_meta(found.id, request.payload.key, request.payload.value, actor)

    # -- deleting -----------------------------------------------------------------------

    def delete_job(self, db_id: int) -> None:
        """Remove job ``db_id`` (and its tag links) from the database; NotFound if absent."""
        if self.jobs.delete([db_id]) == 0:
            raise NotFound(f"no job with id {db_id}")

    def delete_job_by_request(self, request: DeleteJobRequest, actor: User) -> int:
        """Remove the newest job matching ``request``; return its database id.

        InvalidInput without ``jobId``, NotFound when no job ``actor`` can see matches.
        """
        if request.job_id is None:
            raise InvalidInput("the field 'jobId' is required")
        found = self.find_job(request.job_id, request.cluster, request.start_time, actor)
        assert found.id is not None
        self.delete_job(found.id)
        return found.id

    def delete_jobs_before(self, before: int, omit: OmitTagged = OmitTagged.NONE) -> int:
        """Remove the jobs that started before ``before`` (Unix seconds), sparing tagged
        ones as ``omit`` says; return how many were removed."""
        return self.jobs.delete_started_before(
            before,
            keep_tagged=omit is OmitTagged.ALL,
            keep_private_tagged=omit is OmitTagged.USER,
        )

    # -- the archive --------------------------------------------------------------------

    def sync_archive(self, db_id: int) -> bool:
        """Rewrite the archived meta.json of job ``db_id`` from the database (tags, meta
        data); True if the job is archived and was written, False if it is not archived.

        Raises ArchiveNotUpdated when the archive cannot be read or written.
        """
        try:
            return self._sync(db_id)
        except CCError as exc:
            log.error("job %d: the archive's meta.json was not updated: %s", db_id, exc.message)
            raise ArchiveNotUpdated(
                f"job {db_id}: the change is saved in the database, but the archived "
                f"meta.json was not updated ({exc.message}); repeat the request once the "
                "archive is writable"
            ) from exc

    def _write_back(self, db_id: int) -> None:
        self.sync_archive(db_id)

    def _write_back_many(self, db_ids: Iterable[int]) -> None:
        failed: list[ArchiveNotUpdated] = []
        for db_id in db_ids:
            try:
                self.sync_archive(db_id)
            except ArchiveNotUpdated as exc:
                failed.append(exc)
        if failed:
            raise ArchiveNotUpdated(
                f"{len(failed)} archived jobs were not updated; first: {failed[0].message}"
            )

    def _sync(self, db_id: int) -> bool:
        with self._archive_lock:  # read the database inside: the last writer writes the latest
            try:
                job = self.jobs.get(db_id)
            except NotFound:
                return False  # deleted meanwhile: nothing to keep in step
            if job.monitoring_status != MonitoringStatus.ARCHIVING_SUCCESSFUL:
                return False
            if not self.archive.exists(job):
                return False
            archived = self.archive.load_meta(job)
            stored = self.tags.all_tags_of_job(db_id)
            meta = {**(archived.meta_data or {}), **(job.meta_data or {})}
            updated = archived.model_copy(
                update={
                    "tags": [Tag(type=t.type, name=t.name, scope=t.scope) for t in stored],
                    "meta_data": meta or None,
                }
            )
            self.archive.store_meta(updated)
            self.index.upsert([updated.model_copy(update={"id": db_id, "tags": stored})])
        return True

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _removable(tags: Sequence[ApiTag]) -> list[ApiTag]:
        for item in tags:
            if item.scope not in REMOVABLE_SCOPES:
                log.info("tag %s not removed: private tags cannot be removed", item.describe())
        return [t for t in tags if t.scope in REMOVABLE_SCOPES]

    def _tag_id(self, item: ApiTag) -> int:
        """The database id of the tag ``item`` names; NotFound if there is none."""
        found = self.tags.find(item.type, item.name, item.scope)
        if found is None or found.id is None:
            raise NotFound(f"tag {item.describe()} does not exist")
        return found.id
