"""Drift lifecycle (DESIGN §5): a drift opens once (`detected`), is `updated` only when its
figures change materially, and closes once (`resolved`).

The tracker's state is serialisable to rows like the projection's, and can also be folded
from the ALIGNMENT stream's own Drift* events (`observe`) when rebuilding from zero.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Literal, NamedTuple, cast

from truenorth.alignment.domain.drift_rules import Finding, detect_drifts, drift_id
from truenorth.alignment.domain.projection import Projection, row_key, split_key
from truenorth.alignment.domain.snapshot import OpenDrift
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.common import DriftKind, Severity

__all__ = [
    "DRIFT_ROW",
    "MATERIAL_CHANGE",
    "DriftEntry",
    "DriftRecord",
    "DriftTracker",
    "DriftTransition",
    "Finding",
    "KeptDrift",
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
    data: KeptDrift


class DriftEntry(NamedTuple):
    """A drift as the read API lists it: its state, its figures as last published and when it
    last changed."""

    status: Literal["open", "resolved"]
    data: KeptDrift
    since: datetime
    workspace: str


class KeptDrift:
    """A drift as the tracker keeps it while it lasts: DriftData's values without a pydantic
    model's own dict and fields set, its figures as a names tuple shared by every drift
    with the same figures and a values tuple (~600 bytes a drift as a compacted DriftData,
    half of that here besides its id and explanation; 10 000 objectives can have 25 000
    open). Read like DriftData; `to_data` gives the model back, to publish or serialise."""

    __slots__ = (
        "campaign_ids",
        "channel",
        "drift_id",
        "explanation",
        "figure_names",
        "figure_values",
        "kind",
        "objective_id",
        "severity",
        "strategy_id",
    )

    def __init__(self, data: DriftData) -> None:
        self.drift_id = data.drift_id
        self.kind: DriftKind = cast(DriftKind, sys.intern(data.kind))
        self.severity: Severity = cast(Severity, sys.intern(data.severity))
        self.strategy_id = _interned(data.strategy_id)
        self.objective_id = _interned(data.objective_id)
        self.campaign_ids = tuple(sys.intern(c) for c in data.campaign_ids)
        self.channel = _interned(data.channel)
        self.explanation = data.explanation
        names = tuple(data.figures)
        self.figure_names = _FIGURE_NAMES.setdefault(names, names)
        self.figure_values = tuple(data.figures.values())

    @property
    def figures(self) -> dict[str, float]:
        return dict(zip(self.figure_names, self.figure_values, strict=True))

    def to_data(self) -> DriftData:
        return DriftData.model_construct(
            drift_id=self.drift_id,
            kind=self.kind,
            severity=self.severity,
            strategy_id=self.strategy_id,
            objective_id=self.objective_id,
            campaign_ids=self.campaign_ids,
            channel=self.channel,
            explanation=self.explanation,
            figures=self.figures,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeptDrift):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # compared by value, never a key

    def __repr__(self) -> str:
        return f"KeptDrift({self.to_data()!r})"


_FIGURE_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}
"""One tuple per distinct list of figure names (a few per drift kind)."""


def _interned(value: str | None) -> str | None:
    return None if value is None else sys.intern(value)


class DriftRecord(NamedTuple):
    """A drift as the tracker holds it. Replaced, never changed: a reader on another thread
    (`DriftTracker.entries`) sees each one whole."""

    workspace: str
    data: KeptDrift
    """As last published."""
    opened_at: int
    changed_at: int
    open: bool


def is_material_change(before: KeptDrift, after: DriftData) -> bool:
    """Severity, subjects or the set of figures changed, or a figure moved > 5 % relative."""
    if (before.severity, before.campaign_ids, before.channel, before.objective_id) != (
        after.severity,
        after.campaign_ids,
        after.channel,
        after.objective_id,
    ):
        return True
    figures = after.figures
    if figures.keys() != set(before.figure_names):
        return True
    for key, old in zip(before.figure_names, before.figure_values, strict=True):
        new = figures[key]
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
                self._records[drift_id_] = record._replace(open=False, changed_at=at)
                self._dirty.add(drift_id_)
                transitions.append(DriftTransition("resolved", record.data))
        return transitions

    def _open_or_update(self, workspace: str, data: DriftData, at: int) -> DriftTransition | None:
        """Only what is stored is kept as a `KeptDrift` (most ticks change nothing), and its
        transition carries the stored object."""
        record = self._records.get(data.drift_id)
        if record is None or not record.open:
            stored = KeptDrift(data)
            self._records[data.drift_id] = DriftRecord(sys.intern(workspace), stored, at, at, True)
            self._dirty.add(data.drift_id)
            return DriftTransition("detected", stored)
        if not is_material_change(record.data, data):
            return None
        stored = KeptDrift(data)
        self._records[data.drift_id] = record._replace(data=stored, changed_at=at)
        self._dirty.add(data.drift_id)
        return DriftTransition("updated", stored)

    # -- folding the ALIGNMENT stream ----------------------------------------------------

    def observe(self, event: object) -> None:
        """Fold a published DriftDetected/Updated/Resolved (a rebuild from the log, and the
        read API's `?as_of=`)."""
        if not isinstance(event, DriftDetected | DriftUpdated | DriftResolved):
            return
        at = to_micros(event.occurred_at)
        data = KeptDrift(event.data)
        record = self._records.get(data.drift_id)
        is_open = not isinstance(event, DriftResolved)
        if record is None or (is_open and not record.open and isinstance(event, DriftDetected)):
            record = DriftRecord(sys.intern(event.workspace), data, at, at, is_open)
        else:
            record = record._replace(data=data, changed_at=at, open=is_open)
        self._records[data.drift_id] = record
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
        # list() copies the dict in one C call, which no other thread interleaves with (the
        # GIL), and records are replaced, never changed: callers need not hold up the tick
        for record in list(self._records.values()):
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

    def dirty_rows(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """One at a time: a first tick changes 25 000 drifts, ~1.2 KB a row as a dict."""
        for drift_id_ in sorted(self._dirty):
            yield self._row(self._records[drift_id_])

    @property
    def changed(self) -> bool:
        """Rows to write since `clear_dirty`."""
        return bool(self._dirty)

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
                "data": record.data.to_data().model_dump(mode="json"),
            },
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, Any]]) -> DriftTracker:
        tracker = cls()
        for kind, key, payload in rows:
            if kind != DRIFT_ROW:
                raise ValueError(f"unknown drift row kind {kind!r}")
            workspace, _ = split_key(key)
            data = KeptDrift(DriftData.model_validate(payload["data"]))
            tracker._records[data.drift_id] = DriftRecord(
                sys.intern(workspace),
                data,
                int(payload["opened_at"]),
                int(payload["changed_at"]),
                bool(payload["open"]),
            )
        return tracker
