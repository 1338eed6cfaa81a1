"""Honest forecasts: run-rate for counts, a robust bounded trend for levels and ratios, an
80 % interval and the probability of reaching the target."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from truenorth.alignment.domain.forecast import (
    PERCENT,
    RATE,
    Bounds,
    Forecast,
    bounds_of,
    forecast,
    reconciliation,
    theil_sen,
)

NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)
TODAY = NOW.date()
DEADLINE = datetime(2027, 1, 1, tzinfo=UTC)


def days_back(values: list[float]) -> list[tuple[date, float]]:
    """values[-1] is today's."""
    return [(TODAY - timedelta(days=len(values) - 1 - i), v) for i, v in enumerate(values)]


def test_a_steady_count_extrapolates_its_run_rate() -> None:
    series = [(date(2026, 10, 1) + timedelta(days=i), 10.0) for i in range(46)]
    fc = forecast(
        series,
        kind="sum",
        target=1000,
        baseline=0,
        direction="increase",
        now=NOW,
        deadline=DEADLINE,
    )
    assert fc.value == pytest.approx(460 + 10 * 46.5)
    assert fc.low <= fc.value <= fc.high
    assert fc.hit_probability == 0.0  # no spread at all and short of the target


def test_a_noisy_count_ahead_of_target_is_likely_to_hit() -> None:
    rng = random.Random(7)
    series = [(date(2026, 10, 1) + timedelta(days=i), rng.gauss(14, 4)) for i in range(46)]
    fc = forecast(
        series,
        kind="sum",
        target=1000,
        baseline=0,
        direction="increase",
        now=NOW,
        deadline=DEADLINE,
    )
    assert fc.attainment > 1
    assert 0.5 < fc.hit_probability <= 1
    assert fc.low < fc.value < fc.high


def test_a_cac_ratio_improving_is_forecast_between_its_floor_and_its_baseline() -> None:
    """The issue's CAC showed 'forecast −205.9': a level extrapolated as a count."""
    rng = random.Random(3)
    values = [42000 - 120 * i + rng.gauss(0, 500) for i in range(21)]
    fc = forecast(
        days_back(values),
        kind="ratio",
        target=36000,
        baseline=42000,
        direction="decrease",
        now=NOW,
        deadline=DEADLINE,
        window_days=21,
    )
    assert 0 <= fc.low <= fc.value <= fc.high
    assert fc.value < 42000
    assert fc.attainment > 0.5
    assert "Theil–Sen" in fc.method


def test_a_steep_fall_in_cost_stops_at_zero() -> None:
    values = [5000 - 400 * i for i in range(10)]
    fc = forecast(
        days_back(values),
        kind="ratio",
        target=100,
        baseline=5000,
        direction="decrease",
        now=NOW,
        deadline=DEADLINE,
    )
    assert fc.value == 0.0 and fc.low == 0.0


def test_a_conversion_rate_stays_within_zero_and_one() -> None:
    values = [0.02 + 0.01 * i for i in range(10)]
    fc = forecast(
        days_back(values),
        kind="ratio",
        target=0.5,
        baseline=0.02,
        direction="increase",
        now=NOW,
        deadline=DEADLINE,
        bounds=RATE,
    )
    assert fc.high <= 1.0 and fc.value <= 1.0


def test_a_target_beyond_what_the_kpi_can_be_is_never_hit() -> None:
    values = [90.0 + i for i in range(8)]
    fc = forecast(
        days_back(values),
        kind="latest",
        target=120,
        baseline=80,
        direction="increase",
        now=NOW,
        deadline=DEADLINE,
        bounds=PERCENT,
    )
    assert fc.hit_probability == 0.0


def test_one_wild_reading_does_not_turn_the_trend() -> None:
    values = [20.0 + 0.1 * i for i in range(14)]
    values[6] = 95.0
    slope, _ = theil_sen([(float(i), v) for i, v in enumerate(values)])
    assert slope == pytest.approx(0.1)


def test_with_too_few_readings_the_level_holds_with_a_wide_interval() -> None:
    fc = forecast(
        days_back([19.0]),
        kind="latest",
        target=24,
        baseline=18,
        direction="increase",
        now=NOW,
        deadline=DEADLINE,
    )
    assert fc.value == 19.0
    assert fc.high - fc.low > 3
    assert 0 < fc.hit_probability < 0.5
    assert "too few" in fc.method


def test_no_data_at_all_forecasts_the_baseline() -> None:
    fc = forecast(
        [],
        kind="ratio",
        target=36000,
        baseline=42000,
        direction="decrease",
        now=NOW,
        deadline=DEADLINE,
    )
    assert fc.value == 42000 and fc.attainment == 0


def test_status_and_forecast_that_disagree_are_reconciled_in_one_sentence() -> None:
    fc = Forecast("latest", 25.0, 23.0, 27.0, 1.07, 0.92, 1.21, 0.71, "trend", 12)
    assert reconciliation("at_risk", 0.85, fc) == (
        "at risk on pace 0.85, but the trend forecasts 107 % (80 %: 92–121 %, P(hit) 0.71)"
    )
    behind = Forecast("sum", 880.0, 800.0, 960.0, 0.88, 0.8, 0.96, 0.12, "run-rate", 7)
    assert reconciliation("on_track", 1.01, behind) == (
        "on track on pace 1.01, but the run-rate forecasts 88 % (80 %: 80–96 %, P(hit) 0.12)"
    )


def test_status_and_forecast_that_agree_need_no_sentence() -> None:
    fc = Forecast("sum", 880.0, 800.0, 960.0, 0.88, 0.8, 0.96, 0.12, "run-rate", 7)
    assert reconciliation("at_risk", 0.85, fc) is None
    assert reconciliation("achieved", None, fc) is None


# -- properties ------------------------------------------------------------------------------

levels = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def level_cases(draw: st.DrawFn) -> tuple[list[tuple[date, float]], Bounds, float, float]:
    low = draw(st.floats(min_value=-1e3, max_value=1e3, allow_nan=False))
    width = draw(st.floats(min_value=1e-3, max_value=1e4, allow_nan=False))
    bounds = Bounds(low, low + width)
    offsets = draw(st.lists(st.integers(0, 40), min_size=0, max_size=40, unique=True))
    series = [(TODAY - timedelta(days=o), draw(levels)) for o in offsets]
    baseline = draw(st.floats(min_value=low, max_value=low + width, allow_nan=False))
    target = draw(st.floats(min_value=low, max_value=low + width, allow_nan=False))
    return series, bounds, baseline, target


def check(fc: Forecast) -> None:
    assert fc.low <= fc.value <= fc.high
    assert fc.attainment_low <= fc.attainment <= fc.attainment_high
    assert 0.0 <= fc.hit_probability <= 1.0


@settings(max_examples=300, deadline=None)
@given(
    case=level_cases(),
    kind=st.sampled_from(["latest", "ratio"]),
    direction=st.sampled_from(["increase", "decrease"]),
    window=st.floats(min_value=1, max_value=60),
    days_left=st.floats(min_value=0, max_value=400),
)
def test_level_and_ratio_forecasts_stay_within_their_bounds_for_any_series(
    case: tuple[list[tuple[date, float]], Bounds, float, float],
    kind: str,
    direction: str,
    window: float,
    days_left: float,
) -> None:
    series, bounds, baseline, target = case
    if target == baseline:
        return
    fc = forecast(
        series,
        kind=kind,
        target=target,
        baseline=baseline,
        direction=direction,  # type: ignore[arg-type]
        now=NOW,
        deadline=NOW + timedelta(days=days_left),
        window_days=window,
        bounds=bounds,
    )
    assert bounds.low is not None and bounds.high is not None
    assert bounds.low <= fc.low <= fc.value <= fc.high <= bounds.high
    check(fc)


@settings(max_examples=200, deadline=None)
@given(
    amounts=st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), max_size=60),
    target=st.floats(min_value=1, max_value=1e7, allow_nan=False),
    days_left=st.floats(min_value=0, max_value=200),
)
def test_count_forecasts_never_fall_below_what_was_already_counted(
    amounts: list[float], target: float, days_left: float
) -> None:
    series = days_back(amounts)
    fc = forecast(
        series,
        kind="sum",
        target=target,
        baseline=0,
        direction="increase",
        now=NOW,
        deadline=NOW + timedelta(days=days_left),
    )
    assert fc.low >= sum(amounts) - 1e-6 * max(1.0, sum(amounts))
    check(fc)


def test_an_objectives_bounds_come_from_its_spec() -> None:
    from tests.samples import OBJECTIVE

    assert bounds_of(OBJECTIVE) == Bounds(None, None)  # a sum KPI: unbounded
    level = OBJECTIVE.model_copy(update={"aggregation": "latest", "max_value": 100.0})
    assert bounds_of(level) == Bounds(0.0, 100.0)
