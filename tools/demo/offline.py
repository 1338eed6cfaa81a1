"""Play a scenario through the pure domains, without services or a bus: the strategy
aggregate turns its actions into strategy events, campaign and metric actions become the
events those services would publish (duplicates dropped, changed values restated), and the
alignment projection and drift tracker fold them, evaluated on a fixed tick.

What the live demo should show, computed in a fraction of a second: the unit tests use it
to pin the drifts a seed produces.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from truenorth.alignment.domain.drift import DriftTransition
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.store.fold import fold_events
from truenorth.alignment.views import build_snapshot, drift_tick
from truenorth.contract.campaigns import (
    CampaignEnded,
    CampaignLaunched,
    CampaignLaunchedData,
    CampaignStateData,
)
from truenorth.contract.envelope import EnvelopeFields, set_clock
from truenorth.contract.metrics import (
    MetricObserved,
    MetricRestated,
    MetricRestatedData,
    Observation,
)
from truenorth.demo.scenario import Action, Scenario
from truenorth.store.db import migrate
from truenorth.strategy.domain import Attribution, Strategy, load_document, plan_changes

DEFAULT_TICK = timedelta(hours=3)


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime
    action: str
    """detected | updated | resolved"""
    kind: str
    drift_id: str
    severity: str
    explanation: str


@dataclass
class OfflineResult:
    transitions: list[Transition] = field(default_factory=list)
    snapshot: Snapshot | None = None
    """At the scenario's finish."""
    duplicates: int = 0
    restatements: int = 0
    engine: Engine | None = None
    """The in-memory projection the replay folded into (for reading it as of any moment)."""

    def opened(self, drift_id: str) -> list[datetime]:
        return [t.at for t in self.transitions if t.drift_id == drift_id and t.action == "detected"]

    def resolved(self, drift_id: str) -> list[datetime]:
        return [t.at for t in self.transitions if t.drift_id == drift_id and t.action == "resolved"]

    def is_open(self, drift_id: str) -> bool:
        state = None
        for t in self.transitions:
            if t.drift_id == drift_id and t.action in ("detected", "resolved"):
                state = t.action
        return state == "detected"

    def kinds_opened(self) -> set[str]:
        return {t.kind for t in self.transitions if t.action == "detected"}


class _Folder:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.engine = create_engine(
            "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
        )
        migrate(self.engine)
        self.strategy = Strategy.new(scenario.strategy_id, scenario.workspace)
        self.ledger: dict[str, float] = {}
        self.command_ids: set[str] = set()
        self.result = OfflineResult()

    def envelope(self, at: datetime, aggregate_id: str, event_id: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "workspace": self.scenario.workspace,
            "aggregate_id": aggregate_id,
            "occurred_at": at,
            "recorded_at": at,
            "source": "demo",
            "actor": "demo",
        }
        if event_id is not None:
            fields["event_id"] = uuid.UUID(event_id)
        return fields

    def apply(self, action: Action) -> None:
        with self.engine.begin() as connection:
            fold_events(connection, "demo", self.events(action))

    def events(self, action: Action) -> list[EnvelopeFields]:
        at, body = action.at, action.body
        by = Attribution(actor=action.actor, occurred_at=at)
        if action.kind == "apply_strategy":
            document = load_document(body)
            plan = plan_changes(
                document, None, action.actor, occurred_at=at, workspace=self.scenario.workspace
            )
            return self.strategy_events(list(plan.events))
        if action.kind == "revise_objective":
            note = Attribution(
                actor=action.actor,
                reason=body["reason"],
                in_response_to=body["in_response_to"],
                occurred_at=at,
            )
            changes = {k: v for k, v in body.items() if k not in ("reason", "in_response_to")}
            return self.strategy_events(
                self.strategy.revise_objective(action.subject, changes, by=note)
            )
        if action.kind == "acknowledge_drift":
            return self.strategy_events(
                self.strategy.acknowledge_drift(action.subject, note=body["note"], by=by)
            )
        if action.kind == "launch_campaign":
            if body["event_id"] in self.command_ids:
                self.result.duplicates += 1
                return []
            self.command_ids.add(body["event_id"])
            launched = CampaignLaunchedData(
                **{k: body[k] for k in CampaignLaunchedData.model_fields if k in body},
                untethered=not body["objective_ids"],
            )
            envelope = self.envelope(at, action.subject, body["event_id"])
            return [CampaignLaunched(**envelope, data=launched)]
        if action.kind == "end_campaign":
            ended = CampaignStateData(campaign_id=action.subject, reason=body["reason"])
            envelope = self.envelope(at, action.subject, body["event_id"])
            return [CampaignEnded(**envelope, data=ended)]
        if action.kind == "observe":
            return self.observations(at, body)
        return []

    def strategy_events(self, events: list[Any]) -> list[EnvelopeFields]:
        self.strategy = self.strategy.applied(events)
        return events

    def observations(self, at: datetime, rows: list[dict[str, Any]]) -> list[EnvelopeFields]:
        events: list[EnvelopeFields] = []
        for row in rows:
            observation = Observation.model_validate(row)
            previous = self.ledger.get(observation.observation_id)
            envelope = self.envelope(at, observation.campaign_id, None)
            if previous is None:
                events.append(MetricObserved(**envelope, data=observation))
            elif previous == observation.value:
                self.result.duplicates += 1
                continue
            else:
                self.result.restatements += 1
                data = MetricRestatedData(**observation.model_dump(), previous_value=previous)
                events.append(MetricRestated(**envelope, data=data))
            self.ledger[observation.observation_id] = observation.value
        return events

    def tick(self, now: datetime) -> None:
        committed: list[DriftTransition] = []
        drift_tick(self.engine, now, committed=committed.extend)
        for transition in committed:
            data = transition.data
            self.result.transitions.append(
                Transition(
                    now,
                    transition.action,
                    data.kind,
                    data.drift_id,
                    data.severity,
                    data.explanation,
                )
            )


def replay_offline(scenario: Scenario, tick: timedelta = DEFAULT_TICK) -> OfflineResult:
    """Fold every action in time order, evaluating drift every `tick` of simulated time."""
    folder = _Folder(scenario)
    actions = list(scenario.actions)
    now = scenario.first_action
    index = 0
    clock_now = [now]
    set_clock(lambda: clock_now[0])
    try:
        while now <= scenario.finish:
            clock_now[0] = now
            while index < len(actions) and actions[index].at <= now:
                folder.apply(actions[index])
                index += 1
            folder.tick(now)
            now += tick
        folder.result.snapshot = build_snapshot(folder.engine, scenario.finish)
        folder.result.engine = folder.engine
    finally:
        set_clock(None)
    return folder.result
