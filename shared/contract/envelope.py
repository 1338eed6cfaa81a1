"""The event envelope (docs/design.md#events-and-the-envelope): immutable, strict, identical for
every context."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import uuid_utils
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Slug = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
]
"""Identifiers that end up in NATS subjects: no dots, spaces or wildcards."""

ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=4000)]


def new_event_id() -> uuid.UUID:
    """UUIDv7: time-ordered, so ids sort roughly by creation."""
    return uuid.UUID(str(uuid_utils.uuid7()))


def _wall_clock() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _wall_clock


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Replace the process's notion of now (the demo's accelerated quarter, tests)."""
    global _clock
    _clock = clock or _wall_clock


def utcnow() -> datetime:
    return _clock()


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnvelopeFields(Frozen):
    """Fields every event carries; concrete events add `type`, `schema_version` and `data`."""

    event_id: uuid.UUID = Field(default_factory=new_event_id)
    workspace: Slug = "default"
    aggregate_id: Slug
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    recorded_at: AwareDatetime = Field(default_factory=utcnow)
    source: ShortText = "truenorth"
    actor: ShortText = "system"
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None


def deterministic_uuid7(moment: datetime, *parts: object) -> uuid.UUID:
    """A UUIDv7 whose random bits are a hash of `parts`: the same fact always gets the same
    event_id, so a retry is deduplicated by `Nats-Msg-Id` and by processed-id tables."""
    import hashlib

    millis = int(moment.timestamp() * 1000) & ((1 << 48) - 1)
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    rand = int.from_bytes(digest[:10], "big")
    rand_a = (rand >> 62) & 0xFFF
    rand_b = rand & ((1 << 62) - 1)
    value = (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return uuid.UUID(int=value)
