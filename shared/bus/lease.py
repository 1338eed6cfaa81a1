"""Partition leases on NATS KV: ownership with a TTL, compare-and-set, and a fencing epoch.

Two KV buckets, both with the lease TTL as their max age (history 1):

- `truenorth_leases`, key `p<n>` per partition: `{"worker": id, "epoch": e}` while owned,
  `{"worker": null, "epoch": e}` once released. A lease is taken with a create (key absent or
  expired) or an update on a released value's revision, renewed with an update on the
  revision the owner last wrote (so a renewal after someone else took over fails), and lost
  when not renewed within the TTL: the server drops the key, anyone may take it.
- `truenorth_workers`, key = worker id: a heartbeat, so every worker knows how many are alive
  and aims at `ceil(P / live workers)` partitions.

The *epoch* of a lease is the KV revision of the write that acquired it: a stream sequence,
so it grows across owners (every later acquisition is a later write to the same stream) and is
unchanged by renewals. The projection store records it (`truenorth.store.fencing`). Deleting
the leases bucket restarts revisions at 1: the fences then refuse every worker until the
store's fences are reset (part of the re-partition procedure: docs/design.md, "Partitions
and leases").

A worker stops considering itself owner at `sent + TTL - margin`, `sent` being when it sent its
last successful write: the server starts the key's TTL on receipt, later, so the worker gives
up before the server frees the key. Why KV rather than priority groups with `pinned_client`:
nats-py 2.16 has no priority-group API, a pin id is random (no monotonic fencing token), and
pinning is per consumer, with no spreading of P partitions over workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    BucketNotFoundError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NotFoundError,
)
from nats.js.kv import KeyValue

LEASES_BUCKET = "truenorth_leases"
WORKERS_BUCKET = "truenorth_workers"

Clock = Callable[[], float]
TRANSIENT = (nats.errors.Error, TimeoutError, asyncio.TimeoutError, OSError)
"""A NATS node down, a leader election, a reconnect: retried at the next tick."""


@dataclass(frozen=True)
class LeaseTiming:
    ttl: float = 7.0
    """Server-side: a lease not renewed for this long is free (takeover ≤ ttl + a tick, inside
    the 10 s a partition may be ownerless). Above the ~4.7 s a 3-node cluster took to elect a
    new stream leader after kill -9 (measured with nats-server 2.15.1) plus the margin, so
    leases outlive the loss of a NATS node."""
    renew_every: float = 0.5
    margin: float = 1.5
    """The owner gives up this long before the server could free the lease."""
    orphan_seconds: float = 1.5
    """A partition free this long may be taken by any worker, over its target (covers a dead
    worker still counted live until its heartbeat expires). Longer than a normal tick, so a
    worker under its target gets it first."""

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.ttl - self.margin:
            raise ValueError(
                f"renewal every {self.renew_every}s must be shorter than the ttl "
                f"{self.ttl}s minus the margin {self.margin}s"
            )


@dataclass(frozen=True)
class Lease:
    partition: int
    epoch: int
    revision: int
    valid_until: float
    """Clock time (monotonic) after which the holder must not act as the owner."""


@dataclass(frozen=True)
class Holder:
    """What the leases bucket says about a partition."""

    partition: int
    worker: str | None
    epoch: int
    revision: int


def lease_key(partition: int) -> str:
    return f"p{partition}"


def preference(worker: str, partition: int) -> int:
    """Rendezvous score: each worker ranks partitions its own stable way, so the ones it
    keeps and the ones it gives up barely move as workers come and go."""
    digest = hashlib.blake2b(f"{worker}/{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def target_count(partitions: int, live_workers: int) -> int:
    return math.ceil(partitions / max(1, live_workers))


@dataclass(frozen=True)
class Plan:
    release: tuple[int, ...]
    acquire: tuple[int, ...]


def plan(
    worker: str,
    partitions: int,
    live_workers: int,
    owned: Iterable[int],
    free_for: dict[int, float],
    orphan_seconds: float = 1.5,
) -> Plan:
    """Which owned partitions to give up and which free ones to try for. `free_for`: the
    free partitions, each with how long it has been seen free (seconds)."""
    owned = sorted(owned, key=lambda p: preference(worker, p), reverse=True)
    target = target_count(partitions, live_workers)
    if len(owned) > target:
        return Plan(release=tuple(owned[target:]), acquire=())
    ranked = sorted(free_for, key=lambda p: preference(worker, p), reverse=True)
    wanted = ranked[: target - len(owned)]
    orphans = [p for p in ranked if free_for[p] >= orphan_seconds and p not in wanted]
    return Plan(release=(), acquire=(*wanted, *orphans[:1]))


async def provision_lease_buckets(
    js: JetStreamContext, ttl: float, replicas: int = 1
) -> tuple[KeyValue, KeyValue]:
    """Create the two buckets if missing (as the provisioner), or open them."""
    buckets = []
    for name in (LEASES_BUCKET, WORKERS_BUCKET):
        try:
            kv = await js.key_value(name)
        except (BucketNotFoundError, NotFoundError):
            config = KeyValueConfig(
                bucket=name,
                history=1,
                ttl=ttl,
                storage=StorageType.FILE,
                replicas=replicas,
                direct=False,  # reads from the stream leader: a follower may lag a takeover
            )
            kv = await js.create_key_value(config)
        buckets.append(kv)
    return buckets[0], buckets[1]


@dataclass
class LeaseStore:
    """The KV operations of one worker on the two buckets."""

    js: JetStreamContext
    leases: KeyValue
    workers: KeyValue
    worker: str
    timing: LeaseTiming = field(default_factory=LeaseTiming)
    clock: Clock = time.monotonic

    def _value(self, epoch: int | None, owner: bool = True) -> bytes:
        return json.dumps({"worker": self.worker if owner else None, "epoch": epoch}).encode()

    def _valid_until(self, sent: float) -> float:
        return sent + self.timing.ttl - self.timing.margin

    async def holder(self, partition: int) -> Holder | None:
        """The partition's lease entry; None if it is absent (never taken, or expired)."""
        try:
            entry = await self.leases.get(lease_key(partition))
        except (KeyNotFoundError, KeyDeletedError):
            return None
        body = json.loads(entry.value or b"{}")
        revision = int(entry.revision or 0)
        return Holder(partition, body.get("worker"), int(body.get("epoch") or revision), revision)

    async def acquire(self, partition: int) -> Lease | None:
        """Take the partition if it is free; None if someone holds it or won the race."""
        current = await self.holder(partition)
        if current is not None and current.worker is not None:
            return None
        sent = self.clock()
        try:
            if current is None:
                revision = await self.leases.create(lease_key(partition), self._value(None))
            else:
                revision = await self.leases.update(
                    lease_key(partition), self._value(None), last=current.revision
                )
        except KeyWrongLastSequenceError:
            return None
        return Lease(partition, revision, revision, self._valid_until(sent))

    async def renew(self, lease: Lease) -> Lease | None:
        """The renewed lease; None if another worker holds it now (lost for good). A NATS
        error propagates: the lease stays valid until its `valid_until`."""
        sent = self.clock()
        try:
            revision = await self.leases.update(
                lease_key(lease.partition), self._value(lease.epoch), last=lease.revision
            )
        except KeyWrongLastSequenceError:
            # our previous write may have been stored with its acknowledgement lost (a node
            # died): the entry is then still ours, at a revision we never saw
            current = await self.holder(lease.partition)
            if current is None or (current.worker, current.epoch) != (self.worker, lease.epoch):
                return None
            return await self.renew(Lease(lease.partition, lease.epoch, current.revision, 0.0))
        return Lease(lease.partition, lease.epoch, revision, self._valid_until(sent))

    async def release(self, lease: Lease) -> bool:
        """Hand the partition back at once (keeping its epoch on record); False if it was no
        longer ours."""
        try:
            await self.leases.update(
                lease_key(lease.partition),
                self._value(lease.epoch, owner=False),
                last=lease.revision,
            )
        except KeyWrongLastSequenceError:
            return False
        return True

    async def heartbeat(self, owned: Sequence[int] = ()) -> None:
        body = {"owned": sorted(owned), "at": time.time()}
        await self.workers.put(self.worker, json.dumps(body).encode())

    async def leave(self) -> None:
        with contextlib.suppress(*TRANSIENT, KeyNotFoundError):
            await self.workers.purge(self.worker)

    async def live_workers(self) -> list[str]:
        """Workers whose heartbeat has not expired (a departed one left a purge marker)."""
        stream = f"KV_{WORKERS_BUCKET}"
        info = await self.js.stream_info(stream, subjects_filter=f"$KV.{WORKERS_BUCKET}.>")
        live = []
        for subject in info.state.subjects or {}:
            key = subject.removeprefix(f"$KV.{WORKERS_BUCKET}.")
            try:
                await self.workers.get(key)
            except (KeyNotFoundError, KeyDeletedError):
                continue
            live.append(key)
        return sorted(live)

    async def holders(self, partitions: int) -> dict[int, Holder | None]:
        return {partition: await self.holder(partition) for partition in range(partitions)}


@dataclass
class Changes:
    """What a tick changed: start `acquired`, stop `lost` at once (another worker may own
    them already), stop `surplus` and then `release` it (another worker should take it)."""

    acquired: list[Lease] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    surplus: list[Lease] = field(default_factory=list)


@dataclass
class LeaseKeeper:
    """One worker's leases: renewal, loss detection and fair assignment, one tick at a time
    (`truenorth.alignment.workers` drives it and runs the partitions)."""

    store: LeaseStore
    partitions: int
    held: dict[int, Lease] = field(default_factory=dict)
    lapsed: dict[int, Lease] = field(default_factory=dict)
    """Leases this worker could not renew in time: not acted on, but resumed with the same
    epoch if the next renewal still finds them ours (nobody wrote in between)."""
    free_since: dict[int, float] = field(default_factory=dict)
    """Free partitions, each with when this worker first saw it free."""
    live: list[str] = field(default_factory=list)
    _writing: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    """A tick and a hand-over never write the same lease at once: a release racing a renewal
    of the same revision would leave one of them refused (and the worker crashed or the
    partition ours until the TTL). The watchdog's `lapse_expired` does not wait for it."""

    @property
    def worker(self) -> str:
        return self.store.worker

    def lapse_expired(self) -> list[int]:
        """Partitions whose lease ran out locally: the worker must stop acting on them now."""
        now = self.store.clock()
        expired = [p for p, lease in self.held.items() if now >= lease.valid_until]
        for partition in expired:
            self.lapsed[partition] = self.held.pop(partition)
        return expired

    async def tick(self) -> Changes:
        async with self._writing:
            return await self._tick()

    async def _tick(self) -> Changes:
        changes = Changes(lost=self.lapse_expired())
        with contextlib.suppress(*TRANSIENT):
            await self.store.heartbeat(list(self.held))
        await self._renew(changes)
        await self._recover(changes)
        changes.lost += self.lapse_expired()
        with contextlib.suppress(*TRANSIENT):
            self.live = await self.store.live_workers()
        try:
            holders = await self.store.holders(self.partitions)
        except TRANSIENT:
            return changes
        await self._adopt_unacknowledged(holders, changes)
        self._count_free(holders)
        step = plan(
            self.worker,
            self.partitions,
            len(self.live) or 1,
            self.held,
            self._free_for(),
            self.store.timing.orphan_seconds,
        )
        changes.surplus = [self.held[p] for p in step.release]
        for partition in step.acquire:
            with contextlib.suppress(*TRANSIENT):
                lease = await self.store.acquire(partition)
                if lease is not None:
                    self.held[partition] = lease
                    self.free_since.pop(partition, None)
                    changes.acquired.append(lease)
        return changes

    async def _renew(self, changes: Changes) -> None:
        for partition, lease in list(self.held.items()):
            try:
                renewed = await self.store.renew(lease)
            except TRANSIENT:
                continue  # valid until lease.valid_until; retried next tick
            if self.held.get(partition) is not lease:
                continue  # lapsed meanwhile (the watchdog): `_recover` finds out what it is now
            if renewed is None:
                del self.held[partition]
                changes.lost.append(partition)
            else:
                self.held[partition] = renewed

    async def _recover(self, changes: Changes) -> None:
        for partition, lease in list(self.lapsed.items()):
            try:
                renewed = await self.store.renew(lease)
            except TRANSIENT:
                continue
            except (KeyNotFoundError, KeyDeletedError):
                renewed = None
            self.lapsed.pop(partition, None)
            if renewed is not None:
                self.held[partition] = renewed
                changes.acquired.append(renewed)

    async def _adopt_unacknowledged(
        self, holders: dict[int, Holder | None], changes: Changes
    ) -> None:
        """An acquisition stored but not acknowledged (a node died) names this worker."""
        for partition, holder in holders.items():
            if holder is None or holder.worker != self.worker:
                continue
            if partition in self.held or partition in self.lapsed:
                continue
            with contextlib.suppress(*TRANSIENT):
                orphan = Lease(partition, holder.epoch, holder.revision, 0.0)
                lease = await self.store.renew(orphan)
                if lease is not None:
                    self.held[partition] = lease
                    changes.acquired.append(lease)

    def _count_free(self, holders: dict[int, Holder | None]) -> None:
        free = {p for p, h in holders.items() if h is None or h.worker is None}
        free -= set(self.held)
        now = self.store.clock()
        self.free_since = {p: self.free_since.get(p, now) for p in free}

    def _free_for(self) -> dict[int, float]:
        now = self.store.clock()
        return {p: now - since for p, since in self.free_since.items()}

    async def release(self, partition: int) -> None:
        """Hand a held partition back (at its latest revision: renewals go on until then)."""
        async with self._writing:
            lease = self.held.pop(partition, None)
            if lease is not None:
                with contextlib.suppress(*TRANSIENT):
                    await self.store.release(lease)

    def forget(self, partition: int) -> None:
        """A partition whose commit was fenced out: someone else owns it."""
        self.held.pop(partition, None)
        self.lapsed.pop(partition, None)

    async def leave(self) -> None:
        for partition in list(self.held):
            await self.release(partition)
        await self.store.leave()
