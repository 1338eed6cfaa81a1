"""Leases on a real nats-server (single node, fast timings): compare-and-set ownership,
epochs that grow across owners, expiry, hand-over and loss detection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client as NatsClient

from truenorth.bus.lease import LeaseKeeper, LeaseStore, LeaseTiming, provision_lease_buckets

FAST = LeaseTiming(ttl=2.0, renew_every=0.3, margin=0.5)


@pytest.fixture
async def nc(own_nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(own_nats_url)
    yield client
    await client.close()


@pytest.fixture
def own_nats_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    from truenorth.bus.embedded import EmbeddedNats

    server = EmbeddedNats(tmp_path / "nats").start()
    yield server.url
    server.kill()


async def store(nc: NatsClient, name: str, timing: LeaseTiming = FAST) -> LeaseStore:
    js = nc.jetstream(timeout=2.0)
    leases, workers = await provision_lease_buckets(js, timing.ttl)
    return LeaseStore(js, leases, workers, f"{name}-{uuid.uuid4().hex[:6]}", timing)


async def test_one_owner_at_a_time_and_the_next_epoch_is_higher(nc: NatsClient) -> None:
    a, b = await store(nc, "a"), await store(nc, "b")
    lease = await a.acquire(0)
    assert lease is not None
    assert await b.acquire(0) is None
    renewed = await a.renew(lease)
    assert renewed is not None and renewed.epoch == lease.epoch
    assert renewed.revision > lease.revision
    assert await a.release(renewed)
    taken = await b.acquire(0)
    assert taken is not None and taken.epoch > lease.epoch
    assert await a.renew(renewed) is None, "a renewal after the hand-over fails"


async def test_an_unrenewed_lease_expires_on_the_server_and_is_taken_over(nc: NatsClient) -> None:
    a, b = await store(nc, "a"), await store(nc, "b")
    lease = await a.acquire(1)
    assert lease is not None
    assert lease.valid_until - a.clock() <= FAST.ttl - FAST.margin
    await asyncio.sleep(FAST.ttl + 0.7)
    taken = await b.acquire(1)
    assert taken is not None and taken.epoch > lease.epoch
    assert await a.renew(lease) is None


async def test_a_renewal_whose_acknowledgement_was_lost_is_recognised(nc: NatsClient) -> None:
    a = await store(nc, "a")
    lease = await a.acquire(2)
    assert lease is not None
    stored = await a.renew(lease)  # as if its ack never came: the caller still has `lease`
    assert stored is not None
    again = await a.renew(lease)
    assert again is not None and again.epoch == lease.epoch


async def tick(keeper: LeaseKeeper) -> None:
    """A tick as the worker loop does it (surplus handed back at once)."""
    changes = await keeper.tick()
    for lease in changes.surplus:
        await keeper.release(lease.partition)


async def test_keepers_spread_partitions_and_a_departure_hands_them_over(nc: NatsClient) -> None:
    keepers = [LeaseKeeper(await store(nc, n), partitions=6) for n in ("a", "b", "c")]
    for _ in range(12):
        for keeper in keepers:
            await tick(keeper)
    assert sorted(len(k.held) for k in keepers) == [2, 2, 2]
    assert set().union(*(k.held for k in keepers)) == set(range(6))
    leaving, *staying = keepers
    await leaving.leave()
    for _ in range(12):
        for keeper in staying:
            await tick(keeper)
    assert sorted(len(k.held) for k in staying) == [3, 3]


async def test_a_lease_not_renewed_in_time_lapses_before_the_server_frees_it(
    nc: NatsClient,
) -> None:
    keeper = LeaseKeeper(await store(nc, "a"), partitions=1)
    await keeper.tick()
    (lease,) = keeper.held.values()
    await asyncio.sleep(FAST.ttl - FAST.margin + 0.05)  # no tick: renewal stuck
    assert keeper.lapse_expired() == [0]
    changes = await keeper.tick()  # the key is still ours on the server: same epoch again
    assert [(got.partition, got.epoch) for got in changes.acquired] == [(0, lease.epoch)]
