"""What the service reads from its tables: the snapshot at a moment and the drift tick.
Reading never writes; a tick writes only its drift transitions and their outbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from truenorth.alignment.domain.drift import DriftTransition, detect_drifts, reconcile
from truenorth.alignment.domain.snapshot import (
    OpenDrift,
    Snapshot,
    WorkspaceSnapshot,
    workspace_snapshot,
)
from truenorth.alignment.domain.timeunits import from_micros, to_micros
from truenorth.alignment.store.drifts import (
    drift_entries,
    drift_workspaces,
    open_drifts,
    record_transitions,
)
from truenorth.alignment.store.read import Facts, Moment, read_workspace, workspace_names
from truenorth.contract.alignment import DriftData
from truenorth.http import FieldInvalid
from truenorth.timeparse import parse_instant

Scope = Callable[[str], bool]
"""Which workspaces a reader answers for (a partition's)."""


def parse_moment(now: datetime, as_of: str | None, known_at: str | None) -> Moment:
    """The moment a reader asks for (nothing: live at `now`); FieldInvalid names the field."""
    if as_of is None and known_at is None:
        return Moment.now(to_micros(now))
    values = {}
    for name, text in (("as_of", as_of), ("known_at", known_at)):
        try:
            values[name] = None if text is None else to_micros(parse_instant(text))
        except ValueError as exc:
            raise FieldInvalid(name, str(exc), "datetime_parsing") from None
    return Moment(as_of=values["as_of"] or to_micros(now), known_at=values["known_at"])


def build_snapshot(
    engine: Engine,
    now: datetime,
    moment: Moment | None = None,
    workspace: str | None = None,
    scope: Scope | None = None,
) -> Snapshot:
    """Every figure at the moment (default: live at `now`), of one workspace, of the
    workspaces in `scope` (a partition's), or of all."""
    moment = moment or Moment.now(to_micros(now))
    with engine.connect() as connection:
        names = [workspace] if workspace else workspace_names(connection, moment)
        if scope is not None:
            names = [name for name in names if scope(name)]
        parts: list[WorkspaceSnapshot] = []
        drifts: list[OpenDrift] = []
        for name in names:
            view = read_workspace(connection, name, moment, reports=False)
            parts.append(workspace_snapshot(view, Facts(connection, name, moment), moment.as_of))
            drifts.extend(_open_drifts(connection, name, moment, view.acknowledged))
    return Snapshot.of(now, parts, drifts)


async def past_snapshot(engine: Engine, moment: Moment, workspace: str | None) -> Snapshot:
    """A snapshot as of a past moment, built in a worker thread."""
    at = from_micros(moment.as_of)
    return await asyncio.to_thread(build_snapshot, engine, at, moment, workspace)


def _open_drifts(
    connection: Connection, workspace: str, moment: Moment, acknowledged: dict[str, int] | object
) -> list[OpenDrift]:
    if moment.live:
        return _served_drifts(workspace, open_drifts(connection, workspace), acknowledged)
    opened = {
        entry.data.drift_id: (entry.data, to_micros(entry.opened_at))
        for entry in drift_entries(connection, workspace, moment)
        if entry.status == "open"
    }
    return _served_drifts(workspace, opened, acknowledged)


def _served_drifts(
    workspace: str,
    opened: dict[str, tuple[DriftData, int]],
    acknowledged: dict[str, int] | object,
) -> list[OpenDrift]:
    """The open drifts (drift_id -> (data, opened at)), acknowledged or not since they opened."""
    acks = acknowledged if isinstance(acknowledged, dict) else {}
    found = [
        OpenDrift(
            workspace=workspace,
            drift=data,
            opened_at=from_micros(at),
            acknowledged=max(acks.get(data.drift_id, -1), acks.get(data.incident, -1)) >= at,
        )
        for data, at in opened.values()
    ]
    found.sort(key=lambda d: d.drift.drift_id)
    return found


@dataclass(frozen=True)
class Evaluation:
    """A drift tick's outcome: the transitions it committed and the snapshot it judged,
    with the drifts open after them (what the service then serves)."""

    transitions: list[DriftTransition]
    snapshot: Snapshot


def drift_tick(
    engine: Engine,
    now: datetime,
    scope: Scope | None = None,
    fence: Callable[[Connection], None] | None = None,
) -> list[DriftTransition]:
    """Evaluate drift at `now` (see `evaluate`); returns the transitions committed."""
    return evaluate(engine, now, scope, fence).transitions


def evaluate(
    engine: Engine,
    now: datetime,
    scope: Scope | None = None,
    fence: Callable[[Connection], None] | None = None,
) -> Evaluation:
    """Evaluate drift at `now` in every workspace (of `scope`, a partition's) and commit the
    transitions with their outbox events, a workspace at a time, each transaction passing the
    partition's `fence` first. Drift is judged on the very objective figures the snapshot
    shows, computed once: a leader never sees a pace that the drift beside it was not
    raised on (and a tick costs a snapshot, not a snapshot more)."""
    at = to_micros(now)
    moment = Moment.now(at)
    with engine.connect() as connection:
        names = sorted(set(workspace_names(connection, moment)) | set(drift_workspaces(connection)))
    if scope is not None:
        names = [name for name in names if scope(name)]
    committed: list[DriftTransition] = []
    parts: list[WorkspaceSnapshot] = []
    drifts: list[OpenDrift] = []
    for name in names:
        with engine.connect() as connection:
            view = read_workspace(connection, name, moment)
            before = open_drifts(connection, name)
            facts = Facts(connection, name, moment)
            part = workspace_snapshot(view, facts, at)
            findings = detect_drifts(
                view, facts, at, objectives=part.objectives, open_ids=frozenset(before)
            )
            transitions = reconcile(name, before, list(findings), at)
        after = before
        if transitions:
            with engine.begin() as connection:
                if fence is not None:
                    fence(connection)
                record_transitions(connection, transitions, now)
                after = open_drifts(connection, name)
            committed.extend(transitions)
        drifts.extend(_served_drifts(name, after, view.acknowledged))
        parts.append(part)
    return Evaluation(committed, Snapshot.of(now, parts, drifts))
