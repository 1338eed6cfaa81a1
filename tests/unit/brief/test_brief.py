"""The weekly brief's content against the review's fixed event log (tests/unit/review/
fixture_log.py): the same numbers as the review, incidents by name, answers, check-ins and
what still waits for a decision; Markdown, HTML and the Slack payload tell one story."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from tests.unit.review.fixture_log import STRATEGY, at, build_log
from truenorth.brief.build import Brief, build_brief, week_ending
from truenorth.brief.render import render_html, render_markdown, slack_payload
from truenorth.brief.story import sections
from truenorth.contract.envelope import EnvelopeFields
from truenorth.review.build import build_review, parse_period

WEEK_OF_THE_REVISION = datetime(2026, 11, 13, tzinfo=UTC)  # `--as-of 2026-11-12`
WEEK_OF_THE_PACE_DRIFT = datetime(2026, 11, 6, tzinfo=UTC)


def _brief(as_of: datetime, events: list[EnvelopeFields] | None = None, **options: Any) -> Brief:
    return build_brief(events or build_log(), as_of, workspace="acme", **options)


def _lines(brief: Brief, key: str) -> tuple[str, ...]:
    return next(s.lines for s in sections(brief) if s.key == key)


def test_the_week_is_the_seven_days_before_as_of() -> None:
    week = week_ending(WEEK_OF_THE_REVISION)
    assert (week.start, week.end) == (datetime(2026, 11, 6, tzinfo=UTC), WEEK_OF_THE_REVISION)
    assert week.label == "2026-11-06..2026-11-12"


def test_what_moved_reads_the_review_s_numbers_at_both_ends_of_the_week() -> None:
    brief = _brief(WEEK_OF_THE_REVISION)
    leads = next(m for m in brief.moved if m.objective.objective_id == "leads-q4")
    assert (leads.actual_before, leads.objective.actual) == (286, 342)
    assert (leads.status_before, leads.objective.status) == ("off_track", "at_risk")
    quarter = build_review(
        build_log(), parse_period("2026-Q4"), WEEK_OF_THE_REVISION, workspace="acme"
    )
    same_day = next(o for o in quarter.objectives if o.objective_id == "leads-q4")
    assert (same_day.actual, same_day.target, same_day.status) == (342, 900, "at_risk")
    assert same_day.forecast_attainment == leads.objective.forecast_attainment
    assert _lines(brief, "moved")[0] == (
        "Qualified leads Q4: 286 → 342 of 900 (cut from 1,200), 38.0 % (+14.2 pts) done; "
        "off track → at risk; forecast 61 % → 82 % of target."
    )
    assert _lines(brief, "moved")[1].startswith("Trial signups Q4: 144 → 172 of 400")
    assert "still at risk" in _lines(brief, "moved")[1]


def test_an_incident_opened_during_the_week_is_named_not_hashed() -> None:
    brief = _brief(WEEK_OF_THE_PACE_DRIFT)
    assert [brief.name(i) for i in brief.drifted] == ["objective off pace · Qualified leads Q4"]
    assert _lines(brief, "drifted") == (
        "objective off pace · Qualified leads Q4 (critical), opened 2026-11-01 09:00 UTC: "
        "Qualified leads Q4: 23 % done at 38 % of time (pace 0.61)",
    )


def test_an_incident_resolved_during_the_week_is_said_to_be_resolved() -> None:
    brief = _brief(WEEK_OF_THE_REVISION)
    assert brief.drifted == ()
    assert _lines(brief, "drifted") == (
        "objective off pace · Qualified leads Q4 resolved 2026-11-12 09:00 UTC",
    )


def test_acknowledgements_and_revisions_in_response_are_what_was_answered() -> None:
    acknowledged = _brief(WEEK_OF_THE_PACE_DRIFT)
    assert _lines(acknowledged, "answered") == (
        "2026-11-03 maria acknowledged objective off pace · Qualified leads Q4: “looking into it”",
    )
    revised = _brief(WEEK_OF_THE_REVISION)
    assert _lines(revised, "answered") == (
        "2026-11-10 maria answered with ObjectiveRevised objective off pace · Qualified leads Q4"
        ": “summit pushed to January: Q4 lead target cut to 900”",
    )


def test_only_open_unanswered_incidents_need_a_decision_most_severe_first() -> None:
    brief = _brief(WEEK_OF_THE_PACE_DRIFT)
    # mix-linkedin was acknowledged (10-22) and pace-leads-q4 (11-03): only TikTok waits
    assert [d.incident_id for d in brief.decisions] == ["untethered-c-tiktok-teaser"]
    assert _lines(brief, "decide") == (
        "[warning] untethered spend · c-tiktok-teaser, open since 2026-10-08 09:00 UTC and not "
        "acknowledged: TikTok teaser spends without an objective",
    )
    before_any_ack = _brief(datetime(2026, 10, 21, tzinfo=UTC))
    assert [d.incident_id for d in before_any_ack.decisions] == [
        "untethered-c-tiktok-teaser",
        "mix-linkedin",
    ]


def test_a_critical_incident_comes_before_an_older_warning() -> None:
    critical = _brief(datetime(2026, 11, 6, tzinfo=UTC), _without_pace_ack())
    ranked = [(d.incident_id, d.severity) for d in critical.decisions]
    assert ranked == [("pace-leads-q4", "critical"), ("untethered-c-tiktok-teaser", "warning")]


def _without_pace_ack() -> list[EnvelopeFields]:
    return [
        e
        for e in build_log()
        if getattr(e.data, "drift_id", None) != "pace-leads-q4" or e.type != "DriftAcknowledged"
    ]


def test_a_recommendation_from_the_incidents_view_is_shown_with_its_effect() -> None:
    recommendation = {
        "summary": "move $5,000 from tiktok to search",
        "shifts": [],
        "effect": [
            {
                "objective_id": "leads-q4",
                "name": "Qualified leads Q4",
                "before": {"attainment": 0.61},
                "after": {"attainment": 0.93},
            }
        ],
    }
    brief = _brief(
        WEEK_OF_THE_PACE_DRIFT,
        recommendations={"untethered-c-tiktok-teaser": recommendation},
    )
    assert _lines(brief, "decide")[0].endswith(
        "Recommended: move $5,000 from tiktok to search "
        "(Qualified leads Q4 forecast 61 % → 93 % of target)"
    )


class _CheckInData(BaseModel):
    objective_id: str
    confidence: str
    narrative: str
    corrected_value: float | None = None
    source: str | None = None


class _LocalCheckIn(EnvelopeFields):
    """`ObjectiveCheckedIn` as the shared contract defines it; this stand-in keeps the test
    independent of which branch brought the contract class."""

    type: Literal["ObjectiveCheckedIn"] = "ObjectiveCheckedIn"
    schema_version: Literal[1] = 1
    data: _CheckInData


def _checkin(when: datetime, **data: Any) -> EnvelopeFields:
    try:
        from truenorth.contract.strategy import ObjectiveCheckedIn  # type: ignore[attr-defined]
    except ImportError:
        cls: type[EnvelopeFields] = _LocalCheckIn
    else:
        cls = ObjectiveCheckedIn
    return cls(
        event_id=uuid.uuid4(),
        workspace="acme",
        aggregate_id=STRATEGY,
        occurred_at=when,
        recorded_at=when,
        actor="maria",
        data=data,
    )


def test_check_ins_of_the_week_are_answers_too_and_a_log_without_them_has_none() -> None:
    assert _brief(WEEK_OF_THE_REVISION).checkins == ()
    events = [
        *build_log(),
        _checkin(
            at(11, 11),
            objective_id="leads-q4",
            confidence="medium",
            narrative="January summit leads are pre-registering",
            corrected_value=360.0,
            source="CRM export",
        ),
        _checkin(at(11, 2), objective_id="leads-q4", confidence="low", narrative="last week"),
    ]
    brief = _brief(WEEK_OF_THE_REVISION, events)
    assert _lines(brief, "answered")[-1] == (
        "2026-11-11 maria checked in on Qualified leads Q4: medium confidence — “January "
        "summit leads are pre-registering” (corrected figure 360, source CRM export)"
    )
    assert len(brief.checkins) == 1


def test_a_strategy_filter_that_names_no_strategy_is_a_lookup_error() -> None:
    try:
        _brief(WEEK_OF_THE_REVISION, strategy_id="nope")
    except LookupError as exc:
        assert "no strategy 'nope'" in str(exc)
    else:
        raise AssertionError("expected a LookupError")


def test_markdown_has_the_four_sections_and_user_text_is_inert() -> None:
    events = [
        *build_log(),
        _checkin(at(11, 11), objective_id="leads-q4", confidence="high", narrative="*bold* [x](y)"),
    ]
    text = render_markdown(_brief(WEEK_OF_THE_REVISION, events))
    assert text.startswith("# Weekly brief — acme, week ending 2026-11-12\n")
    for heading in ("What moved", "What drifted", "What was answered", "What needs a decision"):
        assert f"\n## {heading}\n" in text
    assert "- Qualified leads Q4: 286 → 342 of 900 (cut from 1,200)" in text
    assert r"“\*bold\* \[x\](y)”" in text
    assert "**0 of 2 objectives on track; 0 new incidents; 1 waiting for a decision;" in text


def test_an_empty_section_says_so() -> None:
    text = render_markdown(_brief(datetime(2026, 12, 20, tzinfo=UTC)))
    assert "_No acknowledgement, revision or check-in this week._" in text


def test_html_is_escaped_and_tells_the_same_story_as_markdown() -> None:
    events = [
        *build_log(),
        _checkin(
            at(11, 11), objective_id="leads-q4", confidence="high", narrative="<script>x</script>"
        ),
    ]
    brief = _brief(WEEK_OF_THE_REVISION, events)
    page = render_html(brief)
    assert "<script>x</script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    for section in sections(brief):
        assert f"<h2>{section.title}</h2>" in page
    assert "Qualified leads Q4: 286 → 342 of 900 (cut from 1,200)" in page
    assert "untethered spend · c-tiktok-teaser" in page


def test_the_slack_payload_carries_text_and_blocks_with_mrkdwn_escaped() -> None:
    events = [
        *build_log(),
        _checkin(at(11, 11), objective_id="leads-q4", confidence="high", narrative="a <b> & c"),
    ]
    payload = slack_payload(_brief(WEEK_OF_THE_REVISION, events))
    assert payload["text"].startswith("*Weekly brief — acme, week ending 2026-11-12*")
    assert (
        "*What needs a decision*\n• [warning] untethered spend · c-tiktok-teaser"
        in (payload["text"])
    )
    assert "a &lt;b&gt; &amp; c" in payload["text"]
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds[:2] == ["section", "context"] and kinds.count("section") == 5
    assert all(len(b["text"]["text"]) <= 3000 for b in payload["blocks"] if "text" in b)


def test_the_brief_counts_only_what_happened_by_as_of() -> None:
    early = _brief(datetime(2026, 11, 3, tzinfo=UTC))  # the week ends before the 11-03 ack
    assert [early.name(i) for i in early.drifted] == ["objective off pace · Qualified leads Q4"]
    assert early.drifted[0].severity == "warning"  # the 11-05 update is still to come
    assert early.answered == ()
    assert [d.incident_id for d in early.decisions] == [  # same severity: the older first
        "untethered-c-tiktok-teaser",
        "pace-leads-q4",
    ]
