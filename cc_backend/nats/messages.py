"""Decoding of the messages of cc-backend's NATS API.

Every message is InfluxDB line protocol, one point per line, and carries its JSON payload
in the string field ``event``:

- on the job event subject, measurement ``job`` with tag ``function`` set to ``start_job``
  (payload: a job, as ``POST /api/jobs/start_job/`` takes it) or ``stop_job`` (payload: a
  stop request, as ``POST /api/jobs/stop_job/`` takes it);
- on the node state subject, measurement ``nodestate`` (payload: a node state update, as
  ``POST /api/nodestate/`` takes it).

Inside the quoted field value a double quote and a backslash are escaped with a backslash
(``event="{\\"jobId\\":1}"``); the trailing timestamp is optional and not used. Points
without an ``event`` field and points of another measurement are not commands
(:func:`job_command` and :func:`node_state_command` return ``None`` for them).

The job event subject also takes a *plain JSON* message, without the line-protocol
wrapper: a message whose first non-blank character is ``{`` is one JSON object, the same
payload a ``start_job`` or ``stop_job`` point would carry. (An earlier cc-backend revision
offered exactly these bodies on separate start and stop subjects; cc-backend 1.5 has one job
event subject, so the two kinds share it here.) Which one it is follows from the two
payloads' required fields: a stop request always has ``stopTime`` and never ``resources``,
a job to start always has ``resources``. So an object with ``stopTime`` and without
``resources`` is a stop request; every other object is a job to start (a job's own
``stopTime``, as in ``meta.json``, does not make it a stop). The payload is then parsed as
strictly as in the line-protocol form, and errors name the form it was read as.

All functions here are pure: they return typed commands or raise
:class:`~cc_backend.domain.errors.InvalidInput` naming the problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import orjson

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job, JobState
from cc_backend.services.payloads import decode_payload
from cc_backend.services.requests import NodeStatesRequest, StopJobRequest

__all__ = [
    "EVENT_FIELD",
    "FUNCTION_TAG",
    "JOB_MEASUREMENT",
    "NODE_STATE_MEASUREMENT",
    "FieldValue",
    "JobCommand",
    "Point",
    "StartJob",
    "StopJob",
    "UpdateNodeStates",
    "command_job_id",
    "decode_job_events",
    "decode_node_states",
    "encode_event",
    "is_plain_json",
    "iter_points",
    "job_command",
    "node_state_command",
    "plain_job_command",
]

#: Measurement of job start/stop events.
JOB_MEASUREMENT = "job"
#: Measurement of node state updates.
NODE_STATE_MEASUREMENT = "nodestate"
#: Tag naming the job function (``start_job`` or ``stop_job``).
FUNCTION_TAG = "function"
#: String field holding the JSON payload.
EVENT_FIELD = "event"
#: Fields that tell a plain JSON stop request from a job to start.
_STOP_FIELD = "stopTime"
_START_FIELD = "resources"

#: A decoded field value: string, float, integer (``i``/``u`` suffix) or boolean.
FieldValue = str | float | int | bool

_T = TypeVar("_T")

_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})


@dataclass(frozen=True, slots=True)
class Point:
    """One line of line protocol."""

    measurement: str
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, FieldValue] = field(default_factory=dict)
    timestamp: int | None = None

    @property
    def event(self) -> str | None:
        """The ``event`` field if it is a string (the point is an event then), else ``None``."""
        value = self.fields.get(EVENT_FIELD)
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class StartJob:
    """Store ``job`` as a running job."""

    job: Job


@dataclass(frozen=True, slots=True)
class StopJob:
    """Stop the job ``request`` names."""

    request: StopJobRequest


@dataclass(frozen=True, slots=True)
class UpdateNodeStates:
    """Record the node states of ``request``."""

    request: NodeStatesRequest


#: What a job event asks for.
JobCommand = StartJob | StopJob


def command_job_id(command: JobCommand) -> int | None:
    """The scheduler job id a job command is about (``None`` for a stop without one)."""
    if isinstance(command, StartJob):
        return command.job.job_id
    return command.request.job_id


# -- line protocol -------------------------------------------------------------------------


class _Line:
    """A cursor over one line of line protocol."""

    def __init__(self, text: str, number: int) -> None:
        self.text = text
        self.number = number
        self.pos = 0

    def error(self, what: str) -> InvalidInput:
        return InvalidInput(f"line {self.number}, column {self.pos + 1}: {what}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self, stops: str, escapable: str) -> str:
        """Read up to the first unescaped character of ``stops``; ``\\`` escapes
        ``escapable`` and backslash; any other backslash stays as it is."""
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in escapable:
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char in stops:
                break
            out.append(char)
            self.pos += 1
        return "".join(out)

    def quoted(self) -> str:
        """Read a double-quoted string value (the cursor is on the opening quote)."""
        self.pos += 1
        out: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text) and text[self.pos + 1] in '"\\':
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.error("unterminated string field value")


def _number(raw: str, line: _Line) -> FieldValue:
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    try:
        if raw.endswith(("i", "u")):
            value = int(raw[:-1])
            if raw.endswith("u") and value < 0:
                raise ValueError(raw)
            return value
        return float(raw)
    except ValueError:
        raise line.error(f"invalid field value {raw[:40]!r}") from None


def _parse_line(line: _Line) -> Point:
    measurement = line.token(", ", ", ")
    if not measurement:
        raise line.error("missing measurement")
    tags: dict[str, str] = {}
    while line.peek() == ",":
        line.pos += 1
        key = line.token("=, ", ",= ")
        if line.peek() != "=" or not key:
            raise line.error("expected tag key=value")
        line.pos += 1
        value = line.token(", ", ",= ")
        if not value:
            raise line.error(f"empty value of tag {key!r}")
        tags[key] = value
    if line.peek() != " ":
        raise line.error("expected a space before the fields")
    while line.peek() == " ":
        line.pos += 1
    fields: dict[str, FieldValue] = {}
    while True:
        key = line.token("=, ", ",= ")
        if line.peek() != "=" or not key:
            raise line.error("expected field key=value")
        line.pos += 1
        if line.peek() == '"':
            fields[key] = line.quoted()
        else:
            raw = line.token(", ", "")
            if not raw:
                raise line.error(f"empty value of field {key!r}")
            fields[key] = _number(raw, line)
        if line.peek() != ",":
            break
        line.pos += 1
    timestamp: int | None = None
    if line.peek() == " ":
        while line.peek() == " ":
            line.pos += 1
        raw = line.token(" ", "")
        if raw:
            try:
                timestamp = int(raw)
            except ValueError:
                raise line.error(f"invalid timestamp {raw[:40]!r}") from None
    if line.text[line.pos :].strip():
        raise line.error("unexpected text after the timestamp")
    return Point(measurement, tags, fields, timestamp)


def iter_points(data: bytes | str) -> Iterator[Point]:
    """The points of a line-protocol message, in order.

    Blank lines and ``#`` comments are skipped. Raises :class:`InvalidInput` when it
    reaches a malformed line (points before it have been yielded) or if ``data`` is not
    UTF-8.
    """
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"message is not UTF-8 ({exc.reason})") from None
    else:
        text = data
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip(" \t\r")
        if not stripped or stripped.startswith("#"):
            continue
        yield _parse_line(_Line(stripped, number))


def encode_event(measurement: str, payload: object, tags: dict[str, str] | None = None) -> bytes:
    """One line of line protocol carrying ``payload`` as JSON in the ``event`` field.

    The inverse of the decoding here, for publishers and tests; no timestamp is written.
    """

    def escape(text: str) -> str:
        return (
            text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
        )

    head = measurement.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")
    for key, value in (tags or {}).items():
        head += f",{escape(key)}={escape(value)}"
    body = orjson.dumps(payload).decode().replace("\\", "\\\\").replace('"', '\\"')
    return f'{head} {EVENT_FIELD}="{body}"'.encode()


# -- payloads ------------------------------------------------------------------------------


def _payload(event: bytes | str, target: type[_T], what: str, *, start: bool = False) -> _T:
    """Parse ``event`` strictly (as the REST API parses a body) into ``target``."""

    def running(data: object) -> object:
        # A started job is running whatever the payload says (cc-backend ignores it).
        if start and isinstance(data, dict):
            data["jobState"] = JobState.RUNNING.value
        return data

    return decode_payload(event, target, what, adjust=running)


def job_command(point: Point) -> JobCommand | None:
    """The command of a point received on the job event subject.

    ``None`` if the point is no event (has no string ``event`` field) or not of the ``job``
    measurement. Raises :class:`InvalidInput` for a missing or unknown ``function`` tag or
    a payload that is not a valid job (start) or stop request (stop).
    """
    event = point.event
    if event is None or point.measurement != JOB_MEASUREMENT:
        return None
    function = point.tags.get(FUNCTION_TAG)
    if function is None:
        raise InvalidInput(f"job event without the tag {FUNCTION_TAG!r}")
    if function == "start_job":
        return StartJob(_payload(event, Job, "start_job", start=True))
    if function == "stop_job":
        return StopJob(_payload(event, StopJobRequest, "stop_job"))
    raise InvalidInput(
        f"unknown job event function {function[:40]!r} (expected 'start_job' or 'stop_job')"
    )


def node_state_command(point: Point) -> UpdateNodeStates | None:
    """The command of a point received on the node state subject.

    ``None`` if the point is no event or not of the ``nodestate`` measurement. Raises
    :class:`InvalidInput` for a payload that is not a valid node state update.
    """
    event = point.event
    if event is None or point.measurement != NODE_STATE_MEASUREMENT:
        return None
    return UpdateNodeStates(_payload(event, NodeStatesRequest, "nodestate"))


def is_plain_json(data: bytes | str) -> bool:
    """Whether a job event message is in the plain JSON form (starts with ``{``)."""
    stripped = data.lstrip()
    return stripped[:1] in (b"{", "{")


def plain_job_command(data: bytes | str) -> JobCommand:
    """The command of a plain JSON job event (see the module docstring for the rule).

    Raises :class:`InvalidInput` for malformed JSON or a payload that is not a valid job
    (start) or stop request (stop).
    """
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"plain JSON job event: malformed JSON ({exc})") from None
    if not isinstance(decoded, dict):
        raise InvalidInput("plain JSON job event: expected a JSON object")
    present = {key for key, value in decoded.items() if value is not None}
    if _STOP_FIELD in present and _START_FIELD not in present:
        return StopJob(_payload(data.strip(), StopJobRequest, "stop_job (plain JSON)"))
    return StartJob(_payload(data.strip(), Job, "start_job (plain JSON)", start=True))


def decode_job_events(data: bytes | str) -> list[JobCommand]:
    """Every job command of a whole message, in either form; raises
    :class:`InvalidInput` on the first problem. Points that are no job events are left
    out."""
    if is_plain_json(data):
        return [plain_job_command(data)]
    commands = (job_command(point) for point in iter_points(data))
    return [command for command in commands if command is not None]


def decode_node_states(data: bytes | str) -> list[UpdateNodeStates]:
    """Every node state command of a whole message; raises :class:`InvalidInput` on the
    first problem. Points that are no node state events are left out."""
    commands = (node_state_command(point) for point in iter_points(data))
    return [command for command in commands if command is not None]
