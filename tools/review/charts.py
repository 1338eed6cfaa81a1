"""Hand-written SVG charts for the HTML review.

Why not matplotlib: the charts are two simple shapes (a progress line chart and a pair of
bars per channel), and drawing them as SVG text keeps the review a pure, fast function of the
log with no heavy native dependency (matplotlib pulls numpy, a font cache and a backend into
every install of truenorth), gives byte-identical output for the same review, and embeds
straight into the self-contained page as a `data:image/svg+xml` image.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from html import escape

from truenorth.review.build import ChannelMix, ObjectiveReview, Period

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 40
BLUE, GREY, ORANGE, GREEN, PURPLE, RED = (
    "#2563eb",
    "#9ca3af",
    "#ea580c",
    "#16a34a",
    "#7c3aed",
    "#dc2626",
)
FONT = "font-family='system-ui,-apple-system,Segoe UI,Roboto,sans-serif' font-size='11'"


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'><title>{escape(title)}</title>"
        f"<rect width='100%' height='100%' fill='white'/>{''.join(body)}</svg>"
    )


def _f(value: float) -> str:
    return f"{value:.1f}"


def progress_chart(objective: ObjectiveReview, period: Period, as_of: datetime) -> str:
    """Progress (actual, % of target), expected progress, forecast attainment over the
    period, the target line, the run-rate projection to the deadline and a marker at every
    strategy change of the objective."""
    t0, t1 = period.start.timestamp(), period.end.timestamp()
    points = [s for s in objective.samples if s.progress is not None]
    values = [1.0]
    for s in points:
        values += [s.progress or 0.0, s.expected or 0.0, s.forecast_attainment or 0.0]
    values.append(objective.forecast_attainment)
    top = max(1.1, min(max(values) * 1.05, 3.0))
    bottom = min(0.0, max(min(values), -1.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + (moment.timestamp() - t0) / (t1 - t0) * plot_w

    def y(value: float) -> float:
        clipped = min(max(value, bottom), top)
        return TOP + (top - clipped) / (top - bottom) * plot_h

    body: list[str] = []
    step = 0.25 if top - bottom <= 1.6 else 0.5
    tick = bottom
    while tick <= top + 1e-9:
        body.append(
            f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{_f(y(tick))}' y2='{_f(y(tick))}' "
            f"stroke='#eef0f3'/><text x='{LEFT - 6}' y='{_f(y(tick) + 4)}' text-anchor='end' "
            f"fill='#6b7280' {FONT}>{tick * 100:.0f}%</text>"
        )
        tick += step
    for month in _month_starts(period):
        body.append(
            f"<line x1='{_f(x(month))}' x2='{_f(x(month))}' y1='{TOP}' y2='{TOP + plot_h}' "
            f"stroke='#eef0f3'/><text x='{_f(x(month) + 3)}' y='{HEIGHT - BOTTOM + 14}' "
            f"fill='#6b7280' {FONT}>{month.strftime('%b %Y')}</text>"
        )
    body.append(
        f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{_f(y(1))}' y2='{_f(y(1))}' "
        f"stroke='{GREEN}' stroke-width='1'/>"
    )
    for moment in objective.changes_at:
        body.append(
            f"<line x1='{_f(x(moment))}' x2='{_f(x(moment))}' y1='{TOP}' y2='{TOP + plot_h}' "
            f"stroke='{PURPLE}' stroke-dasharray='2 3'/><text x='{_f(x(moment) + 3)}' "
            f"y='{TOP + 10}' fill='{PURPLE}' {FONT}>revised</text>"
        )
    for attr, colour, dash, width in (
        ("expected", GREY, "6 4", 1.5),
        ("forecast_attainment", ORANGE, "2 3", 1.5),
        ("progress", BLUE, "", 2.5),
    ):
        # a forecast needs some elapsed time: none at the objective's start
        shown = [s for s in points if attr != "forecast_attainment" or (s.expected or 0) > 0]
        path = " ".join(f"{_f(x(s.at))},{_f(y(getattr(s, attr) or 0.0))}" for s in shown)
        if path:
            dashes = f" stroke-dasharray='{dash}'" if dash else ""
            body.append(
                f"<polyline points='{path}' fill='none' stroke='{colour}' "
                f"stroke-width='{width}'{dashes}/>"
            )
    end = min(objective.deadline, period.end)
    if points and as_of < end:
        body.append(
            f"<line x1='{_f(x(as_of))}' y1='{_f(y(objective.progress))}' x2='{_f(x(end))}' "
            f"y2='{_f(y(objective.forecast_attainment))}' stroke='{ORANGE}' stroke-width='1.5' "
            f"stroke-dasharray='6 3'/>"
        )
    if points:
        body.append(
            f"<circle cx='{_f(x(points[-1].at))}' cy='{_f(y(objective.progress))}' r='3.5' "
            f"fill='{BLUE}'/>"
        )
    legend = (
        ("progress", BLUE, ""),
        ("expected", GREY, "6 4"),
        ("forecast", ORANGE, "2 3"),
        ("target", GREEN, ""),
    )
    lx = LEFT
    for label, colour, dash in legend:
        dashes = f" stroke-dasharray='{dash}'" if dash else ""
        body.append(
            f"<line x1='{lx}' x2='{lx + 18}' y1='{HEIGHT - 8}' y2='{HEIGHT - 8}' "
            f"stroke='{colour}' stroke-width='2'{dashes}/><text x='{lx + 22}' y='{HEIGHT - 4}' "
            f"fill='#374151' {FONT}>{label}</text>"
        )
        lx += 90
    title = f"{objective.name}: progress, expected and forecast, {period.label}"
    return _svg(WIDTH, HEIGHT, body, title)


def _month_starts(period: Period) -> list[datetime]:
    months = []
    moment = datetime(period.start.year, period.start.month, 1, tzinfo=UTC)
    while moment < period.end:
        if moment >= period.start:
            months.append(moment)
        year, month = divmod(moment.month, 12)
        moment = moment.replace(year=moment.year + year, month=month + 1)
    return months


def mix_chart(mix: ChannelMix) -> str:
    """Planned vs actual share of spend per channel, as pairs of horizontal bars."""
    row_h, label_w, bar_w = 34, 110, 480
    height = TOP + row_h * max(1, len(mix.rows)) + 30
    width = label_w + bar_w + 90
    top = max(
        [0.01] + [r.actual_share for r in mix.rows] + [r.planned_share or 0.0 for r in mix.rows]
    )
    body: list[str] = []
    for index, row in enumerate(mix.rows):
        y0 = TOP + index * row_h
        colour = RED if not row.allowed else BLUE
        body.append(
            f"<text x='{label_w - 8}' y='{y0 + 17}' text-anchor='end' fill='#111827' {FONT}>"
            f"{escape(row.channel)}</text>"
        )
        planned = row.planned_share or 0.0
        body.append(
            f"<rect x='{label_w}' y='{y0 + 3}' width='{_f(planned / top * bar_w)}' height='11' "
            f"fill='{GREY}'/><text x='{_f(label_w + planned / top * bar_w + 4)}' "
            f"y='{y0 + 12}' fill='#6b7280' {FONT}>plan {planned * 100:.1f}%</text>"
        )
        body.append(
            f"<rect x='{label_w}' y='{y0 + 16}' width='{_f(row.actual_share / top * bar_w)}' "
            f"height='11' fill='{colour}'/><text "
            f"x='{_f(label_w + row.actual_share / top * bar_w + 4)}' y='{y0 + 25}' "
            f"fill='#111827' {FONT}>actual {row.actual_share * 100:.1f}%</text>"
        )
    body.append(
        f"<text x='{label_w}' y='{height - 8}' fill='#6b7280' {FONT}>grey: planned share · "
        f"blue: actual share · red: channel the strategy does not allow</text>"
    )
    return _svg(width, height, body, f"Channel mix plan vs actual ({mix.strategy_id})")
