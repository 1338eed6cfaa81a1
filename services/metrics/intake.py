"""The NATS door for metric observations.

Tools publish to ``tn.<workspace>.intake.metrics`` (captured by the INTAKE work-queue stream)
either one observation object per message or a JSON array of them. A durable pull consumer
runs each message through the same validation and `Ingestor` as HTTP:

- valid rows are stored (observed / restated / duplicate), then the message is acked;
- if any row is invalid (or the message is not JSON at all), the ORIGINAL message bytes go to
  the DLQ once, with the subject, the per-row errors, the reason and the JetStream delivery
  count, and the rejection is counted in ``truenorth_intake_rejected_total{service,reason}``.
  Replaying such a dead letter later is safe: its valid rows are duplicates by then;
- JetStream or the ledger unavailable: nak with a delay, so JetStream redelivers the message
  (rows stored before the failure are deduplicated by their deterministic ids).
"""

from __future__ import annotations

from typing import Any

import structlog
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from nats.js.api import ConsumerConfig

from truenorth.bus.deadletter import IntakeCounters, dead_letter_message
from truenorth.bus.eventstore import StoreUnavailable
from truenorth.bus.streams import INTAKE, SUBJECT_ROOT
from truenorth.campaigns.intake import check_slug
from truenorth.cloud_events import is_cloudevent
from truenorth.metrics.cloudevents_rows import cloudevent_rows, with_event_errors
from truenorth.metrics.domain import BodyError, split_rows, validate_rows
from truenorth.metrics.ingest import Ingestor
from truenorth.runtime import Runtime

log = structlog.get_logger()

SERVICE = "metrics"
DURABLE = "metrics-intake"
FILTER = f"{SUBJECT_ROOT}.*.intake.{SERVICE}"
RETRY_DELAY_SECONDS = 2.0


def validate_replay(payload: bytes) -> None:
    """`truenorth dlq replay`'s check of bytes for this door: ValueError with its message."""
    try:
        rows = split_rows(payload, "json", 1_000_000)
    except BodyError as exc:
        raise ValueError(exc.message) from None
    rejected = validate_rows(rows).rejected
    if rejected:
        raise ValueError(
            "; ".join(
                f"row {r.index} {e['field']}: {e['message']}" for r in rejected for e in r.errors
            )
        )
    if not rows.items:
        raise ValueError("no rows")


def register_intake(
    runtime: Runtime, ingestor: Ingestor, counters: IntakeCounters, max_rows: int
) -> None:
    @runtime.broker.subscriber(
        FILTER,
        stream=JStream(INTAKE.name, declare=False),
        durable=DURABLE,
        pull_sub=PullSub(batch_size=64, timeout=5.0),
        config=ConsumerConfig(ack_wait=60, max_ack_pending=1024, filter_subject=FILTER),
        ack_policy=AckPolicy.MANUAL,
        inbox_prefix=runtime.pull_inbox_prefix,
        title="metrics-intake",
        description="Metric observations from tools that speak NATS",
    )
    async def metrics_intake(msg: NatsMessage) -> None:
        await handle_message(runtime, ingestor, counters, msg, max_rows)


async def handle_message(
    runtime: Runtime, ingestor: Ingestor, counters: IntakeCounters, msg: Any, max_rows: int
) -> None:
    """Store, dead-letter or retry one intake message. Whatever goes wrong, the message is
    acked, dead-lettered or nak'ed with a delay: never left to be redelivered forever."""
    raw = msg.raw_message
    subject: str = raw.subject
    workspace = subject.split(".")[1]
    attempts = int(raw.metadata.num_delivered or 1)
    try:
        await _handle(runtime, ingestor, counters, msg, max_rows, workspace, attempts)
    except StoreUnavailable as exc:
        log.warning(
            "metrics intake: will retry", subject=subject, attempts=attempts, error=str(exc)
        )
        await msg.nack(delay=RETRY_DELAY_SECONDS)
    except Exception as exc:  # a bug must not poison the queue forever: keep it, explain it
        log.exception("metrics intake: unexpected error", subject=subject)
        await _dead_letter(
            runtime,
            counters,
            msg,
            workspace,
            "internal_error",
            f"{type(exc).__name__}: {exc}",
            [],
            attempts,
        )


async def _handle(
    runtime: Runtime,
    ingestor: Ingestor,
    counters: IntakeCounters,
    msg: Any,
    max_rows: int,
    workspace: str,
    attempts: int,
) -> None:
    raw = msg.raw_message
    subject: str = raw.subject
    if check_slug(workspace, "workspace"):
        message = f"invalid workspace {workspace!r} in the subject"
        await _dead_letter(runtime, counters, msg, workspace, "invalid", message, [], attempts)
        return
    refusal = await runtime.unknown_workspace(workspace)
    if refusal is not None:
        await _dead_letter(
            runtime, counters, msg, workspace, "unknown_workspace", refusal, [], attempts
        )
        return
    event_errors: dict[int, list[dict[str, str]]] = {}
    try:
        if is_cloudevent(raw.headers):
            rows, event_errors = cloudevent_rows(raw.headers, raw.data, max_rows)
        else:
            rows = split_rows(raw.data, "json", max_rows)
    except BodyError as exc:
        reason = "too_large" if exc.status == 413 else "malformed"
        await _dead_letter(runtime, counters, msg, workspace, reason, exc.message, [], attempts)
        return
    validated = with_event_errors(validate_rows(rows), event_errors)
    result = await ingestor.ingest(
        workspace,
        validated.valid,
        validated.rejected,
        door="nats",
        origin=subject,
        actor="metrics-nats",
        dead_letter_rows=False,
    )
    if result.rejected:
        errors = [
            {"index": r.index, "field": e["field"], "message": e["message"]}
            for r in result.rejected
            for e in r.errors
        ]
        message = f"{len(result.rejected)} of {len(rows)} rows rejected"
        await _dead_letter(
            runtime,
            counters,
            msg,
            workspace,
            "invalid_row",
            message,
            errors,
            attempts,
            count=len(result.rejected),
        )
        return
    await msg.ack()


async def _dead_letter(
    runtime: Runtime,
    counters: IntakeCounters,
    msg: Any,
    workspace: str,
    reason: str,
    message: str,
    errors: list[dict[str, Any]],
    attempts: int,
    count: int = 1,
) -> None:
    await dead_letter_message(
        runtime.js,
        counters,
        msg,
        service=SERVICE,
        workspace=workspace,
        reason=reason,
        message=message,
        errors=errors,
        attempts=attempts,
        count=count,
        retry_delay=RETRY_DELAY_SECONDS,
    )
