"""Drift lifecycle (DESIGN §5): a drift opens once (`detected`), is `updated` only when its
figures change materially, and closes once (`resolved`).

The tracker's state is serialisable to rows like the projection's, and can also be folded
from the ALIGNMENT stream's own Drift* events (`observe`) when rebuilding from zero.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Literal, NamedTuple

from truenorth.alignment.domain.compact import compact
from truenorth.alignment.domain.drift_rules import Finding, detect_drifts, drift_id
from truenorth.alignment.domain.projection import Projection, row_key, split_key
from truenorth.alignment.domain.snapshot import OpenDrift
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated

__all__ = [
    "DRIFT_ROW",
    "MATERIAL_CHANGE",
    "DriftEntry",
    "DriftRecord",
    "DriftTracker",
    "DriftTransition",
    "Finding",
    "detect_drifts",
    "drift_id",
    "is_material_change",
]

Action = Literal["detected", "updated", "resolved"]
DRIFT_ROW = "drift"
MATERIAL_CHANGE = 0.05
"""Relative change of any figure that makes an open drift `updated`."""


class DriftTransition(NamedTuple):
    action: Action
    data: DriftData


class DriftEntry(NamedTuple):
    """A drift as the read API lists it: its state, its figures as last published and when it
    last changed."""

    status: Literal["open", "resolved"]
    data: DriftData
    since: datetime
    workspace: str


def kept(data: DriftData) -> DriftData:
    """A drift as the tracker keeps it while it lasts, compact (`compact`); transitions
    carry the same object, so a tick's new drifts are not held twice meanwhile."""
    return compact(data, unique=("drift_id", "explanation"))


class DriftRecord:
    __slots__ = ("changed_at", "data", "open", "opened_at", "workspace")

    def __init__(
        self, workspace: str, data: DriftData, opened_at: int, changed_at: int, open: bool
    ) -> None:
        self.workspace = sys.intern(workspace)
        self.data = data
        """As last published."""
        self.opened_at = opened_at
        self.changed_at = changed_at
        self.open = open


def is_material_change(before: DriftData, after: DriftData) -> bool:
    """Severity, subjects or the set of figures changed, or a figure moved > 5 % relative."""
    if (before.severity, before.campaign_ids, before.channel, before.objective_id) != (
        after.severity,
        after.campaign_ids,
        after.channel,
        after.objective_id,
    ):
        return True
    if before.figures.keys() != after.figures.keys():
        return True
    for key, old in before.figures.items():
        new = after.figures[key]
        threshold = MATERIAL_CHANGE * abs(old)
        if (abs(new - old) > threshold) if old else (new != 0):
            return True
    return False


def _shared_datetimes() -> Callable[[int], datetime]:
    """`from_micros`, one datetime per distinct instant: the drifts of a tick share theirs
    (48 bytes a drift otherwise, in every snapshot)."""
    made: dict[int, datetime] = {}

    def shared(micros: int) -> datetime:
        found = made.get(micros)
        if found is None:
            found = made[micros] = from_micros(micros)
        return found

    return shared


class DriftTracker:
    def __init__(self) -> None:
        self._records: dict[str, DriftRecord] = {}
        self._dirty: set[str] = set()

    # -- evaluation ----------------------------------------------------------------------

    def evaluate(self, projection: Projection, now: datetime) -> list[DriftTransition]:
        """Detect drifts at `now` and return the transitions since the last evaluation."""
        return self.reconcile(detect_drifts(projection, now), now)

    def reconcile(self, findings: Iterable[Finding], now: datetime) -> list[DriftTransition]:
        at = to_micros(now)
        transitions: list[DriftTransition] = []
        current: set[str] = set()
        for finding in findings:
            data = finding.to_data()
            if data.drift_id in current:
                continue
            current.add(data.drift_id)
            transition = self._open_or_update(finding.workspace, data, at)
            if transition is not None:
                transitions.append(transition)
        for drift_id_, record in sorted(self._records.items()):
            if record.open and drift_id_ not in current:
                record.open = False
                record.changed_at = at
                self._dirty.add(drift_id_)
                transitions.append(DriftTransition("resolved", record.data))
        return transitions

    def _open_or_update(self, workspace: str, data: DriftData, at: int) -> DriftTransition | None:
        """Only what is stored is compacted (most ticks change nothing), and its transition
        carries the stored object."""
        record = self._records.get(data.drift_id)
        if record is None or not record.open:
            data = kept(data)
            self._records[data.drift_id] = DriftRecord(workspace, data, at, at, True)
            self._dirty.add(data.drift_id)
            return DriftTransition("detected", data)
        if not is_material_change(record.data, data):
            return None
        data = kept(data)
        record.data = data
        record.changed_at = at
        self._dirty.add(data.drift_id)
        return DriftTransition("updated", data)

    # -- folding the ALIGNMENT stream ----------------------------------------------------

    def observe(self, event: object) -> None:
        """Fold a published DriftDetected/Updated/Resolved (rebuild from the log)."""
        if not isinstance(event, DriftDetected | DriftUpdated | DriftResolved):
            return
        at = to_micros(event.occurred_at)
        data = kept(event.data)
        record = self._records.get(data.drift_id)
        is_open = not isinstance(event, DriftResolved)
        if record is None or (is_open and not record.open and isinstance(event, DriftDetected)):
            record = self._records[data.drift_id] = DriftRecord(
                event.workspace, data, at, at, is_open
            )
        record.data, record.changed_at, record.open = data, at, is_open
        self._dirty.add(data.drift_id)

    # -- reads ---------------------------------------------------------------------------

    def workspace_of(self, drift_id: str) -> str:
        return self._records[drift_id].workspace

    def record(self, drift_id: str) -> DriftRecord | None:
        return self._records.get(drift_id)

    def entries(self) -> list[DriftEntry]:
        """Every drift, open or resolved, as of the last evaluation committed (its transition
        may still be in the outbox, on its way to the bus)."""
        since = _shared_datetimes()
        entries = []
        for record in self._records.values():
            status: Literal["open", "resolved"] = "open" if record.open else "resolved"
            entries.append(
                DriftEntry(status, record.data, since(record.changed_at), record.workspace)
            )
        return entries

    def open_records(self) -> Iterator[DriftRecord]:
        for key in sorted(self._records):
            record = self._records[key]
            if record.open:
                yield record

    def open_drifts(self, projection: Projection | None = None) -> Iterator[OpenDrift]:
        """Open drifts; acknowledged when a DriftAcknowledged came after the drift opened."""
        opened_at = _shared_datetimes()
        for record in self.open_records():
            acknowledged = False
            if projection is not None and record.workspace in projection.workspaces:
                acks = projection.workspaces[record.workspace].acknowledged
                acknowledged = acks.get(record.data.drift_id, -1) >= record.opened_at
            yield OpenDrift(
                workspace=record.workspace,
                drift=record.data,
                opened_at=opened_at(record.opened_at),
                acknowledged=acknowledged,
            )

    # -- rows ----------------------------------------------------------------------------

    def dirty_rows(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [self._row(self._records[i]) for i in sorted(self._dirty)]

    def clear_dirty(self) -> None:
        self._dirty.clear()

    def rows(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [self._row(self._records[i]) for i in sorted(self._records)]

    @staticmethod
    def _row(record: DriftRecord) -> tuple[str, str, dict[str, Any]]:
        return (
            DRIFT_ROW,
            row_key(record.workspace, record.data.drift_id),
            {
                "open": record.open,
                "opened_at": record.opened_at,
                "changed_at": record.changed_at,
                "data": record.data.model_dump(mode="json"),
            },
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, Any]]) -> DriftTracker:
        tracker = cls()
        for kind, key, payload in rows:
            if kind != DRIFT_ROW:
                raise ValueError(f"unknown drift row kind {kind!r}")
            workspace, _ = split_key(key)
            data = kept(DriftData.model_validate(payload["data"]))
            tracker._records[data.drift_id] = DriftRecord(
                workspace,
                data,
                int(payload["opened_at"]),
                int(payload["changed_at"]),
                bool(payload["open"]),
            )
        return tracker
