"""A projection for the domain tests: events folded by the real fold into an in-memory SQLite
store, read back as of any time, drift evaluated as the service does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import StaticPool

from truenorth.alignment.domain.drift import DriftTransition, detect_drifts, reconcile
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.replay import digest
from truenorth.alignment.store.drifts import open_drifts, record_transitions
from truenorth.alignment.store.fold import fold_events
from truenorth.alignment.store.read import Facts, Moment, read_workspace, workspace_names
from truenorth.alignment.views import build_snapshot
from truenorth.contract.alignment import DriftData
from truenorth.contract.envelope import EnvelopeFields
from truenorth.store.db import migrate


def memory_engine() -> Engine:
    return create_engine(
        "sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool
    )


class World:
    def __init__(self, *events: EnvelopeFields) -> None:
        self.engine = memory_engine()
        migrate(self.engine)
        self.apply(*events)

    def apply(self, *events: EnvelopeFields) -> None:
        with self.engine.begin() as connection:
            fold_events(connection, "alignment", events)

    def snapshot(
        self, at: datetime, known_at: datetime | None = None, live: bool = False
    ) -> Snapshot:
        moment = Moment(to_micros(at), None if known_at is None else to_micros(known_at), live=live)
        return build_snapshot(self.engine, at, moment)

    def transitions(self, at: datetime) -> list[DriftTransition]:
        """Evaluate drift at `at` in every workspace and record the transitions."""
        micros = to_micros(at)
        moment = Moment.now(micros)
        found: list[DriftTransition] = []
        with self.engine.begin() as connection:
            for name in workspace_names(connection, moment):
                view = read_workspace(connection, name, moment)
                before = open_drifts(connection, name)
                facts = Facts(connection, name, moment)
                findings = detect_drifts(view, facts, micros, open_ids=frozenset(before))
                transitions = reconcile(name, before, findings, micros)
                record_transitions(connection, transitions, at)
                found.extend(transitions)
        return found

    def evaluate(self, at: datetime, kind: str) -> list[DriftTransition]:
        return [t for t in self.transitions(at) if t.data.kind == kind]

    def only(self, at: datetime, kind: str, action: str) -> DriftData:
        transitions = self.evaluate(at, kind)
        assert [t.action for t in transitions] == [action], transitions
        return transitions[0].data

    def digest(self) -> str:
        return digest(self.engine)
