"""Spend per strategy: a campaign's spend counts in every strategy it serves, inside that
strategy's current period; the per-campaign memo answers like a fresh computation."""

from __future__ import annotations

from truenorth.alignment.domain.entities import SharedValues
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import spend_by_strategy
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.envelope import EnvelopeFields

from . import builders as b
from .builders import WS, day


def fold(*events: EnvelopeFields) -> Projection:
    projection = Projection()
    projection.apply_all(events)
    return projection


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


def totals(projection: Projection, at: float = 15) -> dict[str, float]:
    spend = spend_by_strategy(projection, WS, to_micros(day(at)))
    return {sid: s.total for sid, s in spend.strategies.items()} | {"all": spend.total}


def test_a_campaign_serving_two_strategies_counts_in_each_inside_its_period() -> None:
    projection = fold(
        *two_strategies(),
        b.launched("c-both", objective_ids=("leads-q4", "signups")),
        b.launched("c-one", objective_ids=("leads-q4",)),
        *(b.observed("c-both", "spend", 100, day(d)) for d in (5, 12, 30)),
        *(b.observed("c-one", "spend", 10, day(d)) for d in (5, 12)),
    )
    assert totals(projection) == {b.STRATEGY: 320.0, "s-2": 100.0, "all": 320.0}


def test_the_memo_follows_new_spend_and_new_links() -> None:
    events = [*two_strategies(), b.launched("c-a", objective_ids=("leads-q4",))]
    events.append(b.observed("c-a", "spend", 50, day(12)))
    projection = fold(*events)
    assert totals(projection) == {b.STRATEGY: 50.0, "s-2": 0.0, "all": 50.0}
    projection.apply(b.linked("c-a", "signups"))
    assert totals(projection) == {b.STRATEGY: 50.0, "s-2": 50.0, "all": 50.0}
    projection.apply(b.observed("c-a", "spend", 7, day(40)))
    assert totals(projection) == {b.STRATEGY: 57.0, "s-2": 50.0, "all": 57.0}
    assert totals(projection) == totals(
        fold(*events, b.linked("c-a", "signups"), b.observed("c-a", "spend", 7, day(40)))
    )


def test_campaigns_changed_between_two_reads_share_one_version_and_each_read_sees_them() -> None:
    projection = fold(*two_strategies(), b.launched("c-a"), b.launched("c-b"))
    campaigns = projection.workspaces[WS].campaigns
    assert totals(projection)["all"] == 0.0
    for value in (5, 6):  # two changes of one campaign between reads
        projection.apply(b.observed("c-a", "spend", value, day(12), observation_id=f"o-{value}"))
    projection.apply(b.observed("c-b", "spend", 1, day(12)))
    assert campaigns["c-a"].version is campaigns["c-b"].version
    assert totals(projection)["all"] == 12.0
    projection.apply(b.observed("c-b", "spend", 2, day(13)))
    assert campaigns["c-b"].version > campaigns["c-a"].version
    assert totals(projection)["all"] == 14.0


def test_campaigns_share_equal_dates_and_link_sets() -> None:
    projection = fold(
        *two_strategies(),
        b.launched("c-a", objective_ids=("signups", "leads-q4")),
        b.launched("c-b", objective_ids=("leads-q4", "signups")),
    )
    first, second = (projection.workspaces[WS].campaigns[c] for c in ("c-a", "c-b"))
    assert first.objective_ids == ("leads-q4", "signups")
    assert first.objective_ids is second.objective_ids
    assert first.start is second.start and first.end is second.end
    assert first.budget == 10_000.0 and first.budget is second.budget


def test_shared_values_keep_one_copy_up_to_their_limit() -> None:
    shared = SharedValues(limit=2)
    first = shared(tuple(["a", "b"]))
    assert shared(tuple(["a", "b"])) is first
    shared(("c",))
    late = tuple(["d"])
    assert shared(late) is late and len(shared) == 2  # past the limit: kept as it is
    assert shared(tuple(["d"])) is not late
