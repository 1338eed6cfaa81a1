"""Honest forecasts of an objective's KPI at its deadline (docs/design.md, "Forecast method").

Pure: a daily series in, a frozen `Forecast` out; no clock, no store, no I/O.

* `sum` KPIs (counts: leads, signups, revenue) extrapolate the trailing run-rate: the total so
  far plus the mean daily amount of the trailing window times the days left.
* `latest` KPIs (levels: awareness %, share) and `ratio` KPIs (CAC, conversion rate, ROAS)
  follow the trend of the level over the trailing window, fitted with Theil–Sen (the median
  of the pairwise slopes, robust to a few wild readings), and are bounded to what the KPI can
  physically be (a rate in [0, 1], a cost ≥ 0).

Every forecast carries an 80 % interval and the probability of reaching the target by the
deadline, both from the variability of the daily series under a normal approximation of the
forecast's error. Plain Python: a trailing window holds a few dozen points, and neither numpy
nor scipy is a dependency of truenorth (an O(n²) median of slopes over ≤ 60 points is ~2 000
divisions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import NormalDist, median
from typing import Literal

from truenorth.alignment.domain.entities import SpecView

Kind = Literal["sum", "latest", "ratio"]
Direction = Literal["increase", "decrease"]

INTERVAL = 0.80
"""The coverage of every forecast's interval."""
MIN_TREND_POINTS = 3
"""Fewer readings than this in the window: no trend is fitted (see `_too_few`)."""
MAX_TREND_POINTS = 60
"""The Theil–Sen fit keeps the latest readings of a long window (O(n²) pairs)."""
_MAD_TO_SD = 1.4826
"""A normal distribution's standard deviation is 1.4826 times its median absolute deviation."""
_STANDARD = NormalDist()


@dataclass(frozen=True)
class Bounds:
    """What the KPI can physically be; None: unbounded on that side."""

    low: float | None = None
    high: float | None = None

    def clip(self, value: float) -> float:
        if self.low is not None:
            value = max(self.low, value)
        if self.high is not None:
            value = min(self.high, value)
        return value


def bounds_of(spec: SpecView) -> Bounds:
    """An objective's KPI bounds: its `min_value` / `max_value`, and ≥ 0 for levels and ratios
    when it names no floor."""
    return Bounds(spec.lower_bound, spec.max_value)


RATE = Bounds(0.0, 1.0)
PERCENT = Bounds(0.0, 100.0)
NON_NEGATIVE = Bounds(0.0, None)


@dataclass(frozen=True)
class Forecast:
    """The KPI at the deadline: its most likely value, an 80 % interval, the same as shares of
    the planned change (attainment: 1.0 is the target), and P(reaching the target)."""

    kind: Kind
    value: float
    low: float
    high: float
    attainment: float
    attainment_low: float
    attainment_high: float
    hit_probability: float
    method: str
    points: int
    """Readings the forecast rests on."""


def forecast(
    series: Sequence[tuple[date, float]],
    *,
    kind: Kind,
    target: float,
    baseline: float,
    direction: Direction,
    now: datetime,
    deadline: datetime,
    window_days: float = 7.0,
    bounds: Bounds | None = None,
    so_far: float | None = None,
    shift: float = 0.0,
) -> Forecast:
    """`series`: one value per day of the objective's window so far — a `sum` KPI's daily
    amount, a `latest` KPI's level that day, a `ratio` KPI's ratio that day (Σ numerator /
    Σ denominator of the day, or of a trailing window ending that day). Days without a
    reading may be missing. `bounds` default: none for `sum`, ≥ 0 for levels and ratios.
    `so_far`: a `sum` KPI's total over its window so far, when `series` holds only the
    trailing window (the default is the series' own total). `shift` (a what-if's modelled
    effect, `truenorth.alignment.domain.whatif`): a `sum` KPI gains that much by the
    deadline, a level or ratio ends that much higher; the spread is unchanged."""
    if target == baseline:
        raise ValueError("target must differ from baseline")
    if bounds is None:
        bounds = Bounds() if kind == "sum" else NON_NEGATIVE
    days_left = max(0.0, (deadline - now).total_seconds() / 86400)
    plan = _Plan(target, baseline, direction, bounds)
    if kind == "sum":
        return _sum_forecast(series, plan, now, days_left, window_days, so_far, shift)
    return _level_forecast(series, kind, plan, now, days_left, window_days, shift)


@dataclass(frozen=True)
class _Plan:
    target: float
    baseline: float
    direction: Direction
    bounds: Bounds

    def attainment(self, value: float) -> float:
        return (value - self.baseline) / (self.target - self.baseline)

    def hit_probability(self, mean: float, sd: float) -> float:
        """P(the KPI at the deadline meets the target) for a normal error around `mean`;
        0 when the target lies beyond what the KPI can be."""
        if not _reachable(self.target, self.bounds):
            return 0.0
        if sd <= 0:
            return 1.0 if self.meets(mean) else 0.0
        above = 1.0 - _STANDARD.cdf((self.target - mean) / sd)
        return _unit(above if self.direction == "increase" else 1.0 - above)

    def meets(self, value: float) -> bool:
        return value >= self.target if self.direction == "increase" else value <= self.target

    def result(
        self, kind: Kind, mean: float, sd: float, method: str, points: int, floor: float | None
    ) -> Forecast:
        z = _STANDARD.inv_cdf(0.5 + INTERVAL / 2)
        bounds = (
            self.bounds if floor is None else Bounds(_max(self.bounds.low, floor), self.bounds.high)
        )
        value = bounds.clip(mean)
        low = min(value, bounds.clip(mean - z * sd))
        high = max(value, bounds.clip(mean + z * sd))
        shares = sorted((self.attainment(low), self.attainment(high)))
        return Forecast(
            kind=kind,
            value=value,
            low=low,
            high=high,
            attainment=self.attainment(value),
            attainment_low=min(shares[0], self.attainment(value)),
            attainment_high=max(shares[1], self.attainment(value)),
            hit_probability=self.hit_probability(mean, sd),
            method=method,
            points=points,
        )


def _sum_forecast(
    series: Sequence[tuple[date, float]],
    plan: _Plan,
    now: datetime,
    days_left: float,
    window_days: float,
    so_far: float | None = None,
    shift: float = 0.0,
) -> Forecast:
    """total so far + mean daily amount × days left (a sum KPI's actual is its total over the
    window; the baseline is where progress is measured from, not added to it). Its error:
    the day-to-day spread of the remaining days (σ²·D) plus the uncertainty of the mean
    itself (σ²/n·D²); a single day gives a count's Poisson spread (σ² = rate)."""
    total = sum(value for _, value in series) if so_far is None else so_far
    daily = _window_days(series, now, window_days)
    rate = sum(daily) / len(daily) if daily else 0.0
    variance = _sample_variance(daily) if len(daily) >= 2 else max(rate, 0.0)
    sd = math.sqrt(variance * days_left + variance / max(len(daily), 1) * days_left**2)
    mean = total + rate * days_left + shift
    floor = total if all(value >= 0 for _, value in series) else None
    method = (
        f"run-rate: {rate:,.4g}/day over the last {len(daily)} day(s) × {days_left:,.1f} days "
        f"left, added to {total:,.6g} so far; 80 % interval from the daily spread"
    )
    return plan.result("sum", mean, sd, method, len(daily), floor)


def _window_days(
    series: Sequence[tuple[date, float]], now: datetime, window_days: float
) -> list[float]:
    """The daily amounts of the trailing window's days, from the first day with data (days
    before the objective reported anything are not zeros of it), missing days as 0."""
    if not series:
        return []
    today = _day_of(now)
    first = max(
        min(day for day, _ in series), today - timedelta(days=max(1, round(window_days)) - 1)
    )
    by_day: dict[date, float] = {}
    for day, value in series:
        if first <= day <= today:
            by_day[day] = by_day.get(day, 0.0) + value
    span = (today - first).days + 1
    return [by_day.get(first + timedelta(days=i), 0.0) for i in range(max(span, 0))]


def _level_forecast(
    series: Sequence[tuple[date, float]],
    kind: Kind,
    plan: _Plan,
    now: datetime,
    days_left: float,
    window_days: float,
    shift: float = 0.0,
) -> Forecast:
    today = _day_of(now)
    since = today - timedelta(days=max(window_days, 1))
    points = sorted(((day - today).days, value) for day, value in series if since < day <= today)
    points = points[-MAX_TREND_POINTS:]
    if len(points) < MIN_TREND_POINTS:
        return _too_few(series, kind, plan, days_left, len(points), shift)
    slope, intercept = theil_sen(points)
    residuals = [y - (intercept + slope * t) for t, y in points]
    sigma = _MAD_TO_SD * median(abs(r) for r in residuals)
    sigma = max(sigma, _noise_floor(points))
    mean_t = sum(t for t, _ in points) / len(points)
    spread_t = sum((t - mean_t) ** 2 for t, _ in points)
    slope_sd = sigma / math.sqrt(spread_t) if spread_t > 0 else 0.0
    horizon = days_left
    sd = math.sqrt(sigma**2 + sigma**2 / len(points) + (slope_sd * (horizon - mean_t)) ** 2)
    mean = intercept + slope * horizon + shift
    method = (
        f"trend of the {kind} level: Theil–Sen slope {slope:+,.4g}/day over {len(points)} "
        f"readings in the last {window_days:g} days, projected {horizon:,.1f} days to the "
        f"deadline and bounded to {_show_bounds(plan.bounds)}; 80 % interval from the "
        "residuals' spread (1.4826 × MAD) and the slope's uncertainty"
    )
    return plan.result(kind, mean, sd, method, len(points), None)


def _too_few(
    series: Sequence[tuple[date, float]],
    kind: Kind,
    plan: _Plan,
    days_left: float,
    points: int,
    shift: float = 0.0,
) -> Forecast:
    """Too few readings for a trend: the level holds, with a wide prior spread of half the
    planned change (so P(hit) is neither 0 nor 1 on no evidence)."""
    latest = max(series)[1] if series else plan.baseline
    sd = abs(plan.target - plan.baseline) / 2 if days_left > 0 else 0.0
    method = (
        f"too few {kind} readings in the window ({points}) for a trend: the last level "
        f"{latest:,.4g} is held; the interval is a wide prior (half the planned change)"
    )
    return plan.result(kind, latest + shift, sd, method, points, None)


def theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(slope, intercept): the median of the slopes between every pair of points with
    different x, and the median of y − slope·x."""
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if x2 != x1
    ]
    slope = median(slopes) if slopes else 0.0
    intercept = median(y - slope * x for x, y in points)
    return slope, intercept


def _noise_floor(points: Sequence[tuple[float, float]]) -> float:
    """A perfectly straight series still has rounding noise: never claim more precision than
    a millionth of the level."""
    return 1e-6 * max(1.0, max(abs(y) for _, y in points))


def _sample_variance(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _reachable(target: float, bounds: Bounds) -> bool:
    return (bounds.low is None or target >= bounds.low) and (
        bounds.high is None or target <= bounds.high
    )


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def _max(a: float | None, b: float) -> float:
    return b if a is None else max(a, b)


def _show_bounds(bounds: Bounds) -> str:
    low = "−∞" if bounds.low is None else f"{bounds.low:g}"
    high = "∞" if bounds.high is None else f"{bounds.high:g}"
    return f"[{low}, {high}]"


# ------------------------------------------------------------------------------------------
# Status and forecast, reconciled


def reconciliation(status: str, pace: float | None, fc: Forecast) -> str | None:
    """The sentence that explains why the status and the forecast disagree, or None when they
    do not: "at risk on pace 0.85, but the trend forecasts 107 % (80 %: 92–121 %, P(hit)
    0.71)". Behind (at risk, off track) with a forecast at or above the target, or on track
    with a forecast below it, disagree."""
    behind = status in ("at_risk", "off_track")
    ahead = status == "on_track"
    reaches = fc.attainment >= 1.0
    if not ((behind and reaches) or (ahead and not reaches)):
        return None
    label = status.replace("_", " ")
    on_pace = f" on pace {pace:.2f}" if pace is not None else ""
    source = "run-rate" if fc.kind == "sum" else "trend"
    return (
        f"{label}{on_pace}, but the {source} forecasts {_percent(fc.attainment)} "
        f"(80 %: {_percent(fc.attainment_low, sign=False)}–{_percent(fc.attainment_high)}, "
        f"P(hit) {fc.hit_probability:.2f})"
    )


def _percent(share: float, *, sign: bool = True) -> str:
    text = f"{share * 100:.0f}"
    return f"{text} %" if sign else text


def _day_of(now: datetime) -> date:
    """The day `now` closes: midnight belongs to the day before (as a period ending then)."""
    return (now - timedelta(microseconds=1)).date()
