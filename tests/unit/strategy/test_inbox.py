"""The strategy inbox folds drifts with the one drift-lifecycle fold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.samples import DRIFT
from truenorth.contract.alignment import DriftDetected, DriftResolved
from truenorth.strategy.inbox import Inbox

T0 = datetime(2026, 10, 5, tzinfo=UTC)


def test_a_resolution_delivered_before_its_detection_still_closes_the_drift() -> None:
    """The old inbox reopened a drift whose DriftDetected arrived after its DriftResolved."""
    data = DRIFT.model_copy(update={"drift_id": "d-1", "objective_id": "leads"})
    detected = DriftDetected(workspace="ws", aggregate_id="d-1", occurred_at=T0, data=data)
    resolved = DriftResolved(
        workspace="ws", aggregate_id="d-1", occurred_at=T0 + timedelta(hours=1), data=data
    )
    inbox = Inbox()
    inbox.apply(resolved)
    inbox.apply(detected)
    drift = inbox.get("ws", "d-1")
    assert drift is not None and not drift.open
    assert (drift.opened_at, drift.resolved_at) == (T0, T0 + timedelta(hours=1))
    assert inbox.open_for_objective("ws", "leads") == []
