"""Poison events: a message on a source stream that cannot be decoded is folded as nothing
and kept in the DLQ (bus door, with its original stream and sequence), so the projector
never stops on it."""

from __future__ import annotations

import structlog
from nats.js import JetStreamContext

from truenorth.alignment.partition import CONSUMER
from truenorth.alignment.store.fold import Poison
from truenorth.bus.deadletter import dead_letter_headers, dead_letter_subject, excerpt

log = structlog.get_logger()


async def dead_letter_poison(
    js: JetStreamContext, workspace: str, stream: str, poison: Poison
) -> None:
    headers = dead_letter_headers(
        service=CONSUMER,
        door="bus",
        subject=poison.subject,
        reason="undecodable",
        error=poison.error,
        attempts=poison.attempts,
        body=poison.payload,
        original_stream=stream,
        original_sequence=poison.sequence,
    )
    await js.publish(
        dead_letter_subject(workspace, CONSUMER), excerpt(poison.payload), headers=headers
    )
    log.warning("poison event dead-lettered", stream=stream, sequence=poison.sequence)
