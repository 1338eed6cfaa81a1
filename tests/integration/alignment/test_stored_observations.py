"""The service's projection keeps per-period totals in memory and asks the store about each
observation: folding through the store (SQLite and PostgreSQL) counts exactly what an
in-memory fold counts, across batches, commits and restarts."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import build_snapshot
from truenorth.alignment.folding import ProjectionState, StoredObservations, stored_digest
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import encode
from truenorth.store.db import commit_batch, make_engine, migrate

BASE = (b.strategy_defined(), b.objective_added(), b.launched("c-a"), b.launched("c-b"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


class Service:
    """Folds like the live projector: one stream, a transaction per batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.state = ProjectionState.load(engine)
        self.sequence = self.state.positions.get("METRICS", 0)

    def fold(self, events: Sequence[EnvelopeFields]) -> None:
        messages = []
        for event in events:
            self.sequence += 1
            messages.append((self.sequence, "tn.subject", encode(event), 1))
        folded = self.state.fold(self.engine, "METRICS", messages)
        commit_batch(self.engine, folded.batch)
        self.state.committed(folded.batch)

    def restart(self) -> None:
        self.state = ProjectionState.load(self.engine)

    def actual(self) -> float:
        objective = build_snapshot(self.state.projection, day(30)).objective(WS, "leads-q4")
        assert objective is not None
        return objective.actual


def in_memory(*events: EnvelopeFields) -> Projection:
    projection = Projection()
    projection.apply_all(events)
    return projection


def test_a_restatement_in_a_later_batch_replaces_the_stored_value(engine: Engine) -> None:
    service = Service(engine)
    observation = b.observed("c-a", "leads", 40, day(1))
    service.fold([*BASE, observation, b.observed("c-a", "leads", 5, day(2))])
    service.fold([b.restated(observation, 55, recorded_at=day(3))])
    assert service.actual() == 60


def test_a_resent_observation_in_a_later_batch_is_counted_once(engine: Engine) -> None:
    service = Service(engine)
    first = b.observed("c-a", "leads", 40, day(1), observation_id="x-1")
    service.fold([*BASE, first])
    service.fold([b.observed("c-a", "leads", 40, day(1), observation_id="x-1", recorded_at=day(4))])
    assert service.actual() == 40


def test_a_stale_redelivery_after_a_restart_does_not_undo_a_restatement(engine: Engine) -> None:
    service = Service(engine)
    observation = b.observed("c-a", "leads", 40, day(1))
    service.fold([*BASE, observation, b.restated(observation, 50, recorded_at=day(3))])
    service.restart()
    stale = b.observed("c-a", "leads", 40, day(1), recorded_at=day(2))
    service.fold([stale])
    assert service.actual() == 50


def test_a_restatement_moving_an_observation_across_batches_leaves_no_trace(
    engine: Engine,
) -> None:
    service = Service(engine)
    wrong = b.observed("c-b", "leads", 40, day(1), observation_id="o-1")
    service.fold([*BASE, wrong])
    service.restart()
    right = b.observed("c-a", "leads", 40, day(2), observation_id="o-1", recorded_at=day(5))
    service.fold([right])
    projection = service.state.projection
    moved_from = projection.workspaces[WS].campaigns["c-b"].series_of("leads", projection.arrays)
    assert moved_from is not None and projection.arrays.total(moved_from) == 0
    assert service.actual() == 40
    assert stored_digest(engine) == in_memory(*BASE, wrong, right).digest()


def test_memory_holds_period_totals_and_one_batch_of_observations(engine: Engine) -> None:
    service = Service(engine)
    service.fold(BASE)
    for batch in range(10):
        service.fold(
            [
                b.observed("c-a", "leads", 1, day(period), observation_id=f"o-{batch}-{i}")
                for i in range(200)
                for period in (i % 5,)
            ]
        )
    projection = service.state.projection
    assert len(projection.arrays) == 5  # five periods reported, 2 000 observations
    observations = projection.observations
    assert isinstance(observations, StoredObservations)
    assert observations.held() <= 200
    assert service.actual() == 2_000


# -- any batching, any restart: the same as an in-memory fold ----------------------------------

_observations = st.builds(
    lambda campaign, oid, value, period, recorded: b.observed(
        campaign,
        "leads",
        value,
        day(period),
        observation_id=f"o-{oid}",
        recorded_at=day(10 + recorded),
    ),
    st.sampled_from(["c-a", "c-b", "c-z"]),
    st.integers(0, 6),
    st.integers(0, 100),
    st.integers(0, 3),
    st.integers(0, 4),
)


@settings(max_examples=25, deadline=None)
@given(
    events=st.lists(_observations, min_size=1, max_size=30),
    cuts=st.lists(st.integers(1, 30), max_size=5),
    restarts=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_folding_through_the_store_equals_folding_in_memory(
    events: list[EnvelopeFields], cuts: list[int], restarts: list[bool]
) -> None:
    """Duplicates, restatements, stale redeliveries and moves between campaigns and periods,
    cut into batches anywhere, with restarts between batches (SQLite)."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'p.db'}")
        migrate(engine)
        service = Service(engine)
        service.fold(BASE)
        bounds = [0, *sorted({c for c in cuts if c < len(events)}), len(events)]
        for number, (low, high) in enumerate(pairwise(bounds)):
            service.fold(events[low:high])
            if restarts[number % len(restarts)]:
                service.restart()
        # the store skips an event id it processed before (the builders derive ids from the
        # value and time, not the period, so the generator can repeat one): so does the oracle
        first_of_each_id = {e.event_id: e for e in reversed(events)}
        expected = in_memory(*BASE, *(e for e in events if first_of_each_id[e.event_id] is e))
        assert stored_digest(engine) == expected.digest()
        snapshot = build_snapshot(expected, day(30)).objective(WS, "leads-q4")
        assert snapshot is not None and service.actual() == snapshot.actual
        engine.dispose()


@settings(max_examples=20, deadline=None)
@given(
    events=st.lists(_observations, min_size=1, max_size=30),
    cuts=st.lists(st.integers(1, 30), max_size=5),
)
def test_a_rebuild_that_looks_up_only_what_it_wrote_equals_folding_in_memory(
    events: list[EnvelopeFields], cuts: list[int]
) -> None:
    """A rebuild from zero knows the store holds only what it wrote: it asks the store about
    those observations only, and still counts like an in-memory fold."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'p.db'}")
        migrate(engine)
        state = ProjectionState(Projection(StoredObservations(engine, remember_written=True)))
        seen: set[str] = set()
        bounds = [0, *sorted({c for c in cuts if c < len(events)}), len(events)]
        sequence = 0
        for batch in ([*BASE], *(events[low:high] for low, high in pairwise(bounds))):
            messages = [(sequence + n, "tn", encode(e), 1) for n, e in enumerate(batch, 1)]
            sequence += len(batch)
            folded = state.fold(engine, "ALL", messages, seen_in_memory=seen, check_store=False)
            state.committed(folded.batch)  # like the rebuild: before its commit is done
            commit_batch(engine, folded.batch)
        first_of_each_id = {e.event_id: e for e in reversed(events)}
        expected = in_memory(*BASE, *(e for e in events if first_of_each_id[e.event_id] is e))
        assert stored_digest(engine) == expected.digest()
        engine.dispose()


def test_a_restart_restores_the_ticks_drifts_and_keeps_its_outbox_apart(engine: Engine) -> None:
    from truenorth.alignment.folding import pending_outbox

    service = Service(engine)
    service.fold([*BASE, b.observed("c-a", "leads", 10, day(5))])
    batch = service.state.drift_tick(day(50))
    assert batch is not None
    commit_batch(engine, batch)
    service.state.clear_dirty()
    opened = {e.data.drift_id: e.status for e in service.state.tracker.entries()}
    assert opened and set(opened.values()) == {"open"}
    assert len(pending_outbox(engine)) == len(opened)
    service.restart()
    assert {e.data.drift_id: e.status for e in service.state.tracker.entries()} == opened
    assert service.state.drift_tick(day(50)) is None  # nothing new to announce
    assert service.actual() == 10
