"""Tags and their links to jobs (tables ``tag`` and ``jobtag``).

Who may read or write a tag of a given scope is decided by :mod:`cc_backend.domain.tag`;
which jobs a user may see by :mod:`cc_backend.repository.visibility`. A ``(type, name)``
pair is unique across all scopes, as in cc-backend's schema.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cc_backend.domain.errors import AlreadyExists, NotFound, PermissionDenied
from cc_backend.domain.tag import Tag, can_read_scope, can_write_scope, readable_scopes
from cc_backend.domain.user import User
from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.prepared import Prepared
from cc_backend.repository.schema import job, jobtag, tag
from cc_backend.repository.visibility import job_visibility

_COLUMNS = (tag.c.id, tag.c.tag_type, tag.c.tag_name, tag.c.tag_scope)
_ORDER = (tag.c.tag_type, tag.c.tag_name, tag.c.id)


def tag_from_row(row: Mapping[Any, Any]) -> Tag:
    """Build a :class:`Tag` from a row holding the ``tag`` columns; returns the tag."""
    return Tag(id=row["id"], type=row["tag_type"], name=row["tag_name"], scope=row["tag_scope"])


def _tags(conn: Connection, query: sa.Select[Any]) -> builtins.list[Tag]:
    return [tag_from_row(row._mapping) for row in conn.execute(query)]


def _job_tags_statement(*, readable_only: bool) -> Prepared:
    """The tags on the jobs whose ids are the JSON list ``ids``, each row with its
    ``job_id``, by type, name and id; with ``readable_only`` only the tags of the scopes in
    the JSON list ``scopes``."""

    def build(dialect_name: str) -> sa.Select[Any]:
        query = (
            sa.select(jobtag.c.job_id, *_COLUMNS)
            .join(tag, tag.c.id == jobtag.c.tag_id)
            .where(dialect.in_json_list(jobtag.c.job_id, "ids", dialect_name))
            .order_by(*_ORDER)
        )
        if readable_only:
            query = query.where(dialect.in_json_list(tag.c.tag_scope, "scopes", dialect_name))
        return query

    return Prepared(build)


_JOB_TAGS = _job_tags_statement(readable_only=False)
_READABLE_JOB_TAGS = _job_tags_statement(readable_only=True)


def _tags_of_jobs(
    conn: Connection, job_ids: Iterable[int], scopes: Sequence[str] | None
) -> dict[int, builtins.list[Tag]]:
    """The tags on each of ``job_ids`` (of ``scopes`` only, unless ``None``), in one query."""
    result: dict[int, builtins.list[Tag]] = {job_id: [] for job_id in job_ids}
    if not result:
        return result
    ids = dialect.json_list(result)
    if scopes is None:
        rows = _JOB_TAGS.rows(conn, ids=ids)
    else:
        rows = _READABLE_JOB_TAGS.rows(conn, ids=ids, scopes=dialect.json_list(scopes))
    for row in rows:
        result[row["job_id"]].append(tag_from_row(row))
    return result


class TagRepository:
    """Creates, finds, attaches and deletes tags on behalf of a user (the ``actor``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, new: Tag, actor: User) -> Tag:
        """Store the tag ``new`` (its ``id`` is ignored); return it with its database id.

        Raises :class:`PermissionDenied` if ``actor`` may not write the tag's scope and
        :class:`AlreadyExists` if a tag of that type and name exists (in any scope).
        """
        if not can_write_scope(actor, new.scope):
            raise PermissionDenied(f"{actor.username!r} may not create tags of scope {new.scope!r}")
        insert = sa.insert(tag).values(tag_type=new.type, tag_name=new.name, tag_scope=new.scope)
        try:
            with self.db.begin() as conn:
                key = conn.execute(insert).inserted_primary_key
        except sa.exc.IntegrityError:
            raise AlreadyExists(f"a tag of type {new.type!r} named {new.name!r} exists") from None
        assert key is not None
        return Tag(id=int(key[0]), type=new.type, name=new.name, scope=new.scope)

    def get(self, tag_id: int, actor: User) -> Tag:
        """Return the tag ``tag_id``.

        Raises :class:`NotFound` if it does not exist or ``actor`` may not read its scope.
        """
        with self.db.connect() as conn:
            found = self._by_id(conn, tag_id)
        if not can_read_scope(actor, found.scope):
            raise NotFound(f"tag {tag_id} not found")
        return found

    def find(self, type: str, name: str, scope: str) -> Tag | None:
        """Return the tag with this type, name and scope, or ``None`` if there is none."""
        query = sa.select(*_COLUMNS).where(
            tag.c.tag_type == type, tag.c.tag_name == name, tag.c.tag_scope == scope
        )
        with self.db.connect() as conn:
            found = _tags(conn, query)
        return found[0] if found else None

    def get_or_create(self, type: str, name: str, scope: str, actor: User) -> Tag:
        """Return the tag with this type, name and scope, creating it if needed.

        Raises :class:`PermissionDenied` if ``actor`` may not write ``scope`` (even when the
        tag exists) and :class:`AlreadyExists` if the type and name are taken in another scope.
        """
        if not can_write_scope(actor, scope):
            raise PermissionDenied(f"{actor.username!r} may not write tags of scope {scope!r}")
        existing = self.find(type, name, scope)
        if existing is not None:
            return existing
        try:
            return self.create(Tag(type=type, name=name, scope=scope), actor)
        except AlreadyExists:
            existing = self.find(type, name, scope)  # created concurrently in the same scope
            if existing is None:
                raise
            return existing

    def list(self, actor: User) -> builtins.list[Tag]:
        """Return every tag ``actor`` may read, ordered by type and name."""
        query = sa.select(*_COLUMNS).where(tag.c.tag_scope.in_(readable_scopes(actor)))
        with self.db.connect() as conn:
            return _tags(conn, query.order_by(*_ORDER))

    def counts(self, actor: User) -> dict[int, int]:
        """Return, per id of a tag ``actor`` may read, how many jobs visible to them carry it.

        Tags on no visible job count 0. Raises :class:`PermissionDenied` if ``actor`` may
        see no jobs at all.
        """
        on_job = job.c.id == jobtag.c.job_id
        visible = job_visibility(actor)
        if visible is not None:
            on_job = sa.and_(on_job, visible)
        query = (
            sa.select(tag.c.id, sa.func.count(job.c.id))
            .select_from(tag.outerjoin(jobtag, jobtag.c.tag_id == tag.c.id).outerjoin(job, on_job))
            .where(tag.c.tag_scope.in_(readable_scopes(actor)))
            .group_by(tag.c.id)
        )
        with self.db.connect() as conn:
            return {int(tag_id): int(count) for tag_id, count in conn.execute(query)}

    def attach(self, job_db_id: int, tag_id: int, actor: User) -> builtins.list[Tag]:
        """Attach tag ``tag_id`` to the job with database id ``job_db_id`` (idempotent).

        Returns the tags of the job afterwards that ``actor`` may read, ordered by type and
        name. Raises :class:`NotFound` for a job that does not exist or ``actor`` may not see
        and for an unknown tag, :class:`PermissionDenied` if ``actor`` may not write the tag's
        scope.
        """
        link = {"job_id": job_db_id, "tag_id": tag_id}
        try:
            with self.db.begin() as conn:
                self._check_writable(conn, job_db_id, tag_id, actor)
                linked = sa.select(jobtag.c.job_id).where(
                    jobtag.c.job_id == job_db_id, jobtag.c.tag_id == tag_id
                )
                if conn.execute(linked).first() is None:
                    conn.execute(sa.insert(jobtag).values(link))
        except sa.exc.IntegrityError:
            pass  # attached concurrently, or job or tag deleted meanwhile: checked below
        with self.db.connect() as conn:
            self._check_writable(conn, job_db_id, tag_id, actor)
            return self._readable_tags_of_job(conn, job_db_id, actor)

    def detach(self, job_db_id: int, tag_id: int, actor: User) -> builtins.list[Tag]:
        """Remove tag ``tag_id`` from the job ``job_db_id`` (no error if it was not attached).

        Returns the tags of the job afterwards that ``actor`` may read. Raises the same
        errors as :meth:`attach`.
        """
        with self.db.begin() as conn:
            self._check_writable(conn, job_db_id, tag_id, actor)
            conn.execute(
                sa.delete(jobtag).where(jobtag.c.job_id == job_db_id, jobtag.c.tag_id == tag_id)
            )
            return self._readable_tags_of_job(conn, job_db_id, actor)

    def tags_of_jobs(self, job_db_ids: Sequence[int], actor: User) -> dict[int, builtins.list[Tag]]:
        """Return, for each of ``job_db_ids``, the tags on it that ``actor`` may read.

        One query for all ids; each list is ordered by type and name, and a job without
        (readable) tags maps to an empty list.
        """
        if not job_db_ids:
            return {}
        with self.db.connect() as conn:
            return _tags_of_jobs(conn, job_db_ids, readable_scopes(actor))

    def all_tags_of_job(self, job_db_id: int) -> builtins.list[Tag]:
        """Return every tag on job ``job_db_id`` regardless of scope (for the archive's meta).

        An unknown job has no tags; raises nothing beyond database errors.
        """
        with self.db.connect() as conn:
            return _tags_of_jobs(conn, [job_db_id], None)[job_db_id]

    def delete(self, tag_ids: Iterable[int], actor: User) -> int:
        """Delete the tags ``tag_ids`` and their links to jobs, all or none.

        Returns how many tags were deleted (unknown ids are skipped). Raises
        :class:`PermissionDenied`, deleting nothing, if ``actor`` may not write the scope of
        one of them.
        """
        ids = sorted(set(tag_ids))
        if not ids:
            return 0
        with self.db.begin() as conn:
            rows = conn.execute(sa.select(*_COLUMNS).where(tag.c.id.in_(ids))).all()
            for found in (tag_from_row(row._mapping) for row in rows):
                if not can_write_scope(actor, found.scope):
                    raise PermissionDenied(
                        f"{actor.username!r} may not delete tag {found.id} of scope {found.scope!r}"
                    )
            present = [row.id for row in rows]
            if present:
                conn.execute(sa.delete(jobtag).where(jobtag.c.tag_id.in_(present)))
                conn.execute(sa.delete(tag).where(tag.c.id.in_(present)))
        return len(present)

    def attach_tags(self, job_db_id: int, tags: Sequence[Tag], actor: User) -> builtins.list[Tag]:
        """Attach ``tags`` (by type, name and scope; ids are ignored) to job ``job_db_id``,
        creating the tags that do not exist yet: all of them or, on any error, none.

        Returns the tags of the job afterwards that ``actor`` may read. Raises
        :class:`PermissionDenied` if ``actor`` may not write the scope of one of the tags,
        :class:`NotFound` for a job that does not exist or ``actor`` may not see and
        :class:`AlreadyExists` if a tag's type and name are taken in another scope.
        """
        for item in tags:
            if not can_write_scope(actor, item.scope):
                raise PermissionDenied(
                    f"{actor.username!r} may not add tags of scope {item.scope!r} to jobs"
                )
        for attempt in range(2):
            try:
                with self.db.begin() as conn:
                    self._check_visible_job(conn, job_db_id, actor)
                    for item in tags:
                        self._link(conn, job_db_id, self._find_or_insert(conn, item))
                    return self._readable_tags_of_job(conn, job_db_id, actor)
            except sa.exc.IntegrityError:
                if attempt:  # not a race with a concurrent insert: report what is wrong
                    with self.db.connect() as conn:
                        self._check_visible_job(conn, job_db_id, actor)
                    raise AlreadyExists(
                        "a tag of the same type and name exists in another scope"
                    ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def detach_tags(
        self, job_db_id: int, tag_ids: Sequence[int], actor: User
    ) -> builtins.list[Tag]:
        """Remove the tags ``tag_ids`` from job ``job_db_id`` in one transaction (tags that
        are not attached are skipped).

        Returns the tags of the job afterwards that ``actor`` may read. Raises, removing
        nothing, :class:`NotFound` for an unknown tag or a job that does not exist or
        ``actor`` may not see, and :class:`PermissionDenied` if ``actor`` may not write the
        scope of one of the tags.
        """
        ids = sorted(set(tag_ids))
        with self.db.begin() as conn:
            for tag_id in ids:
                self._check_writable(conn, job_db_id, tag_id, actor)
            self._check_visible_job(conn, job_db_id, actor)
            if ids:
                conn.execute(
                    sa.delete(jobtag).where(jobtag.c.job_id == job_db_id, jobtag.c.tag_id.in_(ids))
                )
            return self._readable_tags_of_job(conn, job_db_id, actor)

    def job_ids_with_tags(self, tag_ids: Iterable[int]) -> builtins.list[int]:
        """Database ids of the jobs carrying any of ``tag_ids``, ascending (all jobs, no
        visibility rule: for keeping the archive in step after tags are deleted)."""
        ids = sorted(set(tag_ids))
        if not ids:
            return []
        query = (
            sa.select(jobtag.c.job_id)
            .where(jobtag.c.tag_id.in_(ids))
            .distinct()
            .order_by(jobtag.c.job_id)
        )
        with self.db.connect() as conn:
            return [int(job_id) for (job_id,) in conn.execute(query)]

    @staticmethod
    def _check_visible_job(conn: Connection, job_db_id: int, actor: User) -> None:
        query = sa.select(job.c.id).where(job.c.id == job_db_id)
        visible = job_visibility(actor)
        if visible is not None:
            query = query.where(visible)
        if conn.execute(query).first() is None:
            raise NotFound(f"job {job_db_id} not found")

    @staticmethod
    def _find_or_insert(conn: Connection, item: Tag) -> int:
        """The id of the tag with ``item``'s type, name and scope, inserted if missing."""
        found = conn.execute(
            sa.select(tag.c.id).where(
                tag.c.tag_type == item.type,
                tag.c.tag_name == item.name,
                tag.c.tag_scope == item.scope,
            )
        ).first()
        if found is not None:
            return int(found.id)
        insert = sa.insert(tag).values(tag_type=item.type, tag_name=item.name, tag_scope=item.scope)
        key = conn.execute(insert).inserted_primary_key
        assert key is not None
        return int(key[0])

    @staticmethod
    def _link(conn: Connection, job_db_id: int, tag_id: int) -> None:
        linked = sa.select(jobtag.c.job_id).where(
            jobtag.c.job_id == job_db_id, jobtag.c.tag_id == tag_id
        )
        if conn.execute(linked).first() is None:
            conn.execute(sa.insert(jobtag).values(job_id=job_db_id, tag_id=tag_id))

    @staticmethod
    def _by_id(conn: Connection, tag_id: int) -> Tag:
        found = _tags(conn, sa.select(*_COLUMNS).where(tag.c.id == tag_id))
        if not found:
            raise NotFound(f"tag {tag_id} not found")
        return found[0]

    def _check_writable(self, conn: Connection, job_db_id: int, tag_id: int, actor: User) -> None:
        query = sa.select(job.c.id).where(job.c.id == job_db_id)
        visible = job_visibility(actor)
        if visible is not None:
            query = query.where(visible)
        if conn.execute(query).first() is None:
            raise NotFound(f"job {job_db_id} not found")
        found = self._by_id(conn, tag_id)
        if not can_write_scope(actor, found.scope):
            raise PermissionDenied(
                f"{actor.username!r} may not change tags of scope {found.scope!r} on jobs"
            )

    @staticmethod
    def _readable_tags_of_job(conn: Connection, job_db_id: int, actor: User) -> builtins.list[Tag]:
        return _tags_of_jobs(conn, [job_db_id], readable_scopes(actor))[job_db_id]
