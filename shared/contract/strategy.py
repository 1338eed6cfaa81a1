"""Strategy context events (STRATEGY stream, aggregate = strategy_id)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from truenorth.contract.common import Guardrails, ObjectiveSpec, PeriodPlan
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
    schema_version: Literal[1] = 1
    data: ObjectiveSetData


class ObjectiveRevisedData(ObjectiveSetData):
    changed_fields: tuple[str, ...] = ()


class ObjectiveRevised(EnvelopeFields):
    """Carries the objective as it stands after the revision, plus which fields changed."""

    type: Literal["ObjectiveRevised"] = "ObjectiveRevised"
    schema_version: Literal[1] = 1
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
    schema_version: Literal[1] = 1
    data: GuardrailsSetData


class DriftAcknowledgedData(Frozen):
    drift_id: Slug
    objective_id: Slug | None = None
    note: LongText = ""


class DriftAcknowledged(EnvelopeFields):
    type: Literal["DriftAcknowledged"] = "DriftAcknowledged"
    schema_version: Literal[1] = 1
    data: DriftAcknowledgedData


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
)
