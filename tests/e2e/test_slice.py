"""The thin end-to-end slice (issue 2, step 8) through `truenorth up` on free ports:
strategy -> campaign -> observations -> alignment's /metrics, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import RunningSystem, start_system
from truenorth.bus.eventstore import connect

WS = "slice"
START = "2026-01-01T00:00:00Z"
DEADLINE = "2027-12-31T00:00:00Z"


@pytest.fixture(params=["sqlite", "postgres"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningSystem]:
    database_url = None
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    running = start_system(tmp_path / "data", database_url=database_url)
    try:
        yield running
    finally:
        code = running.stop()
        assert code == 0, "".join(running.output[-30:])


def gauge(text: str, name: str, objective: str) -> float | None:
    pattern = rf'^{name}\{{[^}}]*objective="{objective}"[^}}]*\}} (\S+)$'
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


def stream_counts(nats_url: str) -> dict[str, int]:
    async def count() -> dict[str, int]:
        nc = await connect(nats_url)
        js = nc.jetstream()
        result = {}
        for name in ("STRATEGY", "CAMPAIGNS", "METRICS"):
            result[name] = (await js.stream_info(name)).state.messages
        await nc.drain()
        return result

    return asyncio.run(count())


def define_slice(urls: dict[str, str]) -> None:
    strategy = f"{urls['strategy']}/v1/workspaces/{WS}/strategies/acme"
    response = httpx.put(
        strategy,
        json={
            "name": "Acme growth",
            "target_segments": ["smb"],
            "allowed_channels": ["search"],
        },
    )
    assert response.status_code in (200, 201), response.text
    response = httpx.post(
        f"{strategy}/objectives",
        json={
            "objective_id": "leads",
            "name": "Leads",
            "kpi": "leads",
            "target": 1000,
            "start": START,
            "deadline": DEADLINE,
        },
    )
    assert response.status_code == 201, response.text
    response = httpx.post(
        f"{urls['campaigns']}/v1/workspaces/{WS}/campaigns",
        json={
            "campaign_id": "c-search",
            "objective_ids": ["leads"],
            "channel": "search",
            "segment": "smb",
            "budget": 5000,
            "start": START,
            "end": DEADLINE,
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["untethered"] is False
    response = httpx.post(
        f"{urls['metrics']}/v1/workspaces/{WS}/metrics",
        json=[
            {
                "observation_id": "obs-1",
                "campaign_id": "c-search",
                "metric": "leads",
                "value": 250,
                "period_start": "2026-06-01T00:00:00Z",
                "period_end": "2026-06-02T00:00:00Z",
                "source": "crm",
            }
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


def test_slice_shows_progress_on_alignment_metrics(system: RunningSystem) -> None:
    define_slice(system.urls)
    deadline = time.monotonic() + 30
    progress = actual = None
    while time.monotonic() < deadline:
        text = httpx.get(f"{system.urls['alignment']}/metrics").text
        progress = gauge(text, "truenorth_objective_progress_ratio", "leads")
        actual = gauge(text, "truenorth_objective_actual", "leads")
        if progress == 0.25 and actual == 250:
            break
        time.sleep(0.2)
    assert progress == 0.25
    assert actual == 250


def test_malformed_requests_name_the_field_and_reach_no_stream(system: RunningSystem) -> None:
    before = stream_counts(system.nats_url)
    bad = [
        (
            "put",
            f"{system.urls['strategy']}/v1/workspaces/{WS}/strategies/acme",
            {"name": 42, "allowed_channels": "search"},
            "allowed_channels",
        ),
        (
            "post",
            f"{system.urls['strategy']}/v1/workspaces/{WS}/strategies/acme/objectives",
            {"objective_id": "x", "name": "X", "kpi": "leads", "target": "lots"},
            "target",
        ),
        (
            "post",
            f"{system.urls['campaigns']}/v1/workspaces/{WS}/campaigns",
            {"campaign_id": "c", "channel": "search", "segment": "smb", "budget": -5},
            "budget",
        ),
        (
            "post",
            f"{system.urls['metrics']}/v1/workspaces/{WS}/metrics",
            [{"observation_id": "o", "campaign_id": "c", "metric": "leads", "value": "x"}],
            "value",
        ),
    ]
    for method, url, body, field in bad:
        response = httpx.request(method, url, json=body)
        assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
        assert field in response.text, (url, response.text)
    after = stream_counts(system.nats_url)
    assert after == before
