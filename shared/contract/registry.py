"""The event union, its codec and the upcaster registry.

Stored events are never edited. When an event's shape changes, its model's `schema_version`
goes up and a pure function turning the old dict into the new one is registered here;
`decode` runs the chain before validation, so projections only ever see current shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeAlias, Union

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from truenorth.contract.alignment import (
    ALIGNMENT_EVENTS,
    DriftDetected,
    DriftResolved,
    DriftUpdated,
    upcast_drift_v1,
)
from truenorth.contract.campaigns import (
    CAMPAIGN_EVENTS,
    CampaignActivated,
    CampaignBudgetChanged,
    CampaignEnded,
    CampaignLaunched,
    CampaignPaused,
    CampaignResumed,
    CreativeLaunched,
    CreativeRetired,
    ExperimentConcluded,
    ObjectiveLinked,
    ObjectiveUnlinked,
)
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import METRIC_EVENTS, MetricObserved, MetricRestated
from truenorth.contract.strategy import (
    STRATEGY_EVENTS,
    BudgetPlanned,
    DriftAcknowledged,
    GuardrailsSet,
    ObjectiveAdded,
    ObjectiveCheckedIn,
    ObjectiveRetired,
    ObjectiveRevised,
    PeriodRemoved,
    StrategyDefined,
    StrategyRevised,
    upcast_guardrails_v1,
    upcast_objective_v1,
)

Event: TypeAlias = Annotated[
    Union[  # noqa: UP007 - a discriminated union reads best spelled out
        StrategyDefined,
        StrategyRevised,
        ObjectiveAdded,
        ObjectiveRevised,
        ObjectiveRetired,
        BudgetPlanned,
        PeriodRemoved,
        GuardrailsSet,
        DriftAcknowledged,
        ObjectiveCheckedIn,
        CampaignLaunched,
        ObjectiveLinked,
        ObjectiveUnlinked,
        CampaignBudgetChanged,
        CampaignActivated,
        CampaignPaused,
        CampaignResumed,
        CampaignEnded,
        CreativeLaunched,
        CreativeRetired,
        ExperimentConcluded,
        MetricObserved,
        MetricRestated,
        DriftDetected,
        DriftUpdated,
        DriftResolved,
    ],
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

CONTEXT_EVENTS: Mapping[str, tuple[type[EnvelopeFields], ...]] = {
    "strategy": STRATEGY_EVENTS,
    "campaigns": CAMPAIGN_EVENTS,
    "metrics": METRIC_EVENTS,
    "alignment": ALIGNMENT_EVENTS,
}
EVENT_TYPES: Mapping[str, type[EnvelopeFields]] = {
    cls.model_fields["type"].default: cls for events in CONTEXT_EVENTS.values() for cls in events
}
CONTEXT_OF_TYPE: Mapping[str, str] = {
    cls.model_fields["type"].default: context
    for context, events in CONTEXT_EVENTS.items()
    for cls in events
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventType(ValueError):
    pass


class UpcasterRegistry:
    """Pure functions keyed by (type, from_version); each returns the dict at from_version + 1."""

    def __init__(self) -> None:
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._types: set[str] = set()

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        def decorator(func: Upcaster) -> Upcaster:
            key = (event_type, from_version)
            if key in self._upcasters:
                raise ValueError(f"an upcaster for {event_type} v{from_version} already exists")
            self._upcasters[key] = func
            self._types.add(event_type)
            return func

        return decorator

    def handles(self, event_type: str) -> bool:
        return event_type in self._types  # per decoded event: a set, not a scan

    def upcast(self, raw: dict[str, Any]) -> dict[str, Any]:
        event_type = raw.get("type")
        version = raw.get("schema_version", 1)
        while isinstance(event_type, str) and (event_type, version) in self._upcasters:
            raw = self._upcasters[(event_type, version)](dict(raw))
            version += 1
            raw["schema_version"] = version
        return raw


UPCASTERS = UpcasterRegistry()
"""The project's upcasters: every (type, from_version) whose shape changed since."""

for _drift_type in ("DriftDetected", "DriftUpdated", "DriftResolved"):
    UPCASTERS.register(_drift_type, 1)(upcast_drift_v1)
for _objective_type in ("ObjectiveAdded", "ObjectiveRevised"):
    UPCASTERS.register(_objective_type, 1)(upcast_objective_v1)
UPCASTERS.register("GuardrailsSet", 1)(upcast_guardrails_v1)


def encode(event: EnvelopeFields) -> bytes:
    return event.model_dump_json().encode()


def decode(payload: bytes | str, registry: UpcasterRegistry = UPCASTERS) -> Event:
    """Bytes from the log to a current-shape event (upcasting first where needed).

    Validated straight from JSON first: parsing every payload with orjson to look at its type
    cost ~1.5 µs an event (`benchmarks/fold_cpu.py`). A payload that validates and names its
    `schema_version` is of the current shape; one of a type with upcasters that names none is
    version 1 and goes the long way."""
    try:
        event = EVENT_ADAPTER.validate_json(payload)
    except ValidationError:
        event = None  # an older shape, or garbage: the path below upcasts or raises
    if event is not None and (
        "schema_version" in event.model_fields_set or not registry.handles(event.type)
    ):
        return event
    if registry._upcasters:
        try:
            raw = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return EVENT_ADAPTER.validate_json(payload)  # pydantic's error names the JSON fault
        if isinstance(raw, dict) and registry.handles(str(raw.get("type"))):
            return EVENT_ADAPTER.validate_python(registry.upcast(raw))
    return EVENT_ADAPTER.validate_json(payload)


def decode_dict(raw: dict[str, Any], registry: UpcasterRegistry = UPCASTERS) -> Event:
    return EVENT_ADAPTER.validate_python(registry.upcast(raw))
