"""The feedback inbox: alignment's drifts and the strategy's answers to them, folded by the one
drift-lifecycle fold (`truenorth.drift_lifecycle`), so the strategy service can show open
incidents next to the objective they concern, and refuse to acknowledge or answer a drift
that does not exist."""

from __future__ import annotations

from dataclasses import dataclass, field

from faststream.nats import DeliverPolicy, JStream, NatsBroker
from faststream.nats.annotations import NatsMessage

from truenorth.bus.eventstore import EventStore
from truenorth.bus.streams import ALIGNMENT, STRATEGY, aggregate_subject
from truenorth.contract.registry import decode
from truenorth.drift_lifecycle import DriftLifecycle, DriftRecord, Incident


@dataclass
class Inbox:
    lifecycle: DriftLifecycle = field(default_factory=DriftLifecycle)

    def apply(self, event: object) -> None:
        """Any event, any order, duplicates included: the fold ignores what is not its own."""
        self.lifecycle.observe(event)

    def get(self, workspace: str, drift_id: str) -> DriftRecord | None:
        return self.lifecycle.drift(workspace, drift_id)

    def for_strategy(self, workspace: str, strategy_id: str) -> list[DriftRecord]:
        return [
            d for d in self.lifecycle.drifts(workspace) if d.data.strategy_id in (strategy_id, None)
        ]

    def incidents_for_strategy(self, workspace: str, strategy_id: str) -> list[Incident]:
        return [
            incident
            for incident in self.lifecycle.incidents(workspace)
            if any(f.data.strategy_id in (strategy_id, None) for f in incident.facets)
        ]

    def open_for_objective(self, workspace: str, objective_id: str) -> list[DriftRecord]:
        return [
            d
            for d in self.lifecycle.drifts(workspace)
            if d.open and d.data.objective_id == objective_id
        ]


async def drift_exists(store: EventStore, inbox: Inbox | None, workspace: str, target: str) -> bool:
    """Whether `target` names a drift or an incident of `workspace`. The inbox answers first;
    it may lag the log (at boot, or a drift published a moment ago), so a miss is checked
    against the ALIGNMENT stream itself: the drift's own subject, then the workspace's drifts
    folded (an incident id is no subject)."""
    if inbox is not None and inbox.lifecycle.knows(workspace, target):
        return True
    subject = aggregate_subject(workspace, ALIGNMENT.context, target)
    if await store.last_subject_sequence(ALIGNMENT.name, subject):
        return True
    lifecycle = DriftLifecycle()
    async for stored in store.read(
        ALIGNMENT.name, filter_subject=aggregate_subject(workspace, ALIGNMENT.context, ">")
    ):
        lifecycle.observe(stored.event)
    return lifecycle.knows(workspace, target)


def subscribe_inbox(broker: NatsBroker, inbox: Inbox) -> None:
    """Replays ALIGNMENT and STRATEGY from the start at each boot (drifts and strategy changes
    are few), then follows both."""

    @broker.subscriber(
        f"tn.*.{ALIGNMENT.context}.>",
        stream=JStream(ALIGNMENT.name, declare=False),
        deliver_policy=DeliverPolicy.ALL,
        title="strategy feedback inbox",
        description="Alignment's DriftDetected / DriftUpdated / DriftResolved events.",
    )
    async def on_drift_event(msg: NatsMessage) -> None:
        await _fold(inbox, msg)

    @broker.subscriber(
        f"tn.*.{STRATEGY.context}.>",
        stream=JStream(STRATEGY.name, declare=False),
        deliver_policy=DeliverPolicy.ALL,
        title="strategy feedback answers",
        description="DriftAcknowledged and every change made in response to a drift.",
    )
    async def on_answer_event(msg: NatsMessage) -> None:
        await _fold(inbox, msg)


async def _fold(inbox: Inbox, msg: NatsMessage) -> None:
    try:
        event = decode(msg.body)
    except ValueError:
        return  # not ours to judge: the producing service's DLQ handles its poison
    inbox.apply(event)
