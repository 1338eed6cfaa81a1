"""The event contract: envelope rules, JSON round-trips, the union and upcasting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from tests.samples import OBJECTIVE, OBSERVATION, all_event_samples
from truenorth.contract.common import ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import deterministic_uuid7, new_event_id
from truenorth.contract.metrics import MetricObserved
from truenorth.contract.registry import (
    EVENT_TYPES,
    UpcasterRegistry,
    decode,
    decode_dict,
    encode,
)


def test_every_event_type_has_a_sample() -> None:
    assert {e.type for e in all_event_samples()} == set(EVENT_TYPES)  # type: ignore[attr-defined]


@pytest.mark.parametrize("event", all_event_samples(), ids=lambda e: e.type)
def test_every_event_round_trips_through_json(event: Any) -> None:
    assert decode(encode(event)) == event


def test_event_ids_are_uuid7() -> None:
    assert new_event_id().version == 7


def test_deterministic_ids_are_uuid7_and_stable() -> None:
    moment = datetime(2026, 10, 1, tzinfo=UTC)
    first = deterministic_uuid7(moment, "ws", "obs-1", 250.0)
    assert first.version == 7
    assert first == deterministic_uuid7(moment, "ws", "obs-1", 250.0)
    assert first != deterministic_uuid7(moment, "ws", "obs-1", 251.0)


def test_events_are_immutable() -> None:
    event = MetricObserved(aggregate_id="c-1", data=OBSERVATION)
    with pytest.raises(ValidationError):
        event.aggregate_id = "c-2"  # type: ignore[misc]


def test_envelope_forbids_unknown_fields() -> None:
    raw = MetricObserved(aggregate_id="c-1", data=OBSERVATION).model_dump(mode="json")
    raw["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        decode_dict(raw)


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        MetricObserved(aggregate_id="c-1", data=OBSERVATION, occurred_at=datetime(2026, 1, 1))


def test_aggregate_ids_cannot_break_subjects() -> None:
    with pytest.raises(ValidationError, match="aggregate_id"):
        MetricObserved(aggregate_id="c.1>", data=OBSERVATION)


def test_unknown_event_type_is_rejected() -> None:
    raw = MetricObserved(aggregate_id="c-1", data=OBSERVATION).model_dump(mode="json")
    raw["type"] = "MetricInvented"
    with pytest.raises(ValidationError, match="MetricInvented"):
        decode_dict(raw)


def test_objective_invariants() -> None:
    base = OBJECTIVE.model_dump()
    with pytest.raises(ValidationError, match="deadline must be after start"):
        ObjectiveSpec(**{**base, "deadline": base["start"]})
    with pytest.raises(ValidationError, match="target must differ from baseline"):
        ObjectiveSpec(**{**base, "target": 0})
    with pytest.raises(ValidationError, match="target below baseline"):
        ObjectiveSpec(**{**base, "baseline": 2000})
    with pytest.raises(ValidationError, match="target above baseline"):
        ObjectiveSpec(**{**base, "direction": "decrease"})


def test_channel_mix_must_sum_to_100() -> None:
    with pytest.raises(ValidationError, match="sum to 100"):
        PeriodPlan(
            period_id="q4",
            start=datetime(2026, 10, 1, tzinfo=UTC),
            end=datetime(2026, 12, 31, tzinfo=UTC),
            budget=1,
            channel_mix={"search": 50, "social": 40},
        )


def test_a_stored_v1_dict_is_upcast_before_validation() -> None:
    """A hypothetical v1 MetricObserved stored `amount` where today's shape has `value`;
    the upcaster turns the old dict into the current one without touching the log."""
    registry = UpcasterRegistry()

    @registry.register("MetricObserved", from_version=0)
    def amount_became_value(raw: dict[str, Any]) -> dict[str, Any]:
        data = dict(raw["data"])
        data["value"] = data.pop("amount")
        return {**raw, "data": data}

    stored = MetricObserved(aggregate_id="c-1", data=OBSERVATION).model_dump(mode="json")
    stored["schema_version"] = 0
    stored["data"]["amount"] = stored["data"].pop("value")
    event = decode_dict(stored, registry)
    assert isinstance(event, MetricObserved)
    assert event.data.value == OBSERVATION.value
    assert event.schema_version == 1
    assert decode(encode(event), registry) == event


def test_upcasters_are_registered_once_per_version() -> None:
    registry = UpcasterRegistry()
    registry.register("MetricObserved", 1)(lambda raw: raw)
    with pytest.raises(ValueError, match="already exists"):
        registry.register("MetricObserved", 1)(lambda raw: raw)


def test_upcasting_chains_versions() -> None:
    registry = UpcasterRegistry()
    registry.register("X", 1)(lambda raw: {**raw, "a": 1})
    registry.register("X", 2)(lambda raw: {**raw, "b": raw["a"] + 1})
    assert registry.upcast({"type": "X", "schema_version": 1}) == {
        "type": "X",
        "schema_version": 3,
        "a": 1,
        "b": 2,
    }


def test_uuid_fields_accept_strings() -> None:
    event = MetricObserved(aggregate_id="c-1", data=OBSERVATION, causation_id=str(uuid.uuid4()))  # type: ignore[arg-type]
    assert isinstance(event.causation_id, uuid.UUID)
