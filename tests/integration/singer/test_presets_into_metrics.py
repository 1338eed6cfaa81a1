"""Recorded tap output per preset → exactly the expected MetricObserved events on the real
METRICS stream, through the real metrics service (in process, real nats-server)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.integration.campaigns.support import Bus
from tests.integration.metrics.conftest import make_client
from truenorth.client import MetricsClient
from truenorth.singer.target import TargetTruenorth

FIXTURES = Path(__file__).parents[2] / "fixtures" / "singer"


@pytest.fixture
def service(nats_url: str, tmp_path: Path, workspace: str) -> Iterator[TestClient]:
    with make_client(nats_url, tmp_path, workspace) as client:
        yield client


def run_target(service: TestClient, workspace: str, fixture: str) -> list[str]:
    target = TargetTruenorth(config={"workspace": workspace})
    target._client = MetricsClient(http=service, workspace=workspace)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), (FIXTURES / fixture).open() as stream:
        target.listen(stream)
    return out.getvalue().splitlines()


def stored(nats_url: str, workspace: str) -> dict[tuple[str, str, str], float]:
    """(campaign, day, metric) → total of the stored observations."""
    totals: dict[tuple[str, str, str], float] = {}
    for event in Bus(nats_url).events(workspace, "metrics"):
        data = event.data
        key = (data.campaign_id, data.period_start.date().isoformat(), data.metric)
        totals[key] = totals.get(key, 0.0) + data.value
    return totals


def test_facebook_insights_become_daily_campaign_observations(
    service: TestClient, nats_url: str, workspace: str
) -> None:
    run_target(service, workspace, "facebook_ads_insights.singer")
    totals = stored(nats_url, workspace)
    assert len(totals) == 15
    assert totals[("23851000000000001", "2025-03-03", "spend")] == 310.0
    assert totals[("23851000000000001", "2025-03-03", "leads")] == 10.0
    assert totals[("23851000000000001", "2025-03-03", "conversions")] == 2.0
    assert totals[("23851000000000001", "2025-03-04", "leads")] == 0.0
    assert totals[("23851000000000002", "2025-03-03", "clicks")] == 30.0


def test_google_ads_report_becomes_spend_clicks_conversions_revenue(
    service: TestClient, nats_url: str, workspace: str
) -> None:
    run_target(service, workspace, "google_ads_campaign_performance_report.singer")
    assert stored(nats_url, workspace) == {
        ("17000000001", "2025-03-03", "spend"): pytest.approx(125.43),
        ("17000000001", "2025-03-03", "clicks"): 320.0,
        ("17000000001", "2025-03-03", "conversions"): 12.0,
        ("17000000001", "2025-03-03", "revenue"): 4800.0,
        ("17000000001", "2025-03-04", "spend"): 98.0,
        ("17000000001", "2025-03-04", "clicks"): 250.0,
        ("17000000001", "2025-03-04", "conversions"): 9.5,
        ("17000000001", "2025-03-04", "revenue"): 3900.0,
        ("17000000002", "2025-03-03", "spend"): 15.0,
        ("17000000002", "2025-03-03", "clicks"): 40.0,
        ("17000000002", "2025-03-03", "conversions"): 0.0,
        ("17000000002", "2025-03-03", "revenue"): 0.0,
    }


def test_linkedin_analytics_twice_is_stored_once(
    service: TestClient, nats_url: str, workspace: str
) -> None:
    first = run_target(service, workspace, "linkedin_ad_analytics_by_campaign.singer")
    again = run_target(service, workspace, "linkedin_ad_analytics_by_campaign.singer")
    assert first == again
    events = Bus(nats_url).events(workspace, "metrics")
    assert len(events) == 10
    assert stored(nats_url, workspace)[("987654321", "2025-03-04", "spend")] == 380.25
