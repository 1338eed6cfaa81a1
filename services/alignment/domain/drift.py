"""Drift lifecycle (docs/design.md, "Drift"): a drift opens once (`detected`), is `updated`
only when its figures change materially, and closes once (`resolved`). Pure: the open drifts
come in, the transitions go out; the store keeps them (`truenorth.alignment.store.drift_writes`,
read back by `truenorth.alignment.store.drifts`)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from truenorth.alignment.domain.batching import batched
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
    published (JSON) and when it opened. At 110 000 open drifts their whole data was ~320 MB
    of dicts a tick that the allocator kept; a tick reads what it compares, for the drifts it
    is judging (benchmarks/README.md, thirteenth and fourteenth sessions)."""

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
    open_ids: Collection[str],
    findings: Iterable[Finding],
    at: int,
    stored: Callable[[list[str]], Mapping[str, OpenDriftRow]],
    last_published: Callable[[list[str]], Mapping[str, tuple[DriftData, int]]],
) -> Iterator[DriftTransition]:
    """The transitions from the workspace's open drifts (`open_ids`) to what is found now,
    lazily: findings are judged `JUDGED_AT_ONCE` at a time against the stored rows of those
    that are open (`stored(ids)`), and the open drifts no longer found resolve with their
    data as last published and when they opened (`last_published(ids)`). Holding every
    finding and every open drift at once, a tick at 1M observations and 122 000 open drifts
    allocated up to 232 MB (`tracemalloc`), now 113 MB, and its first tick took the process to
    655 MB, now 307 MB (benchmarks/README.md, fourteenth session)."""
    # the open drifts not found yet, which resolve at the end, and the new ones found so far:
    # a set of every id found kept a string of its own per open drift, 8 MB more of a tick at
    # 110 000 open drifts (benchmarks/README.md, nineteenth session)
    unfound = set(open_ids)
    detected: set[str] = set()
    for batch in batched(findings, JUDGED_AT_ONCE):
        fresh: dict[str, Finding] = {}
        for finding in batch:
            ident = finding.drift_id
            if ident in unfound:
                unfound.remove(ident)
                fresh[ident] = finding
            elif ident not in open_ids and ident not in detected:
                detected.add(ident)
                fresh[ident] = finding
        rows = stored([ident for ident in fresh if ident in open_ids])
        for ident, finding in fresh.items():
            row = rows.get(ident)
            if row is None:
                yield DriftTransition("detected", workspace, finding.to_data(), at)
            elif is_material_change(row.compared, finding.published()):
                yield DriftTransition("updated", workspace, finding.to_data(), row.opened_at)
    for gone in batched(sorted(unfound), JUDGED_AT_ONCE):
        published = last_published(gone)
        for ident in gone:
            data, opened_at = published[ident]
            yield DriftTransition("resolved", workspace, data, opened_at)


JUDGED_AT_ONCE = 1_000
