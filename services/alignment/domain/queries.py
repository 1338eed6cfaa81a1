"""Read helpers over the projection shared by the snapshot and drift detection."""

from __future__ import annotations

from collections.abc import Sequence

from truenorth.alignment.domain.entities import CampaignState, ObjectiveState, WorkspaceState
from truenorth.alignment.domain.series import ObservationArrays
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.common import SPEND_METRIC, ObjectiveSpec

Window = tuple[int, int] | None
"""[low, high] in microseconds, or None for all time."""


class SeriesReadings:
    """`progress.Readings` over the projection's series (no copying)."""

    __slots__ = ("_arrays", "_series")

    def __init__(self, series: Sequence[int], arrays: ObservationArrays) -> None:
        self._series = series
        self._arrays = arrays

    def total(self, low: int, high: int) -> float:
        sum_within = self._arrays.sum_within
        return sum(sum_within(s, low, high) for s in self._series)

    def latest(self, low: int, high: int) -> float | None:
        latest_within = self._arrays.latest_within
        best: tuple[int, int, float] | None = None
        for series in self._series:
            candidate = latest_within(series, low, high)
            if candidate is not None and (best is None or candidate > best):
                best = candidate
        return None if best is None else best[2]


def series_of(
    campaigns: Sequence[CampaignState], metric: str, arrays: ObservationArrays
) -> list[int]:
    found = []
    for campaign in campaigns:
        series = campaign.series_of(metric, arrays)
        if series is not None:
            found.append(series)
    return found


def objective_readings(
    workspace: WorkspaceState, objective: ObjectiveState, arrays: ObservationArrays
) -> SeriesReadings:
    assert objective.spec is not None
    linked = workspace.linked_campaigns(objective.objective_id)
    return SeriesReadings(series_of(linked, objective.spec.kpi, arrays), arrays)


def metric_within(
    campaign: CampaignState, metric: str, window: Window, arrays: ObservationArrays
) -> float:
    series = campaign.series_of(metric, arrays)
    if series is None:
        return 0.0
    if window is None:
        return arrays.total(series)
    return arrays.sum_within(series, window[0], window[1])


def spend_within(campaign: CampaignState, window: Window, arrays: ObservationArrays) -> float:
    return metric_within(campaign, SPEND_METRIC, window, arrays)


def campaign_outcome(
    campaign: CampaignState,
    spec: ObjectiveSpec,
    arrays: ObservationArrays,
    window: tuple[int, int] | None = None,
) -> float:
    """The campaign's contribution to the objective's KPI over the objective's window (its
    latest level for `latest` objectives, 0 when it has none)."""
    series = campaign.series_of(spec.kpi, arrays)
    if series is None:
        return 0.0
    low, high = window or (to_micros(spec.start), to_micros(spec.deadline))
    if spec.aggregation == "sum":
        return arrays.sum_within(series, low, high)
    latest = arrays.latest_within(series, low, high)
    return 0.0 if latest is None else latest[2]
