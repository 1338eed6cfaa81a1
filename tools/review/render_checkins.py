"""The check-ins section in Markdown and HTML (tools/review/checkins.py builds it): the cells
are worded once here, each renderer only escapes them its own way."""

from __future__ import annotations

from html import escape

from truenorth.review import fmt
from truenorth.review.checkins import CheckInReview

TITLE = "Check-ins: what the owner believed vs what happened"
NONE = "No owner checked in on an objective during the period."
HEADER = (
    "when",
    "objective",
    "who",
    "confidence",
    "narrative",
    "owner's figure",
    "the data then",
    "at period end",
    "verdict",
)


def cells(c: CheckInReview) -> tuple[str, ...]:
    """Plain text, unescaped."""
    figure = "–"
    if c.corrected_value is not None:
        figure = f"{fmt.compact(c.corrected_value)} ({c.source or 'no source'})"
    then = "–"
    if c.data_then is not None:
        d = c.data_then
        then = (
            f"{fmt.compact(d.actual)} · P(hit) {fmt.pct(d.hit_probability, 0)} · "
            f"{fmt.status(d.status)} ({fmt.day(d.at)})"
        )
    outcome = "hit" if c.outcome == "hit" else "missed" if c.outcome == "missed" else "open"
    at_end = (
        f"{fmt.compact(c.actual_at_end)} of {fmt.compact(c.target)} "
        f"({fmt.pct(c.progress_at_end, 0)}) · {outcome}"
        + ("" if c.deadline_passed else f", {fmt.status(c.status_at_end)}")
    )
    return (
        fmt.day(c.at),
        f"{c.objective_name} ({c.objective_id})",
        c.actor,
        c.confidence,
        c.narrative,
        figure,
        then,
        at_end,
        c.verdict or "–",
    )


def checkins_markdown(checkins: tuple[CheckInReview, ...]) -> list[str]:
    lines = [f"## {TITLE}", ""]
    if not checkins:
        return [*lines, NONE, ""]
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "|".join("---" for _ in HEADER) + "|")
    for c in checkins:
        row = (fmt.md(cell).replace("|", "\\|") for cell in cells(c))
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, "", _legend(), ""]


def checkins_html(checkins: tuple[CheckInReview, ...]) -> str:
    parts = [f"<h2>{escape(TITLE)}</h2>"]
    if not checkins:
        return "".join([*parts, f"<p>{escape(NONE)}</p>"])
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    rows = []
    for c in checkins:
        text = cells(c)
        tds = [f"<td>{escape(cell)}</td>" for cell in text]
        badge = f"<span class='badge confidence-{escape(c.confidence)}'>{escape(text[3])}</span>"
        tds[3] = f"<td>{badge}</td>"
        rows.append("<tr>" + "".join(tds) + "</tr>")
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    return "".join([*parts, table, f"<p class='note'>{escape(_legend())}</p>"])


def _legend() -> str:
    return (
        "The data then: the KPI, the forecast's probability of hitting the target and the "
        "status on the last daily reading before the check-in. Verdict, once the deadline has "
        "passed: high confidence on a hit (or low on a miss) was borne out; otherwise over- or "
        "under-confident; medium confidence takes no verdict."
    )
