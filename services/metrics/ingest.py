"""The metrics application service: ledger lookup → JetStream (acknowledged) → ledger write.

Both doors (HTTP and NATS) call `Ingestor.ingest`. Guarantees:

- A result is returned only after JetStream acknowledged every event of the batch (and every
  dead letter of an HTTP batch); otherwise `StoreUnavailable` (→ 503) and nothing is written to
  the ledger. Rows JetStream did store before the failure carry deterministic ids, so the retry
  is deduplicated (`Nats-Msg-Id`) within the window and by event id downstream beyond it.
- Events go to JetStream through the one atomic publisher, `truenorth.bus.atomic.Publisher`
  (atomic batches of ≤ 1 000, bounded in flight, `publish_async` fallback).
- Dead letters of an HTTP batch are stored *before* its events: a 503 then means no event was
  stored (a retry re-sends the dead letters under the same `Nats-Msg-Id`). A dead letter keeps
  at most `DLQ_EXCERPT_BYTES` of its row, with the row's size and SHA-256 (`Tn-Body-*`), so a
  row of any size is answered on its own instead of exceeding NATS's 1 MB payload.
- Requests touching the same observation ids are serialised in this process, so two
  concurrent restatements cannot both be classified against the same ledger state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog
from nats.aio.client import Client as NatsClient

from truenorth.bus.atomic import Outgoing, Publisher
from truenorth.bus.deadletter import (
    IntakeCounters,
    dead_letter_headers,
    dead_letter_subject,
    excerpt,
)
from truenorth.bus.eventstore import StoreUnavailable
from truenorth.contract.envelope import utcnow
from truenorth.metrics.domain import (
    IngestResult,
    RowError,
    classify,
    encode_event,
    subject_for,
)
from truenorth.metrics.ledger import Ledger

log = structlog.get_logger()

SERVICE = "metrics"


class Ingestor:
    def __init__(
        self,
        connection: Callable[[], NatsClient],
        ledger: Ledger,
        counters: IntakeCounters,
        *,
        max_in_flight: int,
        ack_timeout: float = 10.0,
    ) -> None:
        self.ledger = ledger
        self.counters = counters
        self.publisher = Publisher(connection, max_in_flight=max_in_flight, ack_timeout=ack_timeout)
        self._inflight: dict[str, dict[str, asyncio.Future[None]]] = {}

    @property
    def atomic(self) -> bool:
        return self.publisher.atomic

    @atomic.setter
    def atomic(self, value: bool) -> None:
        self.publisher.atomic = value

    @property
    def fallbacks(self) -> int:
        return self.publisher.fallbacks

    # ---------------------------------------------------------------- per-id serialisation

    async def _claim(self, workspace: str, ids: Sequence[str]) -> asyncio.Future[None]:
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        wanted = set(ids)
        while True:
            # looked up again after every wait: `_release` drops an emptied workspace's dict,
            # and claiming into a dropped dict made later waiters spin (issue 17, finding 14)
            claimed = self._inflight.setdefault(workspace, {})
            busy = claimed.keys() & wanted
            if not busy:
                break
            await asyncio.wait({claimed[i] for i in busy})
        claimed.update(dict.fromkeys(wanted, mine))
        return mine

    def _release(self, workspace: str, ids: Sequence[str], mine: asyncio.Future[None]) -> None:
        claimed = self._inflight.get(workspace, {})
        for i in ids:
            if claimed.get(i) is mine:
                del claimed[i]
        if not claimed:
            self._inflight.pop(workspace, None)
        if not mine.done():
            mine.set_result(None)

    # ---------------------------------------------------------------- the use case

    async def ingest(
        self,
        workspace: str,
        valid: Sequence[tuple[int, object]],
        rejected: list[RowError],
        *,
        door: str,
        origin: str,
        actor: str,
        dead_letter_rows: bool,
    ) -> IngestResult:
        """Store the valid rows (observed / restated / duplicate); with `dead_letter_rows`,
        also keep each rejected row in the DLQ. Raises StoreUnavailable."""
        ids = [obs.observation_id for _, obs in valid]  # type: ignore[attr-defined]
        claim = await self._claim(workspace, ids)
        try:
            known = await asyncio.to_thread(self.ledger.lookup, workspace, ids) if ids else {}
            planned = classify(workspace, valid, known)  # type: ignore[arg-type]
            now = utcnow()
            events = [
                Outgoing(
                    subject_for(workspace, p.observation),
                    encode_event(workspace, p, now, actor),
                    {"Nats-Msg-Id": str(p.event_id)},
                )
                for p in planned
                if p.kind != "duplicate"
            ]
            if dead_letter_rows and rejected:
                await self.publisher.publish_all(
                    [self._dead_letter(workspace, door, origin, row) for row in rejected]
                )
            if events:
                await self.publisher.publish_events(events)
            entries = [
                (p.observation.observation_id, p.observation.value, p.event_id)
                for p in planned
                if p.kind != "duplicate"
            ]
            if entries:
                try:
                    await asyncio.to_thread(
                        self.ledger.record,
                        workspace,
                        entries,  # type: ignore[arg-type]
                    )
                except Exception as exc:  # events are stored; a retry finds them deduplicated
                    log.warning("ledger write failed", error=str(exc))
                    raise StoreUnavailable(f"observation ledger unavailable: {exc}") from exc
        finally:
            self._release(workspace, ids, claim)
        result = IngestResult.of(planned, rejected)
        self._count(result, door, dead_letter_rows)
        return result

    def _count(self, result: IngestResult, door: str, dead_lettered: bool) -> None:
        accepted = self.counters.accepted
        if result.accepted:
            accepted.labels(SERVICE, "observed").inc(result.accepted)
        if result.restated:
            accepted.labels(SERVICE, "restated").inc(result.restated)
        if result.duplicates:
            accepted.labels(SERVICE, "duplicate").inc(result.duplicates)
        if result.rejected and dead_lettered:
            self.counters.rejected.labels(SERVICE, "invalid_row").inc(len(result.rejected))

    def _dead_letter(self, workspace: str, door: str, origin: str, row: RowError) -> Outgoing:
        message = "; ".join(f"{e['field']}: {e['message']}" for e in row.errors)
        headers = dead_letter_headers(
            service=SERVICE,
            door=door,
            subject=origin,
            reason="invalid_row",
            error=message,
            errors=row.errors,
            attempts=1,
            body=row.raw,
            row_index=row.index,
        )
        return Outgoing(dead_letter_subject(workspace, SERVICE), excerpt(row.raw), headers)
