"""Alertmanager config: valid for amtool, routes by severity and owner, groups an owner's
pages and tickets by incident, and (with Debian's Alertmanager running it) inhibits as said."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.unit.deploy.tools import DEPLOY, require_tool, run
from truenorth.bus.embedded import free_port

CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"


def test_amtool_check_config() -> None:
    amtool = require_tool("amtool")
    assert "SUCCESS" in run(amtool, "check-config", str(CONFIG))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["severity=page", "owner=demand-gen@acme.example"], "owner-page"),
        (["severity=ticket", "owner=demand-gen@acme.example"], "owner-ticket"),
        (["severity=info", "owner=brand@acme.example"], "owner-digest"),
        (["severity=page", "owner=platform"], "platform-page"),
        (["severity=ticket", "owner=platform"], "platform-ticket"),
        (["severity=ticket", "alertname=TruenorthIncident"], "platform-ticket"),
        (
            ["severity=page", "alertname=TruenorthIncident", "owner=cmo@acme.example"],
            "owner-page",
        ),
    ],
)
def test_routing(labels: list[str], receiver: str) -> None:
    amtool = require_tool("amtool")
    run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )


def test_a_paging_pace_alert_inhibits_the_ticket_for_the_same_objective() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert any(
        'alertname="TruenorthObjectiveBehindPace"' in rule["source_matchers"]
        and 'severity="page"' in rule["source_matchers"]
        and 'severity="ticket"' in rule["target_matchers"]
        and {"workspace", "strategy", "objective"} <= set(rule["equal"])
        for rule in config["inhibit_rules"]
    )


def test_an_owners_pages_and_tickets_are_one_notification_group_per_incident() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    owner_routes = [
        route
        for route in config["route"]["routes"]
        if route.get("receiver") in {"owner-page", "owner-ticket"}
    ]
    assert len(owner_routes) == 2
    for route in owner_routes:
        assert {"owner", "incident"} <= set(route["group_by"]), route["receiver"]


def test_a_paging_pace_alert_inhibits_the_incident_its_objective_causes() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert any(
        'alertname="TruenorthObjectiveBehindPace"' in rule["source_matchers"]
        and rule["target_matchers"] == ['alertname="TruenorthIncident"']
        and "objective" in rule["equal"]
        for rule in config["inhibit_rules"]
    )


def test_no_rule_names_an_alert_the_generator_no_longer_makes() -> None:
    text = CONFIG.read_text(encoding="utf-8")
    for retired in ('TruenorthDrift"', "TruenorthStaleData"):
        assert retired not in text


def test_every_receiver_is_a_webhook() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        assert receiver["webhook_configs"], receiver["name"]


# -- a real Alertmanager (Debian's) with this configuration ----------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[httpx.Client]:
    """Debian's Alertmanager on a free loopback port with CONFIG, no clustering. Its receivers
    point at compose's alert-sink, which does not resolve here: grouping and inhibition, what
    these tests read through the API, do not depend on delivery."""
    binary = require_tool("prometheus-alertmanager")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={CONFIG}",
            f"--storage.path={tmp_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        _wait_ready(client, process)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _wait_ready(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "alertmanager exited at start"
        try:
            if client.get("/-/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("alertmanager not ready in 20 s")


def _alert(**labels: str) -> dict[str, Any]:
    return {"labels": {"workspace": "acme", "strategy": "growth-2026", **labels}}


def _post(client: httpx.Client, *alerts: dict[str, Any]) -> None:
    response = client.post("/api/v2/alerts", json=list(alerts))
    assert response.status_code == 200, response.text


def _eventually(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + 10
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def test_two_incidents_of_one_owner_are_two_notifications(alertmanager: httpx.Client) -> None:
    owner = "cmo@acme.example"
    _post(
        alertmanager,
        _alert(
            alertname="TruenorthIncident",
            incident="campaign-search-brand",
            severity="ticket",
            owner=owner,
        ),
        _alert(
            alertname="TruenorthIncident", incident="channel-social", severity="ticket", owner=owner
        ),
    )
    groups = _eventually(
        lambda: alertmanager.get("/api/v2/alerts/groups").json(),
        lambda found: sum(len(g["alerts"]) for g in found) == 2,
    )
    assert sorted(g["labels"]["incident"] for g in groups) == [
        "campaign-search-brand",
        "channel-social",
    ]
    assert all(g["receiver"]["name"] == "owner-ticket" for g in groups)
    assert all(len(g["alerts"]) == 1 and g["labels"]["owner"] == owner for g in groups)


def test_a_paging_burn_alert_inhibits_its_objectives_incident_only(
    alertmanager: httpx.Client,
) -> None:
    owner = "demand-gen@acme.example"
    _post(
        alertmanager,
        _alert(
            alertname="TruenorthObjectiveBehindPace",
            objective="q1-leads",
            severity="page",
            owner=owner,
        ),
        _alert(
            alertname="TruenorthIncident",
            incident="objective-q1-leads",
            objective="q1-leads",
            severity="page",
            owner=owner,
        ),
        _alert(
            alertname="TruenorthIncident",
            incident="campaign-search-brand",
            severity="page",
            owner=owner,
        ),
    )

    def states() -> dict[str, str]:
        alerts = alertmanager.get("/api/v2/alerts").json()
        return {
            a["labels"].get("incident", a["labels"]["alertname"]): a["status"]["state"]
            for a in alerts
        }

    found = _eventually(states, lambda s: s.get("objective-q1-leads") == "suppressed")
    assert found == {
        "TruenorthObjectiveBehindPace": "active",
        "objective-q1-leads": "suppressed",
        "campaign-search-brand": "active",
    }
