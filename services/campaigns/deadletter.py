"""Dead letters: rejected input kept with its original bytes, subject, error and attempt count.

Used by both intake services (campaigns and metrics). The DLQ stream keeps everything (limits
retention, no age limit); a message's `Nats-Msg-Id` is a hash of what was rejected, so a tool
retrying the same bad message within the duplicate window does not fill the DLQ twice.

Headers of a dead letter:
- ``Tn-Service``: campaigns | metrics
- ``Tn-Door``: nats | http
- ``Tn-Original-Subject``: the subject it arrived on (HTTP: ``http:<path>``)
- ``Tn-Reason``: short machine reason (invalid, malformed, conflict, unknown_objective, ...)
- ``Tn-Error``: one-line human message
- ``Tn-Errors``: JSON list of field errors (truncated to 8 KiB)
- ``Tn-Attempts``: JetStream delivery count of the original (1 over HTTP)
- ``Tn-Row-Index``: for a row of a batch, its index (HTTP door)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter

from truenorth.bus.streams import dlq_subject
from truenorth.metric_names import INTAKE_ACCEPTED, INTAKE_REJECTED

MAX_ERRORS_HEADER = 8192


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
) -> dict[str, str]:
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
    return headers


def dead_letter_subject(workspace: str, service: str) -> str:
    return dlq_subject(workspace, service)


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
