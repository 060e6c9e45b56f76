"""Decoding of the line-protocol messages of the NATS API (pure functions)."""

from __future__ import annotations

import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import JobState
from cc_backend.nats import (
    StartJob,
    StopJob,
    command_job_id,
    decode_job_events,
    decode_node_states,
    encode_event,
    is_plain_json,
    iter_points,
    plain_job_command,
)

START = (
    b'job,function=start_job event="{\\"jobId\\":1001,\\"user\\":\\"testuser\\",'
    b'\\"project\\":\\"p\\",\\"cluster\\":\\"fritz\\",\\"numNodes\\":1,'
    b'\\"resources\\":[{\\"hostname\\":\\"f0101\\"}],\\"startTime\\":1234567890}" '
    b"1234567890000000000"
)


def test_start_job_as_cc_backend_documents_it() -> None:
    (command,) = decode_job_events(START)
    assert isinstance(command, StartJob)
    assert (command.job.job_id, command.job.cluster, command.job.job_state) == (
        1001,
        "fritz",
        JobState.RUNNING,
    )


def test_stop_job_defaults_to_completed() -> None:
    line = encode_event(
        "job", {"jobId": 7, "cluster": "fritz", "stopTime": 10}, {"function": "stop_job"}
    )
    (command,) = decode_job_events(line)
    assert isinstance(command, StopJob)
    assert (command.request.job_id, command.request.job_state) == (7, JobState.COMPLETED)


def test_escapes_round_trip() -> None:
    payload = {"cluster": "fritz", "nodes": [{"hostname": 'a "b" \\ c,d=e f', "states": []}]}
    (command,) = decode_node_states(encode_event("nodestate", payload))
    assert command.request.nodes[0].hostname == 'a "b" \\ c,d=e f'


def test_points_fields_tags_and_timestamps() -> None:
    data = b'# comment\n\nm\\ x,t\\,1=a\\ b f=1.5,i=-3i,u=4u,b=T,s="q\\"" 99\r\n'
    (point,) = iter_points(data)
    assert point.measurement == "m x"
    assert point.tags == {"t,1": "a b"}
    assert point.fields == {"f": 1.5, "i": -3, "u": 4, "b": True, "s": 'q"'}
    assert point.timestamp == 99
    assert point.event is None


def test_non_events_and_foreign_measurements_are_skipped() -> None:
    data = b'job,function=start_job value=1\nnodestate event="{}"'
    assert decode_job_events(data) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"no fields", "expected field key=value"),
        (b'job event="open', "unterminated string"),
        (b"job,function event=1", "expected tag key=value"),
        (b"job x=1 notatime", "invalid timestamp"),
        (b"job x=abc", "invalid field value"),
        (b"\xff\xfe", "not UTF-8"),
        (b'job,function=start_job event=""', "payload is empty"),
        (b'job,function=start_job event="[1"', "malformed JSON"),
        (b'job,function=start_job event="{\\"jobId\\":\\"1\\"}"', "jobId"),
        (b'job,function=stop_job event="{\\"stopTime\\":1,\\"extra\\":1}"', "extra"),
        (b'job,function=pause_job event="{}"', "unknown job event function"),
        (b'job event="{}"', "without the tag 'function'"),
    ],
)
def test_malformed(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode_job_events(data)


def test_malformed_node_state_payload() -> None:
    with pytest.raises(InvalidInput, match="nodestate: cluster"):
        decode_node_states(encode_event("nodestate", {"nodes": []}))


# -- plain JSON job events -----------------------------------------------------------------

PLAIN_START = (
    b'{"jobId": 1001, "user": "testuser", "project": "p", "cluster": "fritz", "numNodes": 1,'
    b' "resources": [{"hostname": "f0101"}], "startTime": 1234567890}'
)


def test_plain_json_is_told_by_its_first_character() -> None:
    assert is_plain_json(b' \n\t{"jobId": 1}')
    assert is_plain_json('{"jobId": 1}')
    assert not is_plain_json(START)
    assert not is_plain_json(b"")


def test_plain_json_without_stop_time_starts_a_running_job() -> None:
    (command,) = decode_job_events(PLAIN_START)
    assert isinstance(command, StartJob)
    assert (command.job.job_id, command.job.job_state) == (1001, JobState.RUNNING)
    assert command_job_id(command) == 1001


def test_plain_json_with_stop_time_and_no_resources_stops_a_job() -> None:
    command = plain_job_command(b'{"jobId": 7, "stopTime": 10, "jobState": "timeout"}')
    assert isinstance(command, StopJob)
    assert (command.request.job_id, command.request.cluster) == (7, None)
    assert command.request.job_state is JobState.TIMEOUT
    assert command_job_id(command) == 7


def test_a_job_with_its_own_stop_time_is_still_a_start() -> None:
    data = PLAIN_START[:-1] + b', "stopTime": 1234569999}'
    command = plain_job_command(data)
    assert isinstance(command, StartJob)
    assert command.job.stop_time == 1234569999


def test_a_null_stop_time_counts_as_absent() -> None:
    data = PLAIN_START[:-1] + b', "stopTime": null}'
    assert isinstance(plain_job_command(data), StartJob)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"jobId": 1', "plain JSON job event: malformed JSON"),
        (b"{} {}", "plain JSON job event: malformed JSON"),
        (b'{"jobId": 1, "stopTime": 5, "numNodes": 1}', r"stop_job \(plain JSON\): numNodes"),
        (b'{"stopTime": "5"}', r"stop_job \(plain JSON\): stopTime"),
        (b'{"jobId": 1, "cluster": "fritz"}', r"start_job \(plain JSON\): user"),
        (b'{"jobId": 1, "resources": [], "stopTime": 5}', r"start_job \(plain JSON\)"),
    ],
)
def test_malformed_plain_json(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode_job_events(data)
