"""A projection for the domain tests: events folded by the real fold into an SQLite store
(in memory unless an engine is given), read back as of any time, drift evaluated as the
service does."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import cache, partial

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from truenorth.alignment.domain.drift import DriftTransition, Finding, OpenDriftRow, reconcile
from truenorth.alignment.domain.entities import WorkspaceView
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.replay import digest
from truenorth.alignment.store.drift_writes import drift_events, record_transitions
from truenorth.alignment.store.drifts import (
    DriftEntry,
    drift_entries,
    last_published,
    open_drift_ids,
    open_drifts,
)
from truenorth.alignment.store.fold import fold_events
from truenorth.alignment.store.plans import LivePlans
from truenorth.alignment.store.read import Moment, read_workspace
from truenorth.alignment.views import build_snapshot, drift_tick
from truenorth.contract.alignment import DriftData
from truenorth.contract.envelope import EnvelopeFields
from truenorth.store.db import migrate

CONSUMER = "alignment"


def memory_engine() -> Engine:
    """A migrated in-memory store: a copy of one migrated once (alembic takes ~150 ms, the
    copy well under 1 ms)."""
    template = _migrated()

    def copy() -> sqlite3.Connection:
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        template.backup(connection)
        return connection

    return create_engine("sqlite://", creator=copy, poolclass=StaticPool)


@cache
def _migrated() -> sqlite3.Connection:
    engine = create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )
    migrate(engine)
    connection = engine.raw_connection().driver_connection
    assert isinstance(connection, sqlite3.Connection)
    return connection


def moment(at: datetime, known_at: datetime | None = None, live: bool = False) -> Moment:
    return Moment(to_micros(at), None if known_at is None else to_micros(known_at), live=live)


class World:
    def __init__(self, *events: EnvelopeFields, engine: Engine | None = None) -> None:
        self.engine = engine or memory_engine()
        migrate(self.engine)
        self.apply(*events)

    def apply(self, *events: EnvelopeFields) -> None:
        """Fold the events in one transaction, as one batch of the projector."""
        with self.engine.begin() as connection:
            fold_events(connection, CONSUMER, events)

    def apply_each(self, *events: EnvelopeFields) -> None:
        """Fold the events one batch (transaction) each."""
        for event in events:
            self.apply(event)

    # -- reading -----------------------------------------------------------------------------

    def snapshot(
        self,
        at: datetime,
        known_at: datetime | None = None,
        live: bool = False,
        workspace: str | None = None,
    ) -> Snapshot:
        """Every figure as of `at` (facts recorded by `known_at`, default: all); `live` reads
        the current rows, as the service's live snapshot does."""
        return build_snapshot(self.engine, at, moment(at, known_at, live), workspace)

    def view(self, workspace: str, at: datetime, known_at: datetime | None = None) -> WorkspaceView:
        with self.engine.connect() as connection:
            return read_workspace(connection, workspace, moment(at, known_at))

    def live_view(self, workspace: str, at: datetime) -> WorkspaceView:
        with self.engine.connect() as connection:
            return read_workspace(connection, workspace, Moment.now(to_micros(at)))

    def drift_entries(self, workspace: str, at: datetime | None = None) -> list[DriftEntry]:
        """The workspace's drifts now (`at` None: the drift rows) or as they stood at `at`."""
        with self.engine.connect() as connection:
            when = Moment.now(0) if at is None else moment(at)
            return drift_entries(connection, workspace, when)

    def open_drifts(self, workspace: str) -> dict[str, OpenDriftRow]:
        with self.engine.connect() as connection:
            return open_drifts(connection, workspace, open_drift_ids(connection, workspace))

    # -- drift -------------------------------------------------------------------------------

    def transitions(self, at: datetime, plans: LivePlans | None = None) -> list[DriftTransition]:
        """Evaluate drift at `at` in every workspace and record the transitions: the
        service's drift tick."""
        committed: list[DriftTransition] = []
        drift_tick(self.engine, at, plans=plans, committed=committed.extend)
        return committed

    def record(
        self, workspace: str, findings: list[Finding], at: datetime
    ) -> list[DriftTransition]:
        """Reconcile the findings with the workspace's stored open drifts and record the
        transitions in one transaction, as a drift tick does for one workspace."""
        with self.engine.begin() as connection:
            transitions = list(
                reconcile(
                    workspace,
                    open_drift_ids(connection, workspace),
                    findings,
                    to_micros(at),
                    partial(open_drifts, connection, workspace),
                    partial(last_published, connection, workspace),
                )
            )
            record_transitions(connection, drift_events(transitions, at))
        return transitions

    def evaluate(self, at: datetime, kind: str) -> list[DriftTransition]:
        return [t for t in self.transitions(at) if t.data.kind == kind]

    def only(self, at: datetime, kind: str, action: str) -> DriftData:
        transitions = self.evaluate(at, kind)
        assert [t.action for t in transitions] == [action], transitions
        return transitions[0].data

    def digest(self) -> str:
        return digest(self.engine)
