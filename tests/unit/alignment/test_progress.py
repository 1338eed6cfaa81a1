"""Progress, pace, forecast, status and phasing (docs/design.md#progress-pace-forecast-status)."""

from __future__ import annotations

import pytest

from tests.unit.alignment.builders import day, spec
from truenorth.alignment.domain.progress import (
    ListReadings,
    Reading,
    channel_shares,
    evaluate_objective,
    expected_ratio,
    time_phased_budget,
)
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.common import Guardrails, PeriodPlan


def daily_readings(values: list[float], first_day: float = 0) -> ListReadings:
    return ListReadings(
        Reading(v, day(first_day + i), day(first_day + i + 1)) for i, v in enumerate(values)
    )


def test_progress_is_actual_over_target_and_pace_compares_it_with_elapsed_time() -> None:
    objective = spec(target=1000)  # 100 days
    result = evaluate_objective(objective, daily_readings([5.0] * 50), day(50))
    assert result.actual == 250
    assert result.progress == pytest.approx(0.25)
    assert result.expected == pytest.approx(0.5)
    assert result.pace == pytest.approx(0.5)
    assert result.status == "off_track"


@pytest.mark.parametrize(
    ("per_day", "status"),
    [(10.0, "on_track"), (9.5, "on_track"), (9.0, "at_risk"), (8.0, "at_risk"), (7.9, "off_track")],
)
def test_status_follows_pace_thresholds(per_day: float, status: str) -> None:
    result = evaluate_objective(spec(target=1000), daily_readings([per_day] * 50), day(50))
    assert result.status == status


def test_thresholds_come_from_guardrails() -> None:
    lenient = Guardrails(on_track_pace=0.5, at_risk_pace=0.2)
    result = evaluate_objective(spec(), daily_readings([5.0] * 50), day(50), lenient)
    assert result.status == "on_track"


def test_status_is_not_started_before_start_and_achieved_at_target() -> None:
    objective = spec(start=day(10), deadline=day(20), target=100)
    assert evaluate_objective(objective, daily_readings([]), day(5)).status == "not_started"
    done = evaluate_objective(objective, daily_readings([60, 60], first_day=10), day(12))
    assert done.status == "achieved"
    assert done.required_rate_per_day == 0


def test_status_is_missed_after_deadline_short_of_target() -> None:
    objective = spec(deadline=day(10), target=100)
    result = evaluate_objective(objective, daily_readings([5.0] * 10), day(11))
    assert result.status == "missed"
    assert result.required_rate_per_day is None


def test_observations_outside_the_objective_window_do_not_count() -> None:
    objective = spec(start=day(10), deadline=day(20), target=100)
    result = evaluate_objective(objective, daily_readings([1.0] * 30), day(25))
    assert result.actual == 10


def test_decrease_objective_progresses_as_the_level_falls() -> None:
    objective = spec(
        kpi="cost_per_lead", aggregation="latest", baseline=200, target=100, direction="decrease"
    )
    readings = daily_readings([190, 180, 170, 160, 150])
    result = evaluate_objective(objective, readings, day(50))
    assert result.actual == 150
    assert result.progress == pytest.approx(0.5)
    assert result.pace == pytest.approx(1.0)
    assert result.status == "on_track"
    assert result.required_rate_per_day == pytest.approx(-50 / 50)


def test_latest_aggregation_takes_the_most_recent_observation_by_period_end() -> None:
    objective = spec(kpi="awareness_pct", aggregation="latest", baseline=10, target=30)
    readings = ListReadings(
        [
            Reading(25, day(9), day(10)),  # arrives first, is the most recent
            Reading(12, day(0), day(1)),
            Reading(18, day(4), day(5)),
        ]
    )
    result = evaluate_objective(objective, readings, day(10))
    assert result.actual == 25
    assert result.progress == pytest.approx(0.75)


def test_latest_aggregation_without_observations_is_the_baseline() -> None:
    objective = spec(kpi="awareness_pct", aggregation="latest", baseline=10, target=30)
    assert evaluate_objective(objective, ListReadings([]), day(10)).progress == 0


def test_forecast_extends_the_trailing_seven_day_run_rate_to_the_deadline() -> None:
    objective = spec(target=1000)
    readings = daily_readings([1.0] * 43 + [10.0] * 7)  # run-rate 10/day over the last week
    result = evaluate_objective(objective, readings, day(50))
    assert result.run_rate_per_day == pytest.approx(10)
    assert result.forecast == pytest.approx(113 + 10 * 50)
    assert result.forecast_attainment == pytest.approx(0.613)
    assert result.required_rate_per_day == pytest.approx((1000 - 113) / 50)


def test_forecast_window_is_a_guardrail() -> None:
    readings = daily_readings([1.0] * 43 + [10.0] * 7)
    result = evaluate_objective(
        spec(), readings, day(50), Guardrails(forecast_window_days=50, at_risk_pace=0.8)
    )
    assert result.run_rate_per_day == pytest.approx(113 / 50)


def test_latest_forecast_extrapolates_the_level_trend() -> None:
    objective = spec(kpi="awareness_pct", aggregation="latest", baseline=10, target=30)
    readings = daily_readings([10 + 0.1 * i for i in range(50)])
    result = evaluate_objective(objective, readings, day(50))
    assert result.run_rate_per_day == pytest.approx(0.1)
    assert result.forecast == pytest.approx(14.9 + 0.1 * 50)


def test_phasing_weights_make_expected_progress_cumulative_and_prorated() -> None:
    # Oct 1 – Jan 1: October weighs 1, November 1, December 2.
    objective = spec(deadline=day(92), phasing={"2025-10": 1, "2025-11": 1, "2025-12": 2})
    assert expected_ratio(objective, to_micros(day(0))) == 0
    assert expected_ratio(objective, to_micros(day(31))) == pytest.approx(0.25)
    assert expected_ratio(objective, to_micros(day(61))) == pytest.approx(0.5)
    mid_december = day(61 + 15.5)
    assert expected_ratio(objective, to_micros(mid_december)) == pytest.approx(0.75)
    assert expected_ratio(objective, to_micros(day(92))) == pytest.approx(1)


def test_phasing_prorates_a_partial_first_month_over_its_days_in_the_window() -> None:
    objective = spec(start=day(15), deadline=day(61), phasing={"2025-10": 1, "2025-11": 1})
    # October 16–31 carries October's whole weight.
    assert expected_ratio(objective, to_micros(day(23))) == pytest.approx(0.25)


def test_phasing_without_weight_in_the_window_falls_back_to_linear() -> None:
    objective = spec(deadline=day(100), phasing={"2030-01": 1})
    assert expected_ratio(objective, to_micros(day(25))) == pytest.approx(0.25)


def test_pace_is_undefined_at_the_very_start() -> None:
    result = evaluate_objective(spec(), ListReadings([]), day(0))
    assert result.pace is None
    assert result.status == "on_track"


def test_channel_shares_are_ratios_against_the_planned_mix() -> None:
    plan = PeriodPlan(
        period_id="q4", start=day(0), end=day(90), budget=9000, channel_mix={"a": 60, "b": 40}
    )
    shares = {s.channel: s for s in channel_shares({"a": 300, "c": 100}, plan)}
    assert shares["a"].actual_share == pytest.approx(0.75)
    assert shares["a"].planned_share == pytest.approx(0.6)
    assert shares["a"].planned_spend == pytest.approx(5400)
    assert shares["b"].actual_share == 0
    assert shares["c"].planned_share == 0


def test_time_phased_budget_is_linear_over_the_flight() -> None:
    start, end = to_micros(day(0)), to_micros(day(10))
    assert time_phased_budget(1000, start, end, to_micros(day(4))) == pytest.approx(400)
    assert time_phased_budget(1000, start, end, to_micros(day(20))) == 1000
