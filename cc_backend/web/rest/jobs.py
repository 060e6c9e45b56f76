"""``/api/jobs/``: start, stop, list and read jobs (cc-backend's routes and JSON shapes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import CCError, InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.services.requests import StopJobRequest
from cc_backend.web.errors import ApiError
from cc_backend.web.rest.base import INT64_MAX, BaseAPIHandler, parse_int64

__all__ = [
    "JobByIdHandler",
    "JobListHandler",
    "JobMetricsHandler",
    "StartJobHandler",
    "StopJobHandler",
    "job_json",
    "parse_job_query",
    "timestamp",
]

_METRIC_NAMES = TypeAdapter(list[str])
_DEFAULT_ITEMS_PER_PAGE = 25


def job_json(job: Job, *, with_metadata: bool = True) -> dict[str, Any]:
    """A job as cc-backend encodes it; ``metaData`` only when asked for."""
    data = job.to_json_dict()
    if not with_metadata:
        data.pop("metaData", None)
    return data


@dataclass(frozen=True)
class JobQuery:
    """The parsed query string of ``GET /api/jobs/``."""

    job_filter: JobFilter
    page: PageRequest
    with_metadata: bool


def _single(args: dict[str, list[bytes]], key: str) -> str:
    return args[key][0].decode("utf-8", "replace")


def _int(text: str, name: str) -> int:
    return parse_int64(text, f"query parameter {name}")


def timestamp(seconds: int, what: str) -> datetime:
    """Unix ``seconds`` as an aware datetime; :class:`InvalidInput` if out of range."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, ValueError, OSError):
        raise InvalidInput(f"{what} out of range: {seconds}") from None


def _start_time(text: str) -> dict[str, datetime]:
    parts = text.split("-")
    if len(parts) != 2:
        raise InvalidInput("invalid query parameter value: startTime")
    start, stop = (_int(p, "start-time") for p in parts)
    return {"from": timestamp(start, "start-time"), "to": timestamp(stop, "start-time")}


def parse_job_query(args: dict[str, list[bytes]]) -> JobQuery:
    """Parse cc-backend's job-list parameters; :class:`InvalidInput` for anything else."""
    fields: dict[str, Any] = {}
    items, page, with_metadata = _DEFAULT_ITEMS_PER_PAGE, 1, False
    for key, values in args.items():
        if key == "state":
            try:
                fields["state"] = [JobState(v.decode()) for v in values]
            except ValueError:
                raise InvalidInput("invalid query parameter value: state") from None
        elif key in ("cluster", "project"):
            fields[key] = {"eq": _single(args, key)}
        elif key == "start-time":
            fields["startTime"] = _start_time(_single(args, key))
        elif key == "page":
            page = _int(_single(args, key), key)
        elif key == "items-per-page":
            items = _int(_single(args, key), key)
        elif key == "with-metadata":
            with_metadata = True
        else:
            raise InvalidInput(f"invalid query parameter: {key}")
    if abs(items) * page > INT64_MAX:
        raise InvalidInput("invalid query parameter value: page out of range")
    try:
        return JobQuery(
            JobFilter.model_validate(fields),
            PageRequest.model_validate({"itemsPerPage": items, "page": page}),
            with_metadata,
        )
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
        raise InvalidInput(f"invalid query parameter value: {problems}") from None


class _JobHandler(BaseAPIHandler):
    """Shared reads: a visible job with the caller's tags, archived data."""

    def _with_tags(self, jobs: list[Job], actor: User) -> list[Job]:
        ids = [j.id for j in jobs if j.id is not None]
        tags = self.backends.tags.tags_of_jobs(ids, actor)
        return [j.model_copy(update={"tags": tags.get(j.id or -1) or None}) for j in jobs]

    def _statistics(self, job: Job) -> Job:
        """An archived job with the statistics of its ``meta.json`` (as cc-backend lists it)."""
        if job.monitoring_status is not MonitoringStatus.ARCHIVING_SUCCESSFUL:
            return job
        try:
            archived = self.backends.archive.load_meta(job)
        except NotFound:
            return job
        return job.model_copy(update={"statistics": archived.statistics})

    def _find(self, db_id: int) -> Job:
        """The job with database id ``db_id`` as the caller sees it; 422 as cc-backend."""
        try:
            found = self.backends.jobs.get(db_id, actor=self.user)
        except NotFound as exc:
            raise ApiError(422, f"finding job with db id {db_id} failed: {exc.message}") from None
        return self._with_tags([found], self.user)[0]

    def _archived_data(self, job: Job) -> dict[str, Any] | None:
        """The job's metric data from the archive, ``None`` while it is not archived."""
        if job.job_state is JobState.RUNNING or not self.backends.archive.exists(job):
            return None
        try:
            return self.backends.archive.load_data(job).to_dict()
        except NotFound:
            return None


class JobListHandler(_JobHandler):
    """``GET /api/jobs/``: one page of jobs, newest start first."""

    async def get(self) -> None:
        query = parse_job_query(self.request.query_arguments)
        jobs = await self.blocking(self._list, query)
        payload = {
            "jobs": [job_json(j, with_metadata=query.with_metadata) for j in jobs],
            "items": query.page.items_per_page,
            "page": query.page.page,
        }
        self.write_json(payload)

    def _list(self, query: JobQuery) -> list[Job]:
        page = self.backends.jobs.query([query.job_filter], actor=self.user, page=query.page)
        return [self._statistics(j) for j in self._with_tags(page.items, self.user)]


class JobByIdHandler(_JobHandler):
    """``GET /api/jobs/{id}`` (meta data, all metric data with ``all-metrics=true``) and
    ``POST /api/jobs/{id}`` (meta data and the metrics named in the body)."""

    async def get(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        want_data = self.get_query_argument("all-metrics", "") == "true"
        job, data = await self.blocking(self._load, db_id, want_data)
        self.write_json({"Meta": job_json(job), "Data": data})

    async def post(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        job = await self.blocking(self._find, db_id)
        names: list[str] = self.body_as(_METRIC_NAMES)
        data = await self.blocking(self._archived_data, job) or {}
        selected = [
            {"name": name, "scope": scope, "metric": metric}
            for name, scopes in data.items()
            if not names or name in names
            for scope, metric in scopes.items()
        ]
        self.write_json({"Meta": job_json(job), "Data": selected})

    def _load(self, db_id: int, want_data: bool) -> tuple[Job, dict[str, Any] | None]:
        job = self._find(db_id)
        return job, self._archived_data(job) if want_data else None


class JobMetricsHandler(_JobHandler):
    """``GET /api/jobs/metrics/{id}?metric=..&scope=..``: a job's metric data from wherever
    it lives now (the metric store while it runs, the archive after), as cc-backend answers
    it: ``{"data": {"jobMetrics": [{name, scope, metric}]}, "error": null}``, or with
    ``data`` null and the ``error`` message when loading fails (still 200, as cc-backend)."""

    async def get(self, raw_id: str) -> None:
        db_id = self.int_arg(raw_id)
        metrics = [m.decode() for m in self.request.query_arguments.get("metric", [])] or None
        scopes = [_scope(s.decode()) for s in self.request.query_arguments.get("scope", [])]
        job = await self.blocking(self._find, db_id)
        try:
            data = await self.blocking(
                self.backends.job_metric_data.load, job, metrics, scopes or [MetricScope.NODE]
            )
        except CCError as exc:
            self.write_json({"data": None, "error": {"message": exc.message}})
            return
        listed = [
            {"name": name, "scope": scope.value, "metric": metric}
            for name, by_scope in data.to_dict().items()
            for scope, metric in ((MetricScope(k), v) for k, v in by_scope.items())
        ]
        self.write_json({"data": {"jobMetrics": listed}, "error": None})


def _scope(text: str) -> MetricScope:
    try:
        return MetricScope(text)
    except ValueError:
        known = ", ".join(s.value for s in MetricScope)
        raise InvalidInput(f"unmarshaling scope failed: {text!r} is no scope ({known})") from None


class _LifecycleHandler(BaseAPIHandler):
    """Start and stop are offered over REST only while no NATS subjects take them."""

    async def prepare(self) -> None:
        if self.backends.config.main.api_subjects is not None:
            raise NotFound("the requested endpoint does not exist")
        await super().prepare()


class StartJobHandler(_LifecycleHandler):
    """``POST``/``PUT /api/jobs/start_job/``: store a new running job; 201."""

    async def post(self) -> None:
        job: Job = self.body_as(Job)
        started = await self.backends.writes.run(self.backends.lifecycle.start_job, job, self.user)
        self.write_json({"msg": "success", "id": started.id}, status=201)

    put = post


class StopJobHandler(_LifecycleHandler):
    """``POST``/``PUT /api/jobs/stop_job/``: mark a running job stopped; the job as JSON."""

    async def post(self) -> None:
        request: StopJobRequest = self.body_as(StopJobRequest)
        stopped = await self.backends.writes.run(
            self.backends.lifecycle.stop_job, request, self.user
        )
        self.write_json(job_json(stopped))

    put = post
