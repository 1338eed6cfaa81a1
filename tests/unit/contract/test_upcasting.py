"""Events stored before a shape change still decode, through pure upcasters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from tests.samples import OBJECTIVE
from truenorth.contract.alignment import DriftData, DriftDetected, upcast_drift_v1
from truenorth.contract.registry import UpcasterRegistry, decode, decode_dict, encode
from truenorth.contract.strategy import ObjectiveAdded, ObjectiveSetData, upcast_objective_v1


def v1_drift(**data: Any) -> dict[str, Any]:
    event = DriftDetected(
        aggregate_id="d-1",
        data=DriftData(
            drift_id="d-1", kind="budget_overrun", severity="warning", explanation="x", **data
        ),
    ).model_dump(mode="json")
    event["schema_version"] = 1
    del event["data"]["incident_id"], event["data"]["cause"]
    return event


def test_an_old_drift_is_its_own_incident() -> None:
    event = decode_dict(v1_drift(campaign_ids=("search-brand",)))
    assert event.schema_version == 2
    assert event.data.incident_id == "d-1"  # type: ignore[union-attr]
    assert event.data.cause == {"campaign": "search-brand"}  # type: ignore[union-attr]


def test_an_old_channel_drift_is_caused_by_its_channel() -> None:
    event = decode_dict(v1_drift(channel="search", campaign_ids=("a", "b")))
    assert event.data.cause == {"channel": "search"}  # type: ignore[union-attr]


def test_the_drift_upcaster_is_pure() -> None:
    raw = v1_drift(objective_id="leads")
    before = repr(raw)
    upcast_drift_v1(raw)
    assert repr(raw) == before


def test_a_new_drift_without_an_incident_is_its_own_incident() -> None:
    data = DriftData(drift_id="d-9", kind="stale_data", severity="info", explanation="x")
    assert data.incident_id is None and data.incident == "d-9"


def test_an_old_objective_event_reads_as_a_non_ratio_kpi() -> None:
    raw = ObjectiveAdded(
        aggregate_id="acme", data=ObjectiveSetData(objective=OBJECTIVE)
    ).model_dump(mode="json")
    raw["schema_version"] = 1
    for name in ("numerator", "denominator", "min_value", "max_value"):
        del raw["data"]["objective"][name]
    event = decode_dict(raw)
    assert event.schema_version == 2
    assert event.data.objective.numerator is None  # type: ignore[union-attr]
    assert event.data.objective == OBJECTIVE  # type: ignore[union-attr]


def test_an_old_guardrails_event_decodes_with_the_new_fields_unset() -> None:
    raw = {
        "type": "GuardrailsSet",
        "schema_version": 1,
        "aggregate_id": "acme",
        "event_id": "0195a3c0-7c1e-7000-8000-000000000001",
        "occurred_at": "2026-10-01T00:00:00Z",
        "recorded_at": "2026-10-01T00:00:00Z",
        "data": {"guardrails": {"idle_days": 5}},
    }
    event = decode_dict(raw)
    assert event.data.guardrails.warmup_window_share is None  # type: ignore[union-attr]


def test_bytes_that_are_not_json_are_reported_as_invalid_json() -> None:
    with pytest.raises(ValidationError, match=r"(?i)json"):
        decode(b'{"type": "ObjectiveAdded", "workspace": "poison", oops')


def _old_objective_payload(**envelope: Any) -> dict[str, Any]:
    raw = ObjectiveAdded(
        aggregate_id="acme", data=ObjectiveSetData(objective=OBJECTIVE)
    ).model_dump(mode="json")
    for name in ("numerator", "denominator", "min_value", "max_value"):
        del raw["data"]["objective"][name]
    return raw | envelope


def test_old_bytes_are_upcast_by_decode_as_by_decode_dict() -> None:
    raw = _old_objective_payload(schema_version=1)
    assert decode(json.dumps(raw).encode()) == decode_dict(raw)


def test_bytes_that_name_no_schema_version_are_version_1() -> None:
    raw = _old_objective_payload()
    del raw["schema_version"]
    # the new shape would validate too; without a version they are read as the first shape
    seen: list[int] = []
    registry = UpcasterRegistry()

    @registry.register("ObjectiveAdded", 1)
    def remember(old: dict[str, Any]) -> dict[str, Any]:
        seen.append(old.get("schema_version", 1))
        return upcast_objective_v1(old)

    event = decode(json.dumps(raw).encode(), registry)
    assert (seen, event.schema_version) == ([1], 2)


def test_current_bytes_of_a_type_with_upcasters_are_not_upcast() -> None:
    event = ObjectiveAdded(aggregate_id="acme", data=ObjectiveSetData(objective=OBJECTIVE))
    registry = UpcasterRegistry()

    @registry.register("ObjectiveAdded", 1)
    def refuse(old: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a current payload was upcast")

    assert decode(encode(event), registry) == event


def test_an_invalid_payload_of_a_type_with_upcasters_names_the_field() -> None:
    raw = _old_objective_payload(schema_version=2, aggregate_id="not a slug")
    with pytest.raises(ValidationError, match="aggregate_id"):
        decode(json.dumps(raw).encode())
