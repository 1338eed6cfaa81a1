"""Dead letters: rejected input kept with its original bytes, subject, error and attempt count.

Used by every door that can reject input: the intake services (campaigns, metrics) and the
alignment projector (poison events on the bus). There is one header dialect, ``Tn-*``, built
by `dead_letter_headers` for every writer. The DLQ stream keeps everything (limits
retention, no age limit); a message's `Nats-Msg-Id` is a hash of what was rejected, so a tool
retrying the same bad message within the duplicate window does not fill the DLQ twice.

Headers of a dead letter:
- ``Tn-Service``: campaigns | metrics | alignment
- ``Tn-Door``: nats | http | bus
- ``Tn-Original-Subject``: the subject it arrived on (HTTP: ``http:<path>``)
- ``Tn-Reason``: short machine reason (invalid, malformed, conflict, unknown_objective, ...)
- ``Tn-Error``: one-line human message
- ``Tn-Errors``: JSON list of field errors (truncated to 8 KiB)
- ``Tn-Attempts``: JetStream delivery count of the original (1 over HTTP)
- ``Tn-Row-Index``: for a row of a batch, its index (HTTP door)
- ``Tn-Original-Stream``, ``Tn-Original-Sequence``: where a poison event was read (bus door)
- ``Tn-Body-Bytes``, ``Tn-Body-Sha256``: size and hash of the original when the dead letter
  keeps only an excerpt of it (`excerpt`: the first `DLQ_EXCERPT_BYTES`)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter

from truenorth.bus.streams import dlq_subject, literal_token
from truenorth.metric_names import INTAKE_ACCEPTED, INTAKE_REJECTED

MAX_ERRORS_HEADER = 8192
DLQ_EXCERPT_BYTES = 64 * 1024
"""A dead letter keeps at most this much of what was rejected (NATS refuses payloads over
1 MB, and a huge invalid row must not make its whole batch fail)."""
log = structlog.get_logger()


def _one_line(text: str, limit: int = 1000) -> str:
    return " ".join(text.split())[:limit]


def dead_letter_headers(
    *,
    service: str,
    door: str,
    subject: str,
    reason: str,
    error: str,
    errors: Sequence[Mapping[str, Any]] = (),
    attempts: int = 1,
    body: bytes = b"",
    row_index: int | None = None,
    original_stream: str | None = None,
    original_sequence: int | None = None,
) -> dict[str, str]:
    """The ``Tn-*`` headers of a dead letter (and its `Nats-Msg-Id`, a hash of what was
    rejected). The projector's poison events pass `door="bus"` and the original stream and
    sequence."""
    errors_json = orjson.dumps(list(errors)).decode()
    if len(errors_json) > MAX_ERRORS_HEADER:
        errors_json = errors_json[: MAX_ERRORS_HEADER - 3] + "..."
    digest = hashlib.sha256(
        b"\x1f".join(
            [service.encode(), subject.encode(), reason.encode(), str(row_index).encode(), body]
        )
    ).hexdigest()
    headers = {
        "Nats-Msg-Id": f"dlq-{digest[:48]}",
        "Tn-Service": service,
        "Tn-Door": door,
        "Tn-Original-Subject": _one_line(subject, 300),
        "Tn-Reason": reason,
        "Tn-Error": _one_line(error),
        "Tn-Errors": errors_json,
        "Tn-Attempts": str(attempts),
    }
    if row_index is not None:
        headers["Tn-Row-Index"] = str(row_index)
    if original_stream is not None:
        headers["Tn-Original-Stream"] = original_stream
    if original_sequence is not None:
        headers["Tn-Original-Sequence"] = str(original_sequence)
    if len(body) > DLQ_EXCERPT_BYTES:
        headers["Tn-Body-Bytes"] = str(len(body))
        headers["Tn-Body-Sha256"] = hashlib.sha256(body).hexdigest()
    return headers


def excerpt(body: bytes) -> bytes:
    """What a dead letter keeps of `body`: all of it, or its first `DLQ_EXCERPT_BYTES` (the
    headers then carry the full size and hash)."""
    return body if len(body) <= DLQ_EXCERPT_BYTES else body[:DLQ_EXCERPT_BYTES]


INVALID_WORKSPACE = "invalid-workspace"
"""Where dead letters go whose subject named no valid workspace (e.g. a literal ``*``): a
wildcard token in a stored subject would be a wildcard to whoever reads it."""


def dead_letter_subject(workspace: str, service: str) -> str:
    return dlq_subject(workspace if _is_slug(workspace) else INVALID_WORKSPACE, service)


def _is_slug(token: str) -> bool:
    return (
        literal_token(token) and token[0].isalnum() and all(c.isalnum() or c in "_-" for c in token)
    )


class IntakeCounters:
    """`truenorth_intake_rejected_total{service,reason}` and
    `truenorth_intake_accepted_total{service,reason}`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rejected = Counter(
            INTAKE_REJECTED.removesuffix("_total"),
            "Input rejected by an intake door (kept in the DLQ), by reason",
            ["service", "reason"],
            registry=registry,
        )
        self.accepted = Counter(
            INTAKE_ACCEPTED.removesuffix("_total"),
            "Input accepted by an intake door, by outcome",
            ["service", "reason"],
            registry=registry,
        )


async def dead_letter_message(
    js: Any,
    counters: IntakeCounters,
    msg: Any,
    *,
    service: str,
    workspace: str,
    reason: str,
    message: str,
    errors: list[dict[str, Any]],
    attempts: int,
    count: int = 1,
    retry_delay: float = 2.0,
) -> bool:
    """Keep a rejected NATS-door message in the DLQ, count it, and ack the original; if the DLQ
    cannot be written, nak so the original comes back (nothing is ever dropped)."""
    raw = msg.raw_message
    headers = dead_letter_headers(
        service=service,
        door="nats",
        subject=raw.subject,
        reason=reason,
        error=message,
        errors=errors,
        attempts=attempts,
        body=raw.data,
    )
    try:
        await js.publish(
            dead_letter_subject(workspace, service), excerpt(raw.data), headers=headers, timeout=5
        )
    except Exception as exc:
        log.warning("DLQ unavailable, will retry", service=service, error=str(exc))
        await msg.nack(delay=retry_delay)
        return False
    counters.rejected.labels(service, reason).inc(count)
    log.info("dead-lettered", service=service, subject=raw.subject, reason=reason, error=message)
    await msg.ack()
    return True
