"""Which workspaces exist: those with a strategy on the STRATEGY stream.

Metrics and campaigns for a workspace without a strategy are refused at the doors when
`SharedSettings.strategy_required` (issue 17, finding 6): a write-only token could otherwise
invent workspaces (and their label series and drifts) without bound. A workspace once seen
with a strategy is remembered (strategies are retired, never deleted); an unknown one is asked
again each time (one STREAM.INFO with a subject filter)."""

from __future__ import annotations

import nats.errors
from nats.js import JetStreamContext

from truenorth.bus.eventstore import StoreUnavailable
from truenorth.bus.streams import STRATEGY, SUBJECT_ROOT

MAX_REMEMBERED = 100_000


class StrategyWorkspaces:
    def __init__(self) -> None:
        self._known: set[str] = set()

    async def has_strategy(self, js: JetStreamContext, workspace: str) -> bool:
        if workspace in self._known:
            return True
        subjects = f"{SUBJECT_ROOT}.{workspace}.{STRATEGY.context}.>"
        try:
            info = await js.stream_info(STRATEGY.name, subjects_filter=subjects)
        except (nats.errors.Error, TimeoutError) as exc:
            raise StoreUnavailable(f"cannot read {STRATEGY.name}: {exc!r}") from exc
        if not info.state.subjects:
            return False
        if len(self._known) < MAX_REMEMBERED:
            self._known.add(workspace)
        return True


def no_strategy_message(workspace: str) -> str:
    return (
        f"workspace {workspace!r} has no strategy: apply one first (`truenorth apply`); "
        "data for a workspace without a strategy is refused"
    )
