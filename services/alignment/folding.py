"""Folding a batch of stored messages into the projection: shared by the live projector and
the rebuild, so both count exactly the same way."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import Engine

from truenorth.alignment.domain.drift import DriftTracker, KeptDrift
from truenorth.alignment.domain.observations import ObservationRecord
from truenorth.alignment.domain.projection import OBSERVATION_ROW, Projection, digest_rows
from truenorth.contract.alignment import DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.metrics import MetricObserved, MetricRestated
from truenorth.contract.registry import decode
from truenorth.store.db import (
    Batch,
    already_processed,
    iter_rows,
    read_checkpoints,
    read_payloads,
    read_rows_page,
)

CONSUMER = "alignment"
PROJECTION_KIND = "p."
TRACKER_KIND = "d."
OUTBOX_KIND = "outbox"
TRANSITION_EVENTS = {"detected": DriftDetected, "updated": DriftUpdated, "resolved": DriftResolved}


def pending_outbox(engine: Engine, after: str = "", limit: int = 1_000) -> list[tuple[str, Any]]:
    """(key, event) of up to `limit` drift events committed but not yet published, oldest
    first, past the key `after`: a page at a time, a first tick leaves 25 000. The keys are
    the events' ids, UUIDv7: their order is the order the tick made them in."""
    return read_rows_page(engine, CONSUMER, OUTBOX_KIND, after, limit)


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


OBSERVATION_KIND = PROJECTION_KIND + OBSERVATION_ROW


class StoredObservations:
    """The projection's `ObservationLog` over the store's observation rows: the rows a batch
    names are read before it is folded (`fetch`), and what a fold counted is held until its
    commit is done. So the service's memory does not grow with observations; the price is one
    indexed query per batch.

    Two generations are held because the rebuild folds batch n + 1 while batch n commits."""

    __slots__ = ("_committing", "_engine", "_fetched", "_pending", "_written")

    def __init__(self, engine: Engine, remember_written: bool = False) -> None:
        self._engine = engine
        self._fetched: dict[str, ObservationRecord] = {}
        self._pending: dict[str, ObservationRecord] = {}
        self._committing: dict[str, ObservationRecord] = {}
        self._written: set[str] | None = set() if remember_written else None
        """With `remember_written` (a rebuild from zero: the store holds only what this log
        wrote) the keys written so far, so that only those are looked up: ~97 % of a replay
        are new observations, and a query for each cost a sixth of the rebuild's time."""

    def get(self, workspace: str, observation_id: str) -> ObservationRecord | None:
        key = f"{workspace}/{observation_id}"
        record = self._pending.get(key)
        if record is None:
            record = self._committing.get(key)
            if record is None:
                record = self._fetched.get(key)
        return record

    def put(
        self, workspace: str, observation_id: str, record: ObservationRecord, series: int
    ) -> None:
        key = f"{workspace}/{observation_id}"
        self._pending[key] = record
        if self._written is not None:
            self._written.add(key)

    def restored(
        self, workspace: str, observation_id: str, record: ObservationRecord, series: int
    ) -> None:
        """Read back on start-up: the store has it, nothing to hold."""

    def everything(self) -> None:
        return None

    def held(self) -> int:
        """Records in memory: at most the last two batches' observations."""
        return len(self._pending) + len(self._committing) + len(self._fetched)

    def fetch(self, keys: set[str]) -> None:
        """Read the stored records of `keys` ("workspace/observation_id") that no fold since
        the last commit has counted."""
        missing = [k for k in keys if k not in self._pending and k not in self._committing]
        if self._written is not None:
            missing = [k for k in missing if k in self._written]
        self._fetched = {
            key: ObservationRecord.from_payload(payload)
            for key, payload in read_payloads(
                self._engine, CONSUMER, OBSERVATION_KIND, missing
            ).items()
        }

    def committed(self) -> None:
        """The folds so far are handed to a commit: the store will answer for them once the
        next batch is folded."""
        self._committing, self._pending = self._pending, {}
        self._fetched = {}


def _observation_keys(decoded: list[tuple[str, Any]]) -> set[str]:
    return {
        f"{event.workspace}/{event.data.observation_id}"
        for _, event in decoded
        if isinstance(event, MetricObserved | MetricRestated)
    }


@dataclass
class ProjectionState:
    """The projection, the drift tracker and the checkpoints they correspond to."""

    projection: Projection = field(default_factory=Projection)
    """In memory by default; `load` and the rebuild fold over the store's observations."""
    tracker: DriftTracker = field(default_factory=DriftTracker)
    positions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, engine: Engine) -> ProjectionState:
        """Restore from the store, its rows streamed: neither the projection's nor the
        tracker's (25 000 drifts at 10 000 objectives) are ever held as one list."""

        def rows(prefix: str) -> Iterator[tuple[str, str, Any]]:
            for kind, key, payload in iter_rows(engine, CONSUMER, prefix):
                yield kind.removeprefix(prefix), key, payload

        tracker = DriftTracker.from_rows(rows(TRACKER_KIND))
        projection = Projection.from_rows(rows(PROJECTION_KIND), StoredObservations(engine))
        return cls(
            projection,
            tracker,
            read_checkpoints(engine, CONSUMER),
        )

    def dirty_upserts(self) -> Iterator[tuple[str, str, Any]]:
        """The changed rows, made as they are written (`commit_batch` takes them in chunks)."""
        for kind, key, payload in self.projection.dirty_rows():
            yield PROJECTION_KIND + kind, key, payload
        for kind, key, payload in self.tracker.dirty_rows():
            yield TRACKER_KIND + kind, key, payload

    def clear_dirty(self) -> None:
        self.projection.clear_dirty()
        self.tracker.clear_dirty()

    def drift_tick(self, now: datetime) -> Batch | None:
        """Evaluate drift at `now`: what to commit (the changed rows, and an outbox row per
        transition, the event to publish once committed), None when nothing changed."""
        transitions = self.tracker.evaluate(self.projection, now)
        if not transitions and not self.tracker.changed:
            return None
        # made as they are written: commit this batch before the state changes again
        outbox = (self._outbox_row(kind, data, now) for kind, data in transitions)
        return Batch(CONSUMER, upserts=chain(self.dirty_upserts(), outbox))

    def _outbox_row(self, kind: str, data: KeptDrift, now: datetime) -> tuple[str, str, Any]:
        """The event is let go once serialised: 25 000 of them on a first tick."""
        event = TRANSITION_EVENTS[kind](
            workspace=self.tracker.workspace_of(data.drift_id),
            aggregate_id=data.drift_id,
            occurred_at=now,
            source="alignment",
            actor="alignment",
            data=data.to_data(),
        )
        return OUTBOX_KIND, str(event.event_id), event.model_dump(mode="json")

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
        self.projection.observations.fetch(_observation_keys(decoded))
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
            upserts=list(self.dirty_upserts()),  # committed after the state moves on
            processed_ids=fresh,
        )
        return Folded(batch, len(fresh), poison)

    def committed(self, batch: Batch) -> None:
        self.clear_dirty()
        self.projection.observations.committed()
        for stream, (_expected, new) in batch.positions.items():
            self.positions[stream] = new


def stored_digest(engine: Engine) -> str:
    """The digest of the stored projection (`Projection.digest` of the same state), read
    from its rows without loading them."""
    return digest_rows(
        (kind.removeprefix(PROJECTION_KIND), key, payload)
        for kind, key, payload in iter_rows(engine, CONSUMER, PROJECTION_KIND)
    )
