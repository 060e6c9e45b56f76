"""``/api/tags/``: remove tags from every job and delete them (cc-backend's route)."""

from __future__ import annotations

from cc_backend.services.job_changes import ApiTag
from cc_backend.web.rest.job_changes import TAG_LIST, JobChangesHandler

__all__ = ["TagsHandler"]


class TagsHandler(JobChangesHandler):
    """``DELETE /api/tags/`` with a list of ``{type, name, scope}``: deletes the global and
    admin tags named (private ones are skipped) and their links to jobs.

    Answers in plain text as cc-backend does:
    ``Deleted Tags from DB: N successfull of M requested``.
    """

    async def delete(self) -> None:
        tags: list[ApiTag] = self.body_as(TAG_LIST)
        result = await self.blocking(self.changes.remove_tags_globally, tags, self.user)
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        # cc-backend's wording, spelling included: clients may match on it.
        self.finish(
            f"Deleted Tags from DB: {result.removed} successfull of {result.requested} requested\n"
        )
