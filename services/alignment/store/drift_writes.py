"""Writing drift rows: a tick's transitions (or the ALIGNMENT stream's events when rebuilding)
folded into the drift rows and their history, with the outbox of drift events committed with
them and published afterwards. What ticks, snapshots and the API read is in `drifts`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from truenorth.alignment.domain.batching import batched
from truenorth.alignment.domain.drift import DriftTransition
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import tables as t
from truenorth.alignment.store.drifts import ACTIONS, EVENTS
from truenorth.contract.alignment import DriftData
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import decode
from truenorth.drift_lifecycle import open_since


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
        for chunk in batched(idents, t.IDS_PER_QUERY):
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


def oldest_pending(connection: Connection) -> datetime | None:
    """When the oldest drift event waiting in the outbox, of any workspace, occurred."""
    query = select(t.outbox.c.payload).order_by(t.outbox.c.event_id).limit(1)
    payload = connection.execute(query).scalar_one_or_none()
    return None if payload is None else decode(payload.encode()).occurred_at


def published(connection: Connection, event_ids: list[str]) -> None:
    if event_ids:
        connection.execute(delete(t.outbox).where(t.outbox.c.event_id.in_(event_ids)))
