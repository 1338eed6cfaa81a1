from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.unit.strategy.builders import BASE_YAML, applied_strategy, document, stored
from truenorth.contract.common import Guardrails
from truenorth.contract.strategy import (
    BudgetPlanned,
    GuardrailsSet,
    ObjectiveAdded,
    ObjectiveRetired,
    ObjectiveRevised,
    PeriodRemoved,
    StrategyDefined,
    StrategyRevised,
)
from truenorth.strategy.domain import (
    InvariantViolated,
    ObjectiveRetiredError,
    Strategy,
    load_document,
    plan_changes,
)

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))

EDITED_YAML = (
    BASE_YAML.replace("target: 1000", "target: 1200")
    .replace("id: signups-q4", "id: demos-q4")
    .replace("kpi: signups", "kpi: demo_requests")
    .replace("name: Signups in Q4", "name: Demo requests in Q4")
)


def apply(strategy: Strategy, text: str) -> Strategy:
    plan = plan_changes(document(text), strategy, actor="maria", reason="edit")
    return strategy.applied(stored(list(plan.events)))


def test_a_new_strategy_plans_the_definition_periods_and_objectives() -> None:
    plan = plan_changes(document(), None, actor="maria", reason="kick-off")
    assert [type(e) for e in plan.events] == [
        StrategyDefined,
        BudgetPlanned,
        ObjectiveAdded,
        ObjectiveAdded,
    ]
    assert plan.render() == (
        "+ strategy acme\n"
        "+ period 2026-q4\n"
        "+ objective leads-q4\n"
        "+ objective signups-q4\n"
        "\n"
        "Plan: 4 to add, 0 to revise, 0 to retire."
    )
    assert all(e.actor == "maria" and e.data.reason == "kick-off" for e in plan.events)


def test_the_plan_shows_additions_revisions_with_old_and_new_values_and_retirements() -> None:
    plan = plan_changes(document(EDITED_YAML), applied_strategy(), actor="maria", reason="q4")
    assert plan.render() == (
        "- objective signups-q4 (retired)\n"
        "~ objective leads-q4: target 1000 → 1200\n"
        "+ objective demos-q4\n"
        "\n"
        "Plan: 1 to add, 1 to revise, 1 to retire."
    )
    assert [type(e) for e in plan.events] == [ObjectiveRetired, ObjectiveRevised, ObjectiveAdded]
    assert (plan.added, plan.revised, plan.retired, plan.unchanged) == (1, 1, 1, 1)
    assert plan.base_version == 4


def test_a_revision_of_several_fields_lists_each_on_its_own_line() -> None:
    text = BASE_YAML.replace("target: 1000", "target: 1200").replace(
        "owner: maria\n  -", "owner: sam\n  -"
    )
    plan = plan_changes(document(text), applied_strategy(), actor="maria")
    assert plan.render().splitlines()[:3] == [
        "~ objective leads-q4:",
        "    target 1000 → 1200",
        '    owner "maria" → "sam"',
    ]


def test_header_period_and_guardrail_changes_are_planned() -> None:
    text = (
        BASE_YAML.replace("name: Acme", "name: Acme Corp\nguardrails: {idle_days: 5}")
        .replace("budget: 100000", "budget: 120000")
        .replace("{search: 60, linkedin: 40}", "{search: 50, linkedin: 50}")
    )
    plan = plan_changes(document(text), applied_strategy(), actor="maria")
    assert [type(e) for e in plan.events] == [StrategyRevised, GuardrailsSet, BudgetPlanned]
    assert plan.render() == (
        '~ strategy acme: name "Acme" → "Acme Corp"\n'
        "~ guardrails: idle_days (unset) → 5\n"
        "~ period 2026-q4:\n"
        "    budget 100000 → 120000\n"
        "    channel_mix.search 60 → 50\n"
        "    channel_mix.linkedin 40 → 50\n"
        "\n"
        "Plan: 0 to add, 3 to revise, 0 to retire."
    )


def test_a_period_missing_from_the_document_is_removed() -> None:
    text = re.sub(r"periods:\n(?:  .*\n)+", "periods: []\n", BASE_YAML)
    plan = plan_changes(document(text), applied_strategy(), actor="maria")
    assert [type(e) for e in plan.events] == [PeriodRemoved]
    assert plan.render().splitlines()[0] == "- period 2026-q4 (removed)"
    assert plan.summary() == "Plan: 0 to add, 0 to revise, 0 to retire, 1 to remove."


def test_applying_the_same_document_again_plans_nothing() -> None:
    strategy = applied_strategy()
    plan = plan_changes(document(), strategy, actor="maria")
    assert plan.is_empty
    assert plan.events == ()
    assert plan.render() == "No changes. Strategy acme matches the document (version 4)."


def test_a_plan_applied_then_planned_again_is_empty_after_edits_too() -> None:
    strategy = apply(applied_strategy(), EDITED_YAML)
    assert plan_changes(document(EDITED_YAML), strategy, actor="maria").is_empty


def test_moving_adjacent_period_boundaries_at_once_is_planned_against_the_final_state() -> None:
    two = BASE_YAML.replace(
        "objectives:\n",
        "  - id: 2027-q1\n    start: 2027-01-01\n    end: 2027-03-31\n    budget: 5\nobjectives:\n",
    )
    strategy = apply(applied_strategy(), two)
    shifted = two.replace("end: 2026-12-31", "end: 2027-01-15").replace(
        "start: 2027-01-01", "start: 2027-01-16"
    )
    strategy = apply(strategy, shifted)
    assert strategy.periods["2026-q4"].end.day == 16
    assert plan_changes(document(shifted), strategy, actor="maria").is_empty


def test_a_retired_objective_in_the_document_is_refused_with_its_line() -> None:
    strategy = apply(applied_strategy(), EDITED_YAML)
    with pytest.raises(ObjectiveRetiredError) as caught:
        plan_changes(document(), strategy, actor="maria")
    (error,) = caught.value.errors
    assert (error.path, error.line) == ("objectives[1].id", 22)
    assert "was retired and cannot come back" in error.message


def test_a_document_for_another_strategy_is_refused() -> None:
    other = BASE_YAML.replace("id: acme", "id: other")
    with pytest.raises(InvariantViolated) as caught:
        plan_changes(document(other), applied_strategy(), actor="maria")
    assert caught.value.errors[0].path == "id"


def test_plan_events_carry_the_drift_they_answer() -> None:
    plan = plan_changes(
        document(EDITED_YAML), applied_strategy(), "maria", "answering", in_response_to="d-1"
    )
    assert {e.data.in_response_to for e in plan.events} == {"d-1"}
    after = applied_strategy().applied(plan.events)
    assert [r.event_type for r in after.responses["d-1"]] == [
        "ObjectiveRetired",
        "ObjectiveRevised",
        "ObjectiveAdded",
    ]


def test_there_are_four_example_documents() -> None:
    assert len(EXAMPLES) == 4


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_document_loads_plans_and_applies_idempotently(path: Path) -> None:
    doc = load_document(path.read_text(), str(path))
    assert 2 <= len(doc.objectives) <= 4
    assert [(p.start.date().isoformat(), p.end.date().isoformat()) for p in doc.periods] == [
        ("2026-10-01", "2027-01-01")
    ]
    plan = plan_changes(doc, None, actor="ci", reason="seed")
    with_guardrails = doc.guardrails != Guardrails()
    assert plan.added == 1 + with_guardrails + len(doc.periods) + len(doc.objectives)
    strategy = Strategy.from_events(stored(list(plan.events)))
    assert strategy.violations() == []
    assert plan_changes(doc, strategy, actor="ci").is_empty
