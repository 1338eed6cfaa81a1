"""Fixtures for the campaigns service against the real nats-server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus
from truenorth.campaigns.app import build_app
from truenorth.settings import CampaignsSettings, SharedSettings


@pytest.fixture
def bus(nats_url: str) -> Bus:
    return Bus(nats_url)


@pytest.fixture
def client(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path, workspace=workspace)
    with TestClient(build_app(shared, CampaignsSettings())) as test_client:
        yield test_client
