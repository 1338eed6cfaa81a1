"""Reading a slice of a workspace by key, on SQLite and on PostgreSQL: a tick and a build in
slices equal the whole reading, an objective's campaigns read alone equal a whole reading's,
and the campaigns known only from their metrics are found by the database."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine

from tests.unit.alignment.builders import WS
from tests.unit.alignment.test_slices import NOW, every_kind_of_drift, judged, read_in_slices
from tests.unit.alignment.world import World
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import plans as plans_module
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.plans import LivePlans
from truenorth.alignment.store.read import Moment, metrics_only_campaigns
from truenorth.alignment.views import build_snapshot, with_campaigns
from truenorth.store.db import make_engine

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def fresh_world(database_url: str) -> tuple[World, Engine]:
    engine = make_engine(database_url)
    return World(*every_kind_of_drift(), engine=engine), engine


def test_a_tick_and_a_build_in_slices_equal_a_whole_reading(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = judged(World(*every_kind_of_drift()).transitions(NOW))  # SQLite in memory
    assert len(whole) >= 7
    world, engine = fresh_world(database_url)
    try:
        whole_snapshot = world.snapshot(NOW, live=True)
        read_in_slices(monkeypatch, 2)
        assert world.snapshot(NOW, live=True).objectives == whole_snapshot.objectives
        # a live plan of more campaigns than a slice keeps none: read a slice at a time
        kept = build_snapshot(engine, NOW, plans=LivePlans())
        assert kept.objectives == whole_snapshot.objectives
        assert kept.aligned_spend == whole_snapshot.aligned_spend
        assert judged(world.transitions(NOW, LivePlans())) == whole
    finally:
        engine.dispose()


@pytest.mark.parametrize("keeps", [True, False], ids=["plan keeping campaigns", "keeping none"])
def test_an_objectives_campaigns_read_alone_equal_a_whole_reading(
    database_url: str, keeps: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, engine = fresh_world(database_url)
    if not keeps:
        monkeypatch.setattr(plans_module, "KEPT_CAMPAIGNS", 1)
    try:
        plans = LivePlans()
        kept = build_snapshot(engine, NOW, plans=plans, campaigns=False)
        full = build_snapshot(engine, NOW, plans=plans)
        for objective in kept.objectives:
            (alone,) = asyncio.run(with_campaigns(engine, [objective], NOW, plans))
            whole = full.objective(WS, objective.objective_id)
            assert whole is not None and alone.campaigns == whole.campaigns
        listed = asyncio.run(with_campaigns(engine, kept.objectives, NOW, plans, True))
        assert [o.campaigns for o in listed] == [o.campaigns for o in full.objectives]
        with engine.connect() as connection:
            found = metrics_only_campaigns(Facts(connection, WS, Moment.now(to_micros(NOW))))
        assert list(found) == ["c-unlaunched"]
    finally:
        engine.dispose()
