"""The campaigns application service: read the aggregate, decide, append. Both doors call it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from truenorth.bus.eventstore import EventStore
from truenorth.campaigns.domain import (
    Campaign,
    CommandMeta,
    ObjectivesRejected,
    build_event,
    decide,
    evolve,
    rebuild,
)
from truenorth.campaigns.objectives import StrategyFollower
from truenorth.contract.envelope import new_event_id, utcnow

CONTEXT = "campaigns"


@dataclass(frozen=True)
class Outcome:
    campaign: Campaign
    event_id: uuid.UUID
    event_type: str | None
    sequence: int
    duplicate: bool
    untethered: bool

    def as_dict(self, follower: StrategyFollower) -> dict[str, Any]:
        return {
            "campaign": self.campaign.as_dict(follower.directory),
            "event": {
                "event_id": str(self.event_id),
                "type": self.event_type,
                "sequence": self.sequence,
            },
            "untethered": self.untethered,
            "duplicate": self.duplicate,
        }


class CampaignService:
    def __init__(self, store: Callable[[], EventStore], follower: StrategyFollower) -> None:
        self._store = store
        self.follower = follower

    async def load(self, workspace: str, campaign_id: str) -> Campaign | None:
        events, last = await self._store().read_aggregate(workspace, CONTEXT, campaign_id)
        state = rebuild((event, 0) for event in events)
        if state is not None:
            state.version = last
        return state

    async def handle(self, workspace: str, campaign_id: str, command: CommandMeta) -> Outcome:
        """Decide and append one command. Raises DomainError, ConcurrencyConflict or
        StoreUnavailable; a retry carrying an event_id already applied is a duplicate."""
        state = await self.load(workspace, campaign_id)
        if (
            command.event_id is not None
            and state is not None
            and command.event_id in state.event_ids
        ):
            return Outcome(state, command.event_id, None, state.version, True, state.untethered)
        lookup = self.follower.directory
        try:
            event_type, data = decide(workspace, campaign_id, state, command, lookup)
        except ObjectivesRejected as exc:
            if not exc.unknown:
                raise
            # The strategy service may have appended the objective a moment ago.
            await self.follower.catch_up()
            event_type, data = decide(workspace, campaign_id, state, command, lookup)
        event = build_event(
            event_type,
            data,
            workspace=workspace,
            campaign_id=campaign_id,
            command=command,
            event_id=command.event_id or new_event_id(),
            now=utcnow(),
        )
        expected = state.version if state is not None else 0
        appended = await self._store().append(event, expected_subject_sequence=expected)
        new_state = evolve(state, event, appended.sequence)
        assert new_state is not None
        return Outcome(
            new_state,
            event.event_id,
            str(getattr(event, "type", "")),
            appended.sequence,
            appended.duplicate,
            new_state.untethered,
        )
