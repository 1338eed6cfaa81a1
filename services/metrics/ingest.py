"""The metrics application service: ledger lookup → JetStream (acknowledged) → ledger write.

Both doors (HTTP and NATS) call `Ingestor.ingest`. Guarantees:

- A result is returned only after JetStream acknowledged every event of the batch (and every
  dead letter of an HTTP batch); otherwise `StoreUnavailable` (→ 503) and nothing is written to
  the ledger. Rows JetStream did store before the failure carry deterministic ids, so the retry
  is deduplicated (`Nats-Msg-Id`) within the window and by event id downstream beyond it.
- In-flight publishes are bounded process-wide by one JetStream context whose
  `publish_async_max_pending` is `max_in_flight_publishes`; a full window makes the producer
  wait (`wait_stall`), so there is no unbounded queue in memory.
- Requests touching the same observation ids are serialised in this process, so two
  concurrent restatements cannot both be classified against the same ledger state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from truenorth.bus.eventstore import StoreUnavailable
from truenorth.campaigns.deadletter import (
    IntakeCounters,
    dead_letter_headers,
    dead_letter_subject,
)
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


@dataclass(frozen=True)
class Outgoing:
    subject: str
    payload: bytes
    headers: dict[str, str]


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
        self._connection = connection
        self.ledger = ledger
        self.counters = counters
        self.max_in_flight = max_in_flight
        self.ack_timeout = ack_timeout
        self._js: JetStreamContext | None = None
        self._js_for: NatsClient | None = None
        self._inflight: dict[tuple[str, str], asyncio.Future[None]] = {}

    @property
    def nc(self) -> NatsClient:
        return self._connection()

    @property
    def js(self) -> JetStreamContext:
        nc = self.nc
        if self._js is None or self._js_for is not nc:
            self._js = nc.jetstream(publish_async_max_pending=self.max_in_flight)
            self._js_for = nc
        return self._js

    # ---------------------------------------------------------------- per-id serialisation

    async def _claim(self, workspace: str, ids: Iterable[str]) -> asyncio.Future[None]:
        keys = [(workspace, i) for i in dict.fromkeys(ids)]
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        while True:
            busy = {self._inflight[k] for k in keys if k in self._inflight}
            if not busy:
                break
            await asyncio.wait(busy)
        for key in keys:
            self._inflight[key] = mine
        return mine

    def _release(self, workspace: str, ids: Iterable[str], mine: asyncio.Future[None]) -> None:
        for i in ids:
            key = (workspace, i)
            if self._inflight.get(key) is mine:
                del self._inflight[key]
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
            outgoing = [
                Outgoing(
                    subject_for(workspace, p.observation),
                    encode_event(workspace, p, now, actor),
                    {"Nats-Msg-Id": str(p.event_id)},
                )
                for p in planned
                if p.kind != "duplicate"
            ]
            if dead_letter_rows:
                outgoing += [self._dead_letter(workspace, door, origin, row) for row in rejected]
            if outgoing:
                await self.publish_all(outgoing)
            entries = [
                (p.observation.observation_id, p.observation.value, str(p.event_id))
                for p in planned
                if p.kind != "duplicate"
            ]
            if entries:
                try:
                    await asyncio.to_thread(self.ledger.record, workspace, entries)
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
        return Outgoing(dead_letter_subject(workspace, SERVICE), row.raw, headers)

    async def publish_all(self, outgoing: Sequence[Outgoing]) -> None:
        """Publish with a bounded number in flight; return once JetStream acked every one."""
        nc = self.nc
        if not nc.is_connected:
            raise StoreUnavailable("not connected to NATS")
        js = self.js
        futures: list[asyncio.Future[object]] = []
        try:
            for item in outgoing:
                futures.append(
                    await js.publish_async(
                        item.subject,
                        item.payload,
                        headers=item.headers,
                        wait_stall=self.ack_timeout,
                    )
                )
            done, pending = await asyncio.wait(
                futures, timeout=self.ack_timeout, return_when=asyncio.FIRST_EXCEPTION
            )
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            _cancel(futures)
            raise StoreUnavailable(f"publish failed: {type(exc).__name__}: {exc}") from exc
        if pending:
            _cancel(futures)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                raise StoreUnavailable(
                    f"JetStream refused an event: {failed.exception()}"
                ) from failed.exception()
            raise StoreUnavailable(
                f"JetStream acknowledged {len(done)} of {len(futures)} events within "
                f"{self.ack_timeout:g}s"
            )
        for future in done:
            error = future.exception()
            if error is not None:
                raise StoreUnavailable(f"JetStream refused an event: {error}") from error


def _cancel(futures: Sequence[asyncio.Future[object]]) -> None:
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()  # mark retrieved
