"""The alignment service's built-in page renders the snapshot: objectives with progress and
status, the channel mix, open drifts with their explanations; escaped; filtered by workspace."""

from __future__ import annotations

from html import escape
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.page import web_router
from truenorth.demo.offline import replay_offline
from truenorth.demo.scenario import DEFAULT_EXAMPLE, build_scenario, load_example


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    filename, text = load_example(DEFAULT_EXAMPLE)
    result = replay_offline(build_scenario(text, 7, "demo", filename))
    assert result.snapshot is not None
    return result.snapshot


def client(snapshot: Snapshot | None) -> TestClient:
    app = FastAPI()
    app.state.projector = (
        {} if snapshot is None else {"projector": SimpleNamespace(snapshot=snapshot)}
    )
    app.include_router(web_router())
    return TestClient(app)


def test_page_shows_objectives_status_and_open_drifts(snapshot: Snapshot) -> None:
    response = client(snapshot).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for objective in snapshot.objectives:
        assert escape(objective.name) in html
        assert f"data-objective='{objective.objective_id}'" in html
    assert snapshot.drifts, "the finished demo quarter leaves drifts open"
    for drift in snapshot.drifts:
        assert escape(drift.drift.explanation) in html
    assert "Northwind Cloud" in html
    assert "achieved" in html
    assert "ui/live" in html  # refreshes itself


def test_live_fragment_and_workspace_filter(snapshot: Snapshot) -> None:
    api = client(snapshot)
    fragment = api.get("/ui/live", params={"workspace": "demo"}).text
    assert "<html" not in fragment
    assert "New enterprise pipeline" in fragment
    other = api.get("/ui/live", params={"workspace": "elsewhere"}).text
    assert "New enterprise pipeline" not in other
    assert "No objectives yet" in other


def test_loading_and_escaping() -> None:
    assert "loading" in client(None).get("/").text
    html = render_page(None, "<script>")
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html
    assert "loading" in render_live(None, None)
