"""Chart geometry shared by the page and anything else that draws an objective's path:
scales, grid lines and shapes in SVG user units, computed from plain values so a template (or
a string builder) only has to emit elements. No plotting library: the charts are a few lines
and a band, drawn server-side without a script."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str
    label: str = ""


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    y: float
    text: str
    css: str = "axis"
    anchor: str = "start"


@dataclass(frozen=True, slots=True)
class Shape:
    """A polyline (`closed` False) or a polygon, as an SVG points string."""

    points: str
    css: str
    closed: bool = False
    label: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    title: str
    lines: list[Line] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    dots: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PathPoint:
    at: datetime
    progress: float
    expected: float


@dataclass(frozen=True, slots=True)
class Forecast:
    """Attainment at the deadline (1.0 = target) with its 80 % interval."""

    value: float
    low: float
    high: float


def progress_chart(
    title: str,
    start: datetime,
    deadline: datetime,
    points: Sequence[PathPoint],
    now: datetime,
    forecast: Forecast | None,
    revisions: Sequence[tuple[datetime, str]] = (),
    width: int = 760,
    height: int = 300,
) -> Chart:
    """Progress and expected progress (share of the target) from start to now, the forecast
    from now to the deadline with its 80 % band, the target line and a marker per revision."""
    left, right, top, bottom = 52, 18, 22, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = start.timestamp(), deadline.timestamp()
    values = [1.0, 0.0]
    for p in points:
        values += [p.progress, p.expected]
    if forecast is not None:
        values += [forecast.low, forecast.high, forecast.value]
    high = min(max(values) * 1.05, 3.0)
    low = max(min(values), -1.0)

    def x(moment: datetime) -> float:
        share = (moment.timestamp() - t0) / (t1 - t0)
        return round(left + min(max(share, 0.0), 1.0) * plot_w, 1)

    def y(value: float) -> float:
        clipped = min(max(value, low), high)
        return round(top + (high - clipped) / (high - low) * plot_h, 1)

    chart = Chart(width, height, title)
    step = 0.25 if high - low <= 1.6 else 0.5
    tick = step * int(low / step)
    while tick <= high + 1e-9:
        chart.lines.append(Line(left, y(tick), width - right, y(tick), "grid"))
        chart.texts.append(Text(left - 6, y(tick) + 4, f"{tick * 100:.0f}%", anchor="end"))
        tick += step
    for month in month_starts(start, deadline):
        chart.lines.append(Line(x(month), top, x(month), top + plot_h, "grid"))
        chart.texts.append(Text(x(month) + 3, height - bottom + 14, f"{month:%b %Y}"))
    chart.lines.append(Line(left, y(1.0), width - right, y(1.0), "target", "target"))
    for at, label in revisions:
        chart.lines.append(Line(x(at), top, x(at), top + plot_h, "revision", label))
        chart.texts.append(Text(x(at) + 3, top - 6, f"revised: {label}", "revision-label"))
    if points:
        chart.shapes.append(
            Shape(" ".join(f"{x(p.at)},{y(p.expected)}" for p in points), "expected", False)
        )
        chart.shapes.append(
            Shape(" ".join(f"{x(p.at)},{y(p.progress)}" for p in points), "progress", False)
        )
        last = points[-1]
        chart.dots.append((x(last.at), y(last.progress), "progress"))
        if forecast is not None and now < deadline:
            here = f"{x(last.at)},{y(last.progress)}"
            band = f"{here} {x(deadline)},{y(forecast.high)} {x(deadline)},{y(forecast.low)}"
            chart.shapes.append(Shape(band, "band", True, "80 % interval"))
            chart.shapes.append(
                Shape(f"{here} {x(deadline)},{y(forecast.value)}", "forecast", False, "forecast")
            )
            chart.dots.append((x(deadline), y(forecast.value), "forecast"))
    chart.texts.append(Text(x(now), top + plot_h + 28, "now", "now", "middle"))
    chart.lines.append(Line(x(now), top, x(now), top + plot_h, "now"))
    return chart


def month_starts(start: datetime, end: datetime) -> list[datetime]:
    months = []
    moment = datetime(start.year, start.month, 1, tzinfo=UTC)
    while moment < end:
        if moment >= start:
            months.append(moment)
        year, month = divmod(moment.month, 12)
        moment = moment.replace(year=moment.year + year, month=month + 1)
    return months
