"""Progress, pace, forecast and status of an objective
(docs/design.md#progress-pace-forecast-status), and the spend figures
around it. Pure functions: time is always an argument (integer microseconds, see timeunits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal, Protocol

from truenorth.alignment.domain.entities import SpecView
from truenorth.alignment.domain.timeunits import MICROS_PER_DAY, to_micros
from truenorth.contract.common import DEFAULT_GUARDRAILS, Guardrails, PeriodPlan

Status = Literal["not_started", "on_track", "at_risk", "off_track", "achieved", "missed"]


class Readings(Protocol):
    """The observations of an objective's KPI across its linked campaigns."""

    def total(self, low: int, high: int) -> float:
        """Sum of the values of observations whose period lies inside [low, high]."""
        ...

    def latest(self, low: int, high: int) -> float | None:
        """Value of the most recent observation (by period end) inside [low, high]."""
        ...


@dataclass(frozen=True, slots=True)
class Reading:
    value: float
    period_start: datetime
    period_end: datetime


class ListReadings:
    """`Readings` over a plain list (tests, the read API's as-of views)."""

    __slots__ = ("_points",)

    def __init__(self, readings: Iterable[Reading]) -> None:
        self._points = [
            (to_micros(r.period_end), to_micros(r.period_start), r.value) for r in readings
        ]

    def total(self, low: int, high: int) -> float:
        return sum(v for end, start, v in self._points if start >= low and end <= high)

    def latest(self, low: int, high: int) -> float | None:
        inside = [p for p in self._points if p[1] >= low and p[0] <= high]
        return max(inside)[2] if inside else None


@dataclass(frozen=True, slots=True)
class ObjectiveProgress:
    actual: float
    progress: float
    expected: float
    pace: float | None
    run_rate_per_day: float
    forecast: float
    forecast_attainment: float
    required_rate_per_day: float | None
    status: Status


def effective_guardrails(
    strategy_defaults: Guardrails | None = None,
    spec: SpecView | None = None,
    override: Guardrails | None = None,
) -> Guardrails:
    """DEFAULT_GUARDRAILS < strategy defaults < spec.guardrails < the objective's override."""
    merged = DEFAULT_GUARDRAILS
    for layer in (strategy_defaults, spec.guardrails if spec else None, override):
        if layer is not None:
            merged = layer.merged_over(merged)
    return merged


def actual_value(spec: SpecView, readings: Readings) -> float:
    """A(t) per the objective's aggregation over [start, deadline]; `latest` with no
    observation yet is the baseline."""
    low, high = to_micros(spec.start), to_micros(spec.deadline)
    if spec.aggregation == "sum":
        return readings.total(low, high)
    latest = readings.latest(low, high)
    return spec.baseline if latest is None else latest


def progress_ratio(spec: SpecView, actual: float) -> float:
    """p = (A − baseline) / (target − baseline), unclipped; works for decrease objectives."""
    return (actual - spec.baseline) / (spec.target - spec.baseline)


def expected_ratio(spec: SpecView, at: int) -> float:
    """e(t): elapsed share of [start, deadline], or the cumulative phasing weight."""
    start, deadline = to_micros(spec.start), to_micros(spec.deadline)
    if spec.phasing:
        segments = _phasing_segments(tuple(sorted(spec.phasing.items())), spec.start, spec.deadline)
        if segments:
            return _phased_share(segments, at)
    return _elapsed_share(start, deadline, at)


def _elapsed_share(start: int, end: int, at: int) -> float:
    if at <= start:
        return 0.0
    if at >= end:
        return 1.0
    return (at - start) / (end - start)


@lru_cache(maxsize=4096)
def _phasing_segments(
    weights: tuple[tuple[str, float], ...], start: datetime, deadline: datetime
) -> tuple[tuple[int, int, float], ...]:
    """(segment start, segment end, normalised weight) per month of the window, a month's
    weight spread over the part of it inside [start, deadline]; () when no weight falls
    inside the window (then the phasing is ignored: linear)."""
    by_month = dict(weights)
    segments: list[tuple[int, int, float]] = []
    month = datetime(start.year, start.month, 1, tzinfo=start.tzinfo)
    while month < deadline:
        following = _next_month(month)
        weight = by_month.get(f"{month.year:04d}-{month.month:02d}", 0.0)
        low, high = max(month, start), min(following, deadline)
        if weight > 0 and high > low:
            segments.append((to_micros(low), to_micros(high), weight))
        month = following
    total = sum(w for _, _, w in segments)
    if total <= 0:
        return ()
    return tuple((low, high, w / total) for low, high, w in segments)


def _next_month(month: datetime) -> datetime:
    if month.month == 12:
        return month.replace(year=month.year + 1, month=1)
    return month.replace(month=month.month + 1)


def _phased_share(segments: tuple[tuple[int, int, float], ...], at: int) -> float:
    share = 0.0
    for low, high, weight in segments:
        share += weight * _elapsed_share(low, high, at)
    return min(share, 1.0)


def pace_ratio(progress: float, expected: float) -> float | None:
    """r = p / e when e > 0."""
    return progress / expected if expected > 0 else None


def run_rate_per_day(spec: SpecView, readings: Readings, at: int, window_days: float) -> float:
    """KPI units per day over the trailing window ending at `at` (clipped to the objective's
    window). For `latest` objectives: the change of the level per day over that window."""
    start, deadline = to_micros(spec.start), to_micros(spec.deadline)
    high = min(at, deadline)
    low = max(start, high - int(window_days * MICROS_PER_DAY))
    days = (high - low) / MICROS_PER_DAY
    if days <= 0:
        return 0.0
    if spec.aggregation == "sum":
        return readings.total(low, high) / days
    now_level = readings.latest(start, high)
    then_level = readings.latest(start, low)
    if now_level is None:
        return 0.0
    return (now_level - (spec.baseline if then_level is None else then_level)) / days


def remaining_days(spec: SpecView, at: int) -> float:
    start, deadline = to_micros(spec.start), to_micros(spec.deadline)
    return max(0, deadline - max(at, start)) / MICROS_PER_DAY


def forecast_value(actual: float, rate_per_day: float, days_left: float) -> float:
    """A at the deadline if the trailing run-rate holds."""
    return actual + rate_per_day * days_left


def required_rate_per_day(spec: SpecView, actual: float, days_left: float) -> float | None:
    """KPI units per day still needed to reach the target; 0 once achieved, None when no
    time is left."""
    if progress_ratio(spec, actual) >= 1:
        return 0.0
    if days_left <= 0:
        return None
    return (spec.target - actual) / days_left


def objective_status(
    spec: SpecView, progress: float, pace: float | None, at: int, guardrails: Guardrails
) -> Status:
    if at < to_micros(spec.start):
        return "not_started"
    if progress >= 1:
        return "achieved"
    if at >= to_micros(spec.deadline):
        return "missed"
    if pace is None:
        return "on_track"
    on_track = guardrails.on_track_pace or 0.95
    at_risk = guardrails.at_risk_pace or 0.80
    if pace >= on_track:
        return "on_track"
    if pace >= at_risk:
        return "at_risk"
    return "off_track"


def forecast_window_days(guardrails: Guardrails) -> float:
    return guardrails.forecast_window_days or 7.0


def evaluate_objective(
    spec: SpecView,
    readings: Readings,
    at: int | datetime,
    guardrails: Guardrails = DEFAULT_GUARDRAILS,
    actual: float | None = None,
    run_rate: float | None = None,
) -> ObjectiveProgress:
    """Everything of docs/design.md#progress-pace-forecast-status for one objective at time
    `at` (`actual` when the caller
    already has A(t), which does not depend on the clock; `run_rate` when it has a recent
    trailing run-rate)."""
    now = at if isinstance(at, int) else to_micros(at)
    if actual is None:
        actual = actual_value(spec, readings)
    progress = progress_ratio(spec, actual)
    expected = expected_ratio(spec, now)
    pace = pace_ratio(progress, expected)
    if run_rate is None:
        run_rate = run_rate_per_day(spec, readings, now, forecast_window_days(guardrails))
    rate = run_rate
    days_left = remaining_days(spec, now)
    forecast = forecast_value(actual, rate, days_left)
    return ObjectiveProgress(
        actual=actual,
        progress=progress,
        expected=expected,
        pace=pace,
        run_rate_per_day=rate,
        forecast=forecast,
        forecast_attainment=progress_ratio(spec, forecast),
        required_rate_per_day=required_rate_per_day(spec, actual, days_left),
        status=objective_status(spec, progress, pace, now, guardrails),
    )


# -- spend ---------------------------------------------------------------------------------


def outcome_per_dollar(outcome: float, spend: float) -> float | None:
    return outcome / spend if spend > 0 else None


def cost_per_outcome(spend: float, outcome: float) -> float | None:
    return spend / outcome if outcome > 0 else None


def aligned_spend_ratio(aligned_spend: float, total_spend: float) -> float | None:
    """Spend on campaigns tied to an active objective / all spend (None without spend)."""
    return aligned_spend / total_spend if total_spend > 0 else None


@dataclass(frozen=True, slots=True)
class ChannelShare:
    channel: str
    spend: float
    actual_share: float
    """0–1 share of the period's spend."""
    planned_share: float | None
    """0–1 share planned in the period's channel mix (None without a plan or mix)."""
    planned_spend: float | None
    """Budget × planned share (the whole period's plan, not time-phased)."""


def channel_shares(
    spend_by_channel: Mapping[str, float], plan: PeriodPlan | None
) -> tuple[ChannelShare, ...]:
    """Actual vs planned mix, one entry per channel that is planned or has spend."""
    total = sum(spend_by_channel.values())
    mix = plan.channel_mix if plan is not None and plan.channel_mix else None
    channels = sorted(set(spend_by_channel) | set(mix or ()))
    shares = []
    for channel in channels:
        spend = spend_by_channel.get(channel, 0.0)
        planned = None if mix is None else mix.get(channel, 0.0) / 100
        shares.append(
            ChannelShare(
                channel=channel,
                spend=spend,
                actual_share=spend / total if total > 0 else 0.0,
                planned_share=planned,
                planned_spend=None if planned is None or plan is None else plan.budget * planned,
            )
        )
    return tuple(shares)


def time_phased_budget(budget: float, start: int, end: int, at: int) -> float:
    """The part of a budget planned to be spent by `at`, linear over [start, end]."""
    return budget * _elapsed_share(start, end, at)
