"""The review's check-ins section: what each owner believed during the period, beside what the
data said then and the outcome at the end."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.unit.review.fixture_log import STRATEGY, at, build_log
from truenorth.contract.strategy import ObjectiveCheckedIn, ObjectiveCheckedInData
from truenorth.review.build import build_review, parse_period
from truenorth.review.render_checkins import TITLE
from truenorth.review.render_html import render_html
from truenorth.review.render_md import render_markdown

Q4 = parse_period("2026-Q4")


def checked_in(
    objective_id: str,
    confidence: str,
    when: datetime,
    narrative: str,
    corrected_value: float | None = None,
    source: str | None = None,
    actor: str = "maria",
) -> ObjectiveCheckedIn:
    return ObjectiveCheckedIn(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"checkin-{objective_id}-{when.isoformat()}"),
        workspace="acme",
        aggregate_id=STRATEGY,
        occurred_at=when,
        recorded_at=when,
        actor=actor,
        data=ObjectiveCheckedInData(
            objective_id=objective_id,
            confidence=confidence,  # type: ignore[arg-type]
            narrative=narrative,
            corrected_value=corrected_value,
            source=source,
        ),
    )


CHECKINS = [
    checked_in("leads-q4", "high", at(11, 10), "Webinars will land in December"),
    checked_in(
        "signups-q4",
        "low",
        at(12, 1),
        "Trial flow broke <b>twice</b> | fixed now",
        corrected_value=180,
        source="product analytics",
        actor="jan",
    ),
    checked_in("leads-q4", "medium", at(9, 25), "Before the quarter: not in the review"),
]


def review(as_of: datetime | None = None):  # type: ignore[no-untyped-def]
    return build_review([*build_log(), *CHECKINS], Q4, as_of=as_of, workspace="acme")


def test_each_check_in_of_the_period_stands_beside_the_outcome_at_its_end() -> None:
    found = review().checkins
    assert [(c.objective_id, c.confidence) for c in found] == [
        ("leads-q4", "high"),
        ("signups-q4", "low"),
    ]
    leads, signups = found
    assert leads.outcome == "missed" and leads.verdict == "over-confident"
    assert signups.outcome == "missed" and signups.verdict == "borne out"
    assert (signups.corrected_value, signups.source, signups.actor) == (
        180,
        "product analytics",
        "jan",
    )
    assert leads.data_then is not None and leads.data_then.at <= leads.at
    assert 0 <= leads.data_then.hit_probability <= 1


def test_a_check_in_is_not_a_strategy_change() -> None:
    assert [c.event_type for c in review().changes] == [
        c.event_type for c in build_review(build_log(), Q4, workspace="acme").changes
    ]


def test_as_of_before_a_check_in_leaves_it_out_and_gives_no_verdict_yet() -> None:
    found = review(as_of=datetime(2026, 11, 20, tzinfo=UTC)).checkins
    assert [c.objective_id for c in found] == ["leads-q4"]
    assert found[0].outcome == "open" and found[0].verdict is None


def test_the_summary_holds_the_check_ins() -> None:
    summary = review().summary()["checkins"]
    assert [(c["objective_id"], c["confidence"], c["verdict"]) for c in summary] == [
        ("leads-q4", "high", "over-confident"),
        ("signups-q4", "low", "borne out"),
    ]
    assert summary[1]["corrected_value"] == 180
    assert summary[0]["at"] == "2026-11-10T09:00:00Z"


def test_markdown_shows_confidence_narrative_and_outcome_side_by_side() -> None:
    text = render_markdown(review())
    assert f"## {TITLE}" in text
    section = text[text.index(f"## {TITLE}") :]
    row = next(line for line in section.splitlines() if "Webinars will land" in line)
    assert "| high |" in row and "missed" in row and "over-confident" in row
    row = next(line for line in section.splitlines() if "Trial flow broke" in line)
    assert "\\|" in row  # the narrative's pipe cannot split the table
    assert "180 (product analytics)" in row
    assert "Before the quarter" not in text


def test_html_escapes_the_narrative_and_badges_the_confidence() -> None:
    page = render_html(review())
    assert TITLE.replace("'", "&#x27;") in page
    assert "Trial flow broke &lt;b&gt;twice&lt;/b&gt;" in page
    assert "<b>twice</b>" not in page
    assert "class='badge confidence-high'" in page


def test_without_check_ins_the_section_says_so() -> None:
    plain = build_review(build_log(), Q4, workspace="acme")
    assert plain.checkins == ()
    assert "No owner checked in on an objective during the period." in render_markdown(plain)
    assert "No owner checked in" in render_html(plain)
