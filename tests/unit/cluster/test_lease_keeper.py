"""The lease keeper (`truenorth.bus.lease.LeaseKeeper`) when its leases change under a tick:
a hand-over releasing, or the watchdog lapsing, a lease whose renewal is in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from truenorth.bus.lease import Holder, Lease, LeaseKeeper, LeaseTiming

TIMING = LeaseTiming(ttl=7.0, renew_every=0.5, margin=1.5)


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class KvLeases:
    """The leases bucket as compare-and-set on revisions; renewals may be held at a gate."""

    worker: str = "w"
    timing: LeaseTiming = TIMING
    clock: Clock = field(default_factory=Clock)
    entries: dict[int, tuple[str | None, int, int]] = field(default_factory=dict)
    """partition → (worker, epoch, revision)"""
    gate: asyncio.Event | None = None
    renewing: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self, partition: int, revision: int = 5) -> Lease:
        self.entries[partition] = (self.worker, revision, revision)
        return Lease(partition, revision, revision, self.clock() + 5.0)

    async def heartbeat(self, owned: Sequence[int] = ()) -> None:
        return None

    async def renew(self, lease: Lease) -> Lease | None:
        if self.gate is not None:
            self.renewing.set()
            await self.gate.wait()
        worker, epoch, revision = self.entries[lease.partition]
        if (worker, epoch) != (self.worker, lease.epoch):
            return None  # taken over (a write of ours at a revision we never saw is still ours)
        self.entries[lease.partition] = (worker, epoch, revision + 1)
        return Lease(lease.partition, epoch, revision + 1, self.clock() + 5.0)

    async def release(self, lease: Lease) -> bool:
        _, epoch, revision = self.entries[lease.partition]
        if revision != lease.revision:
            return False
        self.entries[lease.partition] = (None, epoch, revision + 1)
        return True

    async def live_workers(self) -> list[str]:
        return [self.worker]

    async def holders(self, partitions: int) -> dict[int, Holder | None]:
        return {p: Holder(p, *self.entries[p]) for p in range(partitions)}

    async def acquire(self, partition: int) -> Lease | None:
        return None


def keeper_renewing_partition_0() -> tuple[LeaseKeeper, KvLeases]:
    kv = KvLeases(gate=asyncio.Event())
    keeper = LeaseKeeper(kv, partitions=1)  # type: ignore[arg-type]
    keeper.held[0] = kv.take(0)
    return keeper, kv


async def test_a_hand_over_during_a_renewal_releases_the_renewed_lease() -> None:
    keeper, kv = keeper_renewing_partition_0()
    tick = asyncio.create_task(keeper.tick())
    await kv.renewing.wait()
    release = asyncio.create_task(keeper.release(0))
    await asyncio.sleep(0.01)
    kv.gate.set()  # type: ignore[union-attr]
    await asyncio.wait_for(asyncio.gather(tick, release), 2.0)

    assert 0 not in keeper.held
    worker, _, _ = kv.entries[0]
    assert worker is None, "the partition is handed back, not left ours until the ttl"


async def test_a_lease_lapsing_and_taken_over_during_its_renewal_is_dropped() -> None:
    keeper, kv = keeper_renewing_partition_0()
    tick = asyncio.create_task(keeper.tick())
    await kv.renewing.wait()
    kv.clock.now += 10.0
    assert keeper.lapse_expired() == [0]  # the watchdog, while the renewal waits
    kv.entries[0] = ("other", 9, 9)
    kv.gate.set()  # type: ignore[union-attr]
    changes = await asyncio.wait_for(tick, 2.0)

    assert 0 not in keeper.held
    assert 0 not in keeper.lapsed
    assert changes.acquired == []


async def test_a_lease_lapsing_during_a_successful_renewal_is_resumed() -> None:
    keeper, kv = keeper_renewing_partition_0()
    tick = asyncio.create_task(keeper.tick())
    await kv.renewing.wait()
    kv.clock.now += 10.0
    assert keeper.lapse_expired() == [0]
    in_flight, kv.gate = kv.gate, None
    in_flight.set()  # type: ignore[union-attr]
    changes = await asyncio.wait_for(tick, 2.0)

    assert [lease.partition for lease in changes.acquired] == [0]
    assert keeper.held[0].epoch == 5
    assert 0 not in keeper.lapsed
