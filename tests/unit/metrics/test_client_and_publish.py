"""The client's retry/batching rules (httpx MockTransport) and the hand-written HPUB frames."""

from __future__ import annotations

import asyncio
from datetime import date

import httpx
import orjson
import pytest
from nats.protocol import command as nats_command

from truenorth.bus.atomic import _hpub
from truenorth.client import (
    AsyncMetricsClient,
    CampaignsClient,
    Conflict,
    MetricsClient,
    PayloadTooLarge,
    RejectedRows,
    RetryPolicy,
    Unavailable,
    derive_observation_id,
)
from truenorth.client._core import IngestSummary

FAST = RetryPolicy(attempts=4, backoff=0.001, max_backoff=0.001)
ROW = {
    "campaign_id": "c1",
    "metric": "leads",
    "value": 1,
    "period_start": "2025-03-01T00:00:00Z",
    "period_end": "2025-03-02T00:00:00Z",
}


def ok(body: bytes) -> httpx.Response:
    rows = orjson.loads(body)
    return httpx.Response(
        200,
        json={"accepted": len(rows), "duplicates": 0, "restated": 0, "rejected": 0, "errors": []},
    )


def test_retries_send_the_same_bytes_until_acknowledged() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ConnectError("refused")
        if len(bodies) == 2:
            return httpx.Response(503, headers={"retry-after": "0"}, json={"detail": "down"})
        return ok(request.content)

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://t")
    summary = MetricsClient(http=http, retry=FAST).send([ROW, {**ROW, "value": 2}])
    assert summary.accepted == 2
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert bodies[0].count(b"auto:") == 2  # ids derived client-side, reused by retries


def test_gives_up_with_unavailable() -> None:
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(503, json={"detail": "down"})),
        base_url="http://t",
    )
    with pytest.raises(Unavailable):
        MetricsClient(http=http, retry=FAST).send([ROW])


def test_typed_errors() -> None:
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(413, json={"detail": "too big"})),
        base_url="http://t",
    )
    with pytest.raises(PayloadTooLarge):
        MetricsClient(http=http, retry=FAST).send([ROW])
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(409, json={"detail": "ended"})),
        base_url="http://t",
    )
    with pytest.raises(Conflict):
        CampaignsClient(http=http, retry=FAST).pause("c1")


def test_all_rejected_batch_is_a_result_not_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            json={
                "detail": "every row was rejected",
                "accepted": 0,
                "duplicates": 0,
                "restated": 0,
                "rejected": 1,
                "errors": [{"index": 0, "errors": [{"field": "value", "message": "bad"}]}],
            },
        )

    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://t")
    client = MetricsClient(http=http, retry=FAST, batch_size=1)
    with pytest.raises(RejectedRows) as caught:
        client.send([ROW, ROW])
    assert [e["index"] for e in caught.value.errors] == [0, 1]
    summary = client.send([ROW], raise_on_rejected=False)
    assert summary.rejected == 1


def test_async_client() -> None:
    async def main() -> IngestSummary:
        calls = 0

        def handler(request: httpx.Request) -> httpx.Response:
            nonlocal calls
            calls += 1
            if calls == 1:
                return httpx.Response(502)
            return ok(request.content)

        http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://t")
        async with AsyncMetricsClient(http=http, retry=FAST, workspace="w") as client:
            return await client.send([ROW] * 3)

    assert asyncio.run(main()).accepted == 3


def test_derived_ids_are_stable_across_time_spellings() -> None:
    a = derive_observation_id(ROW)
    b = derive_observation_id({**ROW, "period_start": "2025-03-01T00:00:00+00:00"})
    assert a == b
    assert derive_observation_id({**ROW, "metric": "spend"}) != a
    assert derive_observation_id({**ROW, "value": 99}) == a  # value is not part of the id


def test_a_derived_id_reads_bare_period_dates_as_the_service_stores_them() -> None:
    """2025-03-01–2025-03-01 is the whole day, stored as 00:00Z–next 00:00Z: re-sending the row
    with times must be the same fact, not a second one."""
    days = {**ROW, "period_start": "2025-03-01", "period_end": "2025-03-01"}
    times = {**ROW, "period_start": "2025-03-01T00:00:00Z", "period_end": "2025-03-02T00:00:00Z"}
    assert derive_observation_id(days) == derive_observation_id(times)
    as_dates = {**days, "period_start": date(2025, 3, 1), "period_end": date(2025, 3, 1)}
    assert derive_observation_id(as_dates) == derive_observation_id(times)


def test_hpub_frames_are_what_nats_py_writes() -> None:
    headers = {"Nats-Msg-Id": "0194-abc"}
    frame = _hpub("tn.ws.metrics.c1", headers["Nats-Msg-Id"], "batch1", 7, b'{"x":1}')
    hdr = (
        b"NATS/1.0\r\nNats-Msg-Id: 0194-abc\r\nNats-Batch-Id: batch1\r\n"
        b"Nats-Batch-Sequence: 7\r\n\r\n"
    )
    expected = nats_command.hpub_cmd("tn.ws.metrics.c1", "", hdr, b'{"x":1}')
    assert frame == expected.replace(b"tn.ws.metrics.c1  ", b"tn.ws.metrics.c1 ")
