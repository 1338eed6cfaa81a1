"""The brief's sentences, written once for every skin (Markdown, HTML, Slack).

Each section is a heading and plain-text lines with the review's number formatting
(`truenorth.review.fmt`); user-given text (names, notes, narratives) goes through the skin's
`escape` (Markdown: inert characters; Slack: `&<>`; HTML: none here, Jinja2 escapes it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from truenorth.brief.build import AnswerItem, Brief, CheckIn, Decision, Movement
from truenorth.review import fmt

Escape = Callable[[object], str]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    lines: tuple[str, ...]
    empty: str
    """What the section says when it has no line."""


def plain(text: object) -> str:
    return str(text)


def title(brief: Brief) -> str:
    return f"Weekly brief — {brief.workspace}, week ending {fmt.last_day(brief.as_of)}"


def subtitle(brief: Brief, escape: Escape = plain) -> str:
    names = ", ".join(escape(n) for n in brief.review.strategy_names) or "no strategy"
    return f"{fmt.span(brief.week)} · {names} · as of {fmt.as_of(brief.as_of)}"


def headline(brief: Brief) -> str:
    """One line: how many objectives, how many on track, what is open and waiting."""
    objectives = brief.review.objectives
    on_track = sum(1 for o in objectives if o.status in ("on_track", "achieved"))
    spend = sum(m.total_spend for m in brief.review.channel_mix)
    parts = [
        f"{on_track} of {len(objectives)} objectives on track",
        f"{len(brief.drifted)} new incident{'s' if len(brief.drifted) != 1 else ''}",
        f"{len(brief.decisions)} waiting for a decision",
        f"{fmt.compact_money(spend)} spent this week",
    ]
    return "; ".join(parts) + "."


def sections(brief: Brief, escape: Escape = plain) -> tuple[Section, ...]:
    return (
        Section(
            "moved",
            "What moved",
            tuple(moved(m, escape) for m in brief.moved),
            "No objective in scope this week.",
        ),
        Section(
            "drifted",
            "What drifted",
            tuple(
                [
                    f"{escape(brief.name(i))} ({i.severity}), opened "
                    f"{fmt.moment(i.first_detected_at)}: "
                    f"{escape((i.open_facets or i.facets)[0].data.explanation)}"
                    for i in brief.drifted
                ]
                + [
                    f"{escape(brief.name(i))} resolved {fmt.moment(i.resolved_at)}"
                    for i in brief.resolved
                ]
            ),
            "No new incident, none resolved.",
        ),
        Section(
            "answered",
            "What was answered",
            tuple(
                [answered(a, escape) for a in brief.answered]
                + [checked_in(c, escape) for c in brief.checkins]
            ),
            "No acknowledgement, revision or check-in this week.",
        ),
        Section(
            "decide",
            "What needs a decision",
            tuple(decision(d, escape) for d in brief.decisions),
            "Nothing: every open incident has been acknowledged or answered.",
        ),
    )


def moved(m: Movement, escape: Escape = plain) -> str:
    """`Qualified leads Q4: 286 → 342 of 900 (cut from 1,200), 38.0 % done (+14.2 pts);
    off track → at risk; forecast 61 % → 82 % of target.`"""
    o = m.objective
    figures = (
        f"{fmt.compact(o.actual)} of {fmt.target(o)}"
        if m.actual_before is None
        else f"{fmt.compact(m.actual_before)} → {fmt.compact(o.actual)} of {fmt.target(o)}"
    )
    change = m.progress_change
    progress = fmt.pct(o.progress) + ("" if change is None else f" ({fmt.pts(change * 100)})")
    status = (
        f"{fmt.status(m.status_before)} → {fmt.status(o.status)}"
        if m.status_changed
        else f"still {fmt.status(o.status)}"
        if m.status_before is not None
        else fmt.status(o.status)
    )
    forecast = (
        f"forecast {fmt.pct(o.forecast_attainment, 0)} of target"
        if m.forecast_before is None
        else f"forecast {fmt.pct(m.forecast_before, 0)} → {fmt.pct(o.forecast_attainment, 0)}"
        " of target"
    )
    return f"{escape(o.name)}: {figures}, {progress} done; {status}; {forecast}."


def answered(a: AnswerItem, escape: Escape = plain) -> str:
    verb = "acknowledged" if a.how == "acknowledged" else f"answered with {a.event_type}"
    text = f": “{escape(a.text)}”" if a.text else ""
    return f"{fmt.day(a.at)} {escape(a.actor)} {verb} {escape(a.incident)}{text}"


def checked_in(c: CheckIn, escape: Escape = plain) -> str:
    corrected = (
        ""
        if c.corrected_value is None
        else f" (corrected figure {fmt.compact(c.corrected_value)}"
        + (f", source {escape(c.source)})" if c.source else ")")
    )
    return (
        f"{fmt.day(c.at)} {escape(c.actor)} checked in on {escape(c.objective)}: "
        f"{escape(c.confidence)} confidence — “{escape(c.narrative)}”{corrected}"
    )


def decision(d: Decision, escape: Escape = plain) -> str:
    line = (
        f"[{d.severity}] {escape(d.name)}, open since {fmt.moment(d.opened_at)} and not "
        f"acknowledged: {escape(d.explanation)}"
    )
    advice = recommendation(d.recommendation, escape)
    return line if advice is None else f"{line} Recommended: {advice}"


def recommendation(rec: Mapping[str, Any] | None, escape: Escape = plain) -> str | None:
    """The alignment service's recommendation in one sentence: its summary and what it does
    to each objective's forecast attainment."""
    if not rec or not rec.get("summary"):
        return None
    found = (_effect(e, escape) for e in rec.get("effect") or () if isinstance(e, Mapping))
    effects = [e for e in found if e]
    tail = f" ({'; '.join(effects)})" if effects else ""
    return f"{escape(rec['summary'])}{tail}"


def _effect(effect: Mapping[str, Any], escape: Escape) -> str | None:
    before, after = effect.get("before") or {}, effect.get("after") or {}
    low, high = before.get("attainment"), after.get("attainment")
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return None
    name = effect.get("name") or effect.get("objective_id") or "objective"
    return f"{escape(name)} forecast {fmt.pct(low, 0)} → {fmt.pct(high, 0)} of target"
