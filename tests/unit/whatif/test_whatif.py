"""The what-if model: shifting budget moves each affected objective's forecast by exactly what
the stated model predicts (observed yield up to the highest observed daily spend, square-root
returns above it), ratios are recomputed, levels are not modelled, and refused shifts name
their field."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from truenorth.alignment.domain.recommend import recommend, revision
from truenorth.alignment.domain.whatif import what_if
from truenorth.alignment.domain.whatif_shifts import End, Shift, ShiftRefused
from truenorth.alignment.domain.whatif_situation import CampaignRecord, ObjectiveRecord, Situation
from truenorth.alignment.domain.whatif_yield import daily_outcome
from truenorth.contract.common import ObjectiveSpec, PeriodPlan
from truenorth.strategy.schemas import PeriodBody

NOW = datetime(2026, 3, 10, tzinfo=UTC)
PERIOD_START = datetime(2026, 3, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 3, 31, tzinfo=UTC)
DAYS_LEFT = 21.0
WINDOW = 7.0


def campaign(ident: str, channel: str, spend: float, peak: float, leads: float) -> CampaignRecord:
    return CampaignRecord(
        campaign_id=ident,
        channel=channel,
        objective_ids=("leads", "cac", "awareness"),
        spend=spend,
        peak_daily_spend=peak,
        outcomes={"spend": spend, "leads": leads},
        remaining_budget=100_000,
    )


def objective(spec: ObjectiveSpec, series: list[tuple[date, float]], so_far: float = 0.0):  # type: ignore[no-untyped-def]
    return ObjectiveRecord(spec.objective_id, spec, series, so_far, WINDOW)


def week(value: float) -> list[tuple[date, float]]:
    return [(date(2026, 3, 3) + timedelta(days=i), value) for i in range(7)]


LEADS = ObjectiveSpec(
    objective_id="leads",
    name="Leads",
    kpi="leads",
    target=2000,
    start=PERIOD_START,
    deadline=PERIOD_END,
)


def situation(*objectives: ObjectiveRecord, mix: dict[str, float] | None = None) -> Situation:
    # linkedin: $1 000/day for 5 leads ($200 a lead); search: $1 000/day for 20 ($50 a lead),
    # once seen spending $1 500 in a day
    return Situation(
        strategy_id="acme",
        now=NOW,
        window_days=WINDOW,
        period=PeriodPlan(
            period_id="march",
            start=PERIOD_START,
            end=PERIOD_END,
            budget=60_000,
            channel_mix=mix or {"linkedin": 50, "search": 50},
        ),
        allowed_channels=("linkedin", "search", "events"),
        period_spend_by_channel={"linkedin": 9_000, "search": 9_000},
        campaigns={
            "li": campaign("li", "linkedin", 7_000, 1_000, 35),
            "se": campaign("se", "search", 7_000, 1_500, 140),
        },
        objectives=objectives or (objective(LEADS, week(25), so_far=225),),
        known_campaigns=frozenset({"li", "se", "elsewhere"}),
    )


def shift(source: str, target: str, amount: float) -> Shift:
    return Shift(End("channel", source), End("channel", target), amount)


def test_a_shift_toward_the_cheaper_channel_raises_the_forecast_by_the_models_amount() -> None:
    result = what_if(situation(), [shift("linkedin", "search", 2_100)])
    [leads] = result.objectives
    # $100/day more on search (within its observed range: 0.02 leads/$) and $100/day less on
    # linkedin (0.005 leads/$) for the 21 days left: (2 − 0.5) × 21
    assert leads.after.forecast - leads.before.forecast == pytest.approx(1.5 * DAYS_LEFT)
    assert leads.after.p_hit >= leads.before.p_hit
    assert leads.after.high - leads.after.low == pytest.approx(leads.before.high - leads.before.low)
    assert any("2·√(x/m)" in a for a in result.assumptions)


def test_spend_beyond_the_observed_range_yields_along_the_square_root_curve() -> None:
    result = what_if(situation(), [shift("linkedin", "search", 21_000)])
    [leads] = result.objectives
    # search goes from $1 000 to $2 000 a day, above its observed peak of $1 500
    search_after = 0.02 * 1_500 * (2 * math.sqrt(2_000 / 1_500) - 1)
    per_day = (search_after - 20) - 5  # linkedin stops: its 5 leads a day are lost
    assert leads.after.forecast - leads.before.forecast == pytest.approx(per_day * DAYS_LEFT)
    linear = 0.02 * 1_000 - 5
    assert per_day < linear


def test_the_response_is_linear_up_to_the_peak_and_concave_beyond_it() -> None:
    y, peak = 0.02, 1_500.0
    assert daily_outcome(peak, y, peak) == pytest.approx(y * peak)
    assert daily_outcome(peak + 1e-6, y, peak) == pytest.approx(y * peak)
    marginal = [
        daily_outcome(s + 100, y, peak) - daily_outcome(s, y, peak)
        for s in (0, 1_500, 3_000, 6_000)
    ]
    assert marginal[0] == pytest.approx(y * 100)
    assert marginal[0] > marginal[1] > marginal[2] > marginal[3] > 0


def test_a_ratio_kpi_is_recomputed_as_sums_not_summed() -> None:
    cac = ObjectiveSpec(
        objective_id="cac",
        name="CAC",
        kpi="cac",
        aggregation="ratio",
        numerator="spend",
        denominator="leads",
        baseline=100,
        target=60,
        direction="decrease",
        start=PERIOD_START,
        deadline=PERIOD_END,
    )
    result = what_if(situation(objective(cac, week(80.0))), [shift("linkedin", "search", 2_100)])
    [ratio] = result.objectives
    # Σ spend stays 14 000 over the window; Σ leads gains (2 − 0.5) × 7
    expected = 14_000 / (175 + 1.5 * 7) - 14_000 / 175
    assert ratio.before.forecast == pytest.approx(80.0)
    assert ratio.after.forecast - ratio.before.forecast == pytest.approx(expected)
    assert any("Σ numerator / Σ denominator" in a for a in result.assumptions)


def test_a_level_kpi_is_shown_unchanged_and_said_to_be_unmodelled() -> None:
    awareness = ObjectiveSpec(
        objective_id="awareness",
        name="Awareness",
        kpi="awareness",
        aggregation="latest",
        baseline=10,
        target=20,
        start=PERIOD_START,
        deadline=PERIOD_END,
    )
    result = what_if(
        situation(objective(awareness, week(12))), [shift("linkedin", "search", 2_100)]
    )
    [level] = result.objectives
    assert level.modelled is False
    assert level.after == level.before
    assert any("not modelled" in a for a in result.assumptions)


def test_a_later_start_counts_only_the_days_from_it() -> None:
    later = datetime(2026, 3, 24, tzinfo=UTC)
    [leads] = what_if(situation(), [shift("linkedin", "search", 700)], later).objectives
    # 7 days left after the 24th: $100/day, (2 − 0.5) × 7
    assert leads.after.forecast - leads.before.forecast == pytest.approx(1.5 * 7)


def test_a_shift_to_a_channel_the_strategy_does_not_allow_is_refused_with_the_reason() -> None:
    with pytest.raises(ShiftRefused) as refused:
        what_if(situation(), [shift("linkedin", "tiktok", 1_000)])
    [problem] = refused.value.problems
    assert problem.field == "shifts[0].to.channel"
    assert "'tiktok' is not allowed by strategy 'acme'" in problem.message
    assert "linkedin, search, events" in problem.message


def test_more_than_the_sources_remaining_planned_budget_is_refused() -> None:
    # linkedin: 50 % of 60 000 planned, 9 000 spent: 21 000 left
    with pytest.raises(ShiftRefused) as refused:
        what_if(
            situation(), [shift("linkedin", "search", 15_000), shift("linkedin", "events", 7_000)]
        )
    [problem] = refused.value.problems
    assert problem.field == "shifts[1].amount"
    assert "21,000.00" in problem.message


def test_an_unknown_campaign_and_a_negative_amount_are_refused_by_field() -> None:
    bad = [
        Shift(End("campaign", "nope"), End("channel", "search"), 100),
        Shift(End("campaign", "elsewhere"), End("campaign", "se"), 100),
        shift("linkedin", "search", -5),
    ]
    with pytest.raises(ShiftRefused) as refused:
        what_if(situation(), bad)
    fields = {p.field: p.message for p in refused.value.problems}
    assert "not a known campaign" in fields["shifts[0].from.campaign"]
    assert "not a campaign of strategy 'acme'" in fields["shifts[1].from.campaign"]
    assert "positive" in fields["shifts[2].amount"]


def test_the_recommendation_is_the_smallest_mix_move_that_clears_the_target() -> None:
    # 225 so far + 25/day × 21 = 750; each 5 points ($3 000) brings 45 more: two are needed
    spec = LEADS.model_copy(update={"target": 800.0})
    state = situation(objective(spec, week(25), so_far=225))
    found = recommend(state, "leads")
    assert found is not None
    assert (found.shift.source.ident, found.shift.target.ident) == ("linkedin", "search")
    [effect] = found.effect.objectives
    assert effect.after.attainment >= 1.0
    assert found.points == 10
    [smaller] = what_if(state, [shift("linkedin", "search", 3_000)]).objectives
    assert smaller.after.attainment < 1.0
    assert found.mix == {"linkedin": 50 - found.points, "search": 50 + found.points}
    body = revision(state, found, "ws", "objective-leads")["body"]
    accepted = PeriodBody.model_validate(body)
    assert accepted.in_response_to == "objective-leads"
    assert sum(accepted.channel_mix.values()) == pytest.approx(100)


def test_no_recommendation_when_no_shift_helps() -> None:
    # search yields nothing better than linkedin here: every move loses leads
    state = situation(objective(LEADS, week(25), so_far=225))
    cheap = {
        "li": campaign("li", "linkedin", 7_000, 1_000, 140),
        "se": campaign("se", "search", 7_000, 1_500, 35),
    }
    worse = Situation(
        **{**state.__dict__, "campaigns": cheap, "allowed_channels": ("linkedin", "search")}
    )
    found = recommend(worse, "leads")
    assert found is not None
    assert (found.shift.source.ident, found.shift.target.ident) == ("search", "linkedin")
    only_search = Situation(
        **{
            **state.__dict__,
            "period": state.period.model_copy(update={"channel_mix": {"search": 100}}),
        }  # type: ignore[union-attr]
    )
    assert recommend(only_search, "leads") is None


def test_a_campaign_to_campaign_shift_moves_only_those_campaigns() -> None:
    moved = Shift(End("campaign", "li"), End("campaign", "se"), 4_200)
    [leads] = what_if(situation(), [moved]).objectives
    # $200/day: linkedin loses 1 lead/day, search (1 000 → 1 200, under its 1 500 peak) gains 4
    assert leads.after.forecast - leads.before.forecast == pytest.approx(3 * DAYS_LEFT)


def test_budget_moved_to_a_channel_with_no_spend_yields_nothing_and_says_so() -> None:
    result = what_if(situation(), [shift("linkedin", "events", 2_100)])
    [leads] = result.objectives
    assert leads.after.forecast - leads.before.forecast == pytest.approx(-0.5 * DAYS_LEFT)
    assert any("channel events spent nothing" in a for a in result.assumptions)


def test_a_recommendation_that_cannot_be_computed_is_left_out_not_an_error() -> None:
    from truenorth.alignment.whatif_api import guarded_recommendation

    broken = LEADS.model_copy(update={"target": 0.0})  # as baseline: no forecast possible
    state = situation(objective(broken, week(25), so_far=225))
    assert guarded_recommendation(state, "ws", "objective-leads", "leads") is None
