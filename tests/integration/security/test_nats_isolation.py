"""NATS isolation between users (issue 17, findings 1 and 2), against the real nats-server with
exactly the users `truenorth up` configures: deliveries reach only whoever asked for them, and
a service cannot act on another's durable consumers."""

from __future__ import annotations

import asyncio
import uuid

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

from tests.integration.security.conftest import SecureNats
from truenorth.bus.eventstore import EventStore
from truenorth.bus.permissions import DURABLES, INTAKE, SERVICE_USERS

TIMEOUT = 0.3


def ws() -> str:
    return "ws-" + uuid.uuid4().hex[:10]


@pytest.mark.parametrize("spy", [INTAKE, "campaigns"])
async def test_no_user_can_read_the_deliveries_of_another(
    provisioned: SecureNats, spy: str
) -> None:
    workspace = ws()
    eavesdropper = await provisioned.connect(spy)
    overheard: list[Msg] = []

    async def keep(msg: Msg) -> None:
        overheard.append(msg)

    for wildcard in ("_INBOX.>", "_INBOX_metrics.>", "_INBOX_alignment.>", ">"):
        await eavesdropper.nc.subscribe(wildcard, cb=keep)
    await eavesdropper.nc.flush()
    await asyncio.sleep(0.1)

    service = await provisioned.connect("metrics")
    js = service.nc.jetstream(timeout=2)
    secret = b'{"value": 4242, "workspace": "' + workspace.encode() + b'"}'
    await js.publish(f"tn.{workspace}.metrics.c1", secret)
    read = [
        msg.data
        async for msg in EventStore(js).read_raw(
            "METRICS", filter_subject=f"tn.{workspace}.metrics.>"
        )
    ]
    assert read == [secret]  # the service itself reads it
    await asyncio.sleep(0.2)
    await service.close()
    await eavesdropper.close()
    assert [m.data for m in overheard if workspace.encode() in m.data] == []
    assert any("permissions violation" in e for e in eavesdropper.errors)


@pytest.mark.parametrize(("stream", "durable"), list(DURABLES))
async def test_a_service_cannot_delete_pull_from_or_ack_for_another_services_consumer(
    provisioned: SecureNats, stream: str, durable: str
) -> None:
    owner = DURABLES[(stream, durable)]
    owning = await provisioned.connect(owner)
    owner_js = owning.nc.jetstream(timeout=2)
    config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
    await owner_js.add_consumer(stream, config)
    for intruder in (u for u in SERVICE_USERS if u != owner):
        connection = await provisioned.connect(intruder)
        js = connection.nc.jetstream(timeout=TIMEOUT)
        with pytest.raises(nats.errors.TimeoutError):
            await js.delete_consumer(stream, durable)
        with pytest.raises(nats.errors.TimeoutError):
            await js.consumer_info(stream, durable)
        with pytest.raises((nats.errors.TimeoutError, nats.errors.Error)):
            bound = await js.pull_subscribe_bind(durable=durable, stream=stream)
            await bound.fetch(1, timeout=TIMEOUT)
        await connection.nc.publish(f"$JS.ACK.{stream}.{durable}.1.1.1.0.0", b"+ACK")
        await connection.nc.flush()
        await asyncio.sleep(0.05)
        await connection.close()
        assert any("permissions violation" in e for e in connection.errors), intruder
    info = await owner_js.consumer_info(stream, durable)  # still there, untouched
    assert info.name == durable
    await owner_js.delete_consumer(stream, durable)  # the owner may
    await owning.close()


async def test_services_cannot_list_consumer_names(provisioned: SecureNats) -> None:
    connection = await provisioned.connect("campaigns")
    js = connection.nc.jetstream(timeout=TIMEOUT)
    with pytest.raises(nats.errors.TimeoutError):
        await js.consumers_info("METRICS")
    await connection.close()
