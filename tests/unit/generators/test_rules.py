"""Alert rules generated from the strategy: committed files are what the generator produces,
promtool accepts them, and the promtool unit tests cover every alert both firing and silent."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.tools import DEPLOY, REPO, require_tool, run
from truenorth import metric_names as m
from truenorth.contract.common import ObjectiveSpec
from truenorth.generators.cli import load_strategy_specs
from truenorth.generators.rules import (
    GENERATED_HEADER,
    burn_windows,
    duration,
    generate_rules,
)
from truenorth.strategy.domain import load_document

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules"
TESTS = PROMETHEUS / "tests"


def strategy_files() -> list[Path]:
    """What the committed rules are generated from: examples/*.yaml when present, else ours."""
    examples = sorted((REPO / "examples").glob("*.yaml"))
    committed = sorted((PROMETHEUS / "strategies").glob("*.yaml"))
    return committed + [p for p in examples if _is_strategy(p)]


def _is_strategy(path: Path) -> bool:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(document, dict) and "id" in document and "objectives" in document


def test_committed_rules_match_the_generator(tmp_path: Path) -> None:
    sources = strategy_files()
    specs = [load_strategy_specs(p) for p in sources]
    written = generate_rules(specs, tmp_path)
    assert sorted(p.name for p in RULES.glob("*.yml")) == [p.name for p in written]
    command = "truenorth rules generate " + " ".join(str(p.relative_to(REPO)) for p in sources)
    for path in written:
        committed = (RULES / path.name).read_text(encoding="utf-8")
        assert committed == path.read_text(encoding="utf-8"), f"{path.name} is stale: {command}"


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    run(promtool, "check", "rules", *map(str, sorted(RULES.glob("*.yml"))))


def test_promtool_check_config(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    # the scrape token is a compose secret: point at a stand-in so promtool finds a file
    token = tmp_path / "token"
    token.write_text("tn_x")
    text = (PROMETHEUS / "prometheus.yml").read_text()
    assert text.count("/run/secrets/prometheus_scrape_token") == 4  # every truenorth job
    config = PROMETHEUS / f".check-{tmp_path.name}.yml"
    config.write_text(text.replace("/run/secrets/prometheus_scrape_token", str(token)))
    try:
        output = run(promtool, "check", "config", str(config))
    finally:
        config.unlink()
    assert "rule files found" in output


def test_promtool_unit_tests_pass() -> None:
    promtool = require_tool("promtool")
    files = sorted(TESTS.glob("*.test.yml"))
    assert files
    run(promtool, "test", "rules", *(p.name for p in files), cwd=TESTS)


def _alerts() -> set[tuple[str, str]]:
    found = set()
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found.add((rule["alert"], rule["labels"]["severity"]))
    return found


def _covered() -> tuple[set[tuple[str, str]], set[str]]:
    """(alertname, severity) seen firing in some test; alertnames asserted silent somewhere."""
    firing: set[tuple[str, str]] = set()
    silent: set[str] = set()
    for path in TESTS.glob("*.test.yml"):
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                if not case.get("exp_alerts"):
                    silent.add(case["alertname"])
                for alert in case.get("exp_alerts") or []:
                    firing.add((case["alertname"], alert["exp_labels"]["severity"]))
    return firing, silent


def test_every_alert_is_tested_firing_and_silent() -> None:
    alerts = _alerts()
    firing, silent = _covered()
    assert alerts - firing == set(), "alerts without a test where they fire"
    assert {name for name, _ in alerts} - silent == set(), "alerts without a silent test"


def test_every_objective_gets_a_page_and_a_ticket_burn_alert() -> None:
    severities: dict[str, set[str]] = defaultdict(set)
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if rule.get("alert") == "TruenorthObjectiveBehindPace":
                    objective = rule["expr"].split('objective="')[1].split('"')[0]
                    severities[objective].add(rule["labels"]["severity"])
                    assert rule["labels"]["owner"]
                    assert {"summary", "description", "dashboard"} <= set(rule["annotations"])
    specs = [o for p in strategy_files() for o in load_strategy_specs(p).objectives]
    assert {o.objective_id for o in specs} == set(severities)
    assert all(s == {"page", "ticket"} for s in severities.values())


def _objective(days: float) -> ObjectiveSpec:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return ObjectiveSpec(
        objective_id="o",
        name="o",
        kpi="leads",
        target=100,
        start=start,
        deadline=start + timedelta(days=days),
    )


@pytest.mark.parametrize(
    ("days", "page", "ticket"),
    [
        (1, ("1h", "5m"), ("6h", "30m")),
        (14, ("11h12m", "56m"), ("2d8h", "4h40m")),
        (90, ("3d", "6h"), ("14d", "1d4h")),
        (365, ("3d", "6h"), ("14d", "1d4h")),
    ],
)
def test_burn_windows_scale_with_the_horizon(
    days: float, page: tuple[str, str], ticket: tuple[str, str]
) -> None:
    page_window, ticket_window = burn_windows(_objective(days))
    assert (duration(page_window.long), duration(page_window.short)) == page
    assert (duration(ticket_window.long), duration(ticket_window.short)) == ticket
    assert page_window.ratio < ticket_window.ratio


def test_load_strategy_specs_reads_dates_as_utc_days(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "id: s1\nowner: boss\nobjectives:\n"
        "  - {id: o1, name: O, kpi: leads, target: 10, start: 2026-01-01, deadline: '2026-01-31',"
        " future_field: ignored}\n",
        encoding="utf-8",
    )
    spec = load_strategy_specs(path)
    assert (spec.workspace, spec.strategy_id, spec.owner) == ("default", "s1", "boss")
    (objective,) = spec.objectives
    assert objective.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert objective.deadline == datetime(2026, 2, 1, tzinfo=UTC)  # the whole 31st is in


def test_a_deadline_date_is_the_same_instant_for_the_rules_and_the_strategy_service(
    tmp_path: Path,
) -> None:
    examples = [p for p in strategy_files() if p.parent.name == "examples"]
    assert examples, "the examples are strategy documents the service applies"
    for path in examples:
        generated = {o.objective_id: o for o in load_strategy_specs(path).objectives}
        applied = load_document(path.read_text(encoding="utf-8"), str(path)).objective_specs()
        assert {o.objective_id: (o.start, o.deadline) for o in applied} == {
            oid: (o.start, o.deadline) for oid, o in generated.items()
        }


@pytest.mark.parametrize(
    ("written", "line"), [("2026-11-15Z", 5), ("2026-13-45", 5), ("2026-01-31T12:00:00", 5)]
)
def test_a_deadline_that_is_no_day_and_no_time_is_refused_naming_the_field_and_line(
    tmp_path: Path, written: str, line: int
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: s1\nobjectives:\n  - id: o1\n    start: 2026-01-01\n"
        f"    deadline: {written}\n    name: O\n    kpi: leads\n    target: 10\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=rf"objectives\[0\]: deadline \(line {line}\)"):
        load_strategy_specs(path)


def test_load_strategy_specs_names_the_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "id: s1\nobjectives:\n  - {id: o1, name: O, kpi: Leads!, target: 10,"
        " start: 2026-01-01, deadline: 2026-01-31}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"objectives\[0\].*kpi"):
        load_strategy_specs(path)


def test_generate_removes_rules_of_strategies_no_longer_given(tmp_path: Path) -> None:
    spec = load_strategy_specs(strategy_files()[0])
    generate_rules([spec], tmp_path)
    hand_written = tmp_path / "custom.rules.yml"
    hand_written.write_text("groups: []\n", encoding="utf-8")
    written = generate_rules([], tmp_path)
    assert [p.name for p in written] == ["truenorth-common.rules.yml"]
    assert hand_written.exists()
    assert all(p.read_text(encoding="utf-8").startswith(GENERATED_HEADER) for p in written)


def _common_alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load((RULES / "truenorth-common.rules.yml").read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def test_drift_alerts_fire_once_per_incident_never_per_drift_kind() -> None:
    alerts = _common_alerts()
    incident = [a for a in alerts if a["alert"] == "TruenorthIncident"]
    assert {a["labels"]["severity"] for a in incident} == {"page", "ticket", "info"}
    assert all(m.INCIDENT_OPEN in a["expr"] for a in incident)
    assert not any(m.DRIFT_OPEN in a["expr"] for a in alerts), "a drift facet alerts alone"
    assert not {"TruenorthDrift", "TruenorthStaleData"} & {a["alert"] for a in alerts}


def test_incident_alerts_link_the_read_apis_incidents() -> None:
    for alert in _common_alerts():
        if alert["alert"] == "TruenorthIncident":
            description = alert["annotations"]["description"]
            assert "/v1/workspaces/{{ $labels.workspace }}/incidents" in description
            assert "$labels.incident" in alert["annotations"]["summary"]
