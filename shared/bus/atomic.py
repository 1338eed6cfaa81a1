"""All-or-nothing appends of several events of one aggregate (JetStream atomic batch
publish, nats-server ≥ 2.12): a plan that emits five events never lands half-written."""

from __future__ import annotations

from collections.abc import Sequence

import nats.errors
import orjson
from nats.js.errors import APIError

from truenorth.bus.eventstore import (
    WRONG_LAST_SEQUENCE,
    Appended,
    ConcurrencyConflict,
    EventStore,
    StoreUnavailable,
    subject_of,
)
from truenorth.contract.envelope import EnvelopeFields, new_event_id
from truenorth.contract.registry import encode


async def append_atomic(
    store: EventStore,
    events: Sequence[EnvelopeFields],
    expected_subject_sequence: int | None = None,
) -> Appended | None:
    """Append `events` as one atomic batch; the expected sequence guards the first one."""
    if not events:
        return None
    if len(events) == 1:
        return await store.append(events[0], expected_subject_sequence)
    nc = store.js._nc
    batch_id = str(new_event_id())
    last = len(events)
    try:
        for index, event in enumerate(events, start=1):
            headers = {
                "Nats-Batch-Id": batch_id,
                "Nats-Batch-Sequence": str(index),
                "Nats-Msg-Id": str(event.event_id),
            }
            if index == 1 and expected_subject_sequence is not None:
                headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_subject_sequence)
            if index < last:
                await nc.publish(subject_of(event), encode(event), headers=headers)
            else:
                headers["Nats-Batch-Commit"] = "1"
                reply = await nc.request(
                    subject_of(event), encode(event), headers=headers, timeout=store.timeout
                )
    except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
        raise StoreUnavailable(f"JetStream did not acknowledge batch {batch_id}") from exc
    response = orjson.loads(reply.data)
    if "error" in response:
        error = APIError.from_error(response["error"])
        if error.err_code == WRONG_LAST_SEQUENCE:
            raise ConcurrencyConflict(
                subject_of(events[0]), expected_subject_sequence, error.description or ""
            )
        raise error
    return Appended(response["stream"], int(response["seq"]), False)
