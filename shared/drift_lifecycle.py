"""The one fold of the drift lifecycle: alignment's DriftDetected / DriftUpdated / DriftResolved
(ALIGNMENT stream) and the strategy's answers, DriftAcknowledged and every change carrying
`in_response_to` (STRATEGY stream), folded into frozen records per drift and per incident.

An incident is what people see: the drifts with one cause (one campaign's overrun, its
channel's overrun, the mix shift it creates, its untethered spend) grouped under the
`incident_id` alignment gives them, with the facets inside and the highest severity. An
acknowledgement or an answer naming a drift applies to its whole incident, and one naming the
incident applies to each facet. Acknowledgements are a list: a second one never replaces the
first.

The result does not depend on the order events arrive in (the inbox's live subscription, a
replay, the review's time-ordered read): each drift keeps its events by id and its state is
derived from them sorted by (occurred_at, Detected < Updated < Resolved, event_id); duplicates
count once. Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, TypeVar

from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.strategy import DriftAcknowledged

__all__ = [
    "Acknowledgement",
    "Answer",
    "DriftLifecycle",
    "DriftRecord",
    "Episode",
    "Incident",
    "cause_for",
    "incident_id_for",
    "open_since",
    "severity_rank",
]

Status = Literal["open", "resolved"]
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}
_RANK = {"DriftDetected": 0, "DriftUpdated": 1, "DriftResolved": 2}
_SLUG_MAX = 64


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.get(severity, -1)


def incident_id_for(cause: Mapping[str, str]) -> str | None:
    """A stable incident id for a cause ({"campaign": "search-brand"} → "campaign-search-brand"),
    a valid slug (ids too long for a NATS token keep a prefix and a hash); None without one."""
    if not cause:
        return None
    kind, subject = sorted(cause.items())[0]
    readable = f"{kind}-{subject}"
    if len(readable) <= _SLUG_MAX:
        return readable
    digest = hashlib.sha256(readable.encode()).hexdigest()[:12]
    return f"{readable[: _SLUG_MAX - 13]}-{digest}"


CAUSED_BY_ONE_CAMPAIGN = frozenset(
    {
        "untethered_spend",
        "audience_mismatch",
        "inefficient_tactic",
        "budget_overrun",
        "stale_data",
        "channel_mix_drift",
    }
)


def cause_for(
    kind: str,
    *,
    objective_id: str | None = None,
    campaign_ids: Iterable[str] = (),
    channel: str | None = None,
    spend_by_campaign: Mapping[str, float] | None = None,
    dominance: float = 0.5,
) -> dict[str, str]:
    """The one cause a drift's facts point to, so that drifts one campaign causes share an
    incident: a campaign that carries at least `dominance` of the spend in question (a
    channel's overrun or mix shift), or the single campaign a campaign kind names; else the
    channel, else the objective."""
    campaigns = tuple(campaign_ids)
    if kind in CAUSED_BY_ONE_CAMPAIGN:
        spends = {c: s for c, s in (spend_by_campaign or {}).items() if s > 0}
        total = sum(spends.values())
        if total > 0:
            top = max(sorted(spends), key=lambda c: spends[c])
            if spends[top] >= dominance * total:
                return {"campaign": top}
        if len(campaigns) == 1:
            return {"campaign": campaigns[0]}
    if channel:
        return {"channel": channel}
    if objective_id:
        return {"objective": objective_id}
    return {}


@dataclass(frozen=True)
class Acknowledgement:
    """Someone saw a drift or an incident: who, when, and their note."""

    target_id: str
    """The drift or incident id the acknowledgement named."""
    who: str
    at: datetime
    note: str
    event_id: str
    objective_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """A strategy change made `in_response_to` a drift or an incident."""

    target_id: str
    event_type: str
    event_id: str
    who: str
    at: datetime
    reason: str
    objective_id: str | None = None


@dataclass(frozen=True)
class Episode:
    """One time a drift (or an incident) was open: [opened_at, resolved_at)."""

    opened_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class DriftRecord:
    workspace: str
    drift_id: str
    incident_id: str
    data: DriftData
    """As last published."""
    episodes: tuple[Episode, ...]
    updates: int
    """DriftUpdated events received (distinct ids)."""
    updated_at: datetime
    acknowledgements: tuple[Acknowledgement, ...]
    """Every acknowledgement of the drift or its incident, oldest first."""
    answers: tuple[Answer, ...]

    @property
    def kind(self) -> str:
        return self.data.kind

    @property
    def severity(self) -> str:
        return self.data.severity

    @property
    def cause(self) -> dict[str, str]:
        return {str(kind): subject for kind, subject in self.data.cause.items()}

    @property
    def first_detected_at(self) -> datetime:
        return self.episodes[0].opened_at

    @property
    def opened_at(self) -> datetime:
        """When the current (or last) episode opened."""
        return self.episodes[-1].opened_at

    @property
    def resolved_at(self) -> datetime | None:
        return self.episodes[-1].resolved_at

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def status(self) -> Status:
        return "open" if self.open else "resolved"

    @property
    def acknowledged(self) -> bool:
        """Acknowledged since its current episode opened."""
        return any(ack.at >= self.opened_at for ack in self.acknowledgements)


@dataclass(frozen=True)
class Incident:
    workspace: str
    incident_id: str
    cause: dict[str, str]
    severity: str
    """The highest severity among the facets of its current (or last) episode."""
    facets: tuple[DriftRecord, ...]
    episodes: tuple[Episode, ...]
    acknowledgements: tuple[Acknowledgement, ...]
    answers: tuple[Answer, ...]

    @property
    def subject(self) -> str:
        """What it is about, for people: "campaign search-brand"."""
        if not self.cause:
            return f"drift {self.facets[0].drift_id}"
        kind, name = sorted(self.cause.items())[0]
        return f"{kind} {name}"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({facet.kind for facet in self.facets}))

    @property
    def opened_at(self) -> datetime:
        return self.episodes[-1].opened_at

    @property
    def resolved_at(self) -> datetime | None:
        return self.episodes[-1].resolved_at

    @property
    def first_detected_at(self) -> datetime:
        return self.episodes[0].opened_at

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    @property
    def status(self) -> Status:
        return "open" if self.open else "resolved"

    @property
    def acknowledged(self) -> bool:
        return any(ack.at >= self.opened_at for ack in self.acknowledgements)

    @property
    def open_facets(self) -> tuple[DriftRecord, ...]:
        return tuple(facet for facet in self.facets if facet.open)


@dataclass(frozen=True)
class _Mark:
    """One drift event, reduced to what the fold needs."""

    at: datetime
    rank: int
    event_id: str
    data: DriftData

    def order(self) -> tuple[datetime, int, str]:
        return (self.at, self.rank, self.event_id)


DriftEvent: TypeAlias = DriftDetected | DriftUpdated | DriftResolved
When = TypeVar("When", datetime, int)
"""A time: a datetime here, microseconds in the alignment store."""
Key: TypeAlias = tuple[str, str]


class DriftLifecycle:
    """Feed it events with `observe` (any order, duplicates welcome); read frozen records."""

    def __init__(self) -> None:
        self._marks: dict[Key, dict[str, _Mark]] = defaultdict(dict)
        self._acks: dict[Key, dict[str, Acknowledgement]] = defaultdict(dict)
        self._answers: dict[Key, dict[str, Answer]] = defaultdict(dict)
        self._derived: dict[Key, DriftRecord] = {}
        self._members: dict[Key, set[str]] = defaultdict(set)
        self._incident_of: dict[Key, str] = {}
        self._latest: dict[Key, _Mark] = {}

    # -- folding -----------------------------------------------------------------------------

    def observe(self, event: object) -> None:
        """Fold one event; events this fold does not concern are ignored."""
        if isinstance(event, DriftDetected | DriftUpdated | DriftResolved):
            self._observe_drift(event)
        elif isinstance(event, DriftAcknowledged):
            self._observe_acknowledgement(event)
        else:
            self._observe_answer(event)

    def observe_all(self, events: Iterable[object]) -> DriftLifecycle:
        for event in events:
            self.observe(event)
        return self

    def _observe_drift(self, event: DriftEvent) -> None:
        key = (event.workspace, event.data.drift_id)
        event_id = str(event.event_id)
        mark = _Mark(event.occurred_at, _RANK[event.type], event_id, event.data)
        self._marks[key][event_id] = mark
        self._derived.pop(key, None)
        latest = self._latest.get(key)
        if latest is None or mark.order() > latest.order():
            self._latest[key] = mark
            self._index_incident(key, mark.data.incident)

    def _observe_acknowledgement(self, event: DriftAcknowledged) -> None:
        data = event.data
        ack = Acknowledgement(
            target_id=data.drift_id,
            who=event.actor,
            at=event.occurred_at,
            note=data.note,
            event_id=str(event.event_id),
            objective_id=data.objective_id,
        )
        self.add_acknowledgement(event.workspace, ack)

    def add_acknowledgement(self, workspace: str, ack: Acknowledgement) -> None:
        """Fold an acknowledgement read from a store rather than from its event."""
        self._acks[(workspace, ack.target_id)][ack.event_id] = ack
        self._forget_around(workspace, ack.target_id)

    def _observe_answer(self, event: object) -> None:
        if not isinstance(event, EnvelopeFields):
            return
        data = getattr(event, "data", None)
        target = getattr(data, "in_response_to", None)
        if target is None:
            return
        workspace = event.workspace
        objective = getattr(data, "objective", None)
        answer = Answer(
            target_id=str(target),
            event_type=str(getattr(event, "type", type(event).__name__)),
            event_id=str(event.event_id),
            who=event.actor,
            at=event.occurred_at,
            reason=str(getattr(data, "reason", "")),
            objective_id=getattr(objective or data, "objective_id", None),
        )
        self.add_answer(workspace, answer)

    def add_answer(self, workspace: str, answer: Answer) -> None:
        """Fold an answer read from a store rather than from its event."""
        self._answers[(workspace, answer.target_id)][answer.event_id] = answer
        self._forget_around(workspace, answer.target_id)

    def _index_incident(self, key: Key, incident: str) -> None:
        """Keep incident → drifts current (a drift's incident is its latest data's)."""
        previous = self._incident_of.get(key)
        if previous == incident:
            return
        if previous is not None:
            self._members[(key[0], previous)].discard(key[1])
        self._incident_of[key] = incident
        self._members[(key[0], incident)].add(key[1])

    def _forget_around(self, workspace: str, target_id: str) -> None:
        """An acknowledgement or answer changes the derived records of its drift and of every
        facet of its incident."""
        self._derived.pop((workspace, target_id), None)
        for drift_id in self._members.get((workspace, target_id), ()):
            self._derived.pop((workspace, drift_id), None)

    # -- reading -----------------------------------------------------------------------------

    def drift(self, workspace: str, drift_id: str) -> DriftRecord | None:
        key = (workspace, drift_id)
        return self._record(key) if key in self._marks else None

    def incident(self, workspace: str, incident_id: str) -> Incident | None:
        members = self._members.get((workspace, incident_id))
        if not members:
            return None
        facets = tuple(self._record((workspace, drift_id)) for drift_id in sorted(members))
        return _incident(workspace, incident_id, facets, self._targeting(workspace, facets))

    def knows(self, workspace: str, target_id: str) -> bool:
        """Whether `target_id` names a drift or an incident of `workspace`."""
        return (workspace, target_id) in self._marks or bool(
            self._members.get((workspace, target_id))
        )

    def incident_of(self, workspace: str, target_id: str) -> Incident | None:
        """The incident a drift or incident id belongs to."""
        record = self.drift(workspace, target_id)
        return self.incident(workspace, record.incident_id if record else target_id)

    def drifts(self, workspace: str | None = None) -> list[DriftRecord]:
        return [self._record(key) for key in sorted(self._marks) if workspace in (None, key[0])]

    def incidents(self, workspace: str | None = None) -> list[Incident]:
        found = []
        for ws, incident_id in sorted(self._members):
            if workspace in (None, ws):
                incident = self.incident(ws, incident_id)
                if incident is not None:
                    found.append(incident)
        return found

    def workspaces(self) -> Iterator[str]:
        yield from sorted({ws for ws, _ in self._marks})

    # -- derivation --------------------------------------------------------------------------

    def _record(self, key: Key) -> DriftRecord:
        record = self._derived.get(key)
        if record is None:
            record = self._derived[key] = self._derive(key)
        return record

    def _derive(self, key: Key) -> DriftRecord:
        workspace, drift_id = key
        marks = sorted(self._marks[key].values(), key=_Mark.order)
        data = marks[-1].data
        incident_id = data.incident
        targets = {drift_id, incident_id}
        return DriftRecord(
            workspace=workspace,
            drift_id=drift_id,
            incident_id=incident_id,
            data=data,
            episodes=_episodes(marks),
            updates=sum(1 for mark in marks if mark.rank == _RANK["DriftUpdated"]),
            updated_at=marks[-1].at,
            acknowledgements=_gathered(self._acks, workspace, targets),
            answers=_gathered(self._answers, workspace, targets),
        )

    def _targeting(
        self, workspace: str, facets: tuple[DriftRecord, ...]
    ) -> tuple[tuple[Acknowledgement, ...], tuple[Answer, ...]]:
        targets = {facet.drift_id for facet in facets} | {facets[0].incident_id}
        return (
            _gathered(self._acks, workspace, targets),
            _gathered(self._answers, workspace, targets),
        )


def open_since(opened: When | None, resolves: bool, at: When) -> When | None:
    """The lifecycle's rule for one transition at `at`, given since when the drift has been
    open (None: closed): Detected or Updated opens a closed drift and keeps an open one open
    since it opened; Resolved closes it. The alignment store's drift rows follow it too."""
    if resolves:
        return None
    return at if opened is None else opened


def _episodes(marks: list[_Mark]) -> tuple[Episode, ...]:
    """The episodes `open_since` gives. A Resolved with nothing open before it (a log read
    from the middle) is a zero-length episode."""
    episodes: list[Episode] = []
    opened: datetime | None = None
    for mark in marks:
        resolves = mark.rank == _RANK["DriftResolved"]
        if opened is not None and resolves:
            episodes.append(Episode(opened, mark.at))
        elif opened is None and resolves and not episodes:
            episodes.append(Episode(mark.at, mark.at))
        opened = open_since(opened, resolves, mark.at)
    if opened is not None:
        episodes.append(Episode(opened, None))
    return tuple(episodes)


def _merged(episodes: Iterable[Episode]) -> tuple[Episode, ...]:
    """The union of overlapping episodes (an incident is open while any facet is)."""
    merged: list[Episode] = []
    for episode in sorted(episodes, key=lambda e: e.opened_at):
        last = merged[-1] if merged else None
        if last is not None and (last.resolved_at is None or episode.opened_at <= last.resolved_at):
            end = (
                None
                if last.resolved_at is None or episode.resolved_at is None
                else max(last.resolved_at, episode.resolved_at)
            )
            merged[-1] = Episode(last.opened_at, end)
        else:
            merged.append(episode)
    return tuple(merged)


def _incident(
    workspace: str,
    incident_id: str,
    facets: tuple[DriftRecord, ...],
    targeted: tuple[tuple[Acknowledgement, ...], tuple[Answer, ...]],
) -> Incident:
    episodes = _merged(episode for facet in facets for episode in facet.episodes)
    current = episodes[-1]
    if current.resolved_at is None:
        in_current = [facet for facet in facets if facet.open]
    else:
        in_current = [
            facet
            for facet in facets
            if facet.resolved_at is not None and facet.resolved_at >= current.opened_at
        ]
    severity = max((facet.severity for facet in in_current), key=severity_rank)
    cause = next((facet.cause for facet in facets if facet.cause), {})
    acknowledgements, answers = targeted
    return Incident(
        workspace=workspace,
        incident_id=incident_id,
        cause=cause,
        severity=severity,
        facets=facets,
        episodes=episodes,
        acknowledgements=acknowledgements,
        answers=answers,
    )


def _gathered(found: Mapping[Key, Mapping[str, Any]], workspace: str, targets: set[str]) -> Any:
    items = [item for target in targets for item in found.get((workspace, target), {}).values()]
    return tuple(sorted(items, key=lambda item: (item.at, item.event_id)))
