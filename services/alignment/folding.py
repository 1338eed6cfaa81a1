"""Folding a batch of stored messages into the projection: shared by the live projector and
the rebuild, so both count exactly the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from truenorth.alignment.domain.drift import DriftTracker
from truenorth.alignment.domain.projection import Projection
from truenorth.contract.registry import decode
from truenorth.store.db import Batch, already_processed, read_checkpoints, read_rows

CONSUMER = "alignment"
PROJECTION_KIND = "p."
TRACKER_KIND = "d."
OUTBOX_KIND = "outbox"


@dataclass
class Poison:
    sequence: int
    subject: str
    payload: bytes
    error: str
    attempts: int


@dataclass
class Folded:
    batch: Batch
    applied: int
    poison: list[Poison] = field(default_factory=list)


@dataclass
class ProjectionState:
    """The projection, the drift tracker and the checkpoints they correspond to."""

    projection: Projection = field(default_factory=Projection)
    tracker: DriftTracker = field(default_factory=DriftTracker)
    positions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, engine: Engine) -> ProjectionState:
        rows = read_rows(engine, CONSUMER)
        projection_rows = [
            (k.removeprefix(PROJECTION_KIND), key, p)
            for k, key, p in rows
            if k.startswith(PROJECTION_KIND)
        ]
        tracker_rows = [
            (k.removeprefix(TRACKER_KIND), key, p)
            for k, key, p in rows
            if k.startswith(TRACKER_KIND)
        ]
        return cls(
            Projection.from_rows(projection_rows),
            DriftTracker.from_rows(tracker_rows),
            read_checkpoints(engine, CONSUMER),
        )

    def dirty_upserts(self) -> list[tuple[str, str, Any]]:
        upserts = [(PROJECTION_KIND + k, key, p) for k, key, p in self.projection.dirty_rows()]
        upserts += [(TRACKER_KIND + k, key, p) for k, key, p in self.tracker.dirty_rows()]
        return upserts

    def clear_dirty(self) -> None:
        self.projection.clear_dirty()
        self.tracker.clear_dirty()

    def fold(
        self,
        engine: Engine,
        stream: str,
        messages: list[tuple[int, str, bytes, int]],
        seen_in_memory: set[str] | None = None,
        *,
        check_store: bool = True,
    ) -> Folded:
        """Apply contiguous messages (sequence, subject, payload, attempts) that follow the
        stream's checkpoint; events whose id was processed before are skipped (DESIGN §7).
        Returns the batch to commit; the caller commits, then calls `committed`.

        `check_store=False` skips the processed-ids query: only for a rebuild from zero,
        where the table was just emptied and `seen_in_memory` holds every id folded since."""
        if not check_store and seen_in_memory is None:
            raise ValueError("check_store=False needs the set of ids folded so far")
        position = self.positions.get(stream, 0)
        decoded: list[tuple[str, Any]] = []
        poison: list[Poison] = []
        for sequence, subject, payload, attempts in messages:
            try:
                event = decode(payload)
            except ValueError as exc:
                poison.append(Poison(sequence, subject, payload, str(exc), attempts))
                continue
            decoded.append((str(event.event_id), event))
        if check_store:
            ids = [event_id for event_id, _ in decoded]
            seen = already_processed(engine, CONSUMER, ids) if ids else set()
            if seen_in_memory is not None:
                seen |= seen_in_memory.intersection(ids)
        else:
            assert seen_in_memory is not None  # checked above
            seen = seen_in_memory  # authoritative: see the docstring
        apply = self.projection.apply
        fresh: list[str] = []
        for event_id, event in decoded:
            if event_id in seen:
                continue
            seen.add(event_id)
            apply(event)
            fresh.append(event_id)
        if seen_in_memory is not None and seen is not seen_in_memory:
            seen_in_memory.update(fresh)
        new_position = messages[-1][0] if messages else position
        batch = Batch(
            CONSUMER,
            positions={stream: (position, new_position)},
            upserts=self.dirty_upserts(),
            processed_ids=fresh,
        )
        return Folded(batch, len(fresh), poison)

    def committed(self, batch: Batch) -> None:
        self.clear_dirty()
        for stream, (_expected, new) in batch.positions.items():
            self.positions[stream] = new
