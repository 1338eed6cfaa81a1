"""Per-service NATS users against a real nats-server: each service publishes only its own
subjects, nobody but the provisioner creates, updates, deletes or purges a stream, and the
consumer API the services need still works under their users."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import nats.errors
import pytest
from fastapi.testclient import TestClient
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError

from tests.integration.security.conftest import SecureNats
from truenorth.bus.eventstore import provision
from truenorth.bus.permissions import INTAKE, LOCAL, PROVISIONER, SERVICE_USERS
from truenorth.bus.streams import STREAM_OF_CONTEXT
from truenorth.settings import MetricsSettings, SharedSettings, StrategySettings

TIMEOUT = 0.2
"""A refused JetStream call gets no answer: the client times out (short, to keep tests fast)."""

CONTEXTS = ("strategy", "campaigns", "metrics", "alignment")


def ws() -> str:
    return "ws-" + uuid.uuid4().hex[:10]


async def stored(nats: SecureNats, stream: str, subject: str) -> bool:
    """Is there a message on `subject` in `stream` (read as the provisioner's peer: local)?"""
    connection = await nats.connect(LOCAL)
    try:
        await connection.nc.jetstream().get_last_msg(stream, subject)
        return True
    except NotFoundError:
        return False
    finally:
        await connection.close()


async def test_a_service_cannot_publish_outside_its_subjects(provisioned: SecureNats) -> None:
    workspace = ws()
    connection = await provisioned.connect("metrics")
    js = connection.nc.jetstream(timeout=TIMEOUT)
    # its own subject: stored and acknowledged
    ack = await js.publish(f"tn.{workspace}.metrics.c1", b"{}")
    assert ack.stream == "METRICS"
    # someone else's: refused by the server, never stored
    foreign = f"tn.{workspace}.strategy.s1"
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(foreign, b"{}")
    await connection.nc.flush()
    await connection.close()
    assert any("permissions violation" in e and foreign in e for e in connection.errors)
    assert not await stored(provisioned, "STRATEGY", foreign)
    assert f'"$G/user:metrics" - Publish Violation - Subject "{foreign}"' in (
        provisioned.violations()
    )


@pytest.mark.parametrize("service", SERVICE_USERS)
async def test_each_service_publishes_its_context_and_its_dead_letters_only(
    provisioned: SecureNats, service: str
) -> None:
    workspace = ws()
    connection = await provisioned.connect(service)
    nc = connection.nc
    allowed = [f"tn.{workspace}.{service}.x1"]
    if service != "strategy":
        allowed.append(f"tn.{workspace}.dlq.{service}")
    refused = [f"tn.{workspace}.{c}.x1" for c in CONTEXTS if c != service]
    refused += [f"tn.{workspace}.dlq.{c}" for c in CONTEXTS if c != service]
    refused += [f"tn.{workspace}.intake.metrics", "tn.other", "_INBOX.x"]
    for subject in allowed + refused:
        await nc.publish(subject, b"{}")
    await nc.flush()
    await asyncio.sleep(0.05)
    await connection.close()
    denied = {e.split('"')[1] for e in connection.errors if "permissions violation" in e}
    assert denied == {s.lower() for s in refused}  # nats-py lowercases the error
    assert await stored(provisioned, STREAM_OF_CONTEXT[service].name, allowed[0])
    for subject in refused[:3]:
        stream = subject.split(".")[2].upper()
        assert not await stored(provisioned, stream, subject)


@pytest.mark.parametrize("user", [*SERVICE_USERS, INTAKE, None])
async def test_nobody_but_the_provisioner_deletes_purges_creates_or_updates_streams(
    provisioned: SecureNats, user: str | None
) -> None:
    connection = await provisioned.connect(user)
    js = connection.nc.jetstream(timeout=TIMEOUT)
    calls = {
        "delete": lambda: js.delete_stream("METRICS"),
        "purge": lambda: js.purge_stream("METRICS"),
        "create": lambda: js.add_stream(StreamConfig(name="ROGUE", subjects=["rogue.>"])),
        "update": lambda: js.update_stream(StreamConfig(name="METRICS", subjects=["x.>"])),
    }
    for call in calls.values():
        with pytest.raises(nats.errors.TimeoutError):  # the server drops the request
            await call()
    await connection.nc.flush()
    await connection.close()
    assert len([e for e in connection.errors if "permissions violation" in e]) == len(calls)
    admin = await provisioned.connect(PROVISIONER)
    info = await admin.nc.jetstream().stream_info("METRICS")
    assert info.config.subjects == ["tn.*.metrics.>"]
    with pytest.raises(NotFoundError):
        await admin.nc.jetstream().stream_info("ROGUE")
    await admin.close()


async def test_the_provisioner_creates_and_updates_streams_but_publishes_no_event(
    provisioned: SecureNats,
) -> None:
    connection = await provisioned.connect(PROVISIONER)
    js = connection.nc.jetstream(timeout=2)
    name = "T" + uuid.uuid4().hex[:8].upper()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name.lower()}.>"]))
    await js.update_stream(
        StreamConfig(name=name, subjects=[f"{name.lower()}.>"], description="updated")
    )
    assert (await js.stream_info(name)).config.description == "updated"
    assert await js.delete_stream(name)
    assert await provision(js) == []  # the real streams: nothing to change
    await connection.nc.publish(f"tn.{ws()}.strategy.s1", b"{}")
    await connection.nc.flush()
    await asyncio.sleep(0.05)
    await connection.close()
    assert any("permissions violation" in e for e in connection.errors)


async def test_intake_tools_publish_only_to_the_intake_doors(provisioned: SecureNats) -> None:
    workspace = ws()
    connection = await provisioned.connect(INTAKE)
    js = connection.nc.jetstream(timeout=TIMEOUT)
    ack = await js.publish(f"tn.{workspace}.intake.campaigns", b"{}")
    assert ack.stream == "INTAKE"
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(f"tn.{workspace}.metrics.c1", b"{}")
    # no stream information either: a tool only drops messages at the door
    with pytest.raises(nats.errors.TimeoutError):
        await js.stream_info("METRICS")
    await connection.close()


async def test_wrong_password_is_refused(provisioned: SecureNats) -> None:
    with pytest.raises((nats.errors.Error, OSError)):
        await provisioned.connect("metrics", password="not-the-password")


async def test_consumers_work_under_a_service_user(provisioned: SecureNats) -> None:
    """What the services do to read: durable pull + ack, ephemeral push, last message per
    subject, stream info — all allowed, with replies on _INBOX only."""
    workspace = ws()
    subject = f"tn.{workspace}.alignment.d1"
    connection = await provisioned.connect("alignment")
    js = connection.nc.jetstream(timeout=2)
    await js.publish(subject, b'{"n": 1}')
    assert (await js.get_last_msg("ALIGNMENT", subject)).data == b'{"n": 1}'
    assert (await js.stream_info("ALIGNMENT")).state.messages >= 1
    durable = f"sec-{workspace}"
    pull = await js.pull_subscribe(subject, durable=durable, stream="ALIGNMENT")
    (msg,) = await pull.fetch(1, timeout=2)
    await msg.ack()
    push = await js.subscribe(subject, stream="ALIGNMENT")
    assert (await push.next_msg(timeout=2)).data == b'{"n": 1}'
    await push.unsubscribe()
    await js.delete_consumer("ALIGNMENT", durable)
    # reading other contexts is allowed (alignment folds them all)
    await js.stream_info("METRICS")
    await connection.close()
    assert connection.errors == []


def test_the_metrics_service_runs_as_its_user_intake_and_dead_letters_included(
    provisioned: SecureNats, tmp_path: Path
) -> None:
    """The real service: HTTP ingest, the NATS intake door and the DLQ under `metrics`,
    streams provisioned as `provisioner` on the separate connection."""
    from truenorth.metrics.app import build_app

    workspace = ws()
    violations_before = provisioned.violations().count("user:metrics")
    shared = SharedSettings(
        nats_url=provisioned.url,
        data_dir=tmp_path,
        workspace=workspace,
        nats_user="metrics",
        nats_password=provisioned.passwords["metrics"],
        nats_provisioner_user=PROVISIONER,
        nats_provisioner_password=provisioned.passwords[PROVISIONER],
    )
    observation = {
        "observation_id": "o-http",
        "campaign_id": "c1",
        "metric": "leads",
        "value": 3,
        "period_start": "2026-03-01T00:00:00Z",
        "period_end": "2026-03-02T00:00:00Z",
        "source": "crm",
    }
    with TestClient(build_app(shared, MetricsSettings())) as client:
        response = client.post(f"/v1/workspaces/{workspace}/metrics", json=[observation])
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 1

        async def via_intake() -> None:
            tool = await provisioned.connect(INTAKE)
            js = tool.nc.jetstream(timeout=2)
            good = {**observation, "observation_id": "o-nats"}
            await js.publish(f"tn.{workspace}.intake.metrics", json.dumps([good]).encode())
            await js.publish(f"tn.{workspace}.intake.metrics", b"not json")
            await tool.close()

        asyncio.run(via_intake())

        async def wait_for_both() -> tuple[int, int]:
            reader = await provisioned.connect(LOCAL)
            js = reader.nc.jetstream()
            metrics = dlq = 0
            for _ in range(100):
                info = await js.stream_info("METRICS", subjects_filter=f"tn.{workspace}.>")
                metrics = sum((info.state.subjects or {}).values())
                try:
                    await js.get_last_msg("DLQ", f"tn.{workspace}.dlq.metrics")
                    dlq = 1
                except NotFoundError:
                    dlq = 0
                if metrics >= 2 and dlq:
                    break
                await asyncio.sleep(0.1)
            await reader.close()
            return metrics, dlq

        metrics, dlq = asyncio.run(wait_for_both())
    assert metrics == 2
    assert dlq == 1
    assert provisioned.violations().count("user:metrics") == violations_before


def test_without_provisioner_credentials_a_service_only_checks_existing_streams(
    provisioned: SecureNats, tmp_path: Path
) -> None:
    """Streams exist as declared: the service's own user is enough (STREAM.INFO only)."""
    from truenorth.strategy.app import build_app

    violations_before = provisioned.violations().count("user:strategy")
    shared = SharedSettings(
        nats_url=provisioned.url,
        data_dir=tmp_path,
        nats_user="strategy",
        nats_password=provisioned.passwords["strategy"],
    )
    with TestClient(build_app(shared, StrategySettings())) as client:
        assert client.get("/readyz").status_code == 200
    assert provisioned.violations().count("user:strategy") == violations_before
