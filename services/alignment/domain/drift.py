"""Drift lifecycle (docs/design.md, "Drift"): a drift opens once (`detected`), is `updated`
only when its figures change materially, and closes once (`resolved`). Pure: the open drifts
come in, the transitions go out; the store keeps them (`truenorth.alignment.store.drift_writes`,
read back by `truenorth.alignment.store.drifts`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from truenorth.alignment.domain.drift_rules import Finding, detect_drifts, drift_id
from truenorth.contract.alignment import DriftData

__all__ = [
    "COMPARED",
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


COMPARED = ("severity", "channel", "objective_id", "campaign_ids", "figures")
"""What `is_material_change` reads of a drift as published."""


@dataclass(frozen=True, slots=True)
class OpenDriftRow:
    """An open drift as a tick compares it: the `COMPARED` fields of its data as last
    published (JSON) and when it opened. A tick reads every open drift, and at 110 000 open
    drifts their whole data was ~320 MB of dicts a tick that the allocator kept; what is
    compared is ~110 MB, and it is streamed (benchmarks/README.md, thirteenth session)."""

    compared: Mapping[str, Any]
    opened_at: int


def is_material_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Severity, subjects or the set of figures changed, or a figure moved > 5 % relative.
    Both sides as published (`DriftData.model_dump(mode="json")`, `Finding.published`), of
    which it reads the `COMPARED` fields alone."""
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
    open_drifts: Iterable[tuple[str, OpenDriftRow]],
    findings: Iterable[Finding],
    at: int,
    last_published: Callable[[list[str]], Mapping[str, DriftData]],
) -> list[DriftTransition]:
    """The transitions from the workspace's open drifts (id, row: read once, in any order)
    to what is found now. A drift that resolves is published with its data as last
    published, `last_published(ids)`: read for those drifts alone."""
    found: dict[str, Finding] = {}
    for finding in findings:
        found.setdefault(finding.drift_id, finding)
    still_open: set[str] = set()
    changed: dict[str, int] = {}
    gone: dict[str, int] = {}
    for ident, row in open_drifts:
        now = found.get(ident)
        if now is None:
            gone[ident] = row.opened_at
            continue
        still_open.add(ident)
        if is_material_change(row.compared, now.published()):
            changed[ident] = row.opened_at
    transitions: list[DriftTransition] = []
    for ident, finding in found.items():
        if ident not in still_open:
            transitions.append(DriftTransition("detected", workspace, finding.to_data(), at))
        elif ident in changed:
            data = finding.to_data()
            transitions.append(DriftTransition("updated", workspace, data, changed[ident]))
    resolved = sorted(gone)
    published = last_published(resolved) if resolved else {}
    for ident in resolved:
        transitions.append(DriftTransition("resolved", workspace, published[ident], gone[ident]))
    return transitions
