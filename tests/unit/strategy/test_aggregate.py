from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.unit.strategy.builders import JAN_1, MARIA, OCT_1, applied_strategy, stored
from truenorth.contract.common import Guardrails, PeriodPlan
from truenorth.contract.strategy import (
    BudgetPlanned,
    DriftAcknowledged,
    GuardrailsSet,
    ObjectiveAdded,
    ObjectiveRetired,
    ObjectiveRevised,
    StrategyDefined,
)
from truenorth.strategy.domain import (
    Attribution,
    InvariantViolated,
    ObjectiveAlreadyExists,
    ObjectiveNotFound,
    ObjectiveRetiredError,
    PeriodNotFound,
    Strategy,
    StrategyAlreadyDefined,
    StrategyNotFound,
)

NEW_OBJECTIVE = {
    "objective_id": "mqls-q4",
    "name": "MQLs",
    "kpi": "mqls",
    "target": 500,
    "start": OCT_1,
    "deadline": JAN_1,
}


def paths(error: InvariantViolated) -> list[str]:
    return [e.path for e in error.errors]


def run(strategy: Strategy, events: list) -> Strategy:
    """Apply a command's events as the service would after appending them."""
    for event in stored(events):
        strategy.apply(event)
    return strategy


def test_the_aggregate_is_rebuilt_from_its_events_and_counts_them_as_its_version() -> None:
    strategy = applied_strategy()
    assert strategy.defined
    assert strategy.version == 4
    assert strategy.header is not None and strategy.header.name == "Acme"
    assert set(strategy.objectives) == {"leads-q4", "signups-q4"}
    assert set(strategy.periods) == {"2026-q4"}


def test_rebuilding_from_no_events_needs_the_strategy_id() -> None:
    empty = Strategy.from_events([], strategy_id="acme")
    assert (empty.defined, empty.version) == (False, 0)
    with pytest.raises(ValueError):
        Strategy.from_events([])


def test_commands_return_new_events_without_applying_them() -> None:
    strategy = applied_strategy()
    events = strategy.add_objective(NEW_OBJECTIVE, by=MARIA)
    assert [type(e) for e in events] == [ObjectiveAdded]
    assert "mqls-q4" not in strategy.objectives
    assert strategy.version == 4


def test_every_change_event_carries_actor_reason_and_the_drift_it_answers() -> None:
    strategy = applied_strategy()
    by = Attribution(actor="ops-lead", reason="pace is off", in_response_to="drift-42")
    (event,) = strategy.revise_objective("leads-q4", {"target": 1200}, by=by)
    assert event.actor == "ops-lead"
    assert (event.workspace, event.aggregate_id) == ("default", "acme")
    assert event.data.reason == "pace is off"
    assert event.data.in_response_to == "drift-42"


def test_defining_a_strategy_twice_is_refused() -> None:
    with pytest.raises(StrategyAlreadyDefined):
        applied_strategy().define_strategy({"name": "Again"}, by=MARIA)


def test_commands_on_an_undefined_strategy_are_refused() -> None:
    with pytest.raises(StrategyNotFound):
        Strategy.new("ghost").add_objective(NEW_OBJECTIVE, by=MARIA)


def test_defining_a_new_strategy_gives_strategy_defined() -> None:
    (event,) = Strategy.new("acme").define_strategy({"name": "Acme"}, by=MARIA)
    assert isinstance(event, StrategyDefined)
    assert event.data.name == "Acme"


def test_an_objective_deadline_must_be_after_its_start() -> None:
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().add_objective({**NEW_OBJECTIVE, "deadline": OCT_1}, by=MARIA)
    assert paths(caught.value) == ["deadline"]


def test_an_objective_target_must_lie_in_its_direction() -> None:
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().revise_objective("leads-q4", {"direction": "decrease"}, by=MARIA)
    assert paths(caught.value) == ["target"]
    assert "above baseline 0, but direction is 'decrease'" in caught.value.errors[0].message


def test_a_revision_reports_shape_errors_with_their_field_paths() -> None:
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().revise_objective(
            "leads-q4", {"kpi": "Not Snake", "colour": "red"}, by=MARIA
        )
    assert sorted(paths(caught.value)) == ["colour", "kpi"]


def test_objective_ids_are_unique() -> None:
    strategy = applied_strategy()
    with pytest.raises(ObjectiveAlreadyExists):
        strategy.add_objective({**NEW_OBJECTIVE, "objective_id": "leads-q4"}, by=MARIA)


def test_an_objective_id_cannot_change_in_a_revision() -> None:
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().revise_objective("leads-q4", {"objective_id": "other"}, by=MARIA)
    assert paths(caught.value) == ["objective_id"]


def test_revising_an_unknown_objective_is_not_found() -> None:
    with pytest.raises(ObjectiveNotFound):
        applied_strategy().revise_objective("nope", {"target": 5}, by=MARIA)


def test_a_retired_objective_cannot_be_revised() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.retire_objective("signups-q4", by=MARIA))
    with pytest.raises(ObjectiveRetiredError, match="a retired objective cannot be revised"):
        strategy.revise_objective("signups-q4", {"target": 400}, by=MARIA)


def test_a_retired_objective_cannot_be_retired_again_nor_its_id_reused() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.retire_objective("signups-q4", by=MARIA))
    with pytest.raises(ObjectiveRetiredError):
        strategy.retire_objective("signups-q4", by=MARIA)
    with pytest.raises(ObjectiveRetiredError):
        strategy.add_objective({**NEW_OBJECTIVE, "objective_id": "signups-q4"}, by=MARIA)
    with pytest.raises(ObjectiveRetiredError):
        strategy.set_guardrails({"idle_days": 3}, objective_id="signups-q4", by=MARIA)


def test_retired_objectives_stay_in_the_state_marked_retired() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.retire_objective("signups-q4", by=MARIA))
    assert strategy.objectives["signups-q4"].retired
    assert [o.objective_id for o in strategy.active_objectives()] == ["leads-q4"]


def test_a_revision_carries_the_whole_objective_after_and_the_changed_fields() -> None:
    strategy = applied_strategy()
    (event,) = strategy.revise_objective("leads-q4", {"target": 1200, "owner": "sam"}, by=MARIA)
    assert isinstance(event, ObjectiveRevised)
    assert event.data.objective.target == 1200
    assert event.data.objective.kpi == "leads"
    assert event.data.changed_fields == ("target", "owner")


def test_a_revision_that_changes_nothing_appends_nothing() -> None:
    assert applied_strategy().revise_objective("leads-q4", {"target": 1000}, by=MARIA) == []


def test_objective_history_records_who_changed_what_when_and_why() -> None:
    strategy = applied_strategy()
    day = datetime(2026, 10, 20, tzinfo=UTC)
    run(
        strategy,
        strategy.revise_objective(
            "leads-q4",
            {"target": 1200},
            by=Attribution("sam", "pipeline is strong", occurred_at=day),
        ),
    )
    run(
        strategy,
        strategy.revise_objective(
            "leads-q4",
            {"target": 900, "phasing": {"2026-10": 1, "2026-11": 2, "2026-12": 2}},
            by=Attribution("maria", "budget cut", in_response_to="drift-7"),
        ),
    )
    run(strategy, strategy.set_guardrails({"idle_days": 3}, objective_id="leads-q4", by=MARIA))
    run(strategy, strategy.retire_objective("leads-q4", by=Attribution("cmo", "merged")))

    history = strategy.history("leads-q4")
    assert [h.event_type for h in history] == [
        "ObjectiveAdded",
        "ObjectiveRevised",
        "ObjectiveRevised",
        "GuardrailsSet",
        "ObjectiveRetired",
    ]
    assert [h.actor for h in history] == ["maria", "sam", "maria", "maria", "cmo"]
    second = history[1]
    assert (second.occurred_at, second.reason) == (day, "pipeline is strong")
    assert [c.render() for c in second.changes] == ["target 1000 → 1200"]
    third = history[2]
    assert third.in_response_to == "drift-7"
    assert [c.render() for c in third.changes] == ["target 1200 → 900", "phasing.2026-11 1 → 2"]
    assert [c.render() for c in history[3].changes] == ["guardrails.idle_days (unset) → 3"]
    assert history[4].changes[0].new == "retired"
    assert [h.version for h in history] == [3, 5, 6, 7, 8]
    assert history[2].objective.target == 900


def test_a_budget_plan_mix_must_sum_to_100_percent() -> None:
    period = {
        "period_id": "2027-q1",
        "start": JAN_1,
        "end": datetime(2027, 4, 1, tzinfo=UTC),
        "budget": 5,
        "channel_mix": {"search": 50, "linkedin": 40},
    }
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().plan_budget(period, by=MARIA)
    assert paths(caught.value) == ["channel_mix"]


def test_a_budget_plan_may_only_name_allowed_channels() -> None:
    q4 = applied_strategy().periods["2026-q4"]
    reallocated = q4.model_dump() | {"channel_mix": {"search": 50, "tiktok": 50}}
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().plan_budget(reallocated, by=MARIA)
    assert paths(caught.value) == ["channel_mix.tiktok"]


def test_budget_periods_must_not_overlap() -> None:
    overlapping = PeriodPlan(
        period_id="2027-q1",
        start=datetime(2026, 12, 1, tzinfo=UTC),
        end=datetime(2027, 4, 1, tzinfo=UTC),
        budget=5,
        channel_mix={"search": 100},
    )
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().plan_budget(overlapping, by=MARIA)
    assert paths(caught.value) == ["start"]
    assert "overlaps period '2026-q4'" in caught.value.errors[0].message


def test_reallocating_a_period_replaces_its_plan() -> None:
    strategy = applied_strategy()
    q4 = strategy.periods["2026-q4"]
    events = strategy.plan_budget(
        q4.model_dump() | {"budget": 120000, "channel_mix": {"search": 50, "email": 50}}, by=MARIA
    )
    assert [type(e) for e in events] == [BudgetPlanned]
    run(strategy, events)
    assert strategy.periods["2026-q4"].channel_mix == {"search": 50, "email": 50}


def test_removing_a_period_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(PeriodNotFound):
        applied_strategy().remove_period("1999-q1", by=MARIA)


def test_removing_an_allowed_channel_still_planned_is_refused() -> None:
    with pytest.raises(InvariantViolated) as caught:
        applied_strategy().revise_header({"allowed_channels": ["search"]}, by=MARIA)
    assert paths(caught.value) == ["allowed_channels"]
    assert "still plans budget for channel 'linkedin'" in caught.value.errors[0].message


def test_strategy_guardrails_override_the_defaults_and_objective_ones_override_both() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.set_guardrails(Guardrails(idle_days=5, stale_hours=12), by=MARIA))
    run(strategy, strategy.set_guardrails({"idle_days": 2}, objective_id="leads-q4", by=MARIA))
    assert strategy.effective_guardrails().idle_days == 5
    assert strategy.effective_guardrails().on_track_pace == 0.95
    assert strategy.effective_guardrails("leads-q4").idle_days == 2
    assert strategy.effective_guardrails("leads-q4").stale_hours == 12
    assert strategy.set_guardrails({"idle_days": 2}, objective_id="leads-q4", by=MARIA) == []


def test_acknowledging_a_drift_is_recorded_once_and_shows_in_the_objective_history() -> None:
    strategy = applied_strategy()
    events = strategy.acknowledge_drift(
        "drift-9", objective_id="leads-q4", note="new creative next week", by=MARIA
    )
    assert [type(e) for e in events] == [DriftAcknowledged]
    run(strategy, events)
    assert [a.note for a in strategy.acknowledgements["drift-9"]] == ["new creative next week"]
    assert strategy.history("leads-q4")[-1].in_response_to == "drift-9"
    same = strategy.acknowledge_drift(
        "drift-9", objective_id="leads-q4", note="new creative next week", by=MARIA
    )
    assert same == []


def test_a_revision_in_response_to_a_drift_links_the_drift_to_the_change() -> None:
    strategy = applied_strategy()
    drift = uuid.uuid4()
    by = Attribution("maria", "answering the drift", in_response_to=drift)
    run(strategy, strategy.revise_objective("leads-q4", {"target": 800}, by=by))
    (response,) = strategy.responses[str(drift)]
    assert (response.event_type, response.objective_id) == ("ObjectiveRevised", "leads-q4")


def test_events_for_another_strategy_are_refused() -> None:
    other = Strategy.new("other").define_strategy({"name": "Other"}, by=MARIA)
    with pytest.raises(ValueError):
        applied_strategy().apply(other[0])


def test_guardrails_set_for_the_strategy_is_a_guardrails_set_event() -> None:
    (event,) = applied_strategy().set_guardrails({"stale_hours": 6}, by=MARIA)
    assert isinstance(event, GuardrailsSet)
    assert event.data.objective_id is None


def test_retiring_gives_objective_retired() -> None:
    (event,) = applied_strategy().retire_objective("leads-q4", by=MARIA)
    assert isinstance(event, ObjectiveRetired)


def test_a_second_acknowledgement_is_kept_beside_the_first() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.acknowledge_drift("drift-9", note="seen", by=MARIA))
    sam = Attribution(actor="sam", reason="")
    run(strategy, strategy.acknowledge_drift("drift-9", note="pausing the campaign", by=sam))
    acks = strategy.acknowledgements["drift-9"]
    assert [(a.actor, a.note) for a in acks] == [("maria", "seen"), ("sam", "pausing the campaign")]
