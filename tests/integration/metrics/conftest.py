"""Fixtures for the metrics service against the real nats-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus
from truenorth.client import MetricsClient
from truenorth.metrics import cli
from truenorth.metrics.app import build_app
from truenorth.settings import MetricsSettings, SharedSettings


@pytest.fixture
def bus(nats_url: str) -> Bus:
    return Bus(nats_url)


def make_client(nats_url: str, data_dir: Path, workspace: str, **settings: object) -> TestClient:
    shared = SharedSettings(nats_url=nats_url, data_dir=data_dir, workspace=workspace)
    return TestClient(build_app(shared, MetricsSettings(**settings)))


@pytest.fixture
def client(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[TestClient]:
    with make_client(nats_url, tmp_path, workspace) as test_client:
        yield test_client


@pytest.fixture
def emit_through_client(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """`truenorth emit metrics` sends to the test client's service."""
    monkeypatch.setattr(
        cli, "MetricsClient", lambda url, **kw: MetricsClient(url, http=client, **kw)
    )


def row(
    observation_id: str, value: float = 1.0, campaign_id: str = "spring", **extra: object
) -> dict[str, object]:
    return {
        "observation_id": observation_id,
        "campaign_id": campaign_id,
        "metric": "conversions",
        "value": value,
        "period_start": "2025-03-01T00:00:00Z",
        "period_end": "2025-03-02T00:00:00Z",
        "source": "google-ads",
        **extra,
    }
