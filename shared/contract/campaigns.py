"""Campaign context events (CAMPAIGNS stream, aggregate = campaign_id)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from truenorth.contract.common import Money
from truenorth.contract.envelope import EnvelopeFields, Frozen, LongText, ShortText, Slug
from truenorth.timeparse import DayEnd, DayStart


class CampaignLaunchedData(Frozen):
    campaign_id: Slug
    name: ShortText = ""
    objective_ids: tuple[Slug, ...] = ()
    channel: Slug
    segment: Slug
    budget: Money
    start: DayStart
    end: DayEnd
    owner: ShortText = ""
    status: Literal["planned", "live"] = "live"
    untethered: bool = False
    """True when no linked objective was active at launch; alignment flags it."""

    @model_validator(mode="after")
    def _end_after_start(self) -> CampaignLaunchedData:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CampaignLaunched(EnvelopeFields):
    type: Literal["CampaignLaunched"] = "CampaignLaunched"
    schema_version: Literal[1] = 1
    data: CampaignLaunchedData


class ObjectiveLinkData(Frozen):
    campaign_id: Slug
    objective_id: Slug
    untethered: bool = False
    """The campaign's tether state after this change."""


class ObjectiveLinked(EnvelopeFields):
    type: Literal["ObjectiveLinked"] = "ObjectiveLinked"
    schema_version: Literal[1] = 1
    data: ObjectiveLinkData


class ObjectiveUnlinked(EnvelopeFields):
    type: Literal["ObjectiveUnlinked"] = "ObjectiveUnlinked"
    schema_version: Literal[1] = 1
    data: ObjectiveLinkData


class CampaignBudgetChangedData(Frozen):
    campaign_id: Slug
    budget: Money
    previous_budget: Money
    reason: LongText = ""


class CampaignBudgetChanged(EnvelopeFields):
    type: Literal["CampaignBudgetChanged"] = "CampaignBudgetChanged"
    schema_version: Literal[1] = 1
    data: CampaignBudgetChangedData


class CampaignStateData(Frozen):
    campaign_id: Slug
    reason: LongText = ""


class CampaignActivated(EnvelopeFields):
    """A planned campaign went live."""

    type: Literal["CampaignActivated"] = "CampaignActivated"
    schema_version: Literal[1] = 1
    data: CampaignStateData


class CampaignPaused(EnvelopeFields):
    type: Literal["CampaignPaused"] = "CampaignPaused"
    schema_version: Literal[1] = 1
    data: CampaignStateData


class CampaignResumed(EnvelopeFields):
    type: Literal["CampaignResumed"] = "CampaignResumed"
    schema_version: Literal[1] = 1
    data: CampaignStateData


class CampaignEnded(EnvelopeFields):
    type: Literal["CampaignEnded"] = "CampaignEnded"
    schema_version: Literal[1] = 1
    data: CampaignStateData


class CreativeData(Frozen):
    campaign_id: Slug
    creative_id: Slug
    variant: ShortText = ""
    message: LongText = ""


class CreativeLaunched(EnvelopeFields):
    type: Literal["CreativeLaunched"] = "CreativeLaunched"
    schema_version: Literal[1] = 1
    data: CreativeData


class CreativeRetired(EnvelopeFields):
    type: Literal["CreativeRetired"] = "CreativeRetired"
    schema_version: Literal[1] = 1
    data: CreativeData


class ExperimentConcludedData(Frozen):
    campaign_id: Slug
    experiment_id: Slug
    winner_creative_id: Slug
    loser_creative_ids: tuple[Slug, ...] = ()
    metric: ShortText = ""
    lift_pct: float | None = None
    notes: LongText = ""


class ExperimentConcluded(EnvelopeFields):
    type: Literal["ExperimentConcluded"] = "ExperimentConcluded"
    schema_version: Literal[1] = 1
    data: ExperimentConcludedData


CAMPAIGN_EVENTS = (
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
)
