"""The NATS door for campaign commands.

Tools publish to ``tn.<workspace>.intake.campaigns`` (captured by the INTAKE work-queue stream)
one JSON command per message::

    {"command": "pause", "campaign_id": "spring-sale", "reason": "creative refresh"}

`command` is one of `COMMANDS`; the other fields are the same as the HTTP body of that command
(`launch` carries `campaign_id` in its body anyway). A durable pull consumer hands each message
to the same `CampaignService` as HTTP. Outcomes:

- accepted (or a duplicate of an applied `event_id`): ack
- malformed / invalid / refused by the state machine / unknown objective: published to the
  DLQ (original bytes, subject, error, attempt count), counted, then acked
- concurrent write: re-read and retry a few times, then nak for redelivery
- JetStream unavailable: nak with a delay, so JetStream redelivers it
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats.errors
import orjson
import structlog
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsMessage, PullSub
from nats.js.api import ConsumerConfig
from pydantic import TypeAdapter, ValidationError

from truenorth.bus.deadletter import IntakeCounters, dead_letter_message
from truenorth.bus.eventstore import ConcurrencyConflict, StoreUnavailable
from truenorth.bus.streams import INTAKE, SUBJECT_ROOT
from truenorth.campaigns.domain import COMMANDS, CommandMeta, DomainError
from truenorth.campaigns.service import CampaignService
from truenorth.cloud_events import CloudEventInvalid, campaign_command, is_cloudevent, read_events
from truenorth.contract.envelope import Slug
from truenorth.http import field_errors
from truenorth.runtime import Runtime

log = structlog.get_logger()

SERVICE = "campaigns"
DURABLE = "campaigns-intake"
FILTER = f"{SUBJECT_ROOT}.*.intake.{SERVICE}"
CONFLICT_RETRIES = 3
RETRY_DELAY_SECONDS = 2.0

_SLUG: TypeAdapter[str] = TypeAdapter(Slug)


class Rejected(Exception):
    def __init__(self, reason: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.errors = errors or []


def check_slug(value: object, field: str) -> list[dict[str, Any]]:
    try:
        _SLUG.validate_python(value)
    except ValidationError as exc:
        return [{**e, "field": field} for e in field_errors(list(exc.errors()), drop_prefix=())]
    return []


def validate_replay(payload: bytes) -> None:
    """`truenorth dlq replay`'s check of bytes for this door: ValueError with its message."""
    try:
        parse_command(payload)
    except Rejected as exc:
        details = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
        raise ValueError(exc.message + (f" ({details})" if details else "")) from None


def parse_command(payload: bytes) -> tuple[str, CommandMeta]:
    """Bytes of one intake message -> (campaign_id, command); raises Rejected."""
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise Rejected("malformed", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise Rejected("malformed", "a command must be a JSON object")
    name = raw.pop("command", None)
    if not isinstance(name, str) or name not in COMMANDS:
        raise Rejected(
            "invalid",
            f"unknown command {name!r}",
            [
                {
                    "field": "command",
                    "message": f"must be one of {', '.join(COMMANDS)}",
                    "type": "enum",
                }
            ],
        )
    model = COMMANDS[name]
    campaign_id = raw.get("campaign_id") if name == "launch" else raw.pop("campaign_id", None)
    errors = check_slug(campaign_id, "campaign_id")
    try:
        command = model.model_validate(raw)
    except ValidationError as exc:
        errors += field_errors(list(exc.errors()), drop_prefix=())
    if errors:
        raise Rejected("invalid", f"invalid {name} command", errors)
    return str(campaign_id), command


def parse_message(headers: dict[str, str] | None, payload: bytes) -> tuple[str, CommandMeta]:
    """A plain JSON command, or one CloudEvent (structured, or binary with `ce-*` headers)."""
    if not is_cloudevent(headers):
        return parse_command(payload)
    events = read_events(headers or {}, payload)
    if len(events) != 1:
        raise Rejected("invalid", "one CloudEvent per message")
    _raw, event = events[0]
    try:
        if isinstance(event, CloudEventInvalid):
            raise event
        command = campaign_command(event)
    except CloudEventInvalid as exc:
        raise Rejected("invalid", f"invalid CloudEvent: {exc}", list(exc.errors)) from None
    return parse_command(orjson.dumps(command))


def register_intake(runtime: Runtime, service: CampaignService, counters: IntakeCounters) -> None:
    @runtime.broker.subscriber(
        FILTER,
        stream=JStream(INTAKE.name, declare=False),
        durable=DURABLE,
        pull_sub=PullSub(batch_size=32, timeout=5.0),
        config=ConsumerConfig(ack_wait=30, max_ack_pending=256, filter_subject=FILTER),
        ack_policy=AckPolicy.MANUAL,
        inbox_prefix=runtime.pull_inbox_prefix,
        title="campaigns-intake",
        description="Campaign commands from tools that speak NATS",
    )
    async def campaigns_intake(msg: NatsMessage) -> None:
        await handle_message(runtime, service, counters, msg)


async def handle_message(
    runtime: Runtime, service: CampaignService, counters: IntakeCounters, msg: Any
) -> None:
    raw = msg.raw_message
    subject: str = raw.subject
    attempts = int(raw.metadata.num_delivered or 1)
    workspace = subject.split(".")[1]
    try:
        if check_slug(workspace, "workspace"):
            raise Rejected("invalid", f"invalid workspace {workspace!r} in the subject")
        refusal = await runtime.unknown_workspace(workspace)
        if refusal is not None:
            raise Rejected("unknown_workspace", refusal)
        campaign_id, command = parse_message(raw.headers, raw.data)
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                outcome = await service.handle(workspace, campaign_id, command)
                break
            except ConcurrencyConflict:
                if attempt == CONFLICT_RETRIES:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        counters.accepted.labels(SERVICE, "duplicate" if outcome.duplicate else "accepted").inc()
        await msg.ack()
    except Rejected as exc:
        await _dead_letter(
            runtime, counters, msg, workspace, exc.reason, exc.message, exc.errors, attempts
        )
    except DomainError as exc:
        await _dead_letter(
            runtime, counters, msg, workspace, exc.reason, exc.message, exc.errors or [], attempts
        )
    except (StoreUnavailable, ConcurrencyConflict, nats.errors.Error, TimeoutError) as exc:
        log.warning(
            "campaign intake: will retry", subject=subject, attempts=attempts, error=str(exc)
        )
        await msg.nack(delay=RETRY_DELAY_SECONDS)
    except Exception as exc:  # a bug must not poison the queue forever: keep it, explain it
        log.exception("campaign intake: unexpected error", subject=subject)
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


async def _dead_letter(
    runtime: Runtime,
    counters: IntakeCounters,
    msg: Any,
    workspace: str,
    reason: str,
    message: str,
    errors: list[dict[str, Any]],
    attempts: int,
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
        retry_delay=RETRY_DELAY_SECONDS,
    )
