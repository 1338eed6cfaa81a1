"""Spend per strategy: a campaign's spend counts in every strategy it serves, inside that
strategy's current period; each read answers like a fresh fold of the same events."""

from __future__ import annotations

from truenorth.alignment.domain.spend import spend_by_strategy
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.read import read_workspace
from truenorth.contract.envelope import EnvelopeFields

from . import builders as b
from .builders import WS, day
from .world import World, moment


def _second_strategy(event: EnvelopeFields) -> EnvelopeFields:
    return event.model_copy(update={"aggregate_id": "s-2"})


def two_strategies() -> tuple[EnvelopeFields, ...]:
    """s-1 plans days 0-100; s-2 plans days 10-20 only."""
    return (
        b.strategy_defined(),
        b.objective_added(b.spec("leads-q4")),
        b.budget_planned(period_id="q4"),
        _second_strategy(b.strategy_defined()),
        b.objective_added(b.spec("signups", kpi="signups"), strategy_id="s-2"),
        _second_strategy(b.budget_planned(period_id="p-2", start=day(10), end=day(20))),
    )


def totals(world: World, at: float = 15) -> dict[str, float]:
    when = moment(day(at))
    with world.engine.connect() as connection:
        view = read_workspace(connection, WS, when)
        spend = spend_by_strategy(view, Facts(connection, WS, when), to_micros(day(at)))
    return {sid: s.total for sid, s in spend.strategies.items()} | {"all": spend.total}


def test_a_campaign_serving_two_strategies_counts_in_each_inside_its_period() -> None:
    world = World(
        *two_strategies(),
        b.launched("c-both", objective_ids=("leads-q4", "signups")),
        b.launched("c-one", objective_ids=("leads-q4",)),
        *(b.observed("c-both", "spend", 100, day(d)) for d in (5, 12, 30)),
        *(b.observed("c-one", "spend", 10, day(d)) for d in (5, 12)),
    )
    assert totals(world, at=15) == {b.STRATEGY: 220.0, "s-2": 100.0, "all": 220.0}
    # by day 40 the day-30 spend happened, and s-2 has no current period: all its spend
    assert totals(world, at=40) == {b.STRATEGY: 320.0, "s-2": 300.0, "all": 320.0}


def test_spend_follows_new_spend_and_new_links() -> None:
    events = [*two_strategies(), b.launched("c-a", objective_ids=("leads-q4",))]
    events.append(b.observed("c-a", "spend", 50, day(12)))
    world = World(*events)
    assert totals(world) == {b.STRATEGY: 50.0, "s-2": 0.0, "all": 50.0}
    world.apply(b.linked("c-a", "signups"))
    assert totals(world) == {b.STRATEGY: 50.0, "s-2": 50.0, "all": 50.0}
    world.apply(b.observed("c-a", "spend", 7, day(14)))
    assert totals(world) == {b.STRATEGY: 57.0, "s-2": 57.0, "all": 57.0}
    world.apply(b.observed("c-a", "spend", 3, day(40)))
    assert totals(world, at=19) == {b.STRATEGY: 57.0, "s-2": 57.0, "all": 57.0}
    assert totals(world, at=45) == {b.STRATEGY: 60.0, "s-2": 60.0, "all": 60.0}
    assert totals(world, at=45) == totals(
        World(
            *events,
            b.linked("c-a", "signups"),
            b.observed("c-a", "spend", 7, day(14)),
            b.observed("c-a", "spend", 3, day(40)),
        ),
        at=45,
    )


def test_each_read_sees_every_change_of_the_campaigns_since_the_last() -> None:
    world = World(*two_strategies(), b.launched("c-a"), b.launched("c-b"))
    assert totals(world)["all"] == 0.0
    for value in (5, 6):  # two changes of one campaign between reads
        world.apply(b.observed("c-a", "spend", value, day(12), observation_id=f"o-{value}"))
    world.apply(b.observed("c-b", "spend", 1, day(12)))
    assert totals(world)["all"] == 12.0
    world.apply(b.observed("c-b", "spend", 2, day(13)))
    assert totals(world)["all"] == 14.0


def test_a_campaigns_links_are_read_in_order_whatever_the_event_said() -> None:
    world = World(
        *two_strategies(),
        b.launched("c-a", objective_ids=("signups", "leads-q4")),
        b.launched("c-b", objective_ids=("leads-q4", "signups")),
    )
    campaigns = world.view(WS, day(1)).campaigns
    first, second = campaigns["c-a"], campaigns["c-b"]
    assert first.objective_ids == second.objective_ids == ("leads-q4", "signups")
    assert (
        (first.start, first.end)
        == (second.start, second.end)
        == (
            to_micros(b.T0),
            to_micros(day(100)),
        )
    )
    assert first.budget == second.budget == 10_000.0
