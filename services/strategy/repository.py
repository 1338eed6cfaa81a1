"""Loading and saving strategy aggregates on the STRATEGY stream, with optimistic concurrency:
the read remembers the subject's last sequence and the append expects it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from truenorth.bus.atomic import append_atomic
from truenorth.bus.eventstore import EventStore
from truenorth.contract.envelope import EnvelopeFields
from truenorth.strategy.domain import Strategy, StrategyEvent

CONTEXT = "strategy"


class StaleVersion(Exception):
    """If-Match named a version that is no longer current."""

    def __init__(self, expected: str, current: int) -> None:
        super().__init__(f"If-Match {expected} does not match the current version {current}")
        self.current = current


@dataclass
class Loaded:
    strategy: Strategy
    last_sequence: int
    events: Sequence[EnvelopeFields] = ()
    """The aggregate's events as read (to tell API changes from document applies)."""


@dataclass
class Saved:
    strategy: Strategy
    events: Sequence[StrategyEvent]


class StrategyRepository:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    async def load(self, workspace: str, strategy_id: str) -> Loaded:
        events, last = await self.store.read_aggregate(workspace, CONTEXT, strategy_id)
        strategy = Strategy.from_events(events, strategy_id=strategy_id, workspace=workspace)
        return Loaded(strategy, last, events)

    async def execute(
        self,
        workspace: str,
        strategy_id: str,
        command: Callable[[Strategy], list[StrategyEvent]],
        if_match: str | None = None,
    ) -> Saved:
        """Load, check If-Match, run the command, append its events against what was read;
        a concurrent append raises ConcurrencyConflict and nothing is written."""
        loaded = await self.load(workspace, strategy_id)
        check_if_match(if_match, loaded.strategy.version)
        events = command(loaded.strategy)
        return await self.save(loaded, events)

    async def save(self, loaded: Loaded, events: Sequence[StrategyEvent]) -> Saved:
        if events:
            await append_atomic(self.store, events, expected_subject_sequence=loaded.last_sequence)
        return Saved(loaded.strategy.applied(events), events)


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    candidates = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if etag(version) not in candidates and str(version) not in candidates:
        raise StaleVersion(if_match, version)
