"""Drift rows: the open and resolved drifts, their history, and the outbox of drift events
committed with their transition and published afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

import orjson
from sqlalchemy import Connection, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from truenorth.alignment.domain.drift import COMPARED, DriftTransition, OpenDriftRow
from truenorth.alignment.domain.snapshot import OpenDrift, shown_drift
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.read import Moment
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.envelope import EnvelopeFields
from truenorth.drift_lifecycle import Acknowledgement, Answer, DriftLifecycle, open_since

EVENTS: dict[str, type[DriftDetected] | type[DriftUpdated] | type[DriftResolved]] = {
    "detected": DriftDetected,
    "updated": DriftUpdated,
    "resolved": DriftResolved,
}
ACTIONS: dict[type, str] = {event: action for action, event in EVENTS.items()}
T = TypeVar("T")


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


def open_drifts(connection: Connection, workspace: str) -> Iterator[tuple[str, OpenDriftRow]]:
    """Each open drift of the workspace as a tick compares it, streamed from the database,
    which extracts the compared fields from the data: a tick never holds every open drift's
    whole data (benchmarks/README.md, thirteenth session)."""
    drifts = t.drifts
    fields = COMPARED[1:]  # severity is a column
    query = select(
        drifts.c.drift_id,
        drifts.c.opened_at,
        drifts.c.severity,
        *(drifts.c.data[name] for name in fields),
    ).where(drifts.c.workspace == workspace, drifts.c.open.is_(True))
    for ident, opened_at, severity, *values in connection.execute(query):
        compared = {"severity": severity, **dict(zip(fields, values, strict=True))}
        yield ident, OpenDriftRow(compared, int(opened_at))


def last_published(
    connection: Connection, workspace: str, drift_ids: Iterable[str]
) -> dict[str, DriftData]:
    """The named drifts' data as last published."""
    drifts = t.drifts
    found: dict[str, DriftData] = {}
    for chunk in _chunks(sorted(drift_ids)):
        query = select(drifts.c.drift_id, drifts.c.data).where(
            drifts.c.workspace == workspace, drifts.c.drift_id.in_(chunk)
        )
        for ident, data in connection.execute(query):
            found[ident] = DriftData.model_validate(data)
    return found


SHOWN = ("strategy_id", "objective_id", "incident_id")
"""What a snapshot shows of an open drift's data besides its id, kind and severity columns."""


def shown_open_drifts(connection: Connection, workspace: str) -> list[tuple[OpenDrift, int]]:
    """The workspace's open drifts as a snapshot shows them, with when each opened; the
    database extracts the shown fields from the data (at 110 000 open drifts their whole
    data was ~320 MB of dicts, read at every build after a tick had changed one)."""
    drifts = t.drifts
    rows = connection.execute(
        select(
            drifts.c.drift_id,
            drifts.c.kind,
            drifts.c.severity,
            drifts.c.opened_at,
            *(drifts.c.data[name] for name in SHOWN),
        ).where(drifts.c.workspace == workspace, drifts.c.open.is_(True))
    )
    shown = []
    for ident, kind, severity, at, *values in rows:
        data = {"drift_id": ident, "kind": kind, "severity": severity}
        data.update(zip(SHOWN, values, strict=True))
        shown.append((shown_drift(workspace, data, int(at)), int(at)))
    return shown


Versions = dict[str, int]
"""workspace -> the version of its drift rows (absent: 0, never changed)."""


def drift_versions(connection: Connection) -> Versions:
    versions = t.drift_versions
    query = select(versions.c.workspace, versions.c.version)
    return {workspace: int(version) for workspace, version in connection.execute(query)}


def move_drift_versions(connection: Connection, workspace: str | None = None) -> None:
    """Move the workspace's drift version (None: every workspace's), in the transaction that
    changes its drift rows."""
    versions = t.drift_versions
    if workspace is None:
        connection.execute(update(versions).values(version=versions.c.version + 1))
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(versions).values(workspace=workspace, version=1)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[versions.c.workspace], set_={"version": versions.c.version + 1}
        )
    )


class LiveDrifts:
    """The open drifts of each workspace for live snapshots, read again only when the
    workspace's drift version moved. Drift rows change at ticks, a few times a minute at
    most, while a live snapshot is built after nearly every commit: decoding and validating
    2 000 open drifts was ~25 of ~80 ms of a build (benchmarks/README.md, tenth session).
    One per projector, whose snapshots are built one at a time."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[int, list[tuple[OpenDrift, int]]]] = {}
        self._versions: Versions = {}

    def refresh(self, connection: Connection) -> None:
        """Once per build, before reading. The versions are read before the drifts, so a tick
        committing in between is read now and again next time, never missed."""
        self._versions = drift_versions(connection)

    def read(self, connection: Connection, workspace: str) -> list[tuple[OpenDrift, int]]:
        """The workspace's open drifts, with when each opened."""
        version = self._versions.get(workspace, 0)
        kept = self._kept.get(workspace)
        if kept is None or kept[0] != version:
            kept = self._kept[workspace] = (version, shown_open_drifts(connection, workspace))
        return kept[1]


def drift_workspaces(connection: Connection) -> list[str]:
    drifts = t.drifts
    query = select(drifts.c.workspace).where(drifts.c.open.is_(True)).distinct()
    return sorted(connection.execute(query).scalars())


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """A DriftDetected/Updated/Resolved with its JSON as published, made before the
    transaction that writes it. Under SQLite a drift tick's write transaction holds up every
    fold commit: building, dumping and writing ~150 events in it one at a time (five
    statements each) held the fold up ~150–250 ms every tick at 2 000 events/s; now ~5–30 ms
    (benchmarks/README.md, thirteenth session)."""

    action: str
    workspace: str
    drift_id: str
    at: int
    """When it occurred (µs)."""
    published: dict[str, Any]
    """The whole event, `model_dump(mode="json")`: the outbox's payload; its "data", the row."""

    @classmethod
    def of(cls, event: EnvelopeFields) -> DriftEvent | None:
        """None for an event that is not a drift transition."""
        action = ACTIONS.get(type(event))
        if action is None:
            return None
        data: DriftData = event.data  # type: ignore[attr-defined]  # a Drift* event
        return cls(
            action=action,
            workspace=event.workspace,
            drift_id=data.drift_id,
            at=to_micros(event.occurred_at),
            published=event.model_dump(mode="json"),
        )


def drift_events(transitions: Iterable[DriftTransition], now: datetime) -> list[DriftEvent]:
    """The events a tick publishes for its transitions, ready to be written."""
    events: list[DriftEvent] = []
    for transition in transitions:
        event = EVENTS[transition.action](
            workspace=transition.workspace,
            aggregate_id=transition.data.drift_id,
            occurred_at=now,
            source="alignment",
            actor="alignment",
            data=transition.data,
        )
        events.append(DriftEvent.of(event))  # type: ignore[arg-type]  # a Drift* event
    return events


def record_transitions(connection: Connection, events: Sequence[DriftEvent]) -> int:
    """Write each transition's drift row, history row and outbox event; returns how many."""
    apply_drift_events(connection, events)
    _insert_many(
        connection,
        t.outbox,
        [
            {
                "event_id": event.published["event_id"],
                "workspace": event.workspace,
                "payload": orjson.dumps(event.published).decode(),
            }
            for event in events
        ],
    )
    return len(events)


def apply_drift_events(connection: Connection, events: Sequence[DriftEvent]) -> None:
    """Fold drift events, in order, into the drift rows (a tick's own transitions, and the
    ALIGNMENT stream's events when rebuilding), open or not by the lifecycle's one rule
    (`truenorth.drift_lifecycle.open_since`). The same few statements however many events,
    each row list written as one `executemany`: a multi-row VALUES statement cost ~30 ms of
    SQLAlchemy compiling at 150 events, one statement a row ~0.8 ms an event."""
    if not events:
        return
    episodes = _stored_episodes(connection, events)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    for event in events:
        key = (event.workspace, event.drift_id)
        stored = episodes.get(key)
        last_opened = None if stored is None else stored[1]
        since = open_since(
            last_opened if stored and stored[0] else None, event.action == "resolved", event.at
        )
        # a resolved drift keeps when its last episode opened (a first Resolved: now)
        opened_at = since if since is not None else event.at if last_opened is None else last_opened
        episodes[key] = (since is not None, opened_at)
        data = event.published["data"]
        rows[key] = {
            "workspace": event.workspace,
            "drift_id": event.drift_id,
            "open": since is not None,
            "opened_at": opened_at,
            "changed_at": event.at,
            "kind": data["kind"],
            "severity": data["severity"],
            "data": data,
        }
        history.append(
            {
                "event_id": event.published["event_id"],
                "workspace": event.workspace,
                "drift_id": event.drift_id,
                "at": event.at,
                "action": event.action,
                "data": data,
            }
        )
    _upsert_drifts(connection, list(rows.values()))
    for workspace in sorted({workspace for workspace, _ in rows}):
        move_drift_versions(connection, workspace)
    _insert_many(connection, t.drift_history, history)


def _stored_episodes(
    connection: Connection, events: Sequence[DriftEvent]
) -> dict[tuple[str, str], tuple[bool, int]]:
    """(workspace, drift id) -> (open, when its last episode opened) of the events' drifts."""
    drifts = t.drifts
    wanted: dict[str, set[str]] = {}
    for event in events:
        wanted.setdefault(event.workspace, set()).add(event.drift_id)
    found: dict[tuple[str, str], tuple[bool, int]] = {}
    for workspace, idents in wanted.items():
        for chunk in _chunks(sorted(idents)):
            query = select(drifts.c.drift_id, drifts.c.open, drifts.c.opened_at).where(
                drifts.c.workspace == workspace, drifts.c.drift_id.in_(chunk)
            )
            for ident, is_open, opened_at in connection.execute(query):
                found[(workspace, ident)] = (bool(is_open), int(opened_at))
    return found


def _upsert_drifts(connection: Connection, rows: list[dict[str, Any]]) -> None:
    drifts = t.drifts
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(drifts)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[drifts.c.workspace, drifts.c.drift_id],
            set_={
                name: statement.excluded[name]
                for name in ("open", "opened_at", "changed_at", "kind", "severity", "data")
            },
        ),
        rows,
    )


def _insert_many(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(table.insert(), rows)


IDS_PER_QUERY = 500
"""Well under SQLite's 32 766 and PostgreSQL's 65 535 parameters a statement."""


def _chunks(items: list[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), IDS_PER_QUERY):
        yield items[start : start + IDS_PER_QUERY]


def pending_outbox(
    connection: Connection, limit: int = 1_000, scope: Callable[[str], bool] | None = None
) -> list[tuple[str, bytes]]:
    """(event id, JSON) of up to `limit` drift events committed but not yet published, oldest
    first (the ids are UUIDv7), of the workspaces in `scope` (a partition's) or all."""
    outbox = t.outbox
    query = select(outbox.c.event_id, outbox.c.payload)
    if scope is not None:
        workspaces = connection.execute(select(outbox.c.workspace).distinct()).scalars()
        query = query.where(outbox.c.workspace.in_([w for w in workspaces if scope(w)]))
    rows = connection.execute(query.order_by(outbox.c.event_id).limit(limit))
    return [(ident, payload.encode()) for ident, payload in rows]


def published(connection: Connection, event_ids: list[str]) -> None:
    if event_ids:
        connection.execute(delete(t.outbox).where(t.outbox.c.event_id.in_(event_ids)))


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
