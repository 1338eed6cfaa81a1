"""Alignment context events (ALIGNMENT stream, aggregate = drift_id).

v2 (schema_version 2) adds `incident_id` and `cause`: drifts with one cause (one campaign's
overrun, its channel's overrun, the mix shift it creates, its untethered spend) share an
incident, which is what people see, acknowledge and answer. v1 events are upcast with
`incident_id = drift_id` (every old drift is its own incident) and the cause read from the
drift's own subjects (`upcast_drift_v1`).
"""

from __future__ import annotations

from typing import Any, Literal

from truenorth.contract.common import DriftKind, Severity
from truenorth.contract.envelope import EnvelopeFields, Frozen, LongText, Slug

CauseType = Literal["campaign", "objective", "channel", "strategy"]

CAMPAIGN_KINDS = frozenset(
    {"untethered_spend", "audience_mismatch", "inefficient_tactic", "budget_overrun", "stale_data"}
)
"""Kinds whose single named campaign is their cause when no channel is involved."""


class DriftData(Frozen):
    drift_id: Slug
    kind: DriftKind
    severity: Severity
    strategy_id: Slug | None = None
    objective_id: Slug | None = None
    campaign_ids: tuple[Slug, ...] = ()
    channel: Slug | None = None
    explanation: LongText
    figures: dict[str, float] = {}
    incident_id: Slug | None = None
    """The incident this drift is a facet of; absent means its own (= drift_id)."""
    cause: dict[CauseType, Slug] = {}
    """What causes it, e.g. {"campaign": "search-brand"} or {"objective": "leads-q4"}."""

    @property
    def incident(self) -> str:
        """The incident id, its own drift id when none was given."""
        return self.incident_id or self.drift_id


def cause_of_v1(data: dict[str, Any]) -> dict[str, str]:
    """The cause an old (v1) drift names by itself: its one campaign for campaign kinds, its
    channel for channel kinds, else its objective or strategy."""
    campaigns = list(data.get("campaign_ids") or [])
    if data.get("kind") in CAMPAIGN_KINDS and len(campaigns) == 1 and not data.get("channel"):
        return {"campaign": campaigns[0]}
    if data.get("channel"):
        return {"channel": data["channel"]}
    if data.get("objective_id"):
        return {"objective": data["objective_id"]}
    if data.get("strategy_id"):
        return {"strategy": data["strategy_id"]}
    return {}


def upcast_drift_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """Pure: a v1 DriftDetected/Updated/Resolved dict to v2 (its own incident)."""
    data = dict(raw.get("data") or {})
    data.setdefault("incident_id", data.get("drift_id"))
    data.setdefault("cause", cause_of_v1(data))
    return {**raw, "data": data}


class DriftDetected(EnvelopeFields):
    type: Literal["DriftDetected"] = "DriftDetected"
    schema_version: Literal[2] = 2
    data: DriftData


class DriftUpdated(EnvelopeFields):
    type: Literal["DriftUpdated"] = "DriftUpdated"
    schema_version: Literal[2] = 2
    data: DriftData


class DriftResolved(EnvelopeFields):
    type: Literal["DriftResolved"] = "DriftResolved"
    schema_version: Literal[2] = 2
    data: DriftData


ALIGNMENT_EVENTS = (DriftDetected, DriftUpdated, DriftResolved)
