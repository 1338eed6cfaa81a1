"""`truenorth apply` tells when it would overwrite a change made through the API."""

from __future__ import annotations

from typing import Any

from tests.unit.strategy.builders import BASE_YAML, document, stored
from truenorth.strategy.domain import Attribution, Strategy, overwrites, plan_changes

API = Attribution(actor="sam", reason="hotfix through the API")


def applied_file(text: str = BASE_YAML) -> list[Any]:
    plan = plan_changes(document(text), None, actor="maria", workspace="default")
    return stored(list(plan.events))


def then(events: list[Any], command: Any) -> list[Any]:
    strategy = Strategy.from_events(events)
    return events + stored(command(strategy))


def warnings(events: list[Any], text: str = BASE_YAML) -> list[Any]:
    strategy = Strategy.from_events(events)
    plan = plan_changes(document(text), strategy, actor="maria")
    return overwrites(plan, events, "default")


def test_reapplying_the_file_after_an_api_revision_warns_it_sets_the_value_back() -> None:
    events = then(applied_file(), lambda s: s.revise_objective("leads-q4", {"target": 800}, by=API))
    (found,) = warnings(events)
    assert (found.kind, found.key, found.field) == ("objective", "leads-q4", "target")
    assert (found.api_value, found.document_value, found.actor) == (800, 1000, "sam")
    assert "target was set to 800 through the API by sam" in found.render()


def test_a_file_that_carries_the_api_change_overwrites_nothing() -> None:
    events = then(applied_file(), lambda s: s.revise_objective("leads-q4", {"target": 800}, by=API))
    assert warnings(events, BASE_YAML.replace("target: 1000", "target: 800")) == []


def test_changes_already_applied_from_the_file_are_not_api_changes() -> None:
    edited = BASE_YAML.replace("target: 1000", "target: 1200")
    events = applied_file()
    events += stored(
        list(plan_changes(document(edited), Strategy.from_events(events), "maria").events)
    )
    assert warnings(events) == []


def test_an_objective_added_through_the_api_and_missing_from_the_file_warns_of_its_retirement() -> (
    None
):
    spec = document().objective_specs()[0].model_dump() | {"objective_id": "api-only"}
    events = then(applied_file(), lambda s: s.add_objective(spec, by=API))
    (found,) = warnings(events)
    assert (found.kind, found.key, found.field) == ("objective", "api-only", "*")


def test_an_api_change_to_another_field_is_not_an_overwrite() -> None:
    events = then(
        applied_file(), lambda s: s.revise_objective("leads-q4", {"owner": "sam"}, by=API)
    )
    edited = BASE_YAML.replace("target: 1000", "target: 1200").replace(
        "owner: maria\n  - id: signups", "owner: sam\n  - id: signups"
    )
    assert "owner: sam" in edited
    assert warnings(events, edited) == []


def test_a_check_in_is_no_change_to_overwrite_nor_the_author_of_one() -> None:
    revised = then(
        applied_file(), lambda s: s.revise_objective("leads-q4", {"target": 800}, by=API)
    )
    checked = then(
        revised,
        lambda s: s.check_in(
            "leads-q4", confidence="low", narrative="tough", by=Attribution(actor="maria")
        ),
    )
    (found,) = warnings(checked)
    assert (found.field, found.actor) == ("target", "sam")
    only_checked = then(
        applied_file(),
        lambda s: s.check_in("leads-q4", confidence="high", narrative="fine", by=API),
    )
    assert warnings(only_checked) == []
