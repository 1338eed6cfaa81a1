"""Streams and subjects, declared once (DESIGN §2).

Subject per aggregate: ``tn.<workspace>.<context>.<aggregate_id>``. Intake doors for tools that
speak NATS: ``tn.<workspace>.intake.<campaigns|metrics>``. Dead letters:
``tn.<workspace>.dlq.<service>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

SUBJECT_ROOT = "tn"
DUPLICATE_WINDOW_SECONDS = 120.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    context: str
    retention: RetentionPolicy = RetentionPolicy.LIMITS

    @property
    def subjects(self) -> list[str]:
        return [f"{SUBJECT_ROOT}.*.{self.context}.>"]

    def config(self, replicas: int = 1) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=f"truenorth {self.context} events",
            subjects=self.subjects,
            retention=self.retention,
            storage=StorageType.FILE,
            discard=DiscardPolicy.NEW,
            max_age=0,  # events are the source of truth: no age limit
            max_msgs=-1,
            max_bytes=-1,
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            deny_delete=True,
            deny_purge=self.retention is RetentionPolicy.LIMITS,
            allow_direct=True,
            allow_atomic=True,  # multi-event commands commit all-or-nothing
        )


STRATEGY = StreamSpec("STRATEGY", "strategy")
CAMPAIGNS = StreamSpec("CAMPAIGNS", "campaigns")
METRICS = StreamSpec("METRICS", "metrics")
ALIGNMENT = StreamSpec("ALIGNMENT", "alignment")
DLQ = StreamSpec("DLQ", "dlq")
INTAKE = StreamSpec("INTAKE", "intake", retention=RetentionPolicy.WORK_QUEUE)
"""Tools' NATS door: work-queue retention, a message leaves once a service has handled it."""

EVENT_STREAMS = (STRATEGY, CAMPAIGNS, METRICS, ALIGNMENT)
ALL_STREAMS = (*EVENT_STREAMS, DLQ, INTAKE)
STREAM_OF_CONTEXT = {spec.context: spec for spec in EVENT_STREAMS}
STREAMS_BY_NAME = {spec.name: spec for spec in ALL_STREAMS}


def aggregate_subject(workspace: str, context: str, aggregate_id: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.{context}.{aggregate_id}"


def intake_subject(workspace: str, kind: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.intake.{kind}"


def dlq_subject(workspace: str, service: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.dlq.{service}"
