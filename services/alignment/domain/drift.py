"""Drift lifecycle (docs/design.md, "Drift"): a drift opens once (`detected`), is `updated`
only when its figures change materially, and closes once (`resolved`). Pure: the open drifts
come in, the transitions go out; the store keeps them (`truenorth.alignment.store.drifts`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from truenorth.alignment.domain.drift_rules import Finding, detect_drifts, drift_id
from truenorth.contract.alignment import DriftData

__all__ = [
    "MATERIAL_CHANGE",
    "DriftTransition",
    "Finding",
    "OpenDriftRow",
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


@dataclass(frozen=True, slots=True)
class OpenDriftRow:
    """An open drift as the store keeps it: its data as last published (JSON), when it
    opened. Validated into a DriftData only when a transition needs it: a tick compares
    thousands of open drifts with what it finds, and building a pydantic model for each
    side was ~65 of ~250 ms at 2 000 open drifts (benchmarks/README.md, tenth session)."""

    published: Mapping[str, Any]
    opened_at: int

    @property
    def data(self) -> DriftData:
        return DriftData.model_validate(self.published)


def is_material_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Severity, subjects or the set of figures changed, or a figure moved > 5 % relative.
    Both sides as published (`DriftData.model_dump(mode="json")`, `Finding.published`)."""
    if before["severity"] != after["severity"]:
        return True
    if (before["channel"], before["objective_id"]) != (after["channel"], after["objective_id"]):
        return True
    if tuple(before["campaign_ids"]) != tuple(after["campaign_ids"]):
        return True
    old_figures, new_figures = before["figures"], after["figures"]
    if old_figures.keys() != new_figures.keys():
        return True
    for key, old in old_figures.items():
        new = new_figures[key]
        if (abs(new - old) > MATERIAL_CHANGE * abs(old)) if old else (new != 0):
            return True
    return False


def reconcile(
    workspace: str,
    open_drifts: Mapping[str, OpenDriftRow],
    findings: Iterable[Finding],
    at: int,
) -> list[DriftTransition]:
    """The transitions from the workspace's open drifts (by id) to what is found now."""
    transitions: list[DriftTransition] = []
    current: set[str] = set()
    for finding in findings:
        ident = finding.drift_id
        if ident in current:
            continue
        current.add(ident)
        before = open_drifts.get(ident)
        if before is None:
            transitions.append(DriftTransition("detected", workspace, finding.to_data(), at))
        elif is_material_change(before.published, finding.published()):
            data = finding.to_data()
            transitions.append(DriftTransition("updated", workspace, data, before.opened_at))
    for ident in sorted(open_drifts.keys() - current):
        row = open_drifts[ident]
        transitions.append(DriftTransition("resolved", workspace, row.data, row.opened_at))
    return transitions
