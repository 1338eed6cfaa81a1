"""Streams and subjects, declared once (docs/design.md#events-and-the-envelope).

Subject per aggregate: ``tn.<workspace>.<context>.<aggregate_id>``. Intake doors for tools that
speak NATS: ``tn.<workspace>.intake.<campaigns|metrics>``. Dead letters:
``tn.<workspace>.dlq.<service>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

SUBJECT_ROOT = "tn"
DUPLICATE_WINDOW_SECONDS = 120.0


GIB = 1024**3
DAY = 86_400.0


@dataclass(frozen=True)
class Limits:
    """Byte and age bounds of a stream that is not a source of truth (INTAKE, DLQ)."""

    max_bytes: int = -1
    max_age_seconds: float = 0.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    context: str
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    default_limits: Limits | None = None
    """None: an event stream, kept whole forever (no limit, no purge, no delete)."""
    discard: DiscardPolicy = DiscardPolicy.NEW

    @property
    def subjects(self) -> list[str]:
        return [f"{SUBJECT_ROOT}.*.{self.context}.>"]

    def config(self, replicas: int = 1, limits: Limits | None = None) -> StreamConfig:
        bounded = limits or self.default_limits
        return StreamConfig(
            name=self.name,
            description=f"truenorth {self.context} events",
            subjects=self.subjects,
            retention=self.retention,
            storage=StorageType.FILE,
            discard=self.discard,
            max_age=bounded.max_age_seconds if bounded else 0,  # events: no age limit
            max_msgs=-1,
            max_bytes=bounded.max_bytes if bounded else -1,
            num_replicas=replicas,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            deny_delete=True,
            # events can never be purged; the DLQ can (`truenorth dlq purge --before`, as
            # the provisioner); INTAKE is a work queue
            deny_purge=self.default_limits is None,
            allow_direct=True,
            allow_atomic=True,  # multi-event commands commit all-or-nothing
        )


STRATEGY = StreamSpec("STRATEGY", "strategy")
CAMPAIGNS = StreamSpec("CAMPAIGNS", "campaigns")
METRICS = StreamSpec("METRICS", "metrics")
ALIGNMENT = StreamSpec("ALIGNMENT", "alignment")
DLQ = StreamSpec("DLQ", "dlq", default_limits=Limits(GIB, 90 * DAY), discard=DiscardPolicy.OLD)
"""Rejected input: bounded; when full the oldest dead letters go (rejected, never accepted)."""
INTAKE = StreamSpec(
    "INTAKE",
    "intake",
    retention=RetentionPolicy.WORK_QUEUE,
    default_limits=Limits(GIB, 7 * DAY),
)
"""Tools' NATS door: work-queue retention, a message leaves once a service has handled it.
Bounded: when full, publishers are refused (their ack says so) rather than anything dropped."""

EVENT_STREAMS = (STRATEGY, CAMPAIGNS, METRICS, ALIGNMENT)
ALL_STREAMS = (*EVENT_STREAMS, DLQ, INTAKE)
STREAM_OF_CONTEXT = {spec.context: spec for spec in EVENT_STREAMS}
STREAMS_BY_NAME = {spec.name: spec for spec in ALL_STREAMS}


WILDCARDS = frozenset("*>")


def literal_token(token: str) -> bool:
    """A subject token with no wildcard, dot or whitespace: what ids must be to name a subject
    (a literal ``*`` or ``>`` would be a wildcard to every subscriber: issue 17, finding 15)."""
    return bool(token) and not any(c in WILDCARDS or c == "." or c.isspace() for c in token)


def aggregate_subject(workspace: str, context: str, aggregate_id: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.{context}.{aggregate_id}"


def intake_subject(workspace: str, kind: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.intake.{kind}"


def dlq_subject(workspace: str, service: str) -> str:
    return f"{SUBJECT_ROOT}.{workspace}.dlq.{service}"
