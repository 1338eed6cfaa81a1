"""The metrics application service: ledger lookup → JetStream (acknowledged) → ledger write.

Both doors (HTTP and NATS) call `Ingestor.ingest`. Guarantees:

- A result is returned only after JetStream acknowledged every event of the batch (and every
  dead letter of an HTTP batch); otherwise `StoreUnavailable` (→ 503) and nothing is written to
  the ledger. Rows JetStream did store before the failure carry deterministic ids, so the retry
  is deduplicated (`Nats-Msg-Id`) within the window and by event id downstream beyond it.
- Events go to JetStream as *atomic batches* (ADR-50, nats-server ≥ 2.12) of at most 1 000
  messages: a chunk is stored whole or not at all, and the server persists it with one sync
  instead of one per message — with `sync_interval: always` that is the difference between
  ~5k and ~30k messages/s on a 2-core machine. A chunk JetStream refuses because it holds an
  id it already stored (a retry), or a stream without `allow_atomic`, falls back to
  per-message `publish_async`, where duplicates are acknowledged as such.
- In flight is bounded: at most `max_in_flight_publishes` messages (atomic chunks count their
  size; `publish_async` uses a JetStream context with `publish_async_max_pending` set to the
  same bound). A full window makes the producer wait — no unbounded queue in memory.
- Requests touching the same observation ids are serialised in this process, so two
  concurrent restatements cannot both be classified against the same ledger state.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import nats.errors
import nats.js.errors
import orjson
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from truenorth.bus.deadletter import (
    IntakeCounters,
    dead_letter_headers,
    dead_letter_subject,
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
ATOMIC_BATCH_MAX = 1000
"""nats-server's default `max_batch_size` for atomic publish."""
ERR_ATOMIC_DISABLED = 10174
ERR_BATCH_TOO_LARGE = 10199
ERR_BATCH_DUPLICATE_ID = 10201


class AtomicRefused(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{description} ({code})")
        self.code = code


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
        self._inflight: dict[str, dict[str, asyncio.Future[None]]] = {}
        self.atomic = True
        """Use atomic batches; turned off when the stream refuses them (no `allow_atomic`)."""
        self._window = asyncio.Semaphore(max(1, max_in_flight // ATOMIC_BATCH_MAX))
        self.fallbacks = 0

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

    async def _claim(self, workspace: str, ids: Sequence[str]) -> asyncio.Future[None]:
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        claimed = self._inflight.setdefault(workspace, {})
        wanted = set(ids)
        while True:
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
            if events:
                await self.publish_events(events)
            if dead_letter_rows and rejected:
                await self.publish_all(
                    [self._dead_letter(workspace, door, origin, row) for row in rejected]
                )
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
        return Outgoing(dead_letter_subject(workspace, SERVICE), row.raw, headers)

    async def publish_events(self, events: Sequence[Outgoing]) -> None:
        """Store events of one stream: atomic chunks (concurrently, bounded), else one by one."""
        if not self.atomic:
            await self.publish_all(events)
            return
        chunks = [events[i : i + ATOMIC_BATCH_MAX] for i in range(0, len(events), ATOMIC_BATCH_MAX)]
        results = await asyncio.gather(
            *(self._publish_chunk(chunk) for chunk in chunks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _publish_chunk(self, chunk: Sequence[Outgoing]) -> None:
        if self.atomic:
            async with self._window:
                try:
                    await self._publish_atomic(chunk)
                    return
                except AtomicRefused as exc:
                    if exc.code == ERR_ATOMIC_DISABLED:
                        log.warning("atomic publish disabled on the stream: publishing one by one")
                        self.atomic = False
                    elif exc.code not in (ERR_BATCH_DUPLICATE_ID, ERR_BATCH_TOO_LARGE):
                        raise StoreUnavailable(f"JetStream refused the batch: {exc}") from exc
                    self.fallbacks += 1
        await self.publish_all(chunk)

    async def _publish_atomic(self, chunk: Sequence[Outgoing]) -> None:
        nc = self.nc
        if not nc.is_connected:
            raise StoreUnavailable("not connected to NATS")
        batch_id = uuid.uuid4().hex
        last = len(chunk)
        body = chunk[:-1]
        commit = chunk[-1]
        try:
            send_command = getattr(nc, "_send_command", None)
            if send_command is not None and body:
                # One protocol write for the whole chunk body: nats-py's per-message publish()
                # costs ~19 µs (header encoding, validation, a flush future per call), which is
                # most of the CPU spent per observation. Same bytes as publish() would send.
                await send_command(
                    b"".join(
                        _hpub(item.subject, item.headers, batch_id, sequence, item.payload)
                        for sequence, item in enumerate(body, start=1)
                    )
                )
            else:
                for sequence, item in enumerate(body, start=1):
                    headers = {
                        **item.headers,
                        "Nats-Batch-Id": batch_id,
                        "Nats-Batch-Sequence": str(sequence),
                    }
                    await nc.publish(item.subject, item.payload, headers=headers)
            headers = {
                **commit.headers,
                "Nats-Batch-Id": batch_id,
                "Nats-Batch-Sequence": str(last),
                "Nats-Batch-Commit": "1",
            }
            reply = await nc.request(
                commit.subject, commit.payload, timeout=self.ack_timeout, headers=headers
            )
        except (nats.errors.Error, OSError) as exc:
            raise StoreUnavailable(f"atomic publish failed: {type(exc).__name__}: {exc}") from exc
        try:
            ack = orjson.loads(reply.data)
        except orjson.JSONDecodeError as exc:
            raise StoreUnavailable(f"unreadable JetStream ack: {reply.data[:200]!r}") from exc
        error = ack.get("error")
        if error:
            raise AtomicRefused(int(error.get("err_code", 0)), str(error.get("description")))
        if ack.get("count") != last:
            raise StoreUnavailable(f"JetStream acknowledged {ack.get('count')} of {last} events")

    async def publish_all(self, outgoing: Sequence[Outgoing]) -> None:
        """Publish with a bounded number in flight; return once JetStream acked every one."""
        nc = self.nc
        if not nc.is_connected:
            raise StoreUnavailable("not connected to NATS")
        js = self.js
        futures: list[asyncio.Future[Any]] = []
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


_HPUB = (
    b"HPUB %s %d %d\r\nNATS/1.0\r\nNats-Msg-Id: %s\r\nNats-Batch-Id: %s\r\n"
    b"Nats-Batch-Sequence: %d\r\n\r\n%s\r\n"
)
_HPUB_HEADER_SIZE = len(
    b"NATS/1.0\r\nNats-Msg-Id: \r\nNats-Batch-Id: \r\nNats-Batch-Sequence: \r\n\r\n"
)


def _hpub(
    subject: str, headers: dict[str, str], batch_id: str, sequence: int, payload: bytes
) -> bytes:
    """The HPUB protocol command nats-py's publish() writes for these headers (subjects and
    ids here are slugs, uuids and digits: nothing to escape). Events carry exactly one header
    of their own, Nats-Msg-Id."""
    msg_id = headers["Nats-Msg-Id"].encode()
    batch = batch_id.encode()
    seq = b"%d" % sequence
    size = _HPUB_HEADER_SIZE + len(msg_id) + len(batch) + len(seq)
    return _HPUB % (subject.encode(), size, size + len(payload), msg_id, batch, sequence, payload)


def _cancel(futures: Sequence[asyncio.Future[Any]]) -> None:
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()  # mark retrieved


async def enable_atomic_publish(js: JetStreamContext, stream: str) -> bool:
    """Turn on `allow_atomic` for the stream if it is off (nats-server ≥ 2.12).

    TODO(lead): declare `allow_atomic=True` for METRICS in `truenorth.bus.streams` instead.
    `provision` ignores the field today (None is not compared), so this does not flip-flop."""
    info = await js.stream_info(stream)
    if info.config.allow_atomic:
        return True
    config = info.config
    config.allow_atomic = True
    try:
        await js.update_stream(config)
    except nats.js.errors.APIError as exc:
        log.warning("cannot enable atomic publish; publishing one by one", error=str(exc))
        return False
    return True
