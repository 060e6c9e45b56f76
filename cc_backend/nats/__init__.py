"""cc-backend's NATS API: job events and node states as InfluxDB line-protocol messages
(and job events as plain JSON).

:mod:`cc_backend.nats.messages` decodes messages into commands;
:mod:`cc_backend.nats.subscriber` subscribes to the configured subjects and hands the
commands to :class:`~cc_backend.services.job_lifecycle.JobLifecycle`, in parallel through
:mod:`cc_backend.nats.dispatch` while keeping the order per job and per cluster.
"""

from __future__ import annotations

from cc_backend.nats.messages import (
    JobCommand,
    Point,
    StartJob,
    StopJob,
    UpdateNodeStates,
    command_job_id,
    decode_job_events,
    decode_node_states,
    encode_event,
    is_plain_json,
    iter_points,
    job_command,
    node_state_command,
    plain_job_command,
)
from cc_backend.nats.subscriber import NATS_ACTOR, NatsApi

__all__ = [
    "NATS_ACTOR",
    "JobCommand",
    "NatsApi",
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
