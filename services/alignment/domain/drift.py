"""Drift lifecycle (docs/design.md, "Drift"): a drift opens once (`detected`), is `updated`
only when its figures change materially, and closes once (`resolved`). Pure: the open drifts
come in, the transitions go out; the store keeps them (`truenorth.alignment.store.drifts`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from truenorth.alignment.domain.drift_rules import Finding, detect_drifts, drift_id
from truenorth.contract.alignment import DriftData

__all__ = [
    "MATERIAL_CHANGE",
    "DriftTransition",
    "Finding",
    "detect_drifts",
    "drift_id",
    "is_material_change",
    "reconcile",
]

Action = Literal["detected", "updated", "resolved"]
MATERIAL_CHANGE = 0.05
"""Relative change of any figure that makes an open drift `updated`."""


@dataclass(frozen=True, slots=True)
class DriftTransition:
    action: Action
    workspace: str
    data: DriftData
    opened_at: int
    """When the drift opened (this transition's time for `detected`)."""


def is_material_change(before: DriftData, after: DriftData) -> bool:
    """Severity, subjects or the set of figures changed, or a figure moved > 5 % relative."""
    subjects = ("severity", "campaign_ids", "channel", "objective_id")
    if any(getattr(before, name) != getattr(after, name) for name in subjects):
        return True
    if before.figures.keys() != after.figures.keys():
        return True
    for key, old in before.figures.items():
        new = after.figures[key]
        if (abs(new - old) > MATERIAL_CHANGE * abs(old)) if old else (new != 0):
            return True
    return False


def reconcile(
    workspace: str,
    open_drifts: Mapping[str, tuple[DriftData, int]],
    findings: Iterable[Finding],
    at: int,
) -> list[DriftTransition]:
    """The transitions from the workspace's open drifts (id -> (data as last published,
    opened at)) to what is found now."""
    transitions: list[DriftTransition] = []
    current: set[str] = set()
    for finding in findings:
        data = finding.to_data()
        if data.drift_id in current:
            continue
        current.add(data.drift_id)
        before = open_drifts.get(data.drift_id)
        if before is None:
            transitions.append(DriftTransition("detected", workspace, data, at))
        elif is_material_change(before[0], data):
            transitions.append(DriftTransition("updated", workspace, data, before[1]))
    for ident in sorted(open_drifts.keys() - current):
        data, opened_at = open_drifts[ident]
        transitions.append(DriftTransition("resolved", workspace, data, opened_at))
    return transitions
