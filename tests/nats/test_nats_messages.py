"""Decoding of the line-protocol messages of the NATS API (pure functions)."""

from __future__ import annotations

import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import JobState
from cc_backend.nats import (
    StartJob,
    StopJob,
    decode_job_events,
    decode_node_states,
    encode_event,
    iter_points,
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
