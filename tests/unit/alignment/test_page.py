"""The alignment page rendered from a replayed demo quarter (its real projection tables, in
memory): the overview's objectives, plan and grouped incidents; an objective's detail view
with its chart, revision, campaigns and incidents; past periods; refusals that name the
parameter; escaping; and the shell served without figures when auth is required."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from truenorth.alignment.page import web_router
from truenorth.alignment.page.render import environment
from truenorth.alignment.store.drifts import drift_entries
from truenorth.alignment.store.read import Moment
from truenorth.demo.offline import OfflineResult, replay_offline
from truenorth.demo.scenario import DEFAULT_EXAMPLE, Scenario, build_scenario, load_example

WS = "demo"


@dataclass
class Replayed:
    scenario: Scenario
    result: OfflineResult


@pytest.fixture(scope="module")
def replayed() -> Replayed:
    filename, text = load_example(DEFAULT_EXAMPLE)
    scenario = build_scenario(text, 7, WS, filename)
    return Replayed(scenario, replay_offline(scenario))


def client(
    replayed: Replayed | None, auth: str = "off", strategy_url: str | None = None
) -> TestClient:
    app = FastAPI()
    if replayed is None:
        app.state.projector = {}
        app.state.clock = lambda: datetime(2026, 11, 1, tzinfo=UTC)
    else:
        app.state.projector = {"projector": SimpleNamespace(snapshot=replayed.result.snapshot)}
        app.state.engine = replayed.result.engine
        app.state.clock = lambda: replayed.scenario.finish
    app.state.runtime = SimpleNamespace(
        shared=SimpleNamespace(auth=auth), settings=SimpleNamespace(strategy_url=strategy_url)
    )
    app.include_router(web_router())
    return TestClient(app)


def objective_named(replayed: Replayed, kpi: str) -> str:
    assert replayed.result.snapshot is not None
    return next(o.objective_id for o in replayed.result.snapshot.objectives if o.kpi == kpi)


def test_the_overview_links_every_objective_to_its_detail_view(replayed: Replayed) -> None:
    html = client(replayed).get("/").text
    snapshot = replayed.result.snapshot
    assert snapshot is not None
    for objective in snapshot.objectives:
        assert escape(objective.name) in html
        assert f'href="./objectives/{WS}/{objective.objective_id}"' in html
    assert "ui/live" in html  # refreshes itself


def test_the_overview_says_the_quarter_went_over_budget(replayed: Replayed) -> None:
    html = client(replayed).get("/").text
    assert "of a <b>$400,000</b> budget" in html
    assert "Over budget by" in html
    assert "ended: the last period's plan" in html  # the plan stays after the quarter


def test_the_channel_mix_shows_planned_actual_and_the_difference(replayed: Replayed) -> None:
    html = client(replayed).get("/ui/live").text
    assert 'data-channel="account_based"' in html
    assert "plan 35%" in html
    assert " pp</td>" in html
    assert "not allowed" in html  # the demo's tiktok promotion


def test_open_incidents_are_grouped_with_their_drifts(replayed: Replayed) -> None:
    html = client(replayed).get("/ui/live").text
    snapshot = replayed.result.snapshot
    assert snapshot is not None and snapshot.drifts.incidents
    assert 'class="group"' in html
    with replayed.result.engine.connect() as connection:
        live = drift_entries(connection, WS, Moment.now(0))
    opened = {entry.data.drift_id: entry.data for entry in live if entry.status == "open"}
    assert sum(c.count for c in snapshot.drifts.counts) == len(opened)
    assert {i.incident for i in snapshot.drifts.incidents} == {d.incident for d in opened.values()}
    for drift_id, data in opened.items():
        assert f'data-drift="{drift_id}"' in html
        assert escape(data.explanation) in html


def test_the_detail_view_draws_progress_expected_and_the_revision(replayed: Replayed) -> None:
    pipeline = objective_named(replayed, "pipeline_value")
    html = client(replayed).get(f"/objectives/{WS}/{pipeline}").text
    assert '<svg class="chart"' in html
    assert 'class="progress"' in html and 'class="expected"' in html
    assert "revised: target 6M → " in html  # the demo cuts the target mid-quarter
    assert "data-campaign=" in html
    assert "share of the gap" in html


def test_the_detail_view_shows_acknowledgement_notes_and_answers(replayed: Replayed) -> None:
    pipeline = objective_named(replayed, "pipeline_value")
    html = client(replayed).get(f"/objectives/{WS}/{pipeline}").text
    assert "Answered by" in html
    assert "ObjectiveRevised" in html


def test_the_forecast_band_runs_to_a_deadline_still_ahead(replayed: Replayed) -> None:
    pipeline = objective_named(replayed, "pipeline_value")
    mid = "2026-11-15"
    html = client(replayed).get(f"/objectives/{WS}/{pipeline}", params={"as_of": mid}).text
    assert 'class="band"' in html
    assert "As of <b>Sun 2026-11-15 23:59 UTC</b>" in html or "2026-11-15" in html


def test_a_past_period_is_shown_as_of_its_end(replayed: Replayed) -> None:
    html = client(replayed).get("/", params={"period": "2026-q4"}).text
    assert "the end of period <b>2026-q4</b>" in html
    assert 'data-period="2026-q4"' in html
    assert "2026-12-31" in html


def test_bad_parameters_are_refused_by_name(replayed: Replayed) -> None:
    api = client(replayed)
    unknown = api.get("/", params={"period": "1999-q1"})
    assert unknown.status_code == 404
    assert "period: no planning period &#39;1999-q1&#39;" in unknown.text
    both = api.get("/ui/live", params={"period": "2026-q4", "as_of": "2026-11-01"})
    assert both.status_code == 422 and "period: give a period or as_of" in both.text
    bad = api.get("/ui/live", params={"as_of": "yesterday-ish"})
    assert bad.status_code == 422 and "as_of" in bad.text
    missing = api.get(f"/objectives/{WS}/no-such-objective")
    assert missing.status_code == 404 and "no-such-objective" in missing.text


def test_forms_appear_only_with_a_strategy_service_to_send_them_to(replayed: Replayed) -> None:
    pipeline = objective_named(replayed, "pipeline_value")
    without = client(replayed).get(f"/objectives/{WS}/{pipeline}").text
    assert "checkin-form" not in without
    url = "http://127.0.0.1:8101"
    page = client(replayed, strategy_url=url)
    html = page.get(f"/objectives/{WS}/{pipeline}").text
    assert f'data-strategy-url="{url}"' in html
    assert "checkin-form" in html
    past = page.get(f"/objectives/{WS}/{pipeline}", params={"as_of": "2026-11-01"}).text
    assert "checkin-form" not in past and "ack-form" not in past


def test_with_auth_required_the_page_is_a_shell_that_asks_for_a_token(
    replayed: Replayed,
) -> None:
    html = client(replayed, auth="required").get("/").text
    assert 'id="token-form"' in html
    assert 'data-auth="required"' in html
    assert "Northwind" not in html  # no figure before the token


def test_loading_and_static_files() -> None:
    api = client(None)
    assert "loading" in api.get("/").text
    assert api.get("/ui/static/page.js").headers["content-type"].startswith("text/javascript")
    assert api.get("/ui/static/secrets.txt").status_code == 404


def test_values_are_escaped_in_incidents() -> None:
    hostile = "<script>alert(1)</script>"
    incident = {
        "incident_id": "i1",
        "workspace": "w",
        "subject": hostile,
        "severity": "warning",
        "status": "open",
        "kinds": ["stale_data"],
        "opened_at": datetime(2026, 11, 1, tzinfo=UTC).isoformat(),
        "resolved_at": None,
        "acknowledged": True,
        "acknowledgements": [{"by": "x", "at": "2026-11-02T00:00:00+00:00", "note": hostile}],
        "answers": [],
        "facets": [],
        "strategy_id": None,
    }
    template = environment.from_string(
        "{% import 'macros.html' as m %}{{ m.incident(i, frame, false) }}"
    )
    html = template.render(i=incident, frame=SimpleNamespace(strategy_url=None))
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
