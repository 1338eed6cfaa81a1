"""Check-ins through the strategy API against a real nats-server."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.integration.strategy.test_api import base, client, define

__all__ = ["client"]


def checkins_url(workspace: str, objective: str = "leads-q4") -> str:
    return f"{base(workspace)}/objectives/{objective}/checkins"


def field_names(response_json: dict) -> list[str]:
    return [str(error["field"]).split(".")[-1] for error in response_json["errors"]]


def test_a_check_in_is_written_like_any_change_and_listed_newest_first(
    client: TestClient, workspace: str
) -> None:
    etag = define(client, workspace)
    first = client.post(
        checkins_url(workspace),
        json={"confidence": "low", "narrative": "Webinar slipped"},
        headers={"X-Actor": "maria", "If-Match": etag},
    )
    assert first.status_code == 201, first.text
    assert first.headers["ETag"] == '"3"'
    assert [e["type"] for e in first.json()["events"]] == ["ObjectiveCheckedIn"]
    second = client.post(
        checkins_url(workspace),
        json={
            "confidence": "high",
            "narrative": "CRM is ahead of the ad platforms",
            "corrected_value": 640,
            "source": "Salesforce pipeline report",
        },
        headers={"X-Actor": "li"},
    )
    assert second.status_code == 201, second.text
    listed = client.get(checkins_url(workspace)).json()["checkins"]
    assert [(c["confidence"], c["actor"]) for c in listed] == [("high", "li"), ("low", "maria")]
    assert listed[0]["corrected_value"] == 640
    assert listed[0]["source"] == "Salesforce pipeline report"
    assert listed[1]["corrected_value"] is None
    assert listed[0]["at"] >= listed[1]["at"]


def test_a_check_in_on_an_unknown_or_retired_objective_is_404(
    client: TestClient, workspace: str
) -> None:
    define(client, workspace)
    body = {"confidence": "low", "narrative": "x"}
    assert client.post(checkins_url(workspace, "nope"), json=body).status_code == 404
    assert client.get(checkins_url(workspace, "nope")).status_code == 404
    assert client.get(checkins_url(workspace).replace("/acme/", "/other/")).status_code == 404
    assert client.post(f"{base(workspace)}/objectives/leads-q4/retire").status_code == 200
    response = client.post(checkins_url(workspace), json=body)
    assert response.status_code == 404
    assert "retired" in response.json()["detail"]


def test_a_bad_check_in_is_422_naming_the_field_and_appends_nothing(
    client: TestClient, workspace: str
) -> None:
    define(client, workspace)
    cases = [
        ({"confidence": "certain", "narrative": "x"}, "confidence"),
        ({"confidence": "low", "narrative": ""}, "narrative"),
        ({"confidence": "low", "narrative": "  "}, "narrative"),
        ({"confidence": "low"}, "narrative"),
        ({"confidence": "low", "narrative": "x", "corrected_value": 5}, "source"),
        (
            {"confidence": "low", "narrative": "x", "corrected_value": "many", "source": "s"},
            "corrected_value",
        ),
        ({"confidence": "low", "narrative": "x", "mood": "grim"}, "mood"),
    ]
    for body, field in cases:
        response = client.post(checkins_url(workspace), json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in field_names(response.json()), (body, response.json())
    assert client.get(checkins_url(workspace)).json()["checkins"] == []
    assert client.get(base(workspace)).headers["ETag"] == '"2"'


def test_a_stale_if_match_refuses_the_check_in(client: TestClient, workspace: str) -> None:
    define(client, workspace)
    response = client.post(
        checkins_url(workspace),
        json={"confidence": "low", "narrative": "x"},
        headers={"If-Match": '"1"'},
    )
    assert response.status_code == 412
