"""The live snapshot keeps no row per campaign; a reader asks for an objective's campaigns
and gets what a whole reading at the same moment would have shown."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World, moment
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.plans import LivePlans
from truenorth.alignment.store.read import Moment
from truenorth.alignment.views import build_snapshot, with_campaigns

NOW = day(20)


@pytest.fixture
def world() -> World:
    """Two objectives: c-both serves both, c-one the first, c-two the second; c-none serves
    none, and c-gone served the first until day 10."""
    return World(
        b.strategy_defined(),
        b.objective_added(b.spec("o-1", kpi="leads")),
        b.objective_added(b.spec("o-2", kpi="leads")),
        b.launched("c-both", objective_ids=("o-1", "o-2"), channel="google"),
        b.launched("c-one", objective_ids=("o-1",)),
        b.launched("c-two", objective_ids=("o-2",)),
        b.launched("c-none", objective_ids=()),
        b.launched("c-gone", objective_ids=("o-1",)),
        b.unlinked("c-gone", "o-1", day(10)),
        *(
            b.observed(c, metric, value, day(5))
            for c, value in (("c-both", 3), ("c-one", 5), ("c-two", 7), ("c-none", 11))
            for metric in ("leads", "spend")
        ),
        b.observed("c-gone", "spend", 13, day(5)),
    )


def live_snapshot(world: World, plans: LivePlans):  # type: ignore[no-untyped-def]
    return build_snapshot(world.engine, NOW, plans=plans, campaigns=False)


def read(world: World, plans: LivePlans, objectives, whole: bool = False):  # type: ignore[no-untyped-def]
    return asyncio.run(with_campaigns(world.engine, objectives, NOW, plans, whole))


def test_the_live_snapshot_keeps_no_row_per_campaign(world: World) -> None:
    snapshot = live_snapshot(world, LivePlans())
    objective = snapshot.objective(WS, "o-1")
    assert objective is not None and objective.campaigns is None
    with pytest.raises(LookupError, match="o-1: campaigns not read"):
        _ = objective.contributions
    assert objective.spend == 8
    assert dict(objective.spend_by_channel) == {"google": 3, "linkedin": 5}


@pytest.mark.parametrize("whole", [False, True], ids=["by key", "whole workspace"])
def test_campaigns_read_when_asked_equal_a_whole_reading(world: World, whole: bool) -> None:
    plans = LivePlans()
    kept = live_snapshot(world, plans)
    full = build_snapshot(world.engine, NOW, plans=plans)
    asked = (
        [o for o in kept.objectives if o.objective_id == "o-1"] if not whole else kept.objectives
    )
    got = read(world, plans, asked, whole)
    assert [o.contributions for o in got] == [
        _found(full.objectives, o.objective_id).contributions for o in asked
    ]
    assert {c.campaign_id for c in got[0].contributions} == {"c-both", "c-one"}


def test_an_objective_read_alone_reads_its_linked_campaigns_alone(world: World) -> None:
    with world.engine.connect() as connection:
        now = Facts(connection, WS, Moment.now(to_micros(NOW)), objective_ids=["o-1"])
        assert now.sums("spend", None) == {"c-both": 3, "c-one": 5}
        then = Facts(connection, WS, moment(day(8)), objective_ids=["o-1"])
        assert then.sums("spend", None) == {"c-both": 3, "c-one": 5, "c-gone": 13}


def test_objectives_already_read_are_left_as_they_are(world: World) -> None:
    past = build_snapshot(world.engine, NOW, moment(NOW))
    assert read(world, LivePlans(), past.objectives) == list(past.objectives)


def _found(objectives: tuple[ObjectiveSnapshot, ...], objective_id: str) -> ObjectiveSnapshot:
    return next(o for o in objectives if o.objective_id == objective_id)
