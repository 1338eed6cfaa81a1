"""`truenorth dlq purge --before` (issue 17, finding 15): the DLQ is bounded and purgeable, by
the stream administrator only, against the real nats-server with `truenorth up`'s users."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError
from typer.testing import CliRunner

from tests.integration.security.conftest import SecureNats
from truenorth.bus.permissions import LOCAL, PROVISIONER
from truenorth.cli import app


async def dead_letters(nats: SecureNats, subject: str, count: int) -> None:
    connection = await nats.connect("metrics")
    js = connection.nc.jetstream(timeout=2)
    for n in range(count):
        await js.publish(subject, b'{"n": %d}' % n)
    await connection.close()


async def kept(nats: SecureNats, subject: str) -> bool:
    connection = await nats.connect(LOCAL)
    try:
        await connection.nc.jetstream().get_last_msg("DLQ", subject)
        return True
    except NotFoundError:
        return False
    finally:
        await connection.close()


def test_purge_before_drops_older_dead_letters_as_the_administrator_only(
    provisioned: SecureNats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = "ws-" + uuid.uuid4().hex[:10]
    old, new = f"tn.{workspace}.dlq.metrics", f"tn.{workspace}-b.dlq.metrics"
    asyncio.run(dead_letters(provisioned, old, 3))
    time.sleep(1.1)
    cutoff = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    time.sleep(1.1)
    asyncio.run(dead_letters(provisioned, new, 1))
    monkeypatch.setenv("TRUENORTH_NATS_URL", provisioned.url)
    monkeypatch.setenv("TRUENORTH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    # the operator user is not the stream administrator
    monkeypatch.setenv("TRUENORTH_NATS_USER", LOCAL)
    monkeypatch.setenv("TRUENORTH_NATS_PASSWORD", provisioned.passwords[LOCAL])
    refused = runner.invoke(app, ["dlq", "purge", "--before", cutoff])
    assert refused.exit_code == 2 and "administrator" in refused.output, refused.output
    monkeypatch.setenv("TRUENORTH_NATS_PROVISIONER_USER", PROVISIONER)
    monkeypatch.setenv("TRUENORTH_NATS_PROVISIONER_PASSWORD", provisioned.passwords[PROVISIONER])
    done = runner.invoke(app, ["dlq", "purge", "--before", cutoff])
    assert done.exit_code == 0, done.output
    assert "purged" in done.output
    assert not asyncio.run(kept(provisioned, old))
    assert asyncio.run(kept(provisioned, new))


def test_intake_and_dlq_are_bounded(provisioned: SecureNats) -> None:
    async def limits() -> dict[str, tuple[int, float]]:
        connection = await provisioned.connect(LOCAL)
        js = connection.nc.jetstream()
        found = {}
        for name in ("INTAKE", "DLQ", "METRICS"):
            config = (await js.stream_info(name)).config
            found[name] = (config.max_bytes or -1, config.max_age or 0)
        await connection.close()
        return found

    found = asyncio.run(limits())
    assert found["INTAKE"][0] > 0 and found["INTAKE"][1] > 0
    assert found["DLQ"][0] > 0 and found["DLQ"][1] > 0
    assert found["METRICS"] == (-1, 0)  # events: kept whole
