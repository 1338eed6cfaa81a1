"""The campaign aggregate: commands, state, the state machine and the objective directory.

Pure: no I/O. `decide` turns a command and the current state into the event to append (or a
domain error); `evolve` folds stored events back into state. Both HTTP and the NATS door go
through the same command models, so they validate the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, model_validator

from truenorth.contract.campaigns import (
    CampaignActivated,
    CampaignBudgetChanged,
    CampaignBudgetChangedData,
    CampaignEnded,
    CampaignLaunched,
    CampaignLaunchedData,
    CampaignPaused,
    CampaignResumed,
    CampaignStateData,
    CreativeData,
    CreativeLaunched,
    CreativeRetired,
    ExperimentConcluded,
    ExperimentConcludedData,
    ObjectiveLinkData,
    ObjectiveLinked,
    ObjectiveUnlinked,
)
from truenorth.contract.common import CampaignStatus, Money
from truenorth.contract.envelope import EnvelopeFields, Frozen, LongText, ShortText, Slug, utcnow
from truenorth.contract.strategy import ObjectiveAdded, ObjectiveRetired, ObjectiveRevised
from truenorth.contract.thresholds import future_limit
from truenorth.timeparse import DayEnd, DayStart, Instant

# --------------------------------------------------------------------------------------------
# Errors


class DomainError(Exception):
    """A command the aggregate refuses; `status` is the HTTP status it maps to."""

    status = 400
    reason = "invalid"

    def __init__(self, message: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class CampaignNotFound(DomainError):
    status = 404
    reason = "not_found"


class InvalidTransition(DomainError):
    """The campaign's current state does not allow the command (409)."""

    status = 409
    reason = "conflict"


class ReferenceRejected(DomainError):
    """The command names something that does not exist or is no longer usable (422)."""

    status = 422
    reason = "unknown_reference"


class DatedInFuture(DomainError):
    """`occurred_at` after now + the time tolerance: a command records what happened (422)."""

    status = 422
    reason = "future_date"


class ObjectivesRejected(ReferenceRejected):
    reason = "unknown_objective"

    def __init__(self, unknown: dict[str, str], retired: dict[str, str]) -> None:
        """`unknown`/`retired`: objective_id -> field path of the command that named it."""
        self.unknown = unknown
        self.retired = retired
        errors = [
            {"field": path, "message": f"unknown objective {oid!r}", "type": "unknown_objective"}
            for oid, path in unknown.items()
        ] + [
            {"field": path, "message": f"objective {oid!r} is retired", "type": "retired_objective"}
            for oid, path in retired.items()
        ]
        names = ", ".join(
            [*(f"{o} (unknown)" for o in unknown), *(f"{o} (retired)" for o in retired)]
        )
        super().__init__(f"objective(s) cannot be linked: {names}", errors)


# --------------------------------------------------------------------------------------------
# Commands


class CommandMeta(Frozen):
    """Optional fields every command may carry."""

    event_id: uuid.UUID | None = Field(
        default=None,
        description="Idempotency key: a retry with the same event_id is answered with the "
        "original outcome (`duplicate: true`) instead of a second event.",
    )
    occurred_at: Instant | None = Field(
        default=None, description="When it happened in the world; default: now."
    )
    actor: ShortText = "unknown"
    source: ShortText = "api"
    correlation_id: uuid.UUID | None = None


ObjectiveIds = Annotated[tuple[Slug, ...], Field(max_length=100)]


class LaunchCampaign(CommandMeta):
    campaign_id: Slug
    name: ShortText = ""
    objective_ids: ObjectiveIds = ()
    channel: Slug
    segment: Slug
    budget: Money
    start: DayStart
    end: DayEnd
    owner: ShortText = ""
    status: Literal["planned", "live"] = "live"

    @model_validator(mode="after")
    def _check(self) -> LaunchCampaign:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if len(set(self.objective_ids)) != len(self.objective_ids):
            raise ValueError("objective_ids must not repeat an objective")
        return self


class LinkObjective(CommandMeta):
    objective_id: Slug


class UnlinkObjective(CommandMeta):
    objective_id: Slug


class ChangeBudget(CommandMeta):
    budget: Money
    reason: LongText = ""


class ChangeState(CommandMeta):
    reason: LongText = ""


class ActivateCampaign(ChangeState):
    pass


class PauseCampaign(ChangeState):
    pass


class ResumeCampaign(ChangeState):
    pass


class EndCampaign(ChangeState):
    pass


class LaunchCreative(CommandMeta):
    creative_id: Slug
    variant: ShortText = ""
    message: LongText = ""


class RetireCreative(CommandMeta):
    creative_id: Slug


class ConcludeExperiment(CommandMeta):
    experiment_id: Slug
    winner_creative_id: Slug
    loser_creative_ids: Annotated[tuple[Slug, ...], Field(max_length=100)] = ()
    metric: ShortText = ""
    lift_pct: float | None = Field(default=None, ge=-1e6, le=1e6, allow_inf_nan=False)
    notes: LongText = ""

    @model_validator(mode="after")
    def _check(self) -> ConcludeExperiment:
        if self.winner_creative_id in self.loser_creative_ids:
            raise ValueError("the winner cannot also be a loser")
        return self


Command = (
    LaunchCampaign
    | LinkObjective
    | UnlinkObjective
    | ChangeBudget
    | ActivateCampaign
    | PauseCampaign
    | ResumeCampaign
    | EndCampaign
    | LaunchCreative
    | RetireCreative
    | ConcludeExperiment
)

COMMANDS: dict[str, type[CommandMeta]] = {
    "launch": LaunchCampaign,
    "link_objective": LinkObjective,
    "unlink_objective": UnlinkObjective,
    "change_budget": ChangeBudget,
    "activate": ActivateCampaign,
    "pause": PauseCampaign,
    "resume": ResumeCampaign,
    "end": EndCampaign,
    "launch_creative": LaunchCreative,
    "retire_creative": RetireCreative,
    "conclude_experiment": ConcludeExperiment,
}
"""Command names as the NATS door spells them (`{"command": "pause", "campaign_id": ...}`)."""


# --------------------------------------------------------------------------------------------
# Objective directory (fed by the STRATEGY stream)

ObjectiveStatus = Literal["active", "retired"]


class ObjectiveLookup(Protocol):
    def status(self, workspace: str, objective_id: str) -> ObjectiveStatus | None: ...


@dataclass
class ObjectiveDirectory:
    """(workspace, objective_id) -> active | retired, folded from strategy events."""

    objectives: dict[tuple[str, str], ObjectiveStatus] = field(default_factory=dict)
    position: int = 0
    """Last STRATEGY stream sequence applied."""

    def apply(self, event: object, sequence: int | None = None) -> None:
        if isinstance(event, ObjectiveAdded | ObjectiveRevised):
            key = (event.workspace, event.data.objective.objective_id)
            self.objectives[key] = "active"
        elif isinstance(event, ObjectiveRetired):
            self.objectives[(event.workspace, event.data.objective_id)] = "retired"
        if sequence is not None:
            self.position = max(self.position, sequence)

    def status(self, workspace: str, objective_id: str) -> ObjectiveStatus | None:
        return self.objectives.get((workspace, objective_id))


# --------------------------------------------------------------------------------------------
# State


@dataclass
class Creative:
    creative_id: str
    variant: str
    message: str
    status: Literal["active", "retired"] = "active"


@dataclass
class Experiment:
    experiment_id: str
    winner_creative_id: str
    loser_creative_ids: tuple[str, ...]
    metric: str
    lift_pct: float | None


@dataclass
class Campaign:
    workspace: str
    campaign_id: str
    name: str
    objective_ids: list[str]
    channel: str
    segment: str
    budget: float
    start: datetime
    end: datetime
    owner: str
    status: CampaignStatus
    untethered: bool
    launched_at: datetime
    updated_at: datetime
    creatives: dict[str, Creative] = field(default_factory=dict)
    experiments: dict[str, Experiment] = field(default_factory=dict)
    event_ids: set[uuid.UUID] = field(default_factory=set)
    version: int = 0
    """Stream sequence of the last event applied (the expected sequence for the next append)."""

    def tethered_to(self, lookup: ObjectiveLookup) -> list[str]:
        return [o for o in self.objective_ids if lookup.status(self.workspace, o) == "active"]

    def as_dict(self, lookup: ObjectiveLookup | None = None) -> dict[str, Any]:
        """JSON-ready view; with a lookup, `untethered` is re-evaluated against live objectives."""
        untethered = self.untethered if lookup is None else not self.tethered_to(lookup)
        return {
            "workspace": self.workspace,
            "campaign_id": self.campaign_id,
            "name": self.name,
            "status": self.status,
            "objective_ids": list(self.objective_ids),
            "untethered": untethered,
            "channel": self.channel,
            "segment": self.segment,
            "budget": self.budget,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "owner": self.owner,
            "creatives": [
                {
                    "creative_id": c.creative_id,
                    "variant": c.variant,
                    "message": c.message,
                    "status": c.status,
                }
                for c in self.creatives.values()
            ],
            "experiments": [
                {
                    "experiment_id": e.experiment_id,
                    "winner_creative_id": e.winner_creative_id,
                    "loser_creative_ids": list(e.loser_creative_ids),
                    "metric": e.metric,
                    "lift_pct": e.lift_pct,
                }
                for e in self.experiments.values()
            ],
            "launched_at": self.launched_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
        }


def evolve(state: Campaign | None, event: EnvelopeFields, sequence: int = 0) -> Campaign | None:
    """Fold one stored event into the state (unknown types are ignored)."""
    if isinstance(event, CampaignLaunched):
        d = event.data
        state = Campaign(
            workspace=event.workspace,
            campaign_id=d.campaign_id,
            name=d.name,
            objective_ids=list(d.objective_ids),
            channel=d.channel,
            segment=d.segment,
            budget=d.budget,
            start=d.start,
            end=d.end,
            owner=d.owner,
            status=d.status,
            untethered=d.untethered,
            launched_at=event.occurred_at,
            updated_at=event.occurred_at,
        )
    elif state is None:
        return None
    elif isinstance(event, ObjectiveLinked):
        if event.data.objective_id not in state.objective_ids:
            state.objective_ids.append(event.data.objective_id)
        state.untethered = event.data.untethered
    elif isinstance(event, ObjectiveUnlinked):
        if event.data.objective_id in state.objective_ids:
            state.objective_ids.remove(event.data.objective_id)
        state.untethered = event.data.untethered
    elif isinstance(event, CampaignBudgetChanged):
        state.budget = event.data.budget
    elif isinstance(event, CampaignActivated | CampaignResumed):
        state.status = "live"
    elif isinstance(event, CampaignPaused):
        state.status = "paused"
    elif isinstance(event, CampaignEnded):
        state.status = "ended"
    elif isinstance(event, CreativeLaunched):
        creative_data = event.data
        state.creatives[creative_data.creative_id] = Creative(
            creative_data.creative_id, creative_data.variant, creative_data.message
        )
    elif isinstance(event, CreativeRetired):
        creative = state.creatives.get(event.data.creative_id)
        if creative is not None:
            creative.status = "retired"
    elif isinstance(event, ExperimentConcluded):
        result = event.data
        state.experiments[result.experiment_id] = Experiment(
            result.experiment_id,
            result.winner_creative_id,
            tuple(result.loser_creative_ids),
            result.metric,
            result.lift_pct,
        )
    else:
        return state
    state.event_ids.add(event.event_id)
    state.updated_at = max(state.updated_at, event.occurred_at)
    if sequence:
        state.version = sequence
    return state


def rebuild(events: Iterable[tuple[EnvelopeFields, int]]) -> Campaign | None:
    state: Campaign | None = None
    for event, sequence in events:
        state = evolve(state, event, sequence)
    return state


# --------------------------------------------------------------------------------------------
# Decisions


def _check_objectives(workspace: str, named: dict[str, str], lookup: ObjectiveLookup) -> None:
    unknown: dict[str, str] = {}
    retired: dict[str, str] = {}
    for objective_id, path in named.items():
        status = lookup.status(workspace, objective_id)
        if status is None:
            unknown[objective_id] = path
        elif status == "retired":
            retired[objective_id] = path
    if unknown or retired:
        raise ObjectivesRejected(unknown, retired)


def _require_open(state: Campaign, action: str) -> None:
    if state.status == "ended":
        raise InvalidTransition(f"campaign {state.campaign_id!r} has ended: cannot {action}")


def _check_not_in_future(command: CommandMeta) -> None:
    if command.occurred_at is None:
        return
    limit = future_limit(utcnow())
    if command.occurred_at > limit:
        message = (
            f"occurred_at {command.occurred_at.isoformat()} is in the future (after "
            f"{limit.isoformat()}, now + the time tolerance): a command records what happened"
        )
        raise DatedInFuture(message, [{"field": "occurred_at", "message": message}])


def decide(
    workspace: str,
    campaign_id: str,
    state: Campaign | None,
    command: CommandMeta,
    lookup: ObjectiveLookup,
) -> tuple[type[EnvelopeFields], Frozen]:
    """The event type and data a command produces, or a DomainError."""
    _check_not_in_future(command)
    if isinstance(command, LaunchCampaign):
        if state is not None:
            raise InvalidTransition(f"campaign {campaign_id!r} already exists")
        _check_objectives(
            workspace,
            {o: f"objective_ids[{i}]" for i, o in enumerate(command.objective_ids)},
            lookup,
        )
        return CampaignLaunched, CampaignLaunchedData(
            campaign_id=campaign_id,
            name=command.name,
            objective_ids=command.objective_ids,
            channel=command.channel,
            segment=command.segment,
            budget=command.budget,
            start=command.start,
            end=command.end,
            owner=command.owner,
            status=command.status,
            untethered=not command.objective_ids,
        )
    if state is None:
        raise CampaignNotFound(f"campaign {campaign_id!r} not found")

    if isinstance(command, LinkObjective):
        _require_open(state, "link an objective")
        if command.objective_id in state.objective_ids:
            raise InvalidTransition(
                f"objective {command.objective_id!r} is already linked to {campaign_id!r}"
            )
        _check_objectives(workspace, {command.objective_id: "objective_id"}, lookup)
        return ObjectiveLinked, ObjectiveLinkData(
            campaign_id=campaign_id, objective_id=command.objective_id, untethered=False
        )
    if isinstance(command, UnlinkObjective):
        _require_open(state, "unlink an objective")
        if command.objective_id not in state.objective_ids:
            raise InvalidTransition(
                f"objective {command.objective_id!r} is not linked to {campaign_id!r}"
            )
        remaining = [o for o in state.objective_ids if o != command.objective_id]
        untethered = not any(lookup.status(workspace, o) == "active" for o in remaining)
        return ObjectiveUnlinked, ObjectiveLinkData(
            campaign_id=campaign_id, objective_id=command.objective_id, untethered=untethered
        )
    if isinstance(command, ChangeBudget):
        _require_open(state, "change its budget")
        if command.budget == state.budget:
            raise InvalidTransition(f"budget of {campaign_id!r} is already {state.budget:g}")
        return CampaignBudgetChanged, CampaignBudgetChangedData(
            campaign_id=campaign_id,
            budget=command.budget,
            previous_budget=state.budget,
            reason=command.reason,
        )
    if isinstance(command, ActivateCampaign):
        _require_open(state, "activate it")
        if state.status != "planned":
            raise InvalidTransition(
                f"only a planned campaign can be activated; {campaign_id!r} is {state.status}"
            )
        return CampaignActivated, CampaignStateData(campaign_id=campaign_id, reason=command.reason)
    if isinstance(command, PauseCampaign):
        _require_open(state, "pause it")
        if state.status != "live":
            raise InvalidTransition(
                f"only a live campaign can be paused; {campaign_id!r} is {state.status}"
            )
        return CampaignPaused, CampaignStateData(campaign_id=campaign_id, reason=command.reason)
    if isinstance(command, ResumeCampaign):
        _require_open(state, "resume it")
        if state.status != "paused":
            raise InvalidTransition(
                f"only a paused campaign can be resumed; {campaign_id!r} is {state.status}"
            )
        return CampaignResumed, CampaignStateData(campaign_id=campaign_id, reason=command.reason)
    if isinstance(command, EndCampaign):
        _require_open(state, "end it again")
        return CampaignEnded, CampaignStateData(campaign_id=campaign_id, reason=command.reason)
    if isinstance(command, LaunchCreative):
        _require_open(state, "launch a creative")
        existing = state.creatives.get(command.creative_id)
        if existing is not None:
            raise InvalidTransition(
                f"creative {command.creative_id!r} was already launched ({existing.status}); "
                "use a new creative_id"
            )
        return CreativeLaunched, CreativeData(
            campaign_id=campaign_id,
            creative_id=command.creative_id,
            variant=command.variant,
            message=command.message,
        )
    if isinstance(command, RetireCreative):
        _require_open(state, "retire a creative")
        creative = state.creatives.get(command.creative_id)
        if creative is None:
            raise ReferenceRejected(
                f"unknown creative {command.creative_id!r}",
                [
                    {
                        "field": "creative_id",
                        "message": f"unknown creative {command.creative_id!r}",
                        "type": "unknown_creative",
                    }
                ],
            )
        if creative.status == "retired":
            raise InvalidTransition(f"creative {command.creative_id!r} is already retired")
        return CreativeRetired, CreativeData(
            campaign_id=campaign_id,
            creative_id=creative.creative_id,
            variant=creative.variant,
            message=creative.message,
        )
    if isinstance(command, ConcludeExperiment):
        # Results often arrive after a campaign ended, so this is allowed on ended campaigns.
        if command.experiment_id in state.experiments:
            raise InvalidTransition(f"experiment {command.experiment_id!r} was already concluded")
        named = {command.winner_creative_id: "winner_creative_id"} | {
            c: f"loser_creative_ids[{i}]" for i, c in enumerate(command.loser_creative_ids)
        }
        missing = [
            {"field": path, "message": f"unknown creative {cid!r}", "type": "unknown_creative"}
            for cid, path in named.items()
            if cid not in state.creatives
        ]
        if missing:
            raise ReferenceRejected(
                "experiment names creatives this campaign never launched", missing
            )
        return ExperimentConcluded, ExperimentConcludedData(
            campaign_id=campaign_id,
            experiment_id=command.experiment_id,
            winner_creative_id=command.winner_creative_id,
            loser_creative_ids=command.loser_creative_ids,
            metric=command.metric,
            lift_pct=command.lift_pct,
            notes=command.notes,
        )
    raise TypeError(f"unhandled command {type(command).__name__}")  # pragma: no cover


def build_event(
    event_type: type[EnvelopeFields],
    data: Frozen,
    *,
    workspace: str,
    campaign_id: str,
    command: CommandMeta,
    event_id: uuid.UUID,
    now: datetime,
) -> EnvelopeFields:
    factory: Any = event_type  # every concrete event adds a typed `data`
    return factory(
        event_id=event_id,
        workspace=workspace,
        aggregate_id=campaign_id,
        occurred_at=command.occurred_at or now,
        recorded_at=now,
        source=command.source,
        actor=command.actor,
        correlation_id=command.correlation_id,
        data=data,
    )
