"""The review as Markdown (GitHub-flavoured tables): the same sections as the HTML page, with a
weekly table where the page has a chart."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from truenorth.review import fmt
from truenorth.review.build import (
    ChannelMix,
    DriftReview,
    ObjectiveReview,
    Review,
    StrategyChange,
)
from truenorth.review.render_checkins import TITLE as CHECKINS_TITLE
from truenorth.review.render_checkins import checkins_markdown

SECTIONS = (
    "Summary",
    "Objectives",
    "Channel mix: plan vs actual",
    "Drifts and how they were answered",
    "Strategy changes during the period",
    CHECKINS_TITLE,
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(review: Review) -> str:
    lines = [f"# {fmt.title(review.period)}", ""]
    strategies = ", ".join(
        f"{fmt.md(name or sid)} (`{sid}`)"
        for sid, name in zip(review.strategy_ids, review.strategy_names, strict=True)
    )
    lines += [
        f"Workspace `{review.workspace}` · strategy {strategies or '–'} · "
        f"{fmt.span(review.period)} · as of {fmt.as_of(review.as_of)}",
        "",
        f"Built from the event log only ({review.events_considered:,} events counted: strategy, "
        "campaign and drift events by when they happened, metric observations by the period "
        "they cover, restatements at their latest value).",
        "",
    ]
    lines += _summary(review)
    lines += ["## Objectives", ""]
    if not review.objectives:
        lines += ["No objective of this strategy overlaps the period.", ""]
    for objective in review.objectives:
        lines += _objective(objective, review)
    lines += [f"## {SECTIONS[2]}", ""]
    for mix in review.channel_mix:
        lines += _mix(mix)
    names = _objective_names(review)
    lines += [f"## {SECTIONS[3]}", ""]
    lines += _drifts(review.drifts, names)
    lines += [f"## {SECTIONS[4]}", ""]
    lines += _changes(review.changes, _drift_names(review, names))
    lines += checkins_markdown(review.checkins)
    return "\n".join(lines).rstrip() + "\n"


def _objective_names(review: Review) -> dict[str, str]:
    return {o.objective_id: o.name for o in review.objectives}


def _drift_names(review: Review, names: dict[str, str]) -> dict[str, str]:
    return {d.drift_id: fmt.drift_name(d, names) for d in review.drifts}


def _summary(review: Review) -> list[str]:
    lines = [f"## {SECTIONS[0]}", ""]
    headlines = [h for h in (fmt.budget_headline(m) for m in review.channel_mix) if h]
    lines += [f"**{h}**" for h in headlines] + ([""] if headlines else [])
    lines += _table(
        [
            "objective",
            "KPI",
            "actual / target",
            "progress",
            "expected",
            "pace",
            "forecast",
            "status",
        ],
        (
            (
                f"{fmt.md(o.name)} (`{o.objective_id}`)",
                o.kpi,
                f"{fmt.compact(o.actual)} / {fmt.target(o)}",
                fmt.pct(o.progress),
                fmt.pct(o.expected),
                fmt.ratio(o.pace),
                f"{fmt.compact(o.forecast)} ({fmt.pct(o.forecast_attainment)})",
                fmt.status(o.status),
            )
            for o in review.objectives
        ),
    )
    open_drifts = sum(1 for d in review.drifts if d.state == "open")
    lines += [
        "",
        f"{len(review.drifts)} drift(s) during the period, {open_drifts} still open; "
        f"{len(review.changes)} strategy change(s).",
        "",
    ]
    return lines


def _objective(o: ObjectiveReview, review: Review) -> list[str]:
    lines = [f"### {fmt.md(o.name)} (`{o.objective_id}`) — {fmt.status(o.status)}", ""]
    lines += [
        f"- KPI `{o.kpi}` ({o.aggregation}, {o.direction}), owner {fmt.md(o.owner or '–')}, "
        f"{fmt.day(o.start)} – {fmt.last_day(o.deadline)}",
        f"- Actual **{fmt.compact(o.actual)}** of target {fmt.target(o)} "
        f"(baseline {fmt.compact(o.baseline)}): progress **{fmt.pct(o.progress)}**, "
        f"expected {fmt.pct(o.expected)}, pace {fmt.ratio(o.pace)}",
        f"- Forecast at the deadline {fmt.compact(o.forecast)} "
        f"({fmt.pct(o.forecast_attainment)} of target; 80 %: "
        f"{fmt.pct(o.forecast_attainment_low)}–{fmt.pct(o.forecast_attainment_high)}, "
        f"P(hit) {o.hit_probability:.2f})"
        + (
            f"; {fmt.number(o.required_rate_per_day, 2)} {o.kpi}/day needed"
            if o.required_rate_per_day and o.aggregation == "sum"
            else ""
        ),
        *([f"- {fmt.md(o.status_note)}"] if o.status_note else []),
        *([f"- Method: {fmt.md(o.forecast_method)}"] if o.forecast_method else []),
    ]
    if o.changes_at:
        when = ", ".join(fmt.moment(t) for t in o.changes_at)
        lines.append(f"- Changed by the strategy during the period: {when}")
    lines += ["", "Progress over the period (weekly):", ""]
    lines += _table(
        ["date", "actual", "target", "progress", "expected", "forecast attainment"],
        (
            (
                fmt.day(s.at),
                fmt.number(s.actual),
                fmt.number(s.target),
                fmt.pct(s.progress),
                fmt.pct(s.expected),
                fmt.pct(s.forecast_attainment),
            )
            for s in fmt.weekly(o.samples)
        ),
    )
    lines += [
        "",
        f"Campaigns by {o.kpi} per dollar ({fmt.day(o.window_start)} – "
        f"{fmt.last_day(o.window_end)}):",
        "",
    ]
    if not o.campaigns:
        lines += ["No campaign is linked to this objective.", ""]
        return lines
    lines += _table(
        ["rank", "campaign", "channel", "spend", o.kpi, f"{o.kpi} per $1k", "cost per outcome"],
        (
            (
                c.rank or "–",
                f"{fmt.md(c.name or c.campaign_id)} (`{c.campaign_id}`)",
                c.channel,
                fmt.money(c.spend),
                fmt.number(c.outcome),
                fmt.per_thousand(c.outcome_per_dollar),
                fmt.cents(c.cost_per_outcome),
            )
            for c in o.campaigns
        ),
    )
    lines.append("")
    if o.most_per_dollar:
        lines.append(f"Most per dollar: {', '.join(f'`{c}`' for c in o.most_per_dollar)}.")
    if o.least_per_dollar:
        lines.append(f"Least per dollar: {', '.join(f'`{c}`' for c in o.least_per_dollar)}.")
    if o.planned_cost_per_outcome is not None:
        lines.append(f"Planned cost per outcome: {fmt.cents(o.planned_cost_per_outcome)}.")
    lines.append("")
    return lines


def _mix(mix: ChannelMix) -> list[str]:
    plan = (
        f"plan `{mix.period_id}` (budget {fmt.money(mix.budget)})"
        if mix.period_id
        else "no budget plan for this period"
    )
    lines = [
        f"### `{mix.strategy_id}` · {plan} · {fmt.day(mix.window_start)} – "
        f"{fmt.last_day(mix.window_end)}",
        "",
    ]
    lines += _table(
        [
            "channel",
            "spend",
            "planned spend",
            "of plan",
            "actual share",
            "planned share",
            "difference",
            "allowed",
        ],
        (
            (
                r.channel,
                fmt.money(r.spend),
                fmt.money(r.planned_spend),
                fmt.of_plan(r.spend, r.planned_spend),
                fmt.pct(r.actual_share),
                fmt.pct(r.planned_share),
                fmt.pts(r.delta_pts),
                "yes" if r.allowed else "**no**",
            )
            for r in mix.rows
        ),
    )
    lines += [
        "",
        f"Spend {fmt.money(mix.total_spend)}, of which {fmt.money(mix.aligned_spend)} on "
        f"campaigns tied to an active objective ({fmt.pct(mix.aligned_ratio)} aligned).",
    ]
    if mix.untethered:
        names = ", ".join(f"`{u.campaign_id}` ({fmt.money(u.spend)})" for u in mix.untethered)
        lines.append(f"Untethered spend: {names}.")
    lines.append("")
    return lines


def _drifts(drifts: tuple[DriftReview, ...], names: dict[str, str]) -> list[str]:
    if not drifts:
        return ["No drift was open during the period.", ""]
    lines = _table(
        ["drift", "severity", "objective", "detected", "resolved", "answered"],
        (
            (
                fmt.md(fmt.drift_name(d, names)),
                d.severity,
                fmt.md(names.get(d.objective_id, d.objective_id)) if d.objective_id else "–",
                fmt.moment(d.detected_at),
                fmt.moment(d.resolved_at),
                d.outcome,
            )
            for d in drifts
        ),
    )
    lines.append("")
    for d in drifts:
        lines.append(
            f"- **{fmt.md(fmt.drift_name(d, names))}**: {fmt.md(d.explanation)} (`{d.drift_id}`)"
        )
        for a in d.answers:
            what = "acknowledged" if a.how == "acknowledged" else f"answered by {a.event_type}"
            text = f": “{fmt.md(a.text)}”" if a.text else ""
            lines.append(f"  - {what} by {fmt.md(a.actor)} on {fmt.moment(a.occurred_at)}{text}")
        if not d.answers:
            lines.append("  - not answered by the strategy")
    lines.append("")
    return lines


def _changes(changes: tuple[StrategyChange, ...], drifts: dict[str, str]) -> list[str]:
    if not changes:
        return ["The strategy did not change during the period.", ""]
    lines = _table(
        ["when", "who", "what", "change", "reason", "in response to"],
        (
            (
                fmt.moment(c.occurred_at),
                fmt.md(c.actor),
                f"{c.event_type} · {fmt.md(c.subject)}",
                "; ".join(
                    f"{r.field} {fmt.md(fmt.change_value(r.old))} → "
                    f"{fmt.md(fmt.change_value(r.new))}"
                    for r in c.changes
                )
                or "–",
                fmt.md(c.reason or "–"),
                fmt.md(drifts.get(c.in_response_to, c.in_response_to)) if c.in_response_to else "–",
            )
            for c in changes
        ),
    )
    lines.append("")
    return lines
