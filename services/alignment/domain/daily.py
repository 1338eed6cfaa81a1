"""Each objective's daily series over the forecast's trailing window, by KPI kind: a `sum`
KPI's daily amount, a `latest` KPI's last level of the day, a `ratio` KPI's Σ numerator /
Σ denominator of the day, all over its linked campaigns. One streamed query per metric serves
every objective (`DailyRows`), folded into series of a few dozen points each."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

from truenorth.alignment.domain.entities import ObjectiveView, WorkspaceView
from truenorth.alignment.domain.timeunits import MICROS_PER_DAY
from truenorth.alignment.store.facts import DailyRows, Facts, day_of

EPOCH_DAY = date(1970, 1, 1)
Series = list[tuple[date, float]]
Rows = Callable[[str], Iterable[tuple[str, int, int, float]]]
"""metric -> (campaign_id, period_start, period_end, value) of the trailing window."""


def trailing_window(at: int, window_days: float) -> tuple[int, int]:
    return at - int(max(window_days, 1) * MICROS_PER_DAY), at


def daily_series(
    view: WorkspaceView, rows: Rows, objectives: Iterable[ObjectiveView]
) -> dict[str, Series]:
    """objective_id -> its daily series in the trailing window (readings inside its own
    window only)."""
    wanted: dict[str, list[tuple[ObjectiveView, str]]] = {}
    for objective in objectives:
        spec = objective.spec
        assert spec is not None
        if spec.aggregation == "ratio":
            assert spec.numerator is not None and spec.denominator is not None
            wanted.setdefault(spec.numerator, []).append((objective, "numerator"))
            wanted.setdefault(spec.denominator, []).append((objective, "denominator"))
        else:
            wanted.setdefault(spec.kpi, []).append((objective, spec.aggregation))
    sums: dict[tuple[str, str], dict[int, float]] = {}
    levels: dict[str, dict[int, tuple[int, float]]] = {}
    for metric, users in wanted.items():
        by_campaign: dict[str, list[tuple[ObjectiveView, str, int, int]]] = {}
        for objective, role in users:
            # the window once per objective, not per reading: a third of a snapshot's time
            window = (objective.start, objective.deadline)
            for campaign_id in view.links.get(objective.objective_id, ()):
                by_campaign.setdefault(campaign_id, []).append((objective, role, *window))
        for campaign_id, start, end, value in rows(metric):
            for objective, role, low, high in by_campaign.get(campaign_id, ()):
                if start < low or end > high:
                    continue
                day = day_of(end)
                if role == "latest":
                    level = levels.setdefault(objective.objective_id, {})
                    if day not in level or end >= level[day][0]:
                        level[day] = (end, value)
                else:
                    series = sums.setdefault((objective.objective_id, role), {})
                    series[day] = series.get(day, 0.0) + value
    return _assemble(wanted, sums, levels)


def _assemble(
    wanted: dict[str, list[tuple[ObjectiveView, str]]],
    sums: dict[tuple[str, str], dict[int, float]],
    levels: dict[str, dict[int, tuple[int, float]]],
) -> dict[str, Series]:
    result: dict[str, Series] = {}
    for users in wanted.values():
        for objective, role in users:
            ident = objective.objective_id
            if role == "sum":
                result[ident] = _dated(sums.get((ident, "sum"), {}))
            elif role == "latest":
                result[ident] = _dated({d: v for d, (_, v) in levels.get(ident, {}).items()})
            elif role == "numerator":
                numerator = sums.get((ident, "numerator"), {})
                denominator = sums.get((ident, "denominator"), {})
                result[ident] = _dated(
                    {d: numerator.get(d, 0.0) / den for d, den in denominator.items() if den}
                )
    return result


def _dated(by_day: dict[int, float]) -> Series:
    return [(EPOCH_DAY + timedelta(days=day), value) for day, value in sorted(by_day.items())]


def rows_of(facts: Facts, window: tuple[int, int]) -> Rows:
    return lambda metric: DailyRows(facts, metric, window)
