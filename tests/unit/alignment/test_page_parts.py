"""The detail view's parts on their own: chart geometry, sampling, a campaign's share of the
gap, human numbers; and the settings that connect the page to the strategy service."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from truenorth import charts
from truenorth.alignment.domain.contributions import CampaignContribution
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.page.detail import campaign_rows
from truenorth.alignment.page.fmt import money, points
from truenorth.alignment.page.history import sample_moments, short
from truenorth.bus.embedded import EmbeddedNats
from truenorth.settings import AlignmentSettings, SettingsError, StrategySettings, load
from truenorth.supervisor import SERVICES, Supervisor

START = datetime(2026, 10, 1, tzinfo=UTC)
DEADLINE = datetime(2027, 1, 1, tzinfo=UTC)


def test_samples_are_days_from_start_to_now_at_most_25() -> None:
    moments = sample_moments(START, START + timedelta(days=92))
    assert moments[0] == START and moments[-1] == START + timedelta(days=92)
    assert len(moments) <= 25
    assert all((b - a) >= timedelta(days=1) for a, b in itertools.pairwise(moments))
    assert sample_moments(START, START) == [START]


def path(progress: float) -> list[charts.PathPoint]:
    return [
        charts.PathPoint(START, 0.0, 0.0),
        charts.PathPoint(START + timedelta(days=46), progress, 0.5),
    ]


def test_the_chart_draws_the_forecast_band_to_a_deadline_ahead() -> None:
    now = START + timedelta(days=46)
    chart = charts.progress_chart(
        "t",
        START,
        DEADLINE,
        path(0.3),
        now,
        charts.Forecast(0.6, 0.45, 0.8),
        [(START + timedelta(days=20), "target 6M → 3.5M")],
    )
    css = [s.css for s in chart.shapes]
    assert css == ["expected", "progress", "band", "forecast"]
    band = next(s for s in chart.shapes if s.css == "band")
    assert band.closed and len(band.points.split()) == 3
    assert any(line.css == "revision" and line.label == "target 6M → 3.5M" for line in chart.lines)
    assert any(text.text == "revised: target 6M → 3.5M" for text in chart.texts)
    target = next(line for line in chart.lines if line.css == "target")
    high, low = (float(p.split(",")[1]) for p in band.points.split()[1:])
    forecast = next(s for s in chart.shapes if s.css == "forecast")
    end = float(forecast.points.split()[-1].split(",")[1])
    assert target.y1 < high < end < low  # 100 % above the interval, the forecast inside it


def test_after_the_deadline_there_is_no_forecast_to_draw() -> None:
    chart = charts.progress_chart(
        "t", START, DEADLINE, path(0.9), DEADLINE, charts.Forecast(0.9, 0.9, 0.9)
    )
    assert [s.css for s in chart.shapes] == ["expected", "progress"]


def objective(**changes: object) -> ObjectiveSnapshot:
    campaigns = (
        CampaignContribution("a", "A", "search", "", "live", 1000.0, 50.0, 0.05, 20.0),
        CampaignContribution("b", "B", "events", "", "live", 3000.0, 50.0, 0.0167, 60.0),
    )
    values: dict[str, object] = dict(
        workspace="w",
        strategy_id="s",
        objective_id="o",
        name="O",
        kpi="leads",
        owner="",
        aggregation="sum",
        direction="increase",
        actual=100.0,
        target=400.0,
        baseline=0.0,
        progress=0.25,
        expected=0.5,
        pace=0.5,
        run_rate_per_day=1.0,
        forecast=200.0,
        forecast_attainment=0.5,
        required_rate_per_day=None,
        status="off_track",
        start=START,
        deadline=DEADLINE,
        spend=4000.0,
        spend_by_channel=(),
        campaigns=campaigns,
    )
    values.update(changes)
    return ObjectiveSnapshot(**values)  # type: ignore[arg-type]


def test_the_campaign_that_under_delivers_for_its_spend_carries_the_gap() -> None:
    # 200 expected by now: a's spend earns it 50 (it brought 50), b's 150 (it brought 50)
    rows = {row.campaign_id: row for row in campaign_rows(objective())}
    assert rows["b"].gap_share == pytest.approx(1.0)
    assert rows["a"].gap_share == 0.0 or rows["a"].gap_share is None


def test_levels_and_ratios_have_no_share_of_the_gap() -> None:
    rows = campaign_rows(objective(aggregation="latest"))
    assert [row.gap_share for row in rows] == [None, None]


def test_numbers_read_as_people_write_them() -> None:
    assert short(6_000_000) == "6M" and short(3_500_000) == "3.5M" and short(1200) == "1.2k"
    assert money(472_375) == "$472,375" and money(0.08) == "$0.08" and money(-12.0) == "−$12.00"
    assert points(0.104) == "+10 pp" and points(-0.07) == "−7 pp" and points(None) == "—"


def test_cors_origins_must_be_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_STRATEGY_CORS_ORIGINS", "http://127.0.0.1:8104,https://x.io")
    assert load(StrategySettings).allowed_origins == ["http://127.0.0.1:8104", "https://x.io"]
    monkeypatch.setenv("TRUENORTH_STRATEGY_CORS_ORIGINS", "http://127.0.0.1:8104/page")
    with pytest.raises(SettingsError, match="TRUENORTH_STRATEGY_CORS_ORIGINS"):
        load(StrategySettings)


def test_the_strategy_url_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_STRATEGY_URL", "ftp://strategy")
    with pytest.raises(SettingsError, match="TRUENORTH_ALIGNMENT_STRATEGY_URL"):
        load(AlignmentSettings)


def test_up_points_the_page_at_the_strategy_service_and_allows_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUENORTH_ALIGNMENT_STRATEGY_URL", raising=False)
    monkeypatch.delenv("TRUENORTH_STRATEGY_CORS_ORIGINS", raising=False)
    running = Supervisor(
        data_dir=tmp_path, ports={**dict.fromkeys(SERVICES, 1), "strategy": 9101, "alignment": 9104}
    )
    running.nats = EmbeddedNats(tmp_path, port=4222)
    assert running._env("alignment")["TRUENORTH_ALIGNMENT_STRATEGY_URL"] == "http://127.0.0.1:9101"
    origins = running._env("strategy")["TRUENORTH_STRATEGY_CORS_ORIGINS"]
    assert "http://127.0.0.1:9104" in origins.split(",")
    monkeypatch.setenv("TRUENORTH_ALIGNMENT_STRATEGY_URL", "https://strategy.example")
    assert (
        running._env("alignment")["TRUENORTH_ALIGNMENT_STRATEGY_URL"] == "https://strategy.example"
    )
