"""Alertmanager config: valid for amtool, routes by severity and owner."""

from __future__ import annotations

import pytest
import yaml

from tests.unit.deploy.tools import DEPLOY, require_tool, run

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
    for retired in ("TruenorthDrift\"", "TruenorthStaleData"):
        assert retired not in text


def test_every_receiver_is_a_webhook() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        assert receiver["webhook_configs"], receiver["name"]
