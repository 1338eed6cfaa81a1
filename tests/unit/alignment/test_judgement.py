"""What a marketing lead expects of the drift texts: they name the tactics that cause the
drift and say what would fix it, they never blame a campaign that is ahead, staleness follows
the period the data covers, and a deviation of exactly the tolerance does not fire."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.world import World
from truenorth.contract.alignment import DriftData


def strategy() -> list:  # type: ignore[type-arg]
    return [b.strategy_defined(), b.objective_added()]


def test_off_pace_names_the_campaign_behind_its_share_never_the_one_ahead() -> None:
    world = World(
        *strategy(),
        b.launched("c-ahead", budget=10_000),
        b.launched("c-behind", budget=10_000),
        *b.daily("c-ahead", "leads", [6] * 10),
        *b.daily("c-behind", "leads", [0.5] * 10),
        *b.daily("c-ahead", "spend", [100] * 10),
        *b.daily("c-behind", "spend", [100] * 10),
    )
    drift = world.only(day(10), "objective_off_pace", "detected")
    assert drift.campaign_ids == ("c-behind",)
    assert "c-ahead (" not in drift.explanation.split("lagging:")[1].split(";")[0]
    assert "more leads in" in drift.explanation  # the gap in units a lead understands
    assert "/day against" in drift.explanation
    assert "to resolve:" in drift.explanation


def test_channel_mix_drift_names_the_campaigns_carrying_the_channel() -> None:
    world = World(
        *strategy(),
        b.budget_planned(),
        b.launched("c-social", channel="linkedin"),
        b.launched("c-small", channel="linkedin"),
        *b.daily("c-social", "spend", [900] * 3),
        *b.daily("c-small", "spend", [100] * 3),
    )
    drifts = [t.data for t in world.evaluate(day(3), "channel_mix_drift")]
    linkedin = next(d for d in drifts if d.channel == "linkedin")
    assert "carried by c-social ($2,700) and c-small ($300)" in linkedin.explanation
    assert "to resolve: move about" in linkedin.explanation


def test_data_that_stopped_days_ago_is_stale_even_when_uploaded_now() -> None:
    late_upload = day(9)
    rows = [b.observed("c-a", "leads", 5, day(n), recorded_at=late_upload) for n in range(0, 5)]
    world = World(*strategy(), b.launched("c-a"), *rows)
    drift = world.only(day(9) + timedelta(hours=1), "stale_data", "detected")
    assert drift.figures["upload_lag_hours"] == 4 * 24
    assert "covers up to" in drift.explanation


def test_a_deviation_of_exactly_the_tolerance_does_not_fire() -> None:
    # a 70/30 plan: 40 % on search deviates by (0.4 - 0.3) * 100 = 10.000000000000002 pts
    assert (0.4 - 0.3) * 100 > 10
    world = World(
        *strategy(),
        b.budget_planned(mix={"linkedin": 70, "search": 30}),
        b.guardrails_set(channel_mix_tolerance_pts=10),
        b.launched("c-l", channel="linkedin"),
        b.launched("c-s", channel="search"),
        b.observed("c-l", "spend", 0.6, day(1)),
        b.observed("c-s", "spend", 0.4, day(1)),
    )
    assert world.evaluate(day(2), "channel_mix_drift") == []


def open_incidents(world: World, at: datetime) -> dict[str, list[DriftData]]:
    """incident id -> its open drifts (warning or above) after an evaluation at `at`."""
    world.transitions(at)
    incidents: dict[str, list[DriftData]] = {}
    for entry in world.drift_entries(b.WS):
        data = entry.data
        if entry.status == "open" and data.severity != "info":
            incidents.setdefault(data.incident, []).append(data)
    return incidents


def test_a_quarter_two_days_in_with_normal_data_raises_no_warning() -> None:
    quarter = b.spec(target=9_000, deadline=day(91))
    world = World(
        b.strategy_defined(),
        b.objective_added(quarter),
        b.budget_planned(mix={"linkedin": 60, "search": 40}, end=day(91)),
        b.launched("c-l", channel="linkedin", budget=60_000, end=day(91)),
        b.launched("c-s", channel="search", budget=40_000, end=day(91)),
        *b.daily("c-l", "spend", [900, 300]),  # a lumpy first two days
        *b.daily("c-s", "spend", [100, 500]),
        *b.daily("c-l", "leads", [20, 80]),
        *b.daily("c-s", "leads", [10, 60]),
    )
    assert open_incidents(world, day(2)) == {}


def test_one_campaign_at_three_times_its_budget_is_one_incident_naming_it() -> None:
    world = World(
        b.strategy_defined(),
        b.objective_added(b.spec(target=1_000, deadline=day(30))),
        b.budget_planned(mix={"linkedin": 50, "search": 50}, budget=30_000, end=day(30)),
        b.launched("c-search", channel="search", budget=3_000, end=day(30)),
        b.launched("c-linkedin", channel="linkedin", budget=15_000, end=day(30)),
        *b.daily("c-search", "spend", [300] * 10),  # 3× its time-phased $100/day
        *b.daily("c-linkedin", "spend", [100] * 10),
        *b.daily("c-search", "leads", [12] * 10),
        *b.daily("c-linkedin", "leads", [22] * 10),
    )
    incidents = open_incidents(world, day(10))
    assert list(incidents) == ["campaign-c-search"]
    kinds = sorted(d.kind for d in incidents["campaign-c-search"])
    assert kinds == ["budget_overrun", "channel_mix_drift"]  # its overrun and the mix shift


def test_an_open_mix_drift_resolves_only_clearly_inside_the_tolerance() -> None:
    events = [
        b.strategy_defined(),
        b.objective_added(),
        b.budget_planned(mix={"linkedin": 50, "search": 50}),
        b.launched("c-l", channel="linkedin", budget=100_000),
        b.launched("c-s", channel="search", budget=100_000),
        b.observed("c-l", "spend", 7_000, day(10)),
        b.observed("c-s", "spend", 3_000, day(10)),
    ]
    world = World(*events)
    assert world.only(day(20), "channel_mix_drift", "detected").channel == "linkedin"
    # back to 59 %: inside the 10-pt tolerance, not inside its 8-pt resolve threshold
    world.apply(b.observed("c-s", "spend", 1_864, day(11)))
    still = world.evaluate(day(21), "channel_mix_drift")
    assert [t.action for t in still] == ["updated"]  # open, its figures moved
    assert 8 < still[0].data.figures["deviation_pts"] < 10
    world.apply(b.observed("c-s", "spend", 1_597, day(12)))  # 52 %: clearly back
    assert [t.action for t in world.evaluate(day(22), "channel_mix_drift")] == ["resolved"]


def test_before_any_kpi_data_an_objective_is_never_more_than_info() -> None:
    world = World(
        b.strategy_defined(),
        b.objective_added(b.spec(target=1_000, deadline=day(30))),
        b.launched("c-a", budget=30_000, end=day(30)),
        *b.daily("c-a", "spend", [1_000] * 5),
    )
    drift = world.only(day(5), "objective_off_pace", "detected")
    assert drift.severity == "info"


def test_a_cac_ratio_is_never_summed_and_its_forecast_stays_between_zero_and_its_level() -> None:
    cac = b.spec(
        objective_id="cac",
        name="CAC",
        kpi="customer_acquisition_cost",
        aggregation="ratio",
        numerator="spend",
        denominator="new_customers",
        direction="decrease",
        baseline=400,
        target=250,
        deadline=day(60),
    )
    spend = [1_000.0] * 20
    customers = [2.5 + 0.1 * n for n in range(20)]  # CAC improving from 400 towards 200
    world = World(
        b.strategy_defined(),
        b.objective_added(cac),
        b.launched("c-a", objective_ids=("cac",), budget=60_000, end=day(60)),
        *b.daily("c-a", "spend", spend),
        *b.daily("c-a", "new_customers", customers),
    )
    [objective] = world.snapshot(day(20)).objectives
    assert objective.actual == pytest.approx(sum(spend) / sum(customers))
    assert 0 <= objective.forecast_low <= objective.forecast <= objective.forecast_high
    assert objective.forecast < objective.actual  # the trend is down
    assert objective.forecast >= 0
    [campaign] = objective.campaigns
    assert campaign.outcome_per_dollar is None and campaign.weight == 1.0
