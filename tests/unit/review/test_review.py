"""The quarterly review of a fixed event log (tests/unit/review/fixture_log.py).

`expected_review_2026q4.json` was generated once from `build_review(...).summary()` and checked
by hand (see `test_hand_checked_figures`, which redoes the arithmetic from the fixture's daily
rates); a change to it must be a deliberate change of the review's meaning.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.review.fixture_log import build_log
from truenorth.review import fmt
from truenorth.review.build import (
    Period,
    build_review,
    default_as_of,
    dump_summary,
    is_calendar_period,
    parse_as_of,
    parse_period,
    plan_period,
)
from truenorth.review.render_html import render_html
from truenorth.review.render_md import SECTIONS, render_markdown

EXPECTED = Path(__file__).with_name("expected_review_2026q4.json")
Q4 = parse_period("2026-Q4")


def q4_review(**kwargs: object):
    return build_review(build_log(), Q4, workspace="acme", **kwargs)


def test_summary_matches_the_committed_expected_summary() -> None:
    assert q4_review().summary() == json.loads(EXPECTED.read_text())


def test_the_committed_file_is_in_canonical_form() -> None:
    assert dump_summary(json.loads(EXPECTED.read_text())) == EXPECTED.read_text()


def test_hand_checked_figures() -> None:
    """Redone by hand from the fixture: 92 days, per day li 400 $ / 3 leads, search 300 $ /
    5 leads / 2 signups, events 200 $ / 2 signups, tiktok 100 $."""
    review = q4_review()
    leads, signups = review.objectives
    # leads: li 3 × 92 − 2 (day 14 restated 3 → 1) = 274; search 5 × 92 = 460
    assert leads.actual == 274 + 460 == 734
    assert leads.target == 900  # revised 1200 → 900 on 11-10; the 2027 revision to 850 unseen
    assert leads.progress == pytest.approx(734 / 900)
    assert leads.expected == 1.0 and leads.status == "missed"
    by_id = {c.campaign_id: c for c in leads.campaigns}
    assert by_id["c-search-brand"].spend == 300 * 92 == 27_600  # the duplicate counts once
    assert by_id["c-search-brand"].outcome_per_dollar == pytest.approx(460 / 27_600)
    assert by_id["c-li-abm"].outcome_per_dollar == pytest.approx(274 / 36_800)
    assert [c.campaign_id for c in leads.campaigns] == ["c-search-brand", "c-li-abm"]
    assert leads.most_per_dollar == ("c-search-brand",)
    assert leads.least_per_dollar == ("c-li-abm",)
    # signups: search 2 × 92 + 3 (12-31 restated 2 → 5 after the quarter) = 187; events 184
    assert signups.actual == 187 + 184 == 371
    assert signups.progress == pytest.approx(371 / 400)
    assert [c.campaign_id for c in signups.campaigns] == ["c-events-summit", "c-search-brand"]
    assert signups.campaigns[0].outcome_per_dollar == pytest.approx(184 / 18_400)
    assert signups.campaigns[1].outcome_per_dollar == pytest.approx(187 / 27_600)
    # 15 days in (10-16): 15 × 8 − 2 = 118 leads; run-rate over 10-09..10-16 = (56 − 2) / 7
    sample = leads.samples[15]
    assert sample.at == datetime(2026, 10, 16, tzinfo=UTC)
    assert sample.actual == 118 and sample.target == 1200
    assert sample.expected == pytest.approx(15 / 92)
    assert sample.forecast_attainment == pytest.approx((118 + 54 / 7 * 77) / 1200)
    # channel mix: 92 000 spent, 40/30/20/10 against the replanned 45/35/20/0
    (mix,) = review.channel_mix
    assert mix.total_spend == 92_000 and mix.aligned_spend == 82_800
    shares = {r.channel: (r.actual_share, r.planned_share, r.allowed) for r in mix.rows}
    assert shares == {
        "events": (pytest.approx(0.2), pytest.approx(0.2), True),
        "linkedin": (pytest.approx(0.4), pytest.approx(0.45), True),
        "search": (pytest.approx(0.3), pytest.approx(0.35), True),
        "tiktok": (pytest.approx(0.1), 0.0, False),
    }
    assert [u.campaign_id for u in mix.untethered] == ["c-tiktok-teaser"]


def test_every_drift_and_how_it_was_answered() -> None:
    drifts = {d.drift_id: d for d in q4_review().drifts}
    assert set(drifts) == {"untethered-c-tiktok-teaser", "mix-linkedin", "pace-leads-q4"}
    assert drifts["untethered-c-tiktok-teaser"].outcome == "unanswered, still open"
    assert drifts["mix-linkedin"].outcome == "acknowledged, still open"
    pace = drifts["pace-leads-q4"]
    assert pace.outcome == "revised, resolved"
    assert pace.answered == ("acknowledged", "revised")
    assert [(a.actor, a.event_type) for a in pace.answers] == [
        ("maria", "DriftAcknowledged"),
        ("maria", "ObjectiveRevised"),
    ]
    assert pace.severity == "critical" and pace.updates == 1


def test_strategy_changes_in_the_quarter_with_their_reasons() -> None:
    changes = q4_review().changes
    assert [(c.event_type, c.actor, c.occurred_at.date().isoformat()) for c in changes] == [
        ("ObjectiveRevised", "maria", "2026-11-10"),
        ("BudgetPlanned", "jan", "2026-11-15"),
    ]
    assert changes[0].in_response_to == "pace-leads-q4"
    assert changes[0].reason.startswith("summit pushed to January")
    assert [(r.field, r.old, r.new) for r in changes[0].changes] == [("target", "1200", "900")]


def test_as_of_before_the_target_revision_shows_the_old_target() -> None:
    review = q4_review(as_of=datetime(2026, 11, 5, tzinfo=UTC))
    leads = review.objectives[0]
    assert leads.target == 1200
    assert leads.actual == 35 * 8 - 2
    assert leads.progress == pytest.approx(278 / 1200)
    assert leads.expected == pytest.approx(35 / 92)
    assert leads.status == "off_track"
    assert leads.samples[-1].at == review.as_of
    assert review.changes == ()
    pace = next(d for d in review.drifts if d.drift_id == "pace-leads-q4")
    assert pace.state == "open" and pace.answered == ("acknowledged",)
    (mix,) = review.channel_mix
    assert {r.channel: r.planned_share for r in mix.rows}["linkedin"] == pytest.approx(0.5)


def test_a_later_as_of_is_clamped_to_the_period() -> None:
    later = q4_review(as_of=datetime(2027, 3, 1, tzinfo=UTC))
    assert later.summary() == q4_review().summary()


def test_the_review_does_not_depend_on_log_order_or_other_workspaces() -> None:
    events = build_log() + build_log("someone-else")
    random.Random(7).shuffle(events)
    review = build_review(events, Q4, workspace="acme")
    assert review.summary() == json.loads(EXPECTED.read_text())


def test_a_month_review_ranks_campaigns_over_the_month() -> None:
    review = build_review(build_log(), parse_period("2026-11"), workspace="acme")
    leads = review.objectives[0]
    search = next(c for c in leads.campaigns if c.campaign_id == "c-search-brand")
    assert (search.spend, search.outcome) == (300 * 30, 5 * 30)
    assert leads.actual == 61 * 8 - 2  # the objective's progress is still since its start
    assert [d.drift_id for d in review.drifts] == [
        "untethered-c-tiktok-teaser",
        "mix-linkedin",
        "pace-leads-q4",
    ]


def test_a_strategy_filter_and_an_unknown_strategy() -> None:
    assert q4_review(strategy_id="growth").summary() == q4_review().summary()
    with pytest.raises(LookupError):
        q4_review(strategy_id="nope")


def test_markdown_has_every_section_objective_drift_and_change() -> None:
    text = render_markdown(q4_review())
    for section in SECTIONS:
        assert f"## {section}" in text
    for needle in (
        "### Qualified leads Q4 (`leads-q4`) — missed",
        "### Trial signups Q4 (`signups-q4`) — missed",
        "| 1 | Brand search (`c-search-brand`) | search | $27,600 | 460 | 16.67 | $60.00 |",
        "| tiktok | $9,200 | $0 | – | 10.0 % | 0.0 % | +10.0 pts | **no** |",
        "| objective off pace · Qualified leads Q4 | critical | Qualified leads Q4 |",
        "revised, resolved",
        "unanswered, still open",
        "target 1,200 → 900",
        "search converts better: move 5 pts from LinkedIn",
    ):
        assert needle in text, needle


def test_html_is_self_contained_with_a_chart_per_objective() -> None:
    review = q4_review()
    page = render_html(review)
    assert page.startswith("<!doctype html>")
    images = re.findall(
        r"<img class='chart' alt='([^']*)' src='data:image/svg\+xml;base64,([^']+)'", page
    )
    assert len(images) == len(review.objectives) + len(review.channel_mix)
    for objective in review.objectives:
        assert f"id='{objective.objective_id}'" in page
        assert any(alt.startswith(objective.name) for alt, _ in images)
    svg = base64.b64decode(images[0][1]).decode()
    assert svg.startswith("<svg xmlns='http://www.w3.org/2000/svg'")
    assert svg.count("<polyline") == 3  # progress, expected, forecast
    assert "revised" in svg  # the target revision is marked
    assert "<script" not in page and "src='http" not in page and "href='http" not in page
    for section in SECTIONS:
        assert section in page


def test_rendering_is_deterministic() -> None:
    assert render_html(q4_review()) == render_html(q4_review())
    assert render_markdown(q4_review()) == render_markdown(q4_review())


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (
            "2026-10-01..2026-12-31",
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
    ],
)
def test_period_syntax(text: str, start: datetime, end: datetime) -> None:
    period = parse_period(text)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "Q4", "2026-12-31..2026-10-01", "x..y"])
def test_bad_periods(text: str) -> None:
    with pytest.raises(ValueError):
        parse_period(text)


def test_as_of_syntax() -> None:
    assert parse_as_of("2026-11-05") == datetime(2026, 11, 6, tzinfo=UTC)
    assert parse_as_of("2026-11-05T12:00") == datetime(2026, 11, 5, 12, tzinfo=UTC)
    assert parse_as_of("2026-11-05T12:00:00Z") == datetime(2026, 11, 5, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_as_of("yesterday")


def test_the_default_as_of_is_the_end_of_the_period_or_now_never_later() -> None:
    events = build_log()
    period = Period("x", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    mid = datetime(2026, 11, 1, tzinfo=UTC)
    assert default_as_of(events, period, mid) == mid  # running: now, whatever the log holds
    after = datetime(2027, 2, 1, tzinfo=UTC)
    assert default_as_of(events, period, after) == period.end


def test_the_title_names_the_kind_of_period() -> None:
    log = build_log()
    november = build_review(log, parse_period("2026-11"), workspace="acme")
    days = build_review(log, parse_period("2026-10-01..2026-10-15"), workspace="acme")
    plan = build_review(log, plan_period(log, "2026-q4"), workspace="acme")
    assert render_markdown(q4_review()).startswith("# Quarterly review — 2026-Q4\n")
    assert render_markdown(november).startswith("# Monthly review — 2026-11\n")
    assert render_markdown(days).startswith("# Review — 2026-10-01..2026-10-15\n")
    assert render_markdown(plan).startswith("# Review of the planning period — 2026-q4\n")
    assert "<h1>Monthly review — 2026-11</h1>" in render_html(november)


def test_a_planning_period_is_found_by_its_id_and_an_unknown_one_names_the_known() -> None:
    period = plan_period(build_log(), "2026-q4")
    assert (period.start, period.end, period.kind) == (Q4.start, Q4.end, "plan")
    assert is_calendar_period("2026-Q4") and not is_calendar_period("winter-26")
    with pytest.raises(LookupError, match=r"bad period 'winter-26'.*\(known: 2026-q4\)"):
        plan_period(build_log(), "winter-26")


def test_figures_read_as_people_say_them() -> None:
    assert [fmt.compact(v) for v in (6e6, 3.5e6, 472_123, 12_500, 9_999, 999_999)] == [
        "6M",
        "3.5M",
        "472k",
        "12.5k",
        "9,999",
        "1M",
    ]
    assert fmt.compact_money(472_000) == "$472k"
    assert fmt.change_value("6e+06") == "6M" and fmt.change_value("linkedin") == "linkedin"


def test_a_cut_target_is_flagged_with_the_original_one() -> None:
    text = render_markdown(q4_review())
    assert "| 734 / 900 (cut from 1,200) |" in text
    assert "| 371 / 400 |" in text  # signups kept their target: no flag


def test_spend_is_set_against_the_budget_per_period_and_channel() -> None:
    review = q4_review()
    text = render_markdown(review)
    assert "**Spent $92k of the $100k budget of 2026-q4 (92 %): $8,000 left.**" in text
    assert "| linkedin | $36,800 | $45,000 | 82 % |" in text
    (mix,) = review.channel_mix
    over = dataclasses.replace(mix, total_spend=472_000, budget=400_000)
    assert fmt.budget_headline(over) == (
        "Spent $472k of the $400k budget of 2026-q4 (118 %): $72k over."
    )


def test_drifts_are_named_by_what_they_are_about_not_by_their_hash() -> None:
    text = render_markdown(q4_review())
    drift_rows = text.split("## Drifts and how they were answered")[1].split("\n\n")[1]
    assert "| objective off pace · Qualified leads Q4 | critical |" in drift_rows
    assert "| untethered spend · c-tiktok-teaser |" in drift_rows
    assert "pace-leads-q4" not in drift_rows
    changes = text.split("## Strategy changes during the period")[1]
    assert "| objective off pace · Qualified leads Q4 |" in changes  # in response to


def test_names_given_by_people_are_inert_in_markdown() -> None:
    review = q4_review()
    leads = dataclasses.replace(review.objectives[0], name="*Q4* [push](http://x) <b>")
    review = dataclasses.replace(review, objectives=(leads, *review.objectives[1:]))
    text = render_markdown(review)
    assert "### \\*Q4\\* \\[push\\](http://x) \\<b\\> (`leads-q4`)" in text
    assert "[push](" not in text and "<b>" not in text
