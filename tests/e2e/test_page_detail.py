"""The page's detail view and its actions in headless Chromium against a running system
(`truenorth up`): the overview links to an objective's detail view, which draws its chart
and lists its campaigns, incidents and check-ins; acknowledging an incident from the page
reaches the strategy service (CORS from the page's origin) and shows with its note; a past
period is shown as of its end; check-ins and what-if go through the forms."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.harness import RunningSystem, start_system
from tests.e2e.page_browser import chromium, new_page, screenshot
from tests.e2e.test_page import NOW, WS, apply_example, seed_campaigns
from truenorth.clock import SteppedClock

STRATEGY = "northwind-cloud"
OBJECTIVE = "pipeline-q4"
PLANNED_AT = datetime(2026, 9, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    """A stepped clock: the strategy and a third-quarter plan are recorded in September,
    then time moves to mid-November, when the campaigns' figures arrive."""
    folder = tmp_path_factory.mktemp("page-detail")
    clock = SteppedClock(folder / "clock")
    clock.set(PLANNED_AT)
    env = {"TRUENORTH_CLOCK_FILE": str(clock.path), "TRUENORTH_ALIGNMENT_TICK_SECONDS": "0.5"}
    running = start_system(folder / "data", env=env)
    try:
        apply_example(running.urls)
        add_past_period(running.urls["strategy"])
        clock.set(datetime.fromisoformat(NOW))
        seed_campaigns(running.urls)
        seed_daily_events(running.urls)
        # the first drift tick after the figures: 20 s was not enough once in CI beside the
        # demo's tests; what the system logged says why if it times out again
        wait_until(
            lambda: bool(off_pace_incident(running.urls["alignment"])),
            timeout=60,
            output=running.output,
        )
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


def seed_daily_events(urls: dict[str, str]) -> None:
    """An events campaign for the same objective, reported daily over the last week: what a
    what-if reads as observed cost per outcome."""
    response = httpx.post(
        f"{urls['campaigns']}/v1/workspaces/{WS}/campaigns",
        json={
            "campaign_id": "events-q4",
            "objective_ids": [OBJECTIVE],
            "channel": "events",
            "segment": "cio",
            "budget": 40_000,
            "start": "2026-10-01T00:00:00Z",
            "end": "2026-12-31T00:00:00Z",
            "occurred_at": "2026-10-01T00:00:00Z",
        },
    )
    assert response.status_code == 201, response.text
    rows = []
    for day in range(9, 16):
        for metric, value in (("spend", 1_000.0), ("pipeline_value", 20_000.0)):
            rows.append(
                {
                    "observation_id": f"events-q4-{metric}-{day}",
                    "campaign_id": "events-q4",
                    "metric": metric,
                    "value": value,
                    "period_start": f"2026-11-{day:02d}T00:00:00Z",
                    "period_end": f"2026-11-{day + 1:02d}T00:00:00Z",
                    "source": "test",
                }
            )
    response = httpx.post(f"{urls['metrics']}/v1/workspaces/{WS}/metrics", json=rows)
    assert response.status_code == 200, response.text


def add_past_period(strategy: str) -> None:
    """A third quarter that ended before the clock, with a plan of its own."""
    response = httpx.put(
        f"{strategy}/v1/workspaces/{WS}/strategies/{STRATEGY}/periods/2026-q3",
        json={
            "start": "2026-07-01T00:00:00Z",
            "end": "2026-10-01T00:00:00Z",
            "budget": 123_000,
            "channel_mix": {"account_based": 60, "events": 40},
            "reason": "the quarter before",
        },
        headers={"X-Actor": "test"},
    )
    assert response.status_code == 200, response.text


def off_pace_incident(alignment: str) -> dict[str, Any] | None:
    """The open incident of the objective falling behind, once alignment has raised it."""
    answer = httpx.get(f"{alignment}/v1/workspaces/{WS}/incidents").json()
    for incident in answer["incidents"]:
        objectives = {facet.get("objective_id") for facet in incident["facets"]}
        if "objective_off_pace" in incident["kinds"] and OBJECTIVE in objectives:
            return dict(incident)
    return None


def the_incident(alignment: str) -> dict[str, Any]:
    found = off_pace_incident(alignment)
    assert found is not None
    return found


def open_detail(browser: Browser, alignment: str, errors: list[str]) -> Page:
    page = new_page(browser, errors)
    page.goto(f"{alignment}/?workspace={WS}")
    page.click(f"a.objective[data-objective='{OBJECTIVE}']")
    page.wait_for_url(f"**/objectives/{WS}/{OBJECTIVE}*")
    return page


def test_the_detail_view_draws_the_chart_and_its_sections(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = open_detail(browser, system.urls["alignment"], errors)
    assert page.locator("h2").first.inner_text().startswith("New enterprise pipeline")
    chart = page.locator("svg.chart")
    assert chart.count() == 1
    assert chart.locator("polyline.progress").count() == 1
    assert chart.locator("polyline.expected").count() == 1
    assert chart.locator("polygon.band").count() == 1  # the forecast's 80 % interval
    assert chart.locator("line.target").count() == 1
    assert page.locator(".campaigns tr[data-campaign='abm-q4']").count() == 1
    assert "$20,000" in page.locator(".campaigns tr[data-campaign='abm-q4']").inner_text()
    incident = the_incident(system.urls["alignment"])
    assert page.locator(f".incidents details[data-incident='{incident['incident_id']}']").count()
    assert page.locator("section.checkins").count() == 1
    assert page.locator("form.whatif-form").count() == 1
    screenshot(page, tmp_path, "detail")
    assert errors == []


def test_acknowledging_from_the_page_records_the_note_and_shows_it(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    incident = the_incident(system.urls["alignment"])
    page = open_detail(browser, system.urls["alignment"], errors)
    found = page.locator(f"details[data-incident='{incident['incident_id']}']")
    if not found.get_attribute("open"):
        found.locator("summary").click()
    note = "Seen: the ABM push lands in December; <b>holding</b> the target"
    found.locator("form.ack-form textarea").fill(note)
    found.locator("form.ack-form button").click()
    page.wait_for_selector("#message.ok")
    shown = page.locator(f"details[data-incident='{incident['incident_id']}'] blockquote.note")
    shown.first.wait_for()
    assert shown.first.inner_text() == note  # as text: the markup in the note is not markup
    answer = httpx.get(
        f"{system.urls['strategy']}/v1/workspaces/{WS}/strategies/{STRATEGY}/incidents"
    ).json()
    recorded = [
        ack
        for item in answer["incidents"]
        if item["incident_id"] == incident["incident_id"]
        for ack in item["acknowledgements"]
    ]
    assert [a["note"] for a in recorded] == [note], answer
    screenshot(page, tmp_path, "acknowledged")
    assert errors == []


def test_a_past_period_shows_its_plan_and_facts_as_of_its_end(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = new_page(browser, errors)
    page.goto(f"{system.urls['alignment']}/?workspace={WS}")
    page.click("nav.periods a[data-period='2026-q3']")
    page.wait_for_url("**period=2026-q3*")
    assert "2026-10-01 00:00" in page.locator(".asof").inner_text()
    plan = page.locator(".plan[data-period='2026-q3']")
    assert "$123,000" in plan.inner_text()
    assert "$0 spent" in plan.inner_text()  # the campaigns' figures start in November
    assert plan.locator("tr[data-channel='account_based']").count() == 1
    assert "tiktok" not in plan.inner_text()
    screenshot(page, tmp_path, "past-period")
    page.click(f"a.objective[data-objective='{OBJECTIVE}']")
    page.wait_for_url("**period=2026-q3*")
    assert "the end of period 2026-q3" in page.locator(".asof").inner_text()
    assert page.locator("form.ack-form").count() == 0  # the past is read, not acted on
    assert errors == []


def test_an_unknown_period_is_refused_by_name(system: RunningSystem) -> None:
    response = httpx.get(f"{system.urls['alignment']}/?workspace={WS}&period=2025-q9")
    assert response.status_code == 404
    assert "no planning period &#39;2025-q9&#39;" in response.text


def test_a_checkin_from_the_page_is_recorded_and_shown(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = open_detail(browser, system.urls["alignment"], errors)
    form = page.locator("form.checkin-form")
    form.locator("select[name=confidence]").select_option("low")
    narrative = "Two enterprise deals slipped to January"
    form.locator("textarea[name=narrative]").fill(narrative)
    form.locator("input[name=corrected_value]").fill("310000")
    form.locator("input[name=source]").fill("CRM export")
    form.locator("button").click()
    page.wait_for_selector("#message.ok")
    shown = page.locator(".checkin[data-confidence='low']")
    shown.first.wait_for()
    assert narrative in shown.first.inner_text()
    assert "310,000" in shown.first.inner_text()
    answer = httpx.get(
        f"{system.urls['strategy']}/v1/workspaces/{WS}/strategies/{STRATEGY}/objectives/"
        f"{OBJECTIVE}/checkins"
    ).json()
    assert answer["checkins"][0]["narrative"] == narrative
    assert answer["checkins"][0]["source"] == "CRM export"
    screenshot(page, tmp_path, "checkin")
    page.goto(f"{system.urls['alignment']}/?workspace={WS}")  # beside the forecast there too
    line = page.locator(f"a.objective[data-objective='{OBJECTIVE}'] .checkin-line")
    assert narrative in line.inner_text() and "low" in line.inner_text()
    assert errors == []


def test_the_whatif_form_shows_the_forecast_before_and_after(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = open_detail(browser, system.urls["alignment"], errors)
    form = page.locator("form.whatif-form")
    form.locator("select[name=from]").select_option("channel:events")
    form.locator("select[name=to]").select_option("channel:account_based")
    form.locator("input[name=amount]").fill("5000")
    form.locator("button").click()
    page.wait_for_selector(".whatif-result table, #message:not([hidden])")
    assert page.locator("#message").is_hidden(), page.locator("#message").inner_text()
    row = page.locator(f".whatif-result tr[data-objective='{OBJECTIVE}']")
    assert row.count() == 1, page.locator(".whatif-result").inner_text()
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith("New enterprise pipeline")
    assert all(text.endswith("%") for text in cells[1:3]), cells
    assert page.locator(".whatif-result li").count() >= 1  # the assumptions, stated
    screenshot(page, tmp_path, "whatif")
    assert errors == []


def test_a_refused_whatif_names_the_field(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    errors: list[str] = []
    page = open_detail(browser, system.urls["alignment"], errors)
    form = page.locator("form.whatif-form")
    form.locator("select[name=from]").select_option("channel:events")
    form.locator("select[name=to]").select_option("channel:tiktok")
    form.locator("input[name=amount]").fill("5000")
    form.locator("button").click()
    page.wait_for_selector("#message:not([hidden])")
    text = page.locator("#message").inner_text()
    assert "(422)" in text and "tiktok" in text, text
    screenshot(page, tmp_path, "whatif-refused")


def wait_until(check: Any, timeout: float = 20, output: list[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        logged = "".join((output or [])[-60:])
        assert time.monotonic() < deadline, f"timed out; the system's last lines:\n{logged}"
        time.sleep(0.3)


def test_applying_a_recommendation_revises_the_plan_in_response_to_the_incident(
    system: RunningSystem, browser: Browser, tmp_path: Path
) -> None:
    incident = the_incident(system.urls["alignment"])
    assert incident.get("recommendation"), f"the off-pace incident has none: {incident}"
    errors: list[str] = []
    page = open_detail(browser, system.urls["alignment"], errors)
    found = page.locator(f"details[data-incident='{incident['incident_id']}']")
    if not found.get_attribute("open"):
        found.locator("summary").click()
    found.locator("button.apply").click()
    try:
        page.wait_for_selector("#message:not([hidden])")
    except Exception:
        raise AssertionError(f"no message; {errors}") from None
    assert "applied" in page.locator("#message").inner_text(), page.locator("#message").inner_text()

    def answered() -> bool:
        again = the_incident(system.urls["alignment"])
        return any(a["event_type"] == "BudgetPlanned" for a in again["answers"])

    wait_until(answered)
    page.locator(f"details[data-incident='{incident['incident_id']}'] li.answer").first.wait_for()
    screenshot(page, tmp_path, "applied")
    assert errors == []


def test_the_strategy_service_allows_the_pages_origin_only(system: RunningSystem) -> None:
    url = f"{system.urls['strategy']}/v1/workspaces/{WS}/strategies/{STRATEGY}/drifts/x/acknowledge"
    asked = {"Access-Control-Request-Method": "POST"}
    asked["Access-Control-Request-Headers"] = "authorization,content-type"
    page = httpx.options(url, headers={"Origin": system.urls["alignment"], **asked})
    assert page.status_code == 200
    assert page.headers["access-control-allow-origin"] == system.urls["alignment"]
    other = httpx.options(url, headers={"Origin": "http://evil.example", **asked})
    assert "access-control-allow-origin" not in other.headers
