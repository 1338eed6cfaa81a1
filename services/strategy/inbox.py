"""The feedback inbox: alignment's drift events folded per objective, so the strategy
service can show open drifts next to the objective they concern."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from faststream.nats import DeliverPolicy, JStream, NatsBroker
from faststream.nats.annotations import NatsMessage

from truenorth.bus.streams import ALIGNMENT
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.registry import decode


@dataclass
class InboxDrift:
    workspace: str
    data: DriftData
    opened_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.resolved_at is None


@dataclass
class Inbox:
    drifts: dict[tuple[str, str], InboxDrift] = field(default_factory=dict)

    def apply(self, event: object) -> None:
        if isinstance(event, DriftDetected | DriftUpdated):
            key = (event.workspace, event.data.drift_id)
            known = self.drifts.get(key)
            if known is None or (isinstance(event, DriftDetected) and known.resolved_at):
                self.drifts[key] = InboxDrift(
                    event.workspace, event.data, event.occurred_at, event.occurred_at
                )
            else:
                known.data = event.data
                known.updated_at = event.occurred_at
        elif isinstance(event, DriftResolved):
            key = (event.workspace, event.data.drift_id)
            known = self.drifts.get(key)
            if known is None:
                known = InboxDrift(
                    event.workspace, event.data, event.occurred_at, event.occurred_at
                )
                self.drifts[key] = known
            known.resolved_at = event.occurred_at

    def get(self, workspace: str, drift_id: str) -> InboxDrift | None:
        return self.drifts.get((workspace, drift_id))

    def for_strategy(self, workspace: str, strategy_id: str) -> list[InboxDrift]:
        return [
            d
            for (ws, _), d in sorted(self.drifts.items())
            if ws == workspace and d.data.strategy_id in (strategy_id, None)
        ]

    def open_for_objective(self, workspace: str, objective_id: str) -> list[InboxDrift]:
        return [
            d
            for (ws, _), d in sorted(self.drifts.items())
            if ws == workspace and d.open and d.data.objective_id == objective_id
        ]


def subscribe_inbox(broker: NatsBroker, inbox: Inbox) -> None:
    """Replays ALIGNMENT from the start at each boot (drifts are few), then follows it."""

    @broker.subscriber(
        f"tn.*.{ALIGNMENT.context}.>",
        stream=JStream(ALIGNMENT.name, declare=False),
        deliver_policy=DeliverPolicy.ALL,
        title="strategy feedback inbox",
        description="Alignment's DriftDetected / DriftUpdated / DriftResolved events.",
    )
    async def on_drift_event(msg: NatsMessage) -> None:
        try:
            event = decode(msg.body)
        except ValueError:
            return  # not ours to judge: alignment's own DLQ handles its poison
        inbox.apply(event)
