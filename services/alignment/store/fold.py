"""The one fold of the STRATEGY, CAMPAIGNS and METRICS streams into the projection's tables.

A batch is decoded, its already-processed events skipped, its effects gathered in plain dicts
(`BatchWriter`) and written in ONE transaction with the stream's checkpoint and the processed
ids; the caller acks after that commit (docs/design.md, "Guarantees"). The live projector and
the rebuild both call `fold_batch`, so they count exactly the same way.

Observations: keyed by (workspace, observation_id); a value recorded later replaces the one
counted (a restatement, or a resend with another value) and the latest counts once; a value
recorded before the one counted is a stale redelivery and changes nothing; the same value again
is a duplicate. Every value keeps its row, so `known_at` can ask what counted at any time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.writer import BatchWriter
from truenorth.contract.campaigns import (
    CAMPAIGN_EVENTS,
    CampaignActivated,
    CampaignBudgetChanged,
    CampaignEnded,
    CampaignLaunched,
    CampaignPaused,
    CampaignResumed,
    ObjectiveLinked,
    ObjectiveUnlinked,
)
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.metrics import METRIC_EVENTS, MetricObserved, MetricRestated
from truenorth.contract.registry import decode
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
)
from truenorth.store.db import already_processed_in, insert_processed, move_checkpoint


@dataclass
class Poison:
    """A message that cannot be decoded: dead-lettered, never folded."""

    sequence: int
    subject: str
    payload: bytes
    error: str
    attempts: int


@dataclass
class Folded:
    applied: int
    poison: list[Poison] = field(default_factory=list)
    workspaces: set[str] = field(default_factory=set)
    """Workspaces whose rows changed."""


Message = tuple[int, str, bytes, int]
"""(stream sequence, subject, payload, delivery attempts)."""


def fold_batch(
    connection: Connection,
    consumer: str,
    stream: str,
    expected_position: int,
    messages: list[Message],
) -> Folded:
    """Fold contiguous messages that follow `expected_position` inside the caller's
    transaction; raises `CheckpointConflict` when another writer moved the checkpoint."""
    with _cyclic_gc_paused():
        return _fold_batch(connection, consumer, stream, expected_position, messages)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """A batch holds its decoded events (~7 container objects each) to the end, and every
    full collection the cyclic garbage collector runs meanwhile walks all of them again: with
    it running, a 20 000-event batch cost 15-25 µs more CPU an event (`benchmarks/fold_cpu.py`).
    Reference counting frees the batch's objects as before; any cycle waits for the next run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fold_batch(
    connection: Connection,
    consumer: str,
    stream: str,
    expected_position: int,
    messages: list[Message],
) -> Folded:
    decoded: list[EnvelopeFields] = []
    poison: list[Poison] = []
    for sequence, subject, payload, attempts in messages:
        try:
            decoded.append(decode(payload))
        except ValueError as exc:
            poison.append(Poison(sequence, subject, payload, str(exc), attempts))
    fresh = fold_events(connection, consumer, decoded)
    if messages:
        move_checkpoint(connection, consumer, stream, expected_position, messages[-1][0])
    return Folded(len(fresh), poison, {event.workspace for event in fresh})


def fold_events(
    connection: Connection, consumer: str, events: Iterable[EnvelopeFields]
) -> list[EnvelopeFields]:
    """Apply the events not processed before (by event id) and record their ids; returns them."""
    listed = list(events)
    ids = [str(event.event_id) for event in listed]  # once: str(UUID) is ~1 µs
    seen = already_processed_in(connection, consumer, ids)
    writer = BatchWriter(connection)
    _prefetch(writer, listed)
    fresh, fresh_ids = [], []
    for event, event_id in zip(listed, ids, strict=True):
        if event_id in seen:
            continue
        seen.add(event_id)
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(writer, event)
        fresh.append(event)
        fresh_ids.append(event_id)
    writer.flush()
    insert_processed(connection, consumer, fresh_ids)
    return fresh


def _prefetch(writer: BatchWriter, events: list[EnvelopeFields]) -> None:
    """What the events will change, read in a few queries before folding them."""
    strategies: set[tuple[str, str]] = set()
    objectives: set[tuple[str, str]] = set()
    campaigns: set[tuple[str, str]] = set()
    observations: set[tuple[str, str]] = set()
    for event in events:
        workspace, data = event.workspace, getattr(event, "data", None)
        if isinstance(event, METRIC_EVENTS):
            observations.add((workspace, event.data.observation_id))
        elif isinstance(event, _CAMPAIGN_EVENTS):
            campaigns.add((workspace, event.data.campaign_id))
        elif isinstance(event, _STRATEGY_EVENTS):
            strategies.add((workspace, event.aggregate_id))
            objective_id = getattr(getattr(data, "objective", None) or data, "objective_id", None)
            if objective_id is not None:
                objectives.add((workspace, objective_id))
    writer.prefetch(strategies, objectives, campaigns, observations)


# -- the event handlers ----------------------------------------------------------------------


def _strategy_document(writer: BatchWriter, event: StrategyDefined | StrategyRevised) -> None:
    data = event.data
    writer.strategy(event).update(
        defined=True,
        name=data.name,
        owner=data.owner,
        target_segments=list(data.target_segments),
        allowed_channels=list(data.allowed_channels),
    )


def _objective_set(writer: BatchWriter, event: ObjectiveAdded | ObjectiveRevised) -> None:
    writer.strategy(event)
    spec = event.data.objective
    writer.objective(event, spec.objective_id).update(
        strategy_id=event.aggregate_id, spec=spec.model_dump(mode="json"), retired=False
    )


def _objective_retired(writer: BatchWriter, event: ObjectiveRetired) -> None:
    writer.strategy(event)
    row = writer.objective(event, event.data.objective_id)
    row["retired"] = True
    row["strategy_id"] = row["strategy_id"] or event.aggregate_id


def _budget_planned(writer: BatchWriter, event: BudgetPlanned) -> None:
    row = writer.strategy(event)
    period = event.data.period
    row["periods"] = {**row["periods"], period.period_id: period.model_dump(mode="json")}


def _period_removed(writer: BatchWriter, event: PeriodRemoved) -> None:
    row = writer.strategy(event)
    row["periods"] = {k: v for k, v in row["periods"].items() if k != event.data.period_id}


def _guardrails_set(writer: BatchWriter, event: GuardrailsSet) -> None:
    row = writer.strategy(event)
    guardrails = event.data.guardrails.model_dump(exclude_none=True)
    if event.data.objective_id is None:
        row["guardrails"] = guardrails
        return
    objective = writer.objective(event, event.data.objective_id)
    objective["override"] = guardrails


def _drift_acknowledged(writer: BatchWriter, event: DriftAcknowledged) -> None:
    writer.strategy(event)
    writer.acks.append(
        {
            "event_id": str(event.event_id),
            "workspace": event.workspace,
            "drift_id": event.data.drift_id,
            "at": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
            "actor": event.actor,
            "note": event.data.note,
            "objective_id": event.data.objective_id,
        }
    )


def _checked_in(writer: BatchWriter, event: ObjectiveCheckedIn) -> None:
    """A belief, not a change of the plan: no new strategy version, no change count."""
    data = event.data
    writer.checkins.append(
        {
            "event_id": str(event.event_id),
            "workspace": event.workspace,
            "strategy_id": event.aggregate_id,
            "objective_id": data.objective_id,
            "at": to_micros(event.occurred_at),
            "recorded_at": to_micros(event.recorded_at),
            "actor": event.actor,
            "confidence": data.confidence,
            "narrative": data.narrative,
            "corrected_value": data.corrected_value,
            "source": data.source,
        }
    )


def _campaign_launched(writer: BatchWriter, event: CampaignLaunched) -> None:
    data = event.data
    writer.campaign(event, data.campaign_id).update(
        name=data.name,
        owner=data.owner,
        channel=data.channel,
        segment=data.segment,
        budget=float(data.budget),
        start=to_micros(data.start),
        end=to_micros(data.end),
        status=data.status,
        went_live=to_micros(event.occurred_at) if data.status == "live" else None,
        stopped=None,
    )
    writer.links(event, data.campaign_id, data.objective_ids)


def _objective_linked(writer: BatchWriter, event: ObjectiveLinked) -> None:
    campaign_id = event.data.campaign_id
    held = writer.linked(event.workspace, campaign_id)
    writer.links(event, campaign_id, (*held, event.data.objective_id))


def _objective_unlinked(writer: BatchWriter, event: ObjectiveUnlinked) -> None:
    campaign_id = event.data.campaign_id
    held = writer.linked(event.workspace, campaign_id)
    writer.links(event, campaign_id, [o for o in held if o != event.data.objective_id])


def _budget_changed(writer: BatchWriter, event: CampaignBudgetChanged) -> None:
    writer.campaign(event, event.data.campaign_id)["budget"] = float(event.data.budget)


def _went_live(writer: BatchWriter, event: CampaignActivated | CampaignResumed) -> None:
    row = writer.campaign(event, event.data.campaign_id)
    if row["status"] != "live":
        row["went_live"] = to_micros(event.occurred_at)
        row["status"] = "live"


def _stopped(status: str) -> Callable[[BatchWriter, Any], None]:
    def handle(writer: BatchWriter, event: CampaignPaused | CampaignEnded) -> None:
        row = writer.campaign(event, event.data.campaign_id)
        if row["status"] == "live":
            row["stopped"] = to_micros(event.occurred_at)
        row["status"] = status

    return handle


_HANDLERS: dict[type, Callable[[BatchWriter, Any], None]] = {
    StrategyDefined: _strategy_document,
    StrategyRevised: _strategy_document,
    ObjectiveAdded: _objective_set,
    ObjectiveRevised: _objective_set,
    ObjectiveRetired: _objective_retired,
    BudgetPlanned: _budget_planned,
    PeriodRemoved: _period_removed,
    GuardrailsSet: _guardrails_set,
    DriftAcknowledged: _drift_acknowledged,
    ObjectiveCheckedIn: _checked_in,
    CampaignLaunched: _campaign_launched,
    ObjectiveLinked: _objective_linked,
    ObjectiveUnlinked: _objective_unlinked,
    CampaignBudgetChanged: _budget_changed,
    CampaignActivated: _went_live,
    CampaignResumed: _went_live,
    CampaignPaused: _stopped("paused"),
    CampaignEnded: _stopped("ended"),
    MetricObserved: lambda writer, event: writer.observations.observe(event),
    MetricRestated: lambda writer, event: writer.observations.observe(event),
}
_CAMPAIGN_EVENTS = tuple(e for e in CAMPAIGN_EVENTS if e in _HANDLERS)
"""The campaign events the fold applies (creatives and experiments are not folded here)."""
_STRATEGY_EVENTS = tuple(e for e in STRATEGY_EVENTS if e is not ObjectiveCheckedIn)
"""The strategy events that make a new version of their strategy (not check-ins)."""
