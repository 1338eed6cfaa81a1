from __future__ import annotations

import pytest

from tests.unit.strategy.builders import MARIA, applied_strategy, stored
from truenorth.contract.registry import decode, encode
from truenorth.contract.strategy import ObjectiveCheckedIn
from truenorth.strategy.domain import (
    Attribution,
    InvariantViolated,
    ObjectiveNotFound,
    Strategy,
    StrategyNotFound,
)


def paths(error: pytest.ExceptionInfo[InvariantViolated]) -> list[str]:
    return [e.path for e in error.value.errors]


def run(strategy: Strategy, events: list) -> Strategy:
    for event in stored(events):
        strategy.apply(event)
    return strategy


def test_a_check_in_is_one_event_carrying_confidence_narrative_and_the_owner() -> None:
    strategy = applied_strategy()
    events = strategy.check_in(
        "leads-q4", confidence="medium", narrative="Webinar slipped a week", by=MARIA
    )
    assert [type(e) for e in events] == [ObjectiveCheckedIn]
    data = events[0].data
    assert (data.objective_id, data.confidence, data.narrative) == (
        "leads-q4",
        "medium",
        "Webinar slipped a week",
    )
    assert data.corrected_value is None and data.source is None
    assert events[0].actor == MARIA.actor


def test_check_ins_accumulate_on_the_objective_oldest_first() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.check_in("leads-q4", confidence="low", narrative="a", by=MARIA))
    run(
        strategy,
        strategy.check_in(
            "leads-q4",
            confidence="high",
            narrative="CRM is ahead of the ad platforms",
            corrected_value=450,
            source="Salesforce",
            by=MARIA,
        ),
    )
    checkins = strategy.objectives["leads-q4"].checkins
    assert [c.confidence for c in checkins] == ["low", "high"]
    assert (checkins[1].corrected_value, checkins[1].source) == (450, "Salesforce")
    assert strategy.objectives["signups-q4"].checkins == []


def test_a_check_in_on_an_unknown_objective_is_not_found() -> None:
    with pytest.raises(ObjectiveNotFound):
        applied_strategy().check_in("nope", confidence="low", narrative="x", by=MARIA)


def test_a_retired_objective_takes_no_check_ins() -> None:
    strategy = applied_strategy()
    run(strategy, strategy.retire_objective("leads-q4", by=MARIA))
    with pytest.raises(ObjectiveNotFound, match="retired"):
        strategy.check_in("leads-q4", confidence="low", narrative="x", by=MARIA)


def test_an_undefined_strategy_takes_no_check_ins() -> None:
    with pytest.raises(StrategyNotFound):
        Strategy.new("acme").check_in("leads-q4", confidence="low", narrative="x", by=MARIA)


def test_confidence_must_be_low_medium_or_high() -> None:
    with pytest.raises(InvariantViolated) as error:
        applied_strategy().check_in("leads-q4", confidence="certain", narrative="x", by=MARIA)
    assert paths(error) == ["confidence"]


@pytest.mark.parametrize("narrative", ["", "   \n", "x" * 4001])
def test_the_narrative_is_one_to_4000_characters_of_text(narrative: str) -> None:
    with pytest.raises(InvariantViolated) as error:
        applied_strategy().check_in("leads-q4", confidence="low", narrative=narrative, by=MARIA)
    assert paths(error) == ["narrative"]


@pytest.mark.parametrize("source", [None, "", "  "])
def test_a_corrected_value_needs_its_source(source: str | None) -> None:
    with pytest.raises(InvariantViolated) as error:
        applied_strategy().check_in(
            "leads-q4",
            confidence="low",
            narrative="x",
            corrected_value=410,
            source=source,
            by=MARIA,
        )
    assert paths(error) == ["source"]


def test_every_problem_of_a_check_in_is_named_at_once() -> None:
    with pytest.raises(InvariantViolated) as error:
        applied_strategy().check_in(
            "leads-q4", confidence="sure", narrative=" ", corrected_value=1, by=MARIA
        )
    assert sorted(paths(error)) == ["confidence", "narrative", "source"]


def test_a_source_without_a_corrected_value_is_kept_as_context() -> None:
    events = applied_strategy().check_in(
        "leads-q4", confidence="high", narrative="x", source="weekly sync", by=MARIA
    )
    assert events[0].data.source == "weekly sync"


def test_the_check_in_event_survives_the_log_round_trip() -> None:
    by = Attribution(actor="maria")
    [event] = applied_strategy().check_in(
        "leads-q4", confidence="high", narrative="ok", corrected_value=3.5, source="CRM", by=by
    )
    assert decode(encode(event)) == event
