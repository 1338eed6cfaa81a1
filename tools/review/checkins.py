"""The review's "Check-ins: what the owner believed vs what happened": each check-in made in the
period, with the owner's confidence, narrative and corrected figure, beside what the data said
then (the forecast's P(hit) on the last sample before it) and the objective's outcome at the
end of the period.

A verdict is given only when the objective's deadline has passed by then: high confidence on a
hit target (or low on a miss) was borne out; the opposite was over- (under-) confident. Medium
confidence, or a deadline still ahead, gets no verdict: the outcome is stated as it stands.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from truenorth.alignment.domain.entities import CheckInView, WorkspaceView
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.domain.timeunits import from_micros

HIT = 1.0
"""Progress (0 at the baseline, 1 at the target) at which a target counts as hit."""


@dataclass(frozen=True)
class DataThen:
    """What the data said on the last sample before the check-in."""

    at: datetime
    actual: float
    progress: float
    hit_probability: float
    status: str


@dataclass(frozen=True)
class CheckInReview:
    strategy_id: str
    objective_id: str
    objective_name: str
    kpi: str
    at: datetime
    actor: str
    confidence: str
    narrative: str
    corrected_value: float | None
    source: str | None
    data_then: DataThen | None
    target: float
    actual_at_end: float
    progress_at_end: float
    status_at_end: str
    deadline: datetime
    deadline_passed: bool
    verdict: str | None
    """borne out / over-confident / under-confident, once the deadline has passed."""

    @property
    def outcome(self) -> str:
        """hit / missed once the deadline has passed, else `open`."""
        if not self.deadline_passed:
            return "open"
        return "hit" if self.progress_at_end >= HIT else "missed"


def checkin_reviews(
    state: WorkspaceView,
    final: Sequence[ObjectiveSnapshot],
    samples: Sequence[datetime],
    by_sample: Sequence[dict[str, ObjectiveSnapshot]],
    start: datetime,
    end: datetime,
) -> tuple[CheckInReview, ...]:
    """Every check-in in [start, end] on the reviewed objectives (`final`: each one's figures
    at the end), oldest first."""
    found = []
    for headline in final:
        for checkin in state.checkins.get(headline.objective_id, ()):
            at = from_micros(checkin.at)
            if start <= at <= end:
                then = _data_then(headline.objective_id, at, samples, by_sample)
                found.append(_review(checkin, at, headline, then, end))
    found.sort(key=lambda c: (c.at, c.objective_id))
    return tuple(found)


def _data_then(
    objective_id: str,
    at: datetime,
    samples: Sequence[datetime],
    by_sample: Sequence[dict[str, ObjectiveSnapshot]],
) -> DataThen | None:
    index = bisect_right(list(samples), at) - 1
    if index < 0:
        return None
    point = by_sample[index].get(objective_id)
    if point is None:
        return None
    return DataThen(
        samples[index], point.actual, point.progress, point.hit_probability, point.status
    )


def _review(
    checkin: CheckInView,
    at: datetime,
    headline: ObjectiveSnapshot,
    then: DataThen | None,
    end: datetime,
) -> CheckInReview:
    passed = headline.deadline <= end
    return CheckInReview(
        strategy_id=headline.strategy_id,
        objective_id=headline.objective_id,
        objective_name=headline.name,
        kpi=headline.kpi,
        at=at,
        actor=checkin.actor,
        confidence=checkin.confidence,
        narrative=checkin.narrative,
        corrected_value=checkin.corrected_value,
        source=checkin.source,
        data_then=then,
        target=headline.target,
        actual_at_end=headline.actual,
        progress_at_end=headline.progress,
        status_at_end=headline.status,
        deadline=headline.deadline,
        deadline_passed=passed,
        verdict=verdict(checkin.confidence, headline.progress >= HIT) if passed else None,
    )


def verdict(confidence: str, hit: bool) -> str | None:
    if confidence == "high":
        return "borne out" if hit else "over-confident"
    if confidence == "low":
        return "under-confident" if hit else "borne out"
    return None


def checkin_summary(c: CheckInReview, number: Any, when: Any) -> dict[str, Any]:
    """JSON-friendly, numbers and times through the review's own `number` and `when`."""
    then = c.data_then
    return {
        "strategy_id": c.strategy_id,
        "objective_id": c.objective_id,
        "at": when(c.at),
        "actor": c.actor,
        "confidence": c.confidence,
        "narrative": c.narrative,
        "corrected_value": number(c.corrected_value),
        "source": c.source,
        "data_then": None
        if then is None
        else {
            "at": when(then.at),
            "actual": number(then.actual),
            "progress": number(then.progress),
            "hit_probability": number(then.hit_probability),
            "status": then.status,
        },
        "actual_at_end": number(c.actual_at_end),
        "progress_at_end": number(c.progress_at_end),
        "status_at_end": c.status_at_end,
        "outcome": c.outcome,
        "verdict": c.verdict,
    }
