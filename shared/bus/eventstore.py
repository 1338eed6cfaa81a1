"""JetStream as the event store: provisioning, append with optimistic concurrency, replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig
from nats.js.errors import APIError, NotFoundError

from truenorth.bus.streams import (
    ALL_STREAMS,
    STREAM_OF_CONTEXT,
    Limits,
    StreamSpec,
    aggregate_subject,
)
from truenorth.bus.wire import api_prefix, connection_of
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import CONTEXT_OF_TYPE, Event, decode, encode

WRONG_LAST_SEQUENCE = 10071
STATUS_HEADER = "Status"
DESCRIPTION_HEADER = "Description"


class EventStoreError(Exception):
    pass


class ConcurrencyConflict(EventStoreError):
    """Someone appended to the aggregate since the caller read it."""

    def __init__(self, subject: str, expected: int | None, detail: str = "") -> None:
        super().__init__(
            f"concurrent append on {subject}: expected last sequence {expected} ({detail})"
        )
        self.subject = subject
        self.expected = expected


class StoreUnavailable(EventStoreError):
    """JetStream did not acknowledge in time; the caller may retry with the same ids."""


@dataclass(frozen=True)
class Appended:
    stream: str
    sequence: int
    duplicate: bool


@dataclass(frozen=True)
class StoredEvent:
    stream: str
    sequence: int
    subject: str
    event: Event


def subject_of(event: EnvelopeFields) -> str:
    context = CONTEXT_OF_TYPE[event.type]  # type: ignore[attr-defined]
    return aggregate_subject(event.workspace, context, event.aggregate_id)


def stream_of(event: EnvelopeFields) -> StreamSpec:
    return STREAM_OF_CONTEXT[CONTEXT_OF_TYPE[event.type]]  # type: ignore[attr-defined]


async def connect(
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    name: str = "truenorth",
    tls: ssl.SSLContext | None = None,
    reconnect: bool = True,
    inbox_prefix: str | None = None,
) -> NatsClient:
    """A nats-py client; `reconnect=False` for one-shot commands, which should fail at once
    rather than retry forever (e.g. against a TLS-only server without TLS settings)."""
    options: dict[str, Any] = {
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 2,
        "allow_reconnect": reconnect,
    }
    if not reconnect:
        options["error_cb"] = _caller_reports  # a failed one-shot connect raises to the caller
    if user:
        options.update(user=user, password=password)
    if tls is not None:
        options["tls"] = tls
    if inbox_prefix is not None:
        options["inbox_prefix"] = inbox_prefix
    return await nats.connect([part.strip() for part in url.split(",")], **options)


async def _caller_reports(_error: Exception) -> None:
    """nats-py's default error callback logs a traceback; a command prints one line instead."""


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    have = current.as_dict()
    return any(have.get(key) != value for key, value in wanted.as_dict().items())


async def provision(
    js: JetStreamContext, replicas: int = 1, limits: Mapping[str, Limits] | None = None
) -> list[str]:
    """Create or update every stream; never delete. Returns the names that changed. `limits`
    overrides the byte and age bounds of INTAKE and DLQ by stream name."""
    changed = []
    for spec in ALL_STREAMS:
        wanted = spec.config(replicas, (limits or {}).get(spec.name))
        try:
            info = await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(wanted)
            changed.append(spec.name)
            continue
        if info.config.deny_purge and not wanted.deny_purge:
            # nats-server cannot lift deny_purge on an existing stream: a DLQ created before
            # purging was allowed keeps refusing it (recreate the DLQ to allow it)
            wanted.deny_purge = True
        if _differs(info.config, wanted):
            await js.update_stream(wanted)
            changed.append(spec.name)
    return changed


class EventStore:
    def __init__(self, js: JetStreamContext, timeout: float = 5.0) -> None:
        self.js = js
        self.timeout = timeout

    async def append(
        self, event: EnvelopeFields, expected_subject_sequence: int | None = None
    ) -> Appended:
        """Append one event; `expected_subject_sequence` (0 = subject must be empty) guards
        against concurrent writers, `Nats-Msg-Id` against duplicates."""
        subject = subject_of(event)
        headers = {"Nats-Msg-Id": str(event.event_id)}
        if expected_subject_sequence is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_subject_sequence)
        try:
            ack = await self.js.publish(
                subject, encode(event), timeout=self.timeout, headers=headers
            )
        except APIError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise ConcurrencyConflict(
                    subject, expected_subject_sequence, exc.description or ""
                ) from exc
            raise
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise StoreUnavailable(f"JetStream did not acknowledge {subject}") from exc
        return Appended(ack.stream, ack.seq, bool(ack.duplicate))

    async def append_all(
        self, events: Sequence[EnvelopeFields], expected_subject_sequence: int | None = None
    ) -> list[Appended]:
        """Append events of one aggregate in order, chaining the expected sequence."""
        results = []
        expected = expected_subject_sequence
        for event in events:
            appended = await self.append(event, expected)
            results.append(appended)
            if expected is not None:
                expected = appended.sequence
        return results

    async def last_subject_sequence(self, stream: str, subject: str) -> int:
        try:
            msg = await self.js.get_last_msg(stream, subject)
        except NotFoundError:
            return 0
        return int(msg.seq or 0)

    async def read_aggregate(
        self, workspace: str, context: str, aggregate_id: str
    ) -> tuple[list[Event], int]:
        """All events of one aggregate and the stream sequence of the last one (0 if none)."""
        spec = STREAM_OF_CONTEXT[context]
        subject = aggregate_subject(workspace, context, aggregate_id)
        events: list[Event] = []
        last = 0
        async for stored in self.read(spec.name, filter_subject=subject):
            events.append(stored.event)
            last = stored.sequence
        return events, last

    async def read(self, stream: str, **options: Any) -> AsyncIterator[StoredEvent]:
        """Replay a stream decoded, from a sequence or a time, up to the head as it was when
        called (options as for `read_batches`)."""
        messages = self.read_raw(stream, **options)
        async with contextlib.aclosing(messages):  # type: ignore[type-var]
            async for msg in messages:
                yield StoredEvent(stream, stream_sequence(msg), msg.subject, decode(msg.data))

    async def read_raw(
        self,
        stream: str,
        *,
        from_sequence: int | None = None,
        from_time: datetime | None = None,
        until_sequence: int | None = None,
        filter_subject: str | None = None,
        batch: int = 1000,
    ) -> AsyncIterator[Msg]:
        """The stored messages, one by one (see `read_batches`)."""
        batches = self.read_batches(
            stream,
            from_sequence=from_sequence,
            from_time=from_time,
            until_sequence=until_sequence,
            filter_subject=filter_subject,
            batch=batch,
        )
        async with contextlib.aclosing(batches):  # a caller stopping early frees the consumer
            async for msgs in batches:
                for msg in msgs:
                    yield msg

    async def read_batches(
        self,
        stream: str,
        *,
        from_sequence: int | None = None,
        from_time: datetime | None = None,
        until_sequence: int | None = None,
        filter_subject: str | None = None,
        batch: int = 1000,
    ) -> AsyncGenerator[list[Msg], None]:
        """The stored messages in stream order, in lists of up to about `batch`, up to the
        head as it was when called. Use `stream_sequence(msg)` rather than `msg.metadata`
        where only the sequence is needed (the metadata parses the reply subject per call).

        An ephemeral pull consumer (no acks) is read through a plain subscription with a
        few pull requests in flight: nats-py's `fetch` costs a task and a `wait_for` per
        message, about four times the CPU of this loop."""
        info = await self.js.stream_info(stream)
        head = info.state.last_seq if until_sequence is None else until_sequence
        if head == 0 or (from_sequence or 1) > head:
            return
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            inactive_threshold=30.0,
            filter_subject=filter_subject,
        )
        if from_sequence is not None:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = from_sequence
        elif from_time is not None:
            config.deliver_policy = DeliverPolicy.BY_START_TIME
            config.opt_start_time = from_time
        else:
            config.deliver_policy = DeliverPolicy.ALL
        if filter_subject is not None:
            last = await self.last_subject_sequence(stream, filter_subject)
            head = min(head, last)
            if head == 0:
                return
        consumer = await self.js.add_consumer(stream, config)
        puller = _Puller(self.js, stream, consumer.name, max(1, batch), head)
        batches = puller.batches(self.timeout)
        try:
            async with contextlib.aclosing(batches):
                async for msgs in batches:
                    yield msgs
        finally:
            await puller.close()


def stream_sequence(msg: Msg) -> int:
    """The stream sequence of a JetStream message, from its reply subject
    (`$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>...`, or the 12-token form with a
    domain and an account hash)."""
    tokens = (msg.reply or "").split(".")
    if len(tokens) == 9:
        return int(tokens[5])
    if len(tokens) >= 11:
        return int(tokens[7])
    return int(msg.metadata.sequence.stream)


class _Puller:
    """Pull requests (`no_wait`, so an exhausted consumer answers at once) kept in flight on
    one inbox; messages are gathered by the subscription callback."""

    IN_FLIGHT = 3
    RESEND_AFTER = 0.1

    def __init__(
        self, js: JetStreamContext, stream: str, consumer: str, batch: int, head: int
    ) -> None:
        self.js = js
        self.nc = connection_of(js)
        self.next_subject = f"{api_prefix(js)}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self.stream = stream
        self.consumer = consumer
        self.batch = batch
        self.head = head
        self.request = json.dumps({"batch": batch, "no_wait": True}).encode()
        self.buffer: list[Msg] = []
        self.open: deque[int] = deque()
        """Messages still owed by each pull request in flight, oldest first."""
        self.done = False
        self.error: str | None = None
        self.unanswered = 0
        """Pull requests that found no responder (503): in a cluster the consumer's leader
        may not serve its first requests yet, e.g. after a node restart; they are re-sent."""
        self.unanswered_since: float | None = None
        self.wake = asyncio.Event()
        self.inbox = self.nc.new_inbox()
        self.sub: Any = None

    async def _on_msg(self, msg: Msg) -> None:
        if not msg.data and msg.headers and STATUS_HEADER in msg.headers:
            status = msg.headers[STATUS_HEADER]
            if status == "100":  # idle heartbeat
                return
            if self.open:
                self.open.popleft()
            if status == "503":
                self.unanswered += 1
            elif status not in ("404", "408"):
                self.error = f"{status} {msg.headers.get(DESCRIPTION_HEADER, '')}".strip()
            self.wake.set()
            return
        if self.done:
            return
        self.unanswered_since = None
        self.buffer.append(msg)
        if self.open:
            owed = self.open[0] - 1
            if owed:
                self.open[0] = owed
            else:
                self.open.popleft()
        if len(self.buffer) >= self.batch or not self.open:
            self.wake.set()

    async def _top_up(self) -> None:
        while len(self.open) < self.IN_FLIGHT:
            self.open.append(self.batch)
            await self.nc.publish(self.next_subject, self.request, reply=self.inbox)

    async def batches(self, timeout: float) -> AsyncGenerator[list[Msg], None]:
        self.sub = await self.nc.subscribe(self.inbox, cb=self._on_msg)
        await self._top_up()
        await self.nc.flush()
        while not self.done:
            if not self.buffer:
                if self.error is not None:
                    raise EventStoreError(f"reading {self.stream}: {self.error}")
                if self.unanswered and not self.open:
                    await self._resend_unanswered(timeout)
                    continue
                if not self.open:
                    return  # the consumer had nothing more (a filtered or a timed tail)
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout)
                except TimeoutError:
                    raise StoreUnavailable(f"no answer reading {self.stream}") from None
                continue
            msgs, self.buffer = self.buffer, []
            last = stream_sequence(msgs[-1])
            if last >= self.head:
                self.done = True
                while msgs and stream_sequence(msgs[-1]) > self.head:
                    msgs.pop()
            else:
                await self._top_up()
            if msgs:
                yield msgs

    async def _resend_unanswered(self, timeout: float) -> None:
        if self.unanswered_since is None:
            self.unanswered_since = asyncio.get_running_loop().time()
        elif asyncio.get_running_loop().time() - self.unanswered_since > timeout:
            raise StoreUnavailable(f"no responder reading {self.stream} for {timeout:.0f}s")
        self.unanswered = 0
        await asyncio.sleep(self.RESEND_AFTER)
        await self._top_up()

    async def close(self) -> None:
        self.done = True
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
        if self.nc.is_closed or self.nc.is_draining:
            return  # the server drops the consumer after its inactive threshold
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.js.delete_consumer(self.stream, self.consumer), 2.0)
