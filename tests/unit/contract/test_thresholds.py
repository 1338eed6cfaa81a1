"""Guardrails applied the same way everywhere: no float noise, no flapping, no early alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from truenorth.contract.common import DEFAULT_GUARDRAILS, Guardrails
from truenorth.contract.thresholds import (
    during_warmup,
    exceeds,
    falls_below,
    future_limit,
    is_drifting,
    mix_judgeable,
    resolve_threshold,
    too_far_ahead,
    warmed_up,
)


def test_a_deviation_of_exactly_the_tolerance_in_float_noise_does_not_fire() -> None:
    deviation = sum([3.3333333333333335] * 3) + 0.000000000000014  # ~10.000000000000014
    assert deviation != 10
    assert not exceeds(deviation, 10)
    assert not is_drifting(10.000000000000014, 10, side="above", was_open=False)
    assert exceeds(10.01, 10)


def test_a_pace_a_hair_under_the_threshold_is_at_the_threshold() -> None:
    assert not falls_below(0.7999999999999999, 0.8)
    assert falls_below(0.79, 0.8)


def test_an_open_drift_resolves_only_at_the_tighter_threshold() -> None:
    assert resolve_threshold(10, 0.2, "above") == 8
    assert is_drifting(9.0, 10, side="above", was_open=True, hysteresis=0.2)
    assert not is_drifting(9.0, 10, side="above", was_open=False, hysteresis=0.2)
    assert not is_drifting(8.0, 10, side="above", was_open=True, hysteresis=0.2)


def test_a_pace_drift_resolves_once_it_recovers_part_of_the_way_to_nominal() -> None:
    assert abs(resolve_threshold(0.8, 0.2, "below") - 0.84) < 1e-12
    assert is_drifting(0.82, 0.8, side="below", was_open=True, hysteresis=0.2)
    assert not is_drifting(0.85, 0.8, side="below", was_open=True, hysteresis=0.2)


def test_the_default_hysteresis_applies_when_none_is_given() -> None:
    assert DEFAULT_GUARDRAILS.resolve_hysteresis == 0.2
    assert is_drifting(9.0, 10, side="above", was_open=True)


def test_two_days_into_a_quarter_with_little_spend_is_not_warmed_up() -> None:
    early = warmed_up(
        elapsed_share=2 / 92, spend=300, observations=6, guardrails=DEFAULT_GUARDRAILS
    )
    assert not early
    assert during_warmup("critical", early) == "info"
    later = warmed_up(elapsed_share=0.2, spend=5000, observations=30, guardrails=DEFAULT_GUARDRAILS)
    assert later and during_warmup("critical", later) == "critical"


def test_warm_up_needs_time_and_evidence_both() -> None:
    no_evidence = warmed_up(elapsed_share=0.5, spend=0, observations=0, guardrails=Guardrails())
    assert not no_evidence
    custom = Guardrails(warmup_window_share=0, warmup_min_spend=0, warmup_min_observations=0)
    assert warmed_up(elapsed_share=0, spend=0, observations=0, guardrails=custom)


def test_mix_shares_are_not_judged_on_a_tiny_period_spend() -> None:
    assert not mix_judgeable(120, DEFAULT_GUARDRAILS)
    assert mix_judgeable(5000, DEFAULT_GUARDRAILS)


def test_a_fact_dated_beyond_tomorrow_is_too_far_ahead() -> None:
    now = datetime(2026, 11, 15, tzinfo=UTC)
    assert future_limit(now) == now + timedelta(days=1)
    assert not too_far_ahead(now + timedelta(hours=23), now)
    assert too_far_ahead(datetime(2030, 1, 1, tzinfo=UTC), now)
    assert too_far_ahead(now + timedelta(hours=2), now, Guardrails(time_tolerance_days=0))
