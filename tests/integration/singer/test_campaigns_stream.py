"""A campaigns stream (tap-facebook `campaigns`) → launch commands on the real campaigns
service; re-running the tap launches nothing twice."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus
from truenorth.campaigns.app import build_app
from truenorth.client import CampaignsClient
from truenorth.settings import CampaignsSettings, SharedSettings
from truenorth.singer.target import TargetTruenorth

MAPPING = """streams:
  campaigns:
    kind: campaigns
    source: facebook-ads
    campaign_id: id
    campaign_prefix: fb-
    launch:
      name: name
      channel: {value: social}
      segment: {value: smb}
      budget: {path: lifetime_budget, scale: 0.01}
      start: start_time
      end: stop_time
"""
SCHEMA = {
    "type": "SCHEMA",
    "stream": "campaigns",
    "key_properties": ["id"],
    "schema": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "lifetime_budget": {"type": ["null", "string"]},
            "start_time": {"type": "string", "format": "date-time"},
            "stop_time": {"type": ["null", "string"], "format": "date-time"},
        },
    },
}


def campaign(platform_id: str, budget: str | None, stop: str | None) -> dict:
    return {
        "type": "RECORD",
        "stream": "campaigns",
        "record": {
            "id": platform_id,
            "name": f"Campaign {platform_id}",
            "lifetime_budget": budget,
            "start_time": "2025-03-01T00:00:00+0000",
            "stop_time": stop,
        },
    }


@pytest.fixture
def service(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path, workspace=workspace)
    with TestClient(build_app(shared, CampaignsSettings())) as client:
        yield client


def run(
    service: TestClient, workspace: str, tmp_path: Path, messages: list[dict]
) -> TargetTruenorth:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    target = TargetTruenorth(config={"workspace": workspace, "mapping_file": str(mapping)})
    target._campaigns = CampaignsClient(http=service, workspace=workspace)
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(io.StringIO("\n".join(json.dumps(m) for m in messages) + "\n"))
    return target


def test_campaign_records_launch_campaigns_once(service, nats_url, workspace, tmp_path):
    messages = [
        SCHEMA,
        campaign("1001", "1500000", "2025-05-31T00:00:00+0000"),
        campaign("1002", "250000", None),  # ongoing: planned for 90 days
        campaign("1003", None, None),  # no budget: not placed
    ]
    first = run(service, workspace, tmp_path, messages)
    assert first.report.launches == {"launched": 2}
    assert dict(first.report.unplaced) == {"campaigns: missing budget (lifetime_budget)": 1}
    again = run(service, workspace, tmp_path, messages)
    assert again.report.launches == {"duplicate": 2}
    launched = {e.data.campaign_id: e.data for e in Bus(nats_url).events(workspace, "campaigns")}
    assert set(launched) == {"fb-1001", "fb-1002"}
    assert launched["fb-1001"].budget == 15000
    assert launched["fb-1002"].end.isoformat() == "2025-05-30T00:00:00+00:00"
