"""What a marketing lead expects of the drift texts: they name the tactics that cause the
drift and say what would fix it, they never blame a campaign that is ahead, staleness follows
the period the data covers, and a deviation of exactly the tolerance does not fire."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.world import World


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
