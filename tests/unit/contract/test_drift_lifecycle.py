"""The one fold of the drift lifecycle: drifts, incidents, acknowledgements and answers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.samples import OBJECTIVE
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.strategy import (
    DriftAcknowledged,
    DriftAcknowledgedData,
    ObjectiveRevised,
    ObjectiveRevisedData,
)
from truenorth.drift_lifecycle import DriftLifecycle, cause_for, incident_id_for

T0 = datetime(2026, 10, 5, tzinfo=UTC)
WS = "acme"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def data(
    drift_id: str, kind: str = "budget_overrun", severity: str = "warning", **more: Any
) -> DriftData:
    return DriftData(drift_id=drift_id, kind=kind, severity=severity, explanation="x", **more)  # type: ignore[arg-type]


def detected(d: DriftData, hours: float, ws: str = WS) -> DriftDetected:
    return DriftDetected(workspace=ws, aggregate_id=d.drift_id, occurred_at=at(hours), data=d)


def updated(d: DriftData, hours: float) -> DriftUpdated:
    return DriftUpdated(workspace=WS, aggregate_id=d.drift_id, occurred_at=at(hours), data=d)


def resolved(d: DriftData, hours: float) -> DriftResolved:
    return DriftResolved(workspace=WS, aggregate_id=d.drift_id, occurred_at=at(hours), data=d)


def ack(target: str, hours: float, note: str, who: str = "maria") -> DriftAcknowledged:
    return DriftAcknowledged(
        workspace=WS,
        aggregate_id="strategy",
        actor=who,
        occurred_at=at(hours),
        data=DriftAcknowledgedData(drift_id=target, note=note),
    )


def revision(target: str, hours: float) -> ObjectiveRevised:
    return ObjectiveRevised(
        workspace=WS,
        aggregate_id="strategy",
        actor="maria",
        occurred_at=at(hours),
        data=ObjectiveRevisedData(objective=OBJECTIVE, reason="cut budget", in_response_to=target),
    )


SEARCH = {"campaign": "search-brand"}
INCIDENT = incident_id_for(SEARCH)
OVERRUN = data("overrun-search-brand", cause=SEARCH, incident_id=INCIDENT)
CHANNEL = data("overrun-channel-search", channel="search", cause=SEARCH, incident_id=INCIDENT)
MIX = data(
    "mix-search",
    kind="channel_mix_drift",
    severity="critical",
    channel="search",
    cause=SEARCH,
    incident_id=INCIDENT,
)
UNTETHERED = data(
    "untethered-search-brand",
    kind="untethered_spend",
    severity="info",
    campaign_ids=("search-brand",),
    cause=SEARCH,
    incident_id=INCIDENT,
)
PACE = data(
    "pace-leads", kind="objective_off_pace", objective_id="leads", cause={"objective": "leads"}
)


def one_campaign_overspending() -> list[Any]:
    return [detected(d, 1) for d in (OVERRUN, CHANNEL, MIX, UNTETHERED)] + [detected(PACE, 2)]


def test_one_overspending_campaign_is_one_incident_naming_it_with_the_highest_severity() -> None:
    lifecycle = DriftLifecycle().observe_all(one_campaign_overspending())
    incidents = {i.incident_id: i for i in lifecycle.incidents(WS)}
    assert set(incidents) == {INCIDENT, "pace-leads"}
    incident = incidents[INCIDENT]
    assert incident.subject == "campaign search-brand"
    assert incident.severity == "critical"
    assert incident.kinds == ("budget_overrun", "channel_mix_drift", "untethered_spend")
    assert len(incident.facets) == 4


def test_an_incident_stays_open_while_any_facet_is_and_lowers_its_severity_as_they_resolve() -> (
    None
):
    events = [*one_campaign_overspending(), resolved(MIX, 3), resolved(OVERRUN, 4)]
    incident = DriftLifecycle().observe_all(events).incident(WS, INCIDENT)
    assert incident is not None and incident.open
    assert incident.severity == "warning"
    assert incident.opened_at == at(1)
    later = (
        DriftLifecycle()
        .observe_all([*events, resolved(CHANNEL, 5), resolved(UNTETHERED, 6)])
        .incident(WS, INCIDENT)
    )
    assert later is not None and later.status == "resolved" and later.resolved_at == at(6)


def test_acknowledging_a_drift_acknowledges_its_incident_and_acknowledgements_accumulate() -> None:
    events = [
        *one_campaign_overspending(),
        ack("mix-search", 2, "moving budget"),
        ack(str(INCIDENT), 3, "paused the campaign", who="sam"),
    ]
    lifecycle = DriftLifecycle().observe_all(events)
    incident = lifecycle.incident(WS, INCIDENT)
    assert incident is not None and incident.acknowledged
    assert [(a.who, a.note) for a in incident.acknowledgements] == [
        ("maria", "moving budget"),
        ("sam", "paused the campaign"),
    ]
    overrun = lifecycle.drift(WS, "overrun-search-brand")
    assert overrun is not None and [a.note for a in overrun.acknowledgements] == [
        "paused the campaign"
    ]
    assert lifecycle.drift(WS, "pace-leads").acknowledgements == ()  # type: ignore[union-attr]


def test_an_acknowledgement_from_before_a_reopening_does_not_acknowledge_the_new_episode() -> None:
    events = [
        detected(PACE, 1),
        ack("pace-leads", 2, "seen"),
        resolved(PACE, 3),
        detected(PACE, 10),
    ]
    record = DriftLifecycle().observe_all(events).drift(WS, "pace-leads")
    assert record is not None
    assert record.open and record.opened_at == at(10) and record.first_detected_at == at(1)
    assert not record.acknowledged
    assert len(record.acknowledgements) == 1


def test_a_revision_in_response_to_a_drift_is_an_answer_to_its_incident() -> None:
    lifecycle = DriftLifecycle().observe_all(
        [*one_campaign_overspending(), revision("mix-search", 4)]
    )
    incident = lifecycle.incident(WS, INCIDENT)
    assert incident is not None
    ((answer,),) = [incident.answers]
    assert (answer.event_type, answer.reason, answer.objective_id) == (
        "ObjectiveRevised",
        "cut budget",
        OBJECTIVE.objective_id,
    )


def test_updates_change_the_facts_and_are_counted_once_each() -> None:
    worse = PACE.model_copy(update={"severity": "critical", "figures": {"pace": 0.5}})
    update = updated(worse, 5)
    record = (
        DriftLifecycle().observe_all([detected(PACE, 1), update, update]).drift(WS, "pace-leads")
    )
    assert record is not None
    assert (record.severity, record.updates, record.updated_at) == ("critical", 1, at(5))


def test_workspaces_are_separate() -> None:
    lifecycle = DriftLifecycle().observe_all([detected(PACE, 1, ws="other")])
    assert lifecycle.knows("other", "pace-leads")
    assert not lifecycle.knows(WS, "pace-leads")
    assert lifecycle.incidents(WS) == []


def test_knows_drift_ids_and_incident_ids() -> None:
    lifecycle = DriftLifecycle().observe_all(one_campaign_overspending())
    assert lifecycle.knows(WS, "mix-search") and lifecycle.knows(WS, str(INCIDENT))
    assert not lifecycle.knows(WS, "made-up")


def test_a_resolution_seen_without_its_detection_is_a_closed_drift() -> None:
    record = DriftLifecycle().observe_all([resolved(PACE, 3)]).drift(WS, "pace-leads")
    assert record is not None and record.status == "resolved" and record.opened_at == at(3)


def test_the_campaign_carrying_most_of_a_channels_spend_is_the_cause_of_its_mix_shift() -> None:
    cause = cause_for(
        "channel_mix_drift",
        channel="search",
        campaign_ids=("a", "b"),
        spend_by_campaign={"a": 9000, "b": 1000},
    )
    assert cause == {"campaign": "a"}
    spread = cause_for(
        "channel_mix_drift", channel="search", spend_by_campaign={"a": 500, "b": 500, "c": 500}
    )
    assert spread == {"channel": "search"}
    assert cause_for("objective_off_pace", objective_id="leads") == {"objective": "leads"}


def test_incident_ids_are_valid_slugs_even_for_long_subjects() -> None:
    long_id = incident_id_for({"campaign": "c" * 64})
    assert long_id is not None and len(long_id) <= 64
    assert long_id != incident_id_for({"campaign": "c" * 63 + "d"})


# -- any order, same incidents -------------------------------------------------------------


def story() -> list[Any]:
    """One quarter's drift traffic: a campaign incident that reopens, an off-pace objective,
    acknowledgements of both kinds and an answer."""
    worse_mix = MIX.model_copy(update={"figures": {"pts": 25.0}})
    return [
        *one_campaign_overspending(),
        updated(worse_mix, 2),
        ack("mix-search", 2.5, "seen"),
        ack(str(INCIDENT), 2.5, "pausing"),
        resolved(MIX, 3),
        resolved(OVERRUN, 3),
        resolved(CHANNEL, 3),
        resolved(UNTETHERED, 3),
        detected(OVERRUN, 7),
        revision("pace-leads", 8),
        resolved(PACE, 9),
        detected(PACE, 9),  # same instant: detected sorts before resolved
    ]


def summary(lifecycle: DriftLifecycle) -> list[Any]:
    return [
        (
            i.incident_id,
            i.cause,
            i.severity,
            i.episodes,
            i.acknowledgements,
            i.answers,
            [(f.drift_id, f.data, f.episodes, f.updates, f.acknowledgements) for f in i.facets],
        )
        for i in lifecycle.incidents()
    ]


@settings(max_examples=200, deadline=None)
@given(order=st.permutations(range(len(story()))), repeats=st.lists(st.integers(0, 20), max_size=5))
def test_any_order_of_the_events_gives_the_same_incidents(
    order: list[int], repeats: list[int]
) -> None:
    events = story()
    expected = summary(DriftLifecycle().observe_all(events))
    shuffled = [events[i] for i in order] + [events[i] for i in repeats if i < len(events)]
    assert summary(DriftLifecycle().observe_all(shuffled)) == expected


def test_the_story_reads_as_expected() -> None:
    incidents = {i.incident_id: i for i in DriftLifecycle().observe_all(story()).incidents()}
    campaign = incidents[str(INCIDENT)]
    assert [(e.opened_at, e.resolved_at) for e in campaign.episodes] == [
        (at(1), at(3)),
        (at(7), None),
    ]
    assert campaign.severity == "warning" and not campaign.acknowledged
    pace = incidents["pace-leads"]
    assert pace.episodes[-1].resolved_at == at(9)
    assert len(pace.answers) == 1


def test_drift_events_of_unknown_shape_are_ignored() -> None:
    lifecycle = DriftLifecycle()
    lifecycle.observe(object())
    lifecycle.observe(uuid.uuid4())
    assert lifecycle.drifts() == []


@st.composite
def random_traffic(draw: st.DrawFn) -> list[Any]:
    """Any mix of detections, updates, resolutions, acknowledgements and answers over a few
    drifts sharing a few incidents, at a few instants (ties included)."""
    incidents = [None, "campaign-a", "campaign-b"]
    events: list[Any] = []
    for _ in range(draw(st.integers(1, 14))):
        hours = draw(st.integers(0, 6))
        choice = draw(st.sampled_from(["detected", "updated", "resolved", "ack", "answer"]))
        drift_id = f"d-{draw(st.integers(0, 3))}"
        if choice in ("ack", "answer"):
            target = draw(st.sampled_from([drift_id, "campaign-a", "campaign-b"]))
            events.append(ack(target, hours, "n") if choice == "ack" else revision(target, hours))
            continue
        d = data(
            drift_id,
            severity=draw(st.sampled_from(["info", "warning", "critical"])),
            incident_id=draw(st.sampled_from(incidents)),
        )
        events.append(
            {"detected": detected, "updated": updated, "resolved": resolved}[choice](d, hours)
        )
    return events


@settings(max_examples=300, deadline=None)
@given(events=random_traffic(), data_=st.data())
def test_any_order_of_any_traffic_gives_the_same_incidents(events: list[Any], data_: Any) -> None:
    order = data_.draw(st.permutations(range(len(events))))
    expected = summary(DriftLifecycle().observe_all(events))
    assert summary(DriftLifecycle().observe_all([events[i] for i in order])) == expected
