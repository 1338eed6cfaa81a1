"""The review as one self-contained HTML page: inline CSS, charts as inline SVG images
(`data:image/svg+xml`), no script, no external resource — it can be mailed or archived as is.

Written with the standard library (every dynamic value goes through `html.escape`) rather than
a template engine, so the review adds no dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from truenorth.review import charts, fmt
from truenorth.review.build import (
    ChannelMix,
    DriftReview,
    ObjectiveReview,
    Review,
    StrategyChange,
)
from truenorth.review.render_checkins import checkins_html
from truenorth.review.render_md import SECTIONS

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827;
margin:0;background:#f9fafb}
main{max-width:980px;margin:0 auto;padding:24px 28px 64px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:36px 0 10px;border-bottom:1px solid
#e5e7eb;padding-bottom:4px}h3{font-size:16px;margin:26px 0 8px}
.meta,.note{color:#6b7280}table{border-collapse:collapse;margin:8px 0 12px;width:100%}
th,td{border-bottom:1px solid #eef0f3;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600}
.on_track,.achieved,.resolved{background:#dcfce7;color:#166534}
.at_risk,.acknowledged{background:#fef9c3;color:#854d0e}
.off_track,.missed,.open,.unanswered{background:#fee2e2;color:#991b1b}
.not_started,.revised{background:#e0e7ff;color:#3730a3}
.confidence-high{background:#dcfce7;color:#166534}.confidence-medium{background:#fef9c3;
color:#854d0e}.confidence-low{background:#fee2e2;color:#991b1b}
.kpis{display:flex;gap:10px;flex-wrap:wrap;margin:8px 0}
.kpi{border:1px solid #e5e7eb;border-radius:8px;padding:8px 12px;min-width:110px}
.kpi b{display:block;font-size:18px}.kpi span{color:#6b7280;font-size:12px}
img.chart{max-width:100%;height:auto;border:1px solid #eef0f3;border-radius:6px}
ul.answers{margin:2px 0 0;padding-left:18px}code{font-size:12px;background:#f3f4f6;
padding:0 3px;border-radius:3px}
"""


def _e(value: object) -> str:
    return escape(str(value))


def _badge(word: str, css: str | None = None) -> str:
    return f"<span class='badge {_e(css or word)}'>{_e(word.replace('_', ' '))}</span>"


def _table(
    header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    """Cells are already-escaped HTML."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='n'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(review: Review) -> str:
    strategies = ", ".join(
        f"{_e(name or sid)} (<code>{_e(sid)}</code>)"
        for sid, name in zip(review.strategy_ids, review.strategy_names, strict=True)
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>{_e(fmt.title(review.period))} · {_e(review.workspace)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>{_e(fmt.title(review.period))}</h1>",
        f"<p class='meta'>Workspace <code>{_e(review.workspace)}</code> · strategy "
        f"{strategies or '–'} · {_e(fmt.span(review.period))} · as of "
        f"{_e(fmt.as_of(review.as_of))}</p>",
        f"<p class='note'>Built from the event log only ({review.events_considered:,} events "
        "counted: strategy, campaign and drift events by when they happened, metric "
        "observations by the period they cover, restatements at their latest value).</p>",
    ]
    parts.append(_summary(review))
    parts.append(f"<h2>{_e(SECTIONS[1])}</h2>")
    if not review.objectives:
        parts.append("<p>No objective of this strategy overlaps the period.</p>")
    parts += [_objective(o, review) for o in review.objectives]
    parts.append(f"<h2>{_e(SECTIONS[2])}</h2>")
    parts += [_mix(m) for m in review.channel_mix]
    names = {o.objective_id: o.name for o in review.objectives}
    parts.append(f"<h2>{_e(SECTIONS[3])}</h2>")
    parts.append(_drifts(review.drifts, names))
    parts.append(f"<h2>{_e(SECTIONS[4])}</h2>")
    parts.append(
        _changes(review.changes, {d.drift_id: fmt.drift_name(d, names) for d in review.drifts})
    )
    parts.append(checkins_html(review.checkins))
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _summary(review: Review) -> str:
    rows = (
        (
            f"<a href='#{_e(o.objective_id)}'>{_e(o.name)}</a>",
            _e(o.kpi),
            f"{_e(fmt.compact(o.actual))} / {_e(fmt.target(o))}",
            _e(fmt.pct(o.progress)),
            _e(fmt.pct(o.expected)),
            _e(fmt.ratio(o.pace)),
            _e(fmt.pct(o.forecast_attainment)),
            _badge(fmt.status(o.status), o.status),
        )
        for o in review.objectives
    )
    open_drifts = sum(1 for d in review.drifts if d.state == "open")
    headlines = [h for h in (fmt.budget_headline(m) for m in review.channel_mix) if h]
    return (
        f"<h2>{_e(SECTIONS[0])}</h2>"
        + "".join(f"<p class='headline'><b>{_e(h)}</b></p>" for h in headlines)
        + _table(
            [
                "objective",
                "KPI",
                "actual / target",
                "progress",
                "expected",
                "pace",
                "forecast attainment",
                "status",
            ],
            rows,
            numeric=(2, 3, 4, 5, 6),
        )
        + f"<p>{len(review.drifts)} drift(s) during the period, {open_drifts} still open; "
        f"{len(review.changes)} strategy change(s).</p>"
    )


def _kpi(label: str, value: str) -> str:
    return f"<div class='kpi'><span>{_e(label)}</span><b>{_e(value)}</b></div>"


def _objective(o: ObjectiveReview, review: Review) -> str:
    chart = charts.progress_chart(o, review.period, review.as_of)
    alt = (
        f"{o.name}: progress {fmt.pct(o.progress)} against {fmt.pct(o.expected)} expected, "
        f"forecast {fmt.pct(o.forecast_attainment)}"
    )
    parts = [
        f"<section class='objective' id='{_e(o.objective_id)}'>",
        f"<h3>{_e(o.name)} <code>{_e(o.objective_id)}</code> "
        f"{_badge(fmt.status(o.status), o.status)}</h3>",
        f"<p class='meta'>KPI <code>{_e(o.kpi)}</code> ({_e(o.aggregation)}, "
        f"{_e(o.direction)}) · owner {_e(o.owner or '–')} · {_e(fmt.day(o.start))} – "
        f"{_e(fmt.last_day(o.deadline))}</p>",
        "<div class='kpis'>",
        _kpi("actual / target", f"{fmt.compact(o.actual)} / {fmt.target(o)}"),
        _kpi("progress", fmt.pct(o.progress)),
        _kpi("expected", fmt.pct(o.expected)),
        _kpi("pace", fmt.ratio(o.pace)),
        _kpi("forecast", f"{fmt.compact(o.forecast)} ({fmt.pct(o.forecast_attainment)})"),
        _kpi(
            "80 % interval · P(hit)",
            f"{fmt.pct(o.forecast_attainment_low)}–{fmt.pct(o.forecast_attainment_high)} · "
            f"{o.hit_probability:.2f}",
        ),
        _kpi("run-rate / day", fmt.number(o.run_rate_per_day, 2)),
        _kpi("spend", fmt.money(o.spend)),
        "</div>",
        f"<img class='chart' alt='{_e(alt)}' src='{charts.data_uri(chart)}'>",
        f"<p class='meta'>Campaigns by {_e(o.kpi)} per dollar, {_e(fmt.day(o.window_start))} – "
        f"{_e(fmt.last_day(o.window_end))}"
        + (
            f" · planned cost per outcome {_e(fmt.cents(o.planned_cost_per_outcome))}"
            if o.planned_cost_per_outcome is not None
            else ""
        )
        + "</p>",
    ]
    if not o.campaigns:
        parts.append("<p>No campaign is linked to this objective.</p>")
    else:
        most, least = set(o.most_per_dollar), set(o.least_per_dollar)
        parts.append(
            _table(
                [
                    "rank",
                    "campaign",
                    "channel",
                    "spend",
                    o.kpi,
                    f"{o.kpi} per $1k",
                    "cost per outcome",
                    "",
                ],
                (
                    (
                        _e(c.rank or "–"),
                        f"{_e(c.name or c.campaign_id)} <code>{_e(c.campaign_id)}</code>",
                        _e(c.channel),
                        _e(fmt.money(c.spend)),
                        _e(fmt.number(c.outcome)),
                        _e(fmt.per_thousand(c.outcome_per_dollar)),
                        _e(fmt.cents(c.cost_per_outcome)),
                        _badge("most per $", "achieved")
                        if c.campaign_id in most
                        else _badge("least per $", "missed")
                        if c.campaign_id in least
                        else "",
                    )
                    for c in o.campaigns
                ),
                numeric=(0, 3, 4, 5, 6),
            )
        )
    parts.append("</section>")
    return "\n".join(parts)


def _mix(mix: ChannelMix) -> str:
    plan = (
        f"plan <code>{_e(mix.period_id)}</code> (budget {_e(fmt.money(mix.budget))})"
        if mix.period_id
        else "no budget plan for this period"
    )
    chart = charts.mix_chart(mix)
    untethered = ""
    if mix.untethered:
        names = ", ".join(
            f"<code>{_e(u.campaign_id)}</code> ({_e(fmt.money(u.spend))})" for u in mix.untethered
        )
        untethered = f"<p>Untethered spend: {names}.</p>"
    return (
        f"<h3><code>{_e(mix.strategy_id)}</code> · {plan} · {_e(fmt.day(mix.window_start))} – "
        f"{_e(fmt.last_day(mix.window_end))}</h3>"
        f"<img class='chart' alt='Channel mix plan vs actual' src='{charts.data_uri(chart)}'>"
        + _table(
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
                    _e(r.channel),
                    _e(fmt.money(r.spend)),
                    _e(fmt.money(r.planned_spend)),
                    _e(fmt.of_plan(r.spend, r.planned_spend)),
                    _e(fmt.pct(r.actual_share)),
                    _e(fmt.pct(r.planned_share)),
                    _e(fmt.pts(r.delta_pts)),
                    "yes" if r.allowed else _badge("no", "missed"),
                )
                for r in mix.rows
            ),
            numeric=(1, 2, 3, 4, 5, 6),
        )
        + f"<p>Spend {_e(fmt.money(mix.total_spend))}, of which "
        f"{_e(fmt.money(mix.aligned_spend))} on campaigns tied to an active objective "
        f"({_e(fmt.pct(mix.aligned_ratio))} aligned).</p>" + untethered
    )


def _drifts(drifts: tuple[DriftReview, ...], names: dict[str, str]) -> str:
    if not drifts:
        return "<p>No drift was open during the period.</p>"
    rows = []
    for d in drifts:
        answers = "".join(
            "<li>"
            + ("acknowledged" if a.how == "acknowledged" else _e("answered by " + a.event_type))
            + f" by {_e(a.actor)} on {_e(fmt.moment(a.occurred_at))}"
            + (f": “{_e(a.text)}”" if a.text else "")
            + "</li>"
            for a in d.answers
        )
        how = " ".join(_badge(h) for h in d.answered) or _badge("unanswered")
        rows.append(
            (
                f"<b>{_e(fmt.drift_name(d, names))}</b><br>{_e(d.severity)}"
                f"<br><span class='meta'>{_e(d.drift_id)}</span>",
                _e(d.explanation) + (f"<ul class='answers'>{answers}</ul>" if answers else ""),
                _e(names.get(d.objective_id, d.objective_id) if d.objective_id else "–"),
                _e(fmt.moment(d.detected_at)),
                _e(fmt.moment(d.resolved_at)),
                f"{how} {_badge('still open' if d.state == 'open' else 'resolved', d.state)}",
            )
        )
    return _table(
        [
            "drift",
            "why, and how the strategy answered",
            "objective",
            "detected",
            "resolved",
            "answered",
        ],
        rows,
    )


def _changes(changes: tuple[StrategyChange, ...], drifts: dict[str, str]) -> str:
    if not changes:
        return "<p>The strategy did not change during the period.</p>"
    return _table(
        ["when", "who", "what", "change", "reason", "in response to"],
        (
            (
                _e(fmt.moment(c.occurred_at)),
                _e(c.actor),
                f"{_e(c.event_type)}<br><span class='meta'>{_e(c.subject)}</span>",
                "<br>".join(
                    _e(f"{r.field} {fmt.change_value(r.old)} → {fmt.change_value(r.new)}")
                    for r in c.changes
                )
                or "–",
                _e(c.reason or "–"),
                _e(drifts.get(c.in_response_to, c.in_response_to)) if c.in_response_to else "–",
            )
            for c in changes
        ),
    )
