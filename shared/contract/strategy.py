"""Strategy context events (STRATEGY stream, aggregate = strategy_id)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from truenorth.contract.common import Figure, Guardrails, ObjectiveSpec, PeriodPlan
from truenorth.contract.envelope import EnvelopeFields, Frozen, LongText, ShortText, Slug


class ChangeNote(Frozen):
    """Why a change was made; `in_response_to` links it to the drift it answers."""

    reason: LongText = ""
    in_response_to: uuid.UUID | Slug | None = None


class StrategyDocumentFields(Frozen):
    name: ShortText
    owner: ShortText = ""
    mission: LongText = ""
    value_proposition: LongText = ""
    key_messages: tuple[ShortText, ...] = ()
    target_segments: tuple[Slug, ...] = ()
    allowed_channels: tuple[Slug, ...] = ()


class StrategyDefinedData(StrategyDocumentFields, ChangeNote):
    pass


class StrategyDefined(EnvelopeFields):
    type: Literal["StrategyDefined"] = "StrategyDefined"
    schema_version: Literal[1] = 1
    data: StrategyDefinedData


class StrategyRevisedData(StrategyDocumentFields, ChangeNote):
    """The whole document header as it stands after the revision."""


class StrategyRevised(EnvelopeFields):
    type: Literal["StrategyRevised"] = "StrategyRevised"
    schema_version: Literal[1] = 1
    data: StrategyRevisedData


class ObjectiveSetData(ChangeNote):
    objective: ObjectiveSpec


class ObjectiveAdded(EnvelopeFields):
    type: Literal["ObjectiveAdded"] = "ObjectiveAdded"
    schema_version: Literal[2] = 2
    data: ObjectiveSetData


class ObjectiveRevisedData(ObjectiveSetData):
    changed_fields: tuple[str, ...] = ()


class ObjectiveRevised(EnvelopeFields):
    """Carries the objective as it stands after the revision, plus which fields changed."""

    type: Literal["ObjectiveRevised"] = "ObjectiveRevised"
    schema_version: Literal[2] = 2
    data: ObjectiveRevisedData


class ObjectiveRetiredData(ChangeNote):
    objective_id: Slug


class ObjectiveRetired(EnvelopeFields):
    type: Literal["ObjectiveRetired"] = "ObjectiveRetired"
    schema_version: Literal[1] = 1
    data: ObjectiveRetiredData


class BudgetPlannedData(ChangeNote):
    period: PeriodPlan


class BudgetPlanned(EnvelopeFields):
    """A planning period's budget and channel mix, added or reallocated (latest wins)."""

    type: Literal["BudgetPlanned"] = "BudgetPlanned"
    schema_version: Literal[1] = 1
    data: BudgetPlannedData


class PeriodRemovedData(ChangeNote):
    period_id: Slug


class PeriodRemoved(EnvelopeFields):
    type: Literal["PeriodRemoved"] = "PeriodRemoved"
    schema_version: Literal[1] = 1
    data: PeriodRemovedData


class GuardrailsSetData(ChangeNote):
    guardrails: Guardrails
    objective_id: Slug | None = Field(
        default=None, description="None for the strategy's defaults, else an objective's override"
    )


class GuardrailsSet(EnvelopeFields):
    type: Literal["GuardrailsSet"] = "GuardrailsSet"
    schema_version: Literal[2] = 2
    data: GuardrailsSetData


class DriftAcknowledgedData(Frozen):
    drift_id: Slug = Field(
        description="The drift or the incident acknowledged (an acknowledgement of a drift "
        "applies to its whole incident)"
    )
    objective_id: Slug | None = None
    note: LongText = ""


class DriftAcknowledged(EnvelopeFields):
    type: Literal["DriftAcknowledged"] = "DriftAcknowledged"
    schema_version: Literal[1] = 1
    data: DriftAcknowledgedData


Confidence = Literal["low", "medium", "high"]
"""How sure an objective's owner is that it will be hit, in their own judgement."""
CONFIDENCE_LEVELS: tuple[str, ...] = Confidence.__args__  # type: ignore[attr-defined]
Narrative = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class ObjectiveCheckedInData(Frozen):
    """An owner's check-in: their confidence and story, optionally a figure they know better
    than the reported data (with where it comes from). It is a belief, not a fact: it never
    changes the objective's progress, it is shown beside it."""

    objective_id: Slug
    confidence: Confidence
    narrative: Narrative
    corrected_value: Figure | None = Field(
        default=None, description="The owner's own reading of the KPI, when the data lags"
    )
    source: ShortText | None = Field(
        default=None, description="Where the corrected value comes from (required with it)"
    )

    @model_validator(mode="after")
    def _a_corrected_value_names_its_source(self) -> ObjectiveCheckedInData:
        if self.corrected_value is not None and not (self.source or "").strip():
            raise ValueError("a corrected_value needs its source")
        return self


class ObjectiveCheckedIn(EnvelopeFields):
    type: Literal["ObjectiveCheckedIn"] = "ObjectiveCheckedIn"
    schema_version: Literal[1] = 1
    data: ObjectiveCheckedInData


def upcast_objective_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Pure: v1 ObjectiveAdded/ObjectiveRevised predate ratio KPIs and KPI bounds; their
    objective reads as v2 with none of them."""
    data = dict(raw.get("data") or {})
    objective = dict(data.get("objective") or {})
    for name in ("numerator", "denominator", "min_value", "max_value"):
        objective.setdefault(name, None)
    return {**raw, "data": {**data, "objective": objective}}


def upcast_guardrails_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Pure: v1 GuardrailsSet predates warm-up, hysteresis and time tolerance; unset there
    means the defaults apply, exactly what an absent v2 field means."""
    return dict(raw)


STRATEGY_EVENTS = (
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
)
