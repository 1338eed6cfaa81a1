"""Request bodies of the strategy API: strict (`extra="forbid"`), bounded, with the document's
date handling (YYYY-MM-DD or ISO 8601 with an offset)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from truenorth.contract.common import (
    Aggregation,
    Direction,
    Figure,
    Guardrails,
    Kpi,
    Money,
    MonthKey,
    Share,
)
from truenorth.contract.envelope import LongText, ShortText, Slug
from truenorth.contract.strategy import Confidence
from truenorth.strategy.domain import EndMoment, StartMoment

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Weight = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChangeNoteBody(Body):
    reason: LongText = ""
    in_response_to: uuid.UUID | Slug | None = Field(
        default=None, description="The drift this change answers"
    )


class ReasonBody(ChangeNoteBody):
    pass


class HeaderBody(ChangeNoteBody):
    name: Name
    owner: ShortText = ""
    mission: LongText = ""
    value_proposition: LongText = ""
    key_messages: list[ShortText] = Field(default_factory=list, max_length=100)
    target_segments: list[Slug] = Field(default_factory=list, max_length=100)
    allowed_channels: list[Slug] = Field(default_factory=list, max_length=100)


class ObjectiveFields(Body):
    name: Name
    kpi: Kpi
    aggregation: Aggregation = "sum"
    numerator: Kpi | None = None
    denominator: Kpi | None = None
    min_value: Figure | None = None
    max_value: Figure | None = None
    baseline: Figure = 0
    target: Figure
    direction: Direction = "increase"
    start: StartMoment
    deadline: EndMoment
    phasing: dict[MonthKey, Weight] | None = None
    cost_per_outcome: Money | None = None
    owner: ShortText = ""
    guardrails: Guardrails | None = None


class ObjectiveBody(ObjectiveFields, ChangeNoteBody):
    objective_id: Slug

    def to_spec(self) -> dict[str, Any]:
        return self.model_dump(exclude={"reason", "in_response_to"})


class ObjectivePatch(ChangeNoteBody):
    """Only the fields sent are changed."""

    name: Name | None = None
    kpi: Kpi | None = None
    aggregation: Aggregation | None = None
    numerator: Kpi | None = None
    denominator: Kpi | None = None
    min_value: Figure | None = None
    max_value: Figure | None = None
    baseline: Figure | None = None
    target: Figure | None = None
    direction: Direction | None = None
    start: StartMoment | None = None
    deadline: EndMoment | None = None
    phasing: dict[MonthKey, Weight] | None = None
    cost_per_outcome: Money | None = None
    owner: ShortText | None = None
    guardrails: Guardrails | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"reason", "in_response_to"})


class PeriodBody(ChangeNoteBody):
    start: StartMoment
    end: EndMoment
    budget: Money
    channel_mix: dict[Slug, Share] = Field(default_factory=dict)

    def to_plan(self, period_id: str) -> dict[str, Any]:
        values = self.model_dump(exclude={"reason", "in_response_to"})
        return {"period_id": period_id, **values}


class GuardrailsBody(Guardrails):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reason: LongText = ""
    in_response_to: uuid.UUID | Slug | None = None

    def guardrails(self) -> Guardrails:
        return Guardrails(**self.model_dump(exclude={"reason", "in_response_to"}))


class AcknowledgeBody(ChangeNoteBody):
    note: LongText = ""


class CheckInBody(Body):
    """An owner's check-in; a corrected_value needs its source (checked by the domain, so the
    422 names the field)."""

    confidence: Confidence
    narrative: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    corrected_value: Figure | None = None
    source: ShortText | None = None
