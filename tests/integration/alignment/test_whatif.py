"""What-if and recommendations through the running services against a real nats-server: the
alignment service forecasts a budget shift and refuses one the strategy does not allow, with
the reason; an off-pace incident carries the best shift found, which applied through the
strategy service (with If-Match) is linked to the incident, and the incident resolves once the
objective is back on pace."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.integration.alignment.test_incidents import (
    END,
    START,
    append_all,
    daily,
    eventually,
    incidents,
    launched,
    spend,
)
from truenorth import whatif_cli
from truenorth.alignment.app import build_app as build_alignment
from truenorth.cli import app as cli
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import MetricObserved
from truenorth.settings import AlignmentSettings, SharedSettings, StrategySettings
from truenorth.strategy.app import build_app as build_strategy


@pytest.fixture
def alignment(nats_url: str, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path)
    settings = AlignmentSettings(database_url=database_url, tick_seconds=0.2, port=0)
    with TestClient(build_alignment(shared, settings)) as client:
        yield client


@pytest.fixture
def strategy(nats_url: str, tmp_path: Path) -> Iterator[TestClient]:
    shared = SharedSettings(nats_url=nats_url, data_dir=tmp_path / "strategy")
    with TestClient(build_strategy(shared, StrategySettings(port=0))) as client:
        yield client


def strategy_path(ws: str) -> str:
    return f"/v1/workspaces/{ws}/strategies/acme"


def leads(ws: str, campaign: str, amount: float, day: int) -> MetricObserved:
    return daily(ws, campaign, "leads", amount, day)


def plan(strategy: TestClient, ws: str) -> None:
    """Acme allows linkedin and search, 50/50 of 30 000; 1 000 leads in 30 days."""
    answers = [
        strategy.put(
            strategy_path(ws),
            json={
                "name": "Acme",
                "target_segments": ["smb"],
                "allowed_channels": ["linkedin", "search"],
            },
        ),
        strategy.post(
            f"{strategy_path(ws)}/objectives",
            json={
                "objective_id": "leads",
                "name": "Leads",
                "kpi": "leads",
                "target": 1_000,
                "start": START.isoformat(),
                "deadline": END.isoformat(),
            },
        ),
        strategy.put(
            f"{strategy_path(ws)}/periods/p",
            json={
                "start": START.isoformat(),
                "end": END.isoformat(),
                "budget": 30_000,
                "channel_mix": {"linkedin": 50, "search": 50},
            },
        ),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.text


def facts(ws: str) -> list[EnvelopeFields]:
    """Linkedin pays $500 a lead, search $100: both far behind the 1 000 leads' pace."""
    return [
        launched(ws, "c-linkedin", "linkedin", 15_000),
        launched(ws, "c-search", "search", 15_000),
        *(spend(ws, "c-linkedin", 500, d) for d in range(9)),
        *(spend(ws, "c-search", 500, d) for d in range(9)),
        *(leads(ws, "c-linkedin", 1, d) for d in range(9)),
        *(leads(ws, "c-search", 5, d) for d in range(9)),
    ]


def published(strategy: TestClient, ws: str, incident_id: str) -> None:
    """The strategy service has heard of the incident (alignment lists it from its tables a
    moment before its outbox publishes it)."""

    def heard() -> bool:
        found = strategy.get(f"{strategy_path(ws)}/incidents").json()["incidents"]
        return any(i["incident_id"] == incident_id for i in found)

    eventually(heard)


def whatif(alignment: TestClient, ws: str, shifts: list[dict[str, Any]]) -> Any:
    return alignment.post(f"{strategy_path(ws)}/whatif", json={"shifts": shifts})


def move(source: str, target: str, amount: float) -> dict[str, Any]:
    return {"from": {"channel": source}, "to": {"channel": target}, "amount": amount}


def folded(alignment: TestClient, ws: str) -> dict[str, Any]:
    """The what-if answer once every fact is folded (9 days of both campaigns)."""

    def ready() -> bool:
        response = alignment.get(f"/v1/workspaces/{ws}/objectives/leads")
        if response.status_code != 200:
            return False
        body = response.json()
        return bool(body["actual"] == 54 and body["spend"] == 9_000)

    eventually(ready)
    response = whatif(alignment, ws, [move("linkedin", "search", 2_000)])
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_shift_to_the_cheaper_channel_raises_the_forecast_and_a_disallowed_one_is_refused(
    alignment: TestClient, strategy: TestClient, nats_url: str, workspace: str
) -> None:
    plan(strategy, workspace)
    asyncio.run(append_all(nats_url, facts(workspace)))
    body = folded(alignment, workspace)
    [objective] = body["objectives"]
    assert objective["objective_id"] == "leads"
    assert objective["after"]["forecast"] > objective["before"]["forecast"]
    assert objective["after"]["p_hit"] >= objective["before"]["p_hit"]
    assert any("diminish" in a for a in body["assumptions"])

    refused = whatif(alignment, workspace, [move("linkedin", "tiktok", 1_000)])
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "shifts[0].to.channel"
    assert "'tiktok' is not allowed by strategy 'acme'" in error["message"]
    assert "linkedin, search" in error["message"]


def test_bad_shifts_are_refused_naming_the_field(
    alignment: TestClient, strategy: TestClient, nats_url: str, workspace: str
) -> None:
    plan(strategy, workspace)
    asyncio.run(append_all(nats_url, facts(workspace)))
    folded(alignment, workspace)
    cases = [
        ([move("linkedin", "search", -5)], "shifts[0].amount"),
        ([move("linkedin", "search", 20_000)], "shifts[0].amount"),  # 10 500 left
        (
            [{"from": {"campaign": "made-up"}, "to": {"channel": "search"}, "amount": 10}],
            "shifts[0].from.campaign",
        ),
        (
            [
                {
                    "from": {"campaign": "c-linkedin", "channel": "x"},
                    "to": {"channel": "search"},
                    "amount": 1,
                }
            ],
            "shifts[0].from",
        ),
    ]
    for shifts, field in cases:
        response = whatif(alignment, workspace, shifts)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]], response.text
    unknown = alignment.post(
        f"/v1/workspaces/{workspace}/strategies/nope/whatif",
        json={"shifts": [move("linkedin", "search", 10)]},
    )
    assert unknown.status_code == 404


def test_a_recommendation_applied_answers_the_incident_which_resolves_back_on_pace(
    alignment: TestClient, strategy: TestClient, nats_url: str, workspace: str
) -> None:
    plan(strategy, workspace)
    asyncio.run(append_all(nats_url, facts(workspace)))
    folded(alignment, workspace)

    def off_pace() -> dict[str, Any] | None:
        for incident in incidents(alignment, workspace):
            if "objective_off_pace" in incident["kinds"] and incident["recommendation"]:
                return incident
        return None

    incident = eventually(off_pace)
    recommendation = incident["recommendation"]
    [shift] = recommendation["shifts"]
    assert (shift["from"], shift["to"]) == ({"channel": "linkedin"}, {"channel": "search"})
    [effect] = recommendation["effect"]
    assert effect["after"]["attainment"] > effect["before"]["attainment"]
    revision = recommendation["revision"]
    assert revision["path"] == f"{strategy_path(workspace)}/periods/p"
    assert revision["body"]["in_response_to"] == incident["incident_id"]
    assert revision["body"]["channel_mix"]["search"] > 50

    published(strategy, workspace, incident["incident_id"])
    etag = strategy.get(strategy_path(workspace)).headers["ETag"]
    applied = strategy.request(
        revision["method"], revision["path"], json=revision["body"], headers={"If-Match": etag}
    )
    assert applied.status_code == 200, applied.text
    again = strategy.request(
        revision["method"], revision["path"], json=revision["body"], headers={"If-Match": etag}
    )
    assert again.status_code == 412, again.text  # applied once: a stale ETag is refused

    def answered() -> dict[str, Any] | None:
        for found in incidents(alignment, workspace):
            if found["incident_id"] == incident["incident_id"] and found["answers"]:
                return found
        return None

    [answer] = eventually(answered)["answers"]
    assert answer["event_type"] == "BudgetPlanned"
    assert answer["reason"] == revision["body"]["reason"]

    # the shift works: search brings the leads the objective needed by now
    asyncio.run(append_all(nats_url, [leads(workspace, "c-search", 600, 9)]))

    def resolved() -> dict[str, Any] | None:
        for found in incidents(alignment, workspace, status="all"):
            if found["incident_id"] == incident["incident_id"] and found["status"] == "resolved":
                return found
        return None

    closed = eventually(resolved, seconds=30)
    assert closed["recommendation"] is None
    assert [a["event_type"] for a in closed["answers"]] == ["BudgetPlanned"]


def route_cli_to(monkeypatch: pytest.MonkeyPatch, services: dict[str, TestClient]) -> None:
    """The CLI's HTTP calls go to the services under test (http://<service>.test/...)."""

    def send(method: str, url: str, **options: Any) -> Any:
        options.pop("timeout", None)
        host, _, path = url.removeprefix("http://").partition("/")
        return services[host.removesuffix(".test")].request(method, "/" + path, **options)

    monkeypatch.setattr(whatif_cli.httpx, "request", send)


def test_the_cli_prints_a_what_if_and_applies_a_recommendation(
    alignment: TestClient,
    strategy: TestClient,
    nats_url: str,
    workspace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan(strategy, workspace)
    asyncio.run(append_all(nats_url, facts(workspace)))
    folded(alignment, workspace)
    route_cli_to(monkeypatch, {"alignment": alignment, "strategy": strategy})
    runner = CliRunner()
    urls = ["--workspace", workspace]
    alignment_url = ["--url", "http://alignment.test"]
    both = ["--alignment-url", "http://alignment.test", "--strategy-url", "http://strategy.test"]
    shown = runner.invoke(
        cli,
        ["whatif", "--strategy", "acme", "--shift", "linkedin:search:2000", *urls, *alignment_url],
    )
    assert shown.exit_code == 0, shown.output
    assert "leads" in shown.output and "→" in shown.output
    refused = runner.invoke(
        cli,
        ["whatif", "--strategy", "acme", "--shift", "linkedin:tiktok:10", *urls, *alignment_url],
    )
    assert refused.exit_code == 2
    assert "shifts[0].to.channel" in refused.output and "not allowed" in refused.output

    incident = eventually(
        lambda: next((i for i in incidents(alignment, workspace) if i.get("recommendation")), None)
    )
    published(strategy, workspace, incident["incident_id"])
    applied = runner.invoke(
        cli,
        ["recommend", "apply", incident["incident_id"], *urls, "--actor", "maria", *both],
    )
    assert applied.exit_code == 0, applied.output
    assert f"answering {incident['incident_id']}" in applied.output
    [period] = strategy.get(strategy_path(workspace)).json()["periods"]
    assert period["channel_mix"] == incident["recommendation"]["revision"]["body"]["channel_mix"]
    assert period["channel_mix"]["search"] > 50
    unknown = runner.invoke(
        cli,
        ["recommend", "apply", "made-up", *urls, "--alignment-url", "http://alignment.test"],
    )
    assert unknown.exit_code == 2
    assert "no open incident 'made-up'" in unknown.output
