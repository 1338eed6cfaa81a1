"""The weekly brief as a pure function of the event log, built on the quarterly review.

`build_brief(events, as_of, workspace=..., strategy_id=...)` reviews the seven days ending at
`as_of` with the review's own builder (`truenorth.review.build.build_review`: the same fold
into a scratch store, the same time axis), so the brief and the review of any period holding
that week read the same numbers. On top of that review it picks four things:

- what moved: each objective's actual, progress, status and forecast attainment at the start
  of the week against the end (the review's first and last samples);
- what drifted: incidents (drifts with one cause, `truenorth.drift_lifecycle`) first opened
  during the week;
- what was answered: acknowledgements and revisions `in_response_to` an incident made during
  the week, and the owners' check-ins (`ObjectiveCheckedIn`, read defensively: a log without
  them is a brief without them);
- what needs a decision: incidents open at the end of the week that nobody acknowledged or
  answered since they opened, most severe first, each with the recommendation the alignment
  service's incidents view carries for it, when one is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from truenorth.contract.envelope import EnvelopeFields
from truenorth.drift_lifecycle import DriftLifecycle, Incident, severity_rank
from truenorth.review.build import (
    ObjectiveReview,
    Period,
    Review,
    build_review,
    canonical_order,
    effective_time,
)

WEEK = timedelta(days=7)
CHECKED_IN = "ObjectiveCheckedIn"


def week_ending(as_of: datetime) -> Period:
    """The seven days before `as_of` ([as_of − 7 days, as_of)); `--as-of 2026-11-12` is the
    end of that day, so the week is 11-06 … 11-12."""
    start = as_of - WEEK
    label = f"{start.date().isoformat()}..{(as_of - timedelta(microseconds=1)).date()}"
    return Period(label, start, as_of, "days")


@dataclass(frozen=True)
class Movement:
    """One objective at the start and at the end of the week (None: it did not exist yet)."""

    objective: ObjectiveReview
    actual_before: float | None
    progress_before: float | None
    status_before: str | None
    forecast_before: float | None
    """Forecast attainment (forecast ÷ target) at the start of the week."""

    @property
    def progress_change(self) -> float | None:
        if self.progress_before is None:
            return None
        return self.objective.progress - self.progress_before

    @property
    def forecast_change(self) -> float | None:
        if self.forecast_before is None:
            return None
        return self.objective.forecast_attainment - self.forecast_before

    @property
    def status_changed(self) -> bool:
        return self.status_before is not None and self.status_before != self.objective.status


@dataclass(frozen=True)
class AnswerItem:
    """Someone answered an incident this week: acknowledged it (with a note) or changed the
    strategy in response to it."""

    incident: str
    """The incident by name (`incident_name`)."""
    how: str
    """"acknowledged" or "revised"."""
    actor: str
    at: datetime
    text: str
    event_type: str


@dataclass(frozen=True)
class CheckIn:
    objective_id: str
    objective: str
    """The objective's name."""
    confidence: str
    narrative: str
    corrected_value: float | None
    source: str | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class Decision:
    """An open incident nobody answered: what needs someone's decision."""

    incident_id: str
    name: str
    severity: str
    opened_at: datetime
    explanation: str
    recommendation: Mapping[str, Any] | None


@dataclass(frozen=True)
class Brief:
    workspace: str
    week: Period
    as_of: datetime
    review: Review
    moved: tuple[Movement, ...]
    drifted: tuple[Incident, ...]
    resolved: tuple[Incident, ...]
    """Incidents that closed during the week."""
    answered: tuple[AnswerItem, ...]
    checkins: tuple[CheckIn, ...]
    decisions: tuple[Decision, ...]
    objective_names: Mapping[str, str]

    def name(self, incident: Incident) -> str:
        return incident_name(incident, self.objective_names)


def incident_name(incident: Incident, objective_names: Mapping[str, str]) -> str:
    """An incident as people name it: what kinds of drift, about what — never a hash
    (`untethered spend · campaign c-tiktok-teaser`, `objective off pace · Qualified leads Q4`)."""
    kinds = ", ".join(kind.replace("_", " ") for kind in incident.kinds)
    facet = incident.facets[0].data
    if incident.cause:
        kind, subject = sorted(incident.cause.items())[0]
        about = (
            objective_names.get(subject, subject) if kind == "objective" else f"{kind} {subject}"
        )
    elif facet.objective_id and facet.kind in ("objective_off_pace", "idle_objective"):
        about = objective_names.get(facet.objective_id, facet.objective_id)
    elif facet.campaign_ids:
        about = ", ".join(facet.campaign_ids)
    elif facet.channel:
        about = f"channel {facet.channel}"
    else:
        about = "the workspace"
    return f"{kinds} · {about}"


def build_brief(
    events: Iterable[EnvelopeFields],
    as_of: datetime,
    *,
    workspace: str = "default",
    strategy_id: str | None = None,
    recommendations: Mapping[str, Mapping[str, Any]] | None = None,
) -> Brief:
    """The brief of the week ending at `as_of`. `recommendations`: incident id → the
    `recommendation` of the alignment incidents view (absent or None: none shown)."""
    events = list(events)
    week = week_ending(as_of)
    review = build_review(events, week, as_of, workspace=workspace, strategy_id=strategy_id)
    known = [
        e
        for e in canonical_order(e for e in events if e.workspace == workspace)
        if effective_time(e) <= as_of
    ]
    names = {o.objective_id: o.name for o in review.objectives}
    incidents = [
        i
        for i in DriftLifecycle().observe_all(known).incidents(workspace)
        if _in_scope(i, strategy_id)
    ]
    return Brief(
        workspace=workspace,
        week=week,
        as_of=as_of,
        review=review,
        moved=tuple(_movement(o) for o in review.objectives),
        drifted=tuple(
            sorted(
                (i for i in incidents if week.start <= i.first_detected_at < as_of),
                key=lambda i: (i.first_detected_at, i.incident_id),
            )
        ),
        resolved=tuple(
            sorted(
                (
                    i
                    for i in incidents
                    if i.resolved_at is not None and week.start <= i.resolved_at <= as_of
                ),
                key=lambda i: (i.resolved_at or as_of, i.incident_id),
            )
        ),
        answered=tuple(_answers(incidents, names, week.start, as_of)),
        checkins=tuple(_checkins(known, names, strategy_id, week.start, as_of)),
        decisions=tuple(_decisions(incidents, names, recommendations or {})),
        objective_names=names,
    )


def _in_scope(incident: Incident, strategy_id: str | None) -> bool:
    if strategy_id is None:
        return True
    return any(f.data.strategy_id in (None, strategy_id) for f in incident.facets)


def _movement(objective: ObjectiveReview) -> Movement:
    first = objective.samples[0] if objective.samples else None
    return Movement(
        objective=objective,
        actual_before=None if first is None else first.actual,
        progress_before=None if first is None else first.progress,
        status_before=None if first is None else first.status,
        forecast_before=None if first is None else first.forecast_attainment,
    )


def _answers(
    incidents: Iterable[Incident], names: Mapping[str, str], start: datetime, end: datetime
) -> list[AnswerItem]:
    items = []
    for incident in incidents:
        name = incident_name(incident, names)
        items += [
            AnswerItem(name, "acknowledged", a.who, a.at, a.note, "DriftAcknowledged")
            for a in incident.acknowledgements
            if start <= a.at <= end
        ]
        items += [
            AnswerItem(name, "revised", a.who, a.at, a.reason, a.event_type)
            for a in incident.answers
            if start <= a.at <= end
        ]
    items.sort(key=lambda item: (item.at, item.incident, item.how))
    return items


def _checkins(
    known: Iterable[EnvelopeFields],
    names: Mapping[str, str],
    strategy_id: str | None,
    start: datetime,
    end: datetime,
) -> list[CheckIn]:
    """`ObjectiveCheckedIn` events of the week, read by field name: the event type may be
    absent from this installation's contract, and then there are none."""
    found = []
    for event in known:
        if getattr(event, "type", None) != CHECKED_IN or not start <= event.occurred_at <= end:
            continue
        if strategy_id is not None and event.aggregate_id != strategy_id:
            continue
        data: Any = getattr(event, "data", None)
        objective_id = str(getattr(data, "objective_id", ""))
        corrected = getattr(data, "corrected_value", None)
        found.append(
            CheckIn(
                objective_id=objective_id,
                objective=names.get(objective_id, objective_id),
                confidence=str(getattr(data, "confidence", "")),
                narrative=str(getattr(data, "narrative", "")),
                corrected_value=None if corrected is None else float(corrected),
                source=getattr(data, "source", None),
                actor=event.actor,
                at=event.occurred_at,
            )
        )
    return found


def _decisions(
    incidents: Iterable[Incident],
    names: Mapping[str, str],
    recommendations: Mapping[str, Mapping[str, Any]],
) -> list[Decision]:
    waiting = [
        i
        for i in incidents
        if i.open and not i.acknowledged and not any(a.at >= i.opened_at for a in i.answers)
    ]
    waiting.sort(key=lambda i: (-severity_rank(i.severity), i.opened_at, i.incident_id))
    return [
        Decision(
            incident_id=i.incident_id,
            name=incident_name(i, names),
            severity=i.severity,
            opened_at=i.opened_at,
            explanation=(i.open_facets or i.facets)[0].data.explanation,
            recommendation=recommendations.get(i.incident_id),
        )
        for i in waiting
    ]
