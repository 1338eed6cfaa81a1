"""Reading drift rows: the open drifts a tick compares and a snapshot shows, and every drift
as the read API lists it, live or folded from the history. Writing them is `drift_writes`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, func, select

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.drift import COMPARED, OpenDriftRow
from truenorth.alignment.domain.open_drifts import OpenDrifts, ShownDrift
from truenorth.alignment.domain.timeunits import from_micros
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.read import Moment
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.drift_lifecycle import Acknowledgement, Answer, DriftLifecycle

EVENTS: dict[str, type[DriftDetected] | type[DriftUpdated] | type[DriftResolved]] = {
    "detected": DriftDetected,
    "updated": DriftUpdated,
    "resolved": DriftResolved,
}
ACTIONS: dict[type, str] = {event: action for action, event in EVENTS.items()}


@dataclass(frozen=True, slots=True)
class DriftEntry:
    """A drift as the read API lists it."""

    status: Literal["open", "resolved"]
    workspace: str
    data: DriftData
    opened_at: datetime
    since: datetime
    """When it last changed."""


def open_drift_ids(connection: Connection, workspace: str) -> frozenset[str]:
    drifts = t.drifts
    query = select(drifts.c.drift_id).where(
        drifts.c.workspace == workspace, drifts.c.open.is_(True)
    )
    return frozenset(connection.execute(query).scalars())


def open_drifts(
    connection: Connection, workspace: str, drift_ids: Iterable[str]
) -> dict[str, OpenDriftRow]:
    """The named drifts, those still open, as a tick compares them: the database extracts the
    compared fields from the data, so a tick never reads an open drift's whole data
    (benchmarks/README.md, thirteenth session)."""
    drifts = t.drifts
    fields = COMPARED[1:]  # severity is a column
    found: dict[str, OpenDriftRow] = {}
    for chunk in batched(drift_ids, t.IDS_PER_QUERY):
        # `open` is tested here, not in SQL: with it in the WHERE clause SQLite searched the
        # (open, workspace) index, every open drift for each chunk (~40 ms a chunk of 500 at
        # 110 000 open drifts), instead of the primary key
        query = select(
            drifts.c.drift_id,
            drifts.c.open,
            drifts.c.opened_at,
            drifts.c.severity,
            *(drifts.c.data[name] for name in fields),
        ).where(drifts.c.workspace == workspace, drifts.c.drift_id.in_(chunk))
        for ident, is_open, opened_at, severity, *values in connection.execute(query):
            if is_open:
                compared = {"severity": severity, **dict(zip(fields, values, strict=True))}
                found[ident] = OpenDriftRow(compared, int(opened_at))
    return found


def last_published(
    connection: Connection, workspace: str, drift_ids: Iterable[str]
) -> dict[str, tuple[DriftData, int]]:
    """The named drifts' data as last published, with when each opened."""
    drifts = t.drifts
    found: dict[str, tuple[DriftData, int]] = {}
    for chunk in batched(drift_ids, t.IDS_PER_QUERY):
        query = select(drifts.c.drift_id, drifts.c.data, drifts.c.opened_at).where(
            drifts.c.workspace == workspace, drifts.c.drift_id.in_(chunk)
        )
        for ident, data, opened_at in connection.execute(query):
            found[ident] = (DriftData.model_validate(data), int(opened_at))
    return found


def shown_open_drifts(connection: Connection, workspace: str) -> Iterator[ShownDrift]:
    """The workspace's open drifts as a snapshot summarises them, streamed; the database
    extracts the shown fields from the data (at 110 000 open drifts their whole data was
    ~320 MB of dicts, read at every build after a tick had changed one)."""
    drifts = t.drifts
    data = drifts.c.data
    query = select(
        drifts.c.drift_id,
        drifts.c.kind,
        drifts.c.severity,
        data["strategy_id"],
        data["objective_id"],
        data["incident_id"],
    ).where(drifts.c.workspace == workspace, drifts.c.open.is_(True))
    rows = connection.execute(query.execution_options(yield_per=t.STREAMED_ROWS))
    for ident, kind, severity, strategy_id, objective_id, incident_id in rows:
        yield ShownDrift(ident, strategy_id, objective_id, kind, severity, incident_id)


Versions = dict[str, int]
"""workspace -> the version of its drift rows (absent: 0, never changed)."""


def drift_versions(connection: Connection) -> Versions:
    versions = t.drift_versions
    query = select(versions.c.workspace, versions.c.version)
    return {workspace: int(version) for workspace, version in connection.execute(query)}


class LiveDrifts:
    """The summary of each workspace's open drifts for live snapshots, read again only when
    the workspace's drift version moved. Drift rows change at ticks, a few times a minute at
    most, while a live snapshot is built after nearly every commit: decoding and validating
    2 000 open drifts was ~25 of ~80 ms of a build (benchmarks/README.md, tenth session).
    One per projector, whose snapshots are built one at a time."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[int, OpenDrifts]] = {}
        self._versions: Versions = {}

    def refresh(self, connection: Connection) -> None:
        """Once per build, before reading. The versions are read before the drifts, so a tick
        committing in between is read now and again next time, never missed."""
        self._versions = drift_versions(connection)

    def read(self, connection: Connection, workspace: str) -> OpenDrifts:
        version = self._versions.get(workspace, 0)
        kept = self._kept.get(workspace)
        if kept is None or kept[0] != version:
            summary = OpenDrifts.of(workspace, shown_open_drifts(connection, workspace))
            kept = self._kept[workspace] = (version, summary)
        return kept[1]


def drift_workspaces(connection: Connection) -> list[str]:
    drifts = t.drifts
    query = select(drifts.c.workspace).where(drifts.c.open.is_(True)).distinct()
    return sorted(connection.execute(query).scalars())


def drift_entries(connection: Connection, workspace: str, moment: Moment) -> list[DriftEntry]:
    """Every drift of the workspace as it stood at the moment: the drift rows live, the
    history up to then folded by the one drift lifecycle fold otherwise."""
    if moment.live:
        drifts = t.drifts
        rows = connection.execute(
            select(drifts.c.open, drifts.c.data, drifts.c.opened_at, drifts.c.changed_at).where(
                drifts.c.workspace == workspace
            )
        )
        return [
            _entry(workspace, is_open, data, opened, changed)
            for is_open, data, opened, changed in rows
        ]
    return [
        DriftEntry(
            status=record.status,
            workspace=workspace,
            data=record.data,
            opened_at=record.opened_at,
            since=record.updated_at,
        )
        for record in _transitions(connection, workspace, moment.as_of).drifts(workspace)
    ]


def _entry(workspace: str, is_open: bool, data: Any, opened: int, changed: int) -> DriftEntry:
    return DriftEntry(
        status="open" if is_open else "resolved",
        workspace=workspace,
        data=DriftData.model_validate(data),
        opened_at=from_micros(int(opened)),
        since=from_micros(int(changed)),
    )


def count_open(connection: Connection) -> int:
    drifts = t.drifts
    return int(
        connection.execute(
            select(func.count()).select_from(drifts).where(drifts.c.open.is_(True))
        ).scalar_one()
    )


def lifecycle(connection: Connection, workspace: str, moment: Moment) -> DriftLifecycle:
    """The workspace's drifts and incidents as of the moment, through the one fold of the
    drift lifecycle (`truenorth.drift_lifecycle`): its transitions, acknowledgements and the
    strategy changes that answered them, read from the tables."""
    folded = _transitions(connection, workspace, moment.as_of)
    acks, answers = t.acknowledgements, t.answers
    known = moment.known_at
    ack_query = select(acks).where(acks.c.workspace == workspace, acks.c.at <= moment.as_of)
    if known is not None:
        ack_query = ack_query.where(acks.c.recorded_at <= known)
    for row in connection.execute(ack_query).mappings():
        folded.add_acknowledgement(
            workspace,
            Acknowledgement(
                target_id=row["drift_id"],
                who=row["actor"],
                at=from_micros(int(row["at"])),
                note=row["note"],
                event_id=row["event_id"],
                objective_id=row["objective_id"],
            ),
        )
    answer_query = select(answers).where(
        answers.c.workspace == workspace, answers.c.at <= moment.as_of
    )
    if known is not None:
        answer_query = answer_query.where(answers.c.recorded_at <= known)
    for row in connection.execute(answer_query).mappings():
        folded.add_answer(
            workspace,
            Answer(
                target_id=row["target_id"],
                event_type=row["event_type"],
                event_id=row["event_id"],
                who=row["actor"],
                at=from_micros(int(row["at"])),
                reason=row["reason"],
                objective_id=row["objective_id"],
            ),
        )
    return folded


def _transitions(connection: Connection, workspace: str, at: int) -> DriftLifecycle:
    """The workspace's drift transitions up to `at` (the history), folded."""
    folded = DriftLifecycle()
    history = t.drift_history
    rows = connection.execute(
        select(
            history.c.event_id, history.c.drift_id, history.c.action, history.c.at, history.c.data
        ).where(history.c.workspace == workspace, history.c.at <= at)
    )
    for event_id, drift_id, action, moment, data in rows:
        folded.observe(
            EVENTS[action].model_construct(
                event_id=uuid.UUID(event_id),
                workspace=workspace,
                aggregate_id=drift_id,
                occurred_at=from_micros(int(moment)),
                data=DriftData.model_validate(data),
            )
        )
    return folded
