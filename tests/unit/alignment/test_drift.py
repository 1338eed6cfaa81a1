"""Each drift kind (docs/design.md, "Drift"): opens once, updates on material change,
resolves once, and its explanation names the objective, the campaigns or channels and the
figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import Connection

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth.alignment import views
from truenorth.alignment.domain import drift
from truenorth.alignment.domain.drift import (
    COMPARED,
    DriftTransition,
    Finding,
    OpenDriftRow,
    drift_id,
    is_material_change,
)
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.drift_writes import DriftEvent, apply_drift_events, pending_outbox
from truenorth.alignment.store.drifts import last_published, lifecycle
from truenorth.alignment.store.read import Moment
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved, DriftUpdated
from truenorth.contract.common import Severity
from truenorth.contract.envelope import EnvelopeFields
from truenorth.store.db import make_engine


def strategy_events(**guardrails: Any) -> list[EnvelopeFields]:
    events: list[EnvelopeFields] = [b.strategy_defined(), b.objective_added()]
    if guardrails:
        events.append(b.guardrails_set(**guardrails))
    return events


# -- ids ---------------------------------------------------------------------------------------


def test_drift_ids_are_stable_slugs_unique_per_workspace() -> None:
    first = drift_id("acme", "stale_data", "campaign:c-a")
    assert first == drift_id("acme", "stale_data", "campaign:c-a")
    assert first != drift_id("other", "stale_data", "campaign:c-a")
    long = drift_id("acme", "channel_mix_drift", "x" * 64 + ":" + "y" * 64)
    for value in (first, long):
        assert len(value) <= 64
        DriftData(drift_id=value, kind="stale_data", severity="info", explanation="")


# -- objective_off_pace ------------------------------------------------------------------------


def test_objective_off_pace_names_the_linked_campaigns_behind_their_share() -> None:
    world = World(
        *strategy_events(),
        b.launched("c-a"),
        b.launched("c-b"),
        b.launched("c-c"),
        *b.daily("c-a", "leads", [1] * 50),
        *b.daily("c-a", "spend", [12.5] * 50),
        *b.daily("c-b", "leads", [1.1] * 50),
        *b.daily("c-b", "spend", [10] * 50),
        *b.daily("c-c", "leads", [4] * 50),
        *b.daily("c-c", "spend", [10] * 50),
    )
    # 305 of 1000 leads at 55 % of time -> pace 0.55: off track
    drift = world.only(day(55), "objective_off_pace", "detected")
    assert drift.severity == "critical"
    assert drift.objective_id == "leads-q4"
    assert drift.campaign_ids == ("c-a", "c-b")
    assert drift.explanation.startswith(
        "Leads Q4: 31 % done at 55 % of time (pace 0.55, off track); needs 695 more leads in "
        "45 days: 15.4/day against 1.74/day now; lagging: c-a (133 leads behind its share) and "
        "c-b (128 leads behind its share)"
    )
    assert drift.figures["pace"] == pytest.approx(305 / 1000 / 0.55)

    world.apply(*b.daily("c-c", "leads", [40] * 5, first_day=50))  # 505: pace 0.92 -> at risk
    updated = world.only(day(55), "objective_off_pace", "updated")
    assert updated.severity == "warning"
    assert "at risk" in updated.explanation
    assert world.evaluate(day(55), "objective_off_pace") == []  # nothing new: no update

    world.apply(*b.daily("c-c", "leads", [20] * 5, first_day=55))  # 605 at 60 %: on track
    resolved = world.only(day(60), "objective_off_pace", "resolved")
    assert resolved.drift_id == drift.drift_id
    assert world.evaluate(day(61), "objective_off_pace") == []


def test_objective_off_pace_says_when_no_campaign_is_linked() -> None:
    world = World(*strategy_events())
    drift = world.only(day(50), "objective_off_pace", "detected")
    assert "no campaign is linked to it" in drift.explanation


# -- untethered_spend --------------------------------------------------------------------------


def test_untethered_spend_share_above_the_guardrail_warns_and_each_campaign_is_info() -> None:
    world = World(
        *strategy_events(),
        b.budget_planned(),
        b.launched("c-a"),
        b.launched("c-x", objective_ids=(), channel="search"),
        *b.daily("c-a", "spend", [800] * 10),
        *b.daily("c-x", "spend", [200] * 10),
    )
    transitions = world.evaluate(day(10), "untethered_spend")
    assert [(t.action, t.data.severity) for t in transitions] == [
        ("detected", "warning"),
        ("detected", "info"),
    ]
    share, campaign = transitions[0].data, transitions[1].data
    assert share.explanation.startswith(
        "20 % of spend in the current period ($2,000 of $10,000) went to campaigns with no "
        "active objective (limit 10 %); largest: c-x ($2,000)"
    )
    assert campaign.explanation == (
        "Campaign c-x (search) has spent $2,000 without an active objective: it is linked to "
        "no objective; to resolve: link it to an objective, or end it"
    )
    assert campaign.campaign_ids == ("c-x",)

    world.apply(*b.daily("c-x", "spend", [1000] * 5, first_day=10))  # 7,000 of 15,000
    updated = [t.action for t in world.evaluate(day(15), "untethered_spend")]
    assert updated == ["updated", "updated"]

    world.apply(b.linked("c-x", "leads-q4"))
    resolved = world.evaluate(day(15), "untethered_spend")
    assert sorted(t.action for t in resolved) == ["resolved", "resolved"]


def test_campaigns_of_a_retired_objective_become_untethered() -> None:
    world = World(*strategy_events(), b.launched("c-a"), *b.daily("c-a", "spend", [10]))
    assert world.evaluate(day(2), "untethered_spend") == []
    world.apply(b.objective_retired())
    kinds = {t.data.severity: t.data for t in world.evaluate(day(2), "untethered_spend")}
    assert "its objectives leads-q4 are no longer active" in kinds["info"].explanation
    assert "100 % of spend in all recorded spend" in kinds["warning"].explanation


# -- idle_objective ----------------------------------------------------------------------------


def test_idle_objective_counts_from_the_last_time_a_linked_campaign_was_live() -> None:
    world = World(*strategy_events(), b.launched("c-a"), b.paused("c-a", day(10)))
    assert world.evaluate(day(17), "idle_objective") == []
    drift = world.only(day(17.5), "idle_objective", "detected")
    assert drift.explanation == (
        "Leads Q4 (leads-q4) has had no live campaign for 7.5 days (limit 7); linked "
        "campaigns: c-a (paused); to resolve: resume or launch a campaign for it"
    )
    assert drift.figures["idle_days"] == 7
    assert world.evaluate(day(17.6), "idle_objective") == []  # 7 -> 7 days: no update
    assert world.only(day(19), "idle_objective", "updated").figures["idle_days"] == 9
    world.apply(b.resumed("c-a", day(19)))
    assert world.only(day(19), "idle_objective", "resolved").drift_id == drift.drift_id


def test_idle_objective_without_campaigns_counts_from_its_start() -> None:
    world = World(*strategy_events(idle_days=3))
    assert world.evaluate(day(3), "idle_objective") == []
    drift = world.only(day(4), "idle_objective", "detected")
    assert drift.explanation.endswith(
        "(limit 3); no campaign is linked to it; to resolve: launch or link a campaign to it"
    )
    assert world.only(day(100), "idle_objective", "resolved")  # past its deadline


# -- channel_mix_drift -------------------------------------------------------------------------


def test_channel_mix_drift_when_actual_share_leaves_the_tolerance() -> None:
    world = World(
        *strategy_events(),
        b.budget_planned({"linkedin": 50, "search": 50}),
        b.launched("c-a", channel="linkedin"),
        b.launched("c-s", channel="search"),
        *b.daily("c-a", "spend", [70] * 10),
        *b.daily("c-s", "spend", [30] * 10),
    )
    transitions = world.evaluate(day(10), "channel_mix_drift")
    by_channel = {t.data.channel: t for t in transitions}
    assert set(by_channel) == {"linkedin"}  # search's under-share is linkedin's over-share
    linkedin = by_channel["linkedin"].data
    assert linkedin.explanation == (
        "Channel linkedin took 70 % of strategy growth's spend in period q4 against 50 % "
        "planned (+20 pts, tolerance 10 pts), at the expense of search (30 % against 50 %); its "
        "spend is carried by c-a ($700); to resolve: move about $200 of the period's spend away "
        "from linkedin, or revise the planned mix"
    )
    assert linkedin.campaign_ids == ("c-a",)
    assert linkedin.figures["deviation_pts"] == pytest.approx(20)

    world.apply(*b.daily("c-a", "spend", [100] * 5, first_day=10))  # 1200 of 1650: 73 %
    assert {t.action for t in world.evaluate(day(15), "channel_mix_drift")} == {"updated"}

    world.apply(*b.daily("c-s", "spend", [400] * 3, first_day=10))  # 1200 vs 1500
    resolved = world.evaluate(day(15), "channel_mix_drift")
    assert [(t.action, t.data.channel) for t in resolved] == [("resolved", "linkedin")]


def test_spend_on_a_channel_the_strategy_does_not_allow_is_channel_mix_drift() -> None:
    world = World(
        *strategy_events(),
        b.launched("c-a", channel="linkedin"),
        b.launched("c-t", channel="tiktok"),
        *b.daily("c-a", "spend", [90] * 5),
        *b.daily("c-t", "spend", [10] * 5),
    )
    drift = world.only(day(5), "channel_mix_drift", "detected")
    assert drift.channel == "tiktok"
    assert drift.explanation == (
        "Channel tiktok is not among strategy growth's allowed channels (linkedin, search, "
        "events) yet took $50 (10 %) of its spend over all recorded spend; its spend is carried "
        "by c-t ($50); to resolve: move its campaigns to an allowed channel, or allow the channel"
    )
    world.apply(*b.daily("c-t", "spend", [30] * 5, first_day=5))
    assert world.only(day(10), "channel_mix_drift", "updated").figures["spend"] == 200
    world.apply(b.strategy_defined(channels=("linkedin", "tiktok")))
    assert world.only(day(10), "channel_mix_drift", "resolved").channel == "tiktok"


# -- audience_mismatch -------------------------------------------------------------------------


def test_audience_mismatch_for_a_live_campaign_outside_the_target_segments() -> None:
    world = World(*strategy_events(), b.launched("c-t", channel="tiktok", segment="teens"))
    drift = world.only(day(1), "audience_mismatch", "detected")
    assert drift.explanation == (
        "Live campaign c-t (tiktok) targets segment 'teens', which is not among strategy "
        "Growth FY25's target segments (cxo, it-leads); it serves Leads Q4 (leads-q4); to "
        "resolve: retarget it to a target segment, or add the segment to the strategy"
    )
    assert (drift.objective_id, drift.campaign_ids) == ("leads-q4", ("c-t",))
    world.apply(b.strategy_defined(segments=("cxo",)))  # fewer segments: a figure moved
    assert world.only(day(1), "audience_mismatch", "updated").figures["target_segments"] == 1
    world.apply(b.paused("c-t", day(2)))
    assert world.only(day(2), "audience_mismatch", "resolved").drift_id == drift.drift_id


# -- inefficient_tactic ------------------------------------------------------------------------


def test_inefficient_tactic_when_cost_per_outcome_exceeds_the_planned_multiple() -> None:
    objective = b.spec(cost_per_outcome=10)
    world = World(
        b.strategy_defined(),
        b.objective_added(objective),
        b.launched("c-a"),
        *b.daily("c-a", "spend", [250] * 4),
        *b.daily("c-a", "leads", [10] * 4),
    )
    drift = world.only(day(4), "inefficient_tactic", "detected")
    assert drift.explanation == (
        "Campaign c-a (linkedin) costs $25.00 per leads for Leads Q4 (leads-q4), 2.5× the "
        "planned $10.00 (limit 2×); to resolve: move its budget to linked campaigns that cost "
        "less per outcome, or revise the planned cost"
    )
    world.apply(*b.daily("c-a", "spend", [500] * 2, first_day=4))  # 2000 / 40 = $50
    assert world.only(day(6), "inefficient_tactic", "updated").figures["multiple"] == 5
    world.apply(*b.daily("c-a", "leads", [100] * 2, first_day=4))  # 2000 / 240
    assert world.only(day(6), "inefficient_tactic", "resolved").drift_id == drift.drift_id


def test_inefficient_tactic_when_spend_brings_zero_outcome_for_too_long() -> None:
    world = World(*strategy_events(), b.launched("c-a"), *b.daily("c-a", "spend", [100] * 20))
    assert world.evaluate(day(14), "inefficient_tactic") == []  # not 14 days yet
    drift = world.only(day(20), "inefficient_tactic", "detected")
    assert drift.explanation == (
        "Campaign c-a (linkedin) spent $2,000 over 20 days with zero leads for Leads Q4 "
        "(leads-q4) (limits $1,000 and 14 days); to resolve: check that its outcomes are "
        "reported, or stop it"
    )
    world.apply(*b.daily("c-a", "spend", [200] * 5, first_day=20))
    assert world.only(day(25), "inefficient_tactic", "updated").figures["spend"] == 3000
    world.apply(b.observed("c-a", "leads", 3, day(24)))
    assert world.only(day(25), "inefficient_tactic", "resolved")


# -- budget_overrun ----------------------------------------------------------------------------


def test_campaign_budget_overrun_against_its_time_phased_budget() -> None:
    world = World(
        *strategy_events(),
        b.launched("c-a", budget=10_000, end=day(10)),
        *b.daily("c-a", "spend", [1_300] * 2),
    )
    drift = world.only(day(2), "budget_overrun", "detected")
    assert drift.explanation == (
        "Campaign c-a (linkedin) has spent $2,600, 30 % ahead of its time-phased budget "
        "($2,000 of $10,000 by now, 20 % of its flight; limit 10 %); it serves Leads Q4 "
        "(leads-q4); to resolve: slow its spend to the plan, or raise its budget"
    )
    assert drift.severity == "warning"
    world.apply(*b.daily("c-a", "spend", [9_000], first_day=2))
    updated = world.only(day(3), "budget_overrun", "updated")
    assert updated.severity == "critical"  # beyond the whole budget
    world.apply(b.budget_changed("c-a", 100_000))
    assert world.only(day(3), "budget_overrun", "resolved").drift_id == drift.drift_id


def test_channel_budget_overrun_against_the_period_plan() -> None:
    world = World(
        *strategy_events(channel_mix_tolerance_pts=100),
        b.budget_planned({"linkedin": 50, "search": 50}, budget=10_000, end=day(10)),
        b.launched("c-a", channel="linkedin", budget=1e9),
        *b.daily("c-a", "spend", [700]),
    )
    # planned by day 1: 10,000 × 50 % × 10 % = 500; spent 700
    drift = world.only(day(1), "budget_overrun", "detected")
    assert drift.channel == "linkedin"
    assert drift.explanation == (
        "Channel linkedin of strategy growth has spent $700 in period q4, 40 % ahead of its "
        "time-phased plan ($500 by now of $5,000; limit 10 %); to resolve: slow the channel's "
        "campaigns, or revise the period's mix"
    )
    world.apply(*b.daily("c-a", "spend", [900], first_day=1))
    assert world.only(day(2), "budget_overrun", "updated").figures["spend"] == 1600
    assert world.only(day(5), "budget_overrun", "resolved").channel == "linkedin"


# -- stale_data --------------------------------------------------------------------------------


def test_stale_data_when_a_live_campaign_stops_reporting() -> None:
    world = World(*strategy_events(), b.launched("c-a"), *b.daily("c-a", "spend", [1] * 3))
    # the last observation was recorded at the end of day 3
    assert world.evaluate(day(4), "stale_data") == []
    drift = world.only(day(4.5), "stale_data", "detected")
    assert drift.explanation == (
        "Live campaign c-a (linkedin) has no metrics for the last 36 h (limit 24 h); its data "
        "covers up to 2025-10-04 00:00 UTC (last uploaded 2025-10-04 00:00 UTC, 0 h after that "
        "period ended); it serves Leads Q4 (leads-q4); to resolve: check the sync that reports "
        "it, or pause the campaign"
    )
    assert world.only(day(6), "stale_data", "updated").figures["hours_silent"] == 72
    world.apply(b.observed("c-a", "spend", 1, day(5)))
    assert world.only(day(6), "stale_data", "resolved").drift_id == drift.drift_id


def test_stale_data_counts_from_going_live_when_nothing_was_reported() -> None:
    world = World(*strategy_events(stale_hours=12), b.launched("c-a", start=day(1)))
    drift = world.only(day(2), "stale_data", "detected")
    assert "no data since it went live 2025-10-02 00:00 UTC" in drift.explanation
    world.apply(b.ended("c-a", day(2)))
    assert world.only(day(2), "stale_data", "resolved")


# -- the drift rows: what a tick leaves in the store -------------------------------------------


def test_a_restarted_service_reads_its_open_drifts_and_announces_nothing_again(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/alignment.db")
    world = World(*strategy_events(), engine=engine)
    detected = world.transitions(day(50))
    assert detected
    restarted = World(engine=make_engine(f"sqlite:///{tmp_path}/alignment.db"))
    assert restarted.transitions(day(50)) == []
    assert set(restarted.open_drifts(WS)) == {t.data.drift_id for t in detected}


def test_drifts_restored_from_published_events_are_not_announced_again() -> None:
    """A rebuild empties the drift rows and folds the ALIGNMENT stream back into them."""
    [transition] = World(*strategy_events()).evaluate(day(50), "objective_off_pace")
    rebuilt = World(*strategy_events())
    data = transition.data
    with rebuilt.engine.begin() as connection:
        fold_drift_events(
            connection,
            DriftDetected(workspace=WS, aggregate_id=data.drift_id, occurred_at=day(50), data=data),
        )
    assert rebuilt.evaluate(day(50), "objective_off_pace") == []
    with rebuilt.engine.begin() as connection:
        fold_drift_events(
            connection,
            DriftResolved(workspace=WS, aggregate_id=data.drift_id, occurred_at=day(51), data=data),
        )
    assert data.drift_id not in rebuilt.open_drifts(WS)
    [entry] = [e for e in rebuilt.drift_entries(WS) if e.data.drift_id == data.drift_id]
    assert (entry.status, entry.opened_at, entry.since) == ("resolved", day(50), day(51))


def fold_drift_events(connection: Connection, *events: EnvelopeFields) -> None:
    apply_drift_events(connection, [DriftEvent.of(event) for event in events])  # type: ignore[misc]


@pytest.mark.parametrize("written", ["one at a time", "in one write"])
def test_the_drift_rows_the_history_and_the_incidents_agree_on_when_a_drift_reopened(
    written: str,
) -> None:
    """One rule (`truenorth.drift_lifecycle.open_since`): an Updated reaching a resolved drift
    (a log read out of order, a rebuild) opens a new episode, in the live rows, in `/drifts`
    as of a time and in the incidents alike; folded one event at a time or all in one write
    (a rebuild writes a thousand at once)."""
    [transition] = World(*strategy_events()).evaluate(day(50), "objective_off_pace")
    data = transition.data
    world = World(*strategy_events())
    events = (
        DriftDetected(workspace=WS, aggregate_id=data.drift_id, occurred_at=day(50), data=data),
        DriftResolved(workspace=WS, aggregate_id=data.drift_id, occurred_at=day(51), data=data),
        DriftUpdated(workspace=WS, aggregate_id=data.drift_id, occurred_at=day(52), data=data),
    )
    with world.engine.begin() as connection:
        if written == "in one write":
            fold_drift_events(connection, *events)
        else:
            for event in events:
                fold_drift_events(connection, event)
    [live] = [e for e in world.drift_entries(WS) if e.data.drift_id == data.drift_id]
    [past] = [e for e in world.drift_entries(WS, day(53)) if e.data.drift_id == data.drift_id]
    with world.engine.connect() as connection:
        record = lifecycle(connection, WS, Moment.now(to_micros(day(53)))).drift(WS, data.drift_id)
    assert record is not None and (record.status, record.opened_at) == ("open", day(52))
    for entry in (live, past):
        assert (entry.status, entry.opened_at, entry.since) == ("open", day(52), day(52))


def test_open_drifts_are_kept_with_their_published_values() -> None:
    """What the store gives back is exactly what was published: a later tick finding the
    same figures changes nothing."""
    findings = [
        Finding(
            workspace=WS,
            kind="objective_off_pace",
            subject=f"o-{n}",
            severity="critical",
            explanation=f"objective o-{n} is off pace",
            figures={"pace": 0.123456789, "progress": 1 / 3, "actual": 1e-7},
            strategy_id="s-1",
            objective_id=f"o-{n}",
            campaign_ids=("c-a", "c-b"),
        )
        for n in range(2)
    ]
    world = World()
    published = [t.data for t in tick(world, findings, day(1))]
    kept = world.open_drifts(WS)
    with world.engine.connect() as connection:
        stored = last_published(connection, WS, kept)
    assert [stored[data.drift_id] for data in published] == [
        (d, to_micros(day(1))) for d in published
    ]
    compared = [{k: data.model_dump(mode="json")[k] for k in COMPARED} for data in published]
    assert [kept[data.drift_id].compared for data in published] == compared
    assert {row.opened_at for row in kept.values()} == {to_micros(day(1))}
    assert tick(world, findings, day(2)) == []  # kept copies compare equal: no update


def test_drift_entries_list_open_and_resolved_drifts_with_when_they_last_changed() -> None:
    findings = [
        Finding(WS, "stale_data", f"c-{n}", "warning", f"c-{n} stopped", campaign_ids=(f"c-{n}",))
        for n in range(3)
    ]
    world = World()
    tick(world, findings, day(1))
    tick(world, findings[1:], day(2))
    entries = {entry.data.drift_id: entry for entry in world.drift_entries(WS)}
    first, second, third = (entries[drift_id(WS, "stale_data", f"c-{n}")] for n in range(3))
    assert (first.status, first.opened_at, first.since) == ("resolved", day(1), day(2))
    assert (second.status, second.since, second.workspace) == ("open", day(1), WS)
    assert (third.status, third.opened_at) == ("open", day(1))
    as_of = {entry.data.drift_id: entry.status for entry in world.drift_entries(WS, day(1.5))}
    assert as_of == dict.fromkeys(entries, "open")  # before the second tick
    assert world.drift_entries(WS, day(0.5)) == []


def test_a_resolved_drift_found_again_reopens_with_a_new_opening_time() -> None:
    finding = Finding(WS, "stale_data", "c-1", "warning", "c-1 stopped")
    world = World()
    tick(world, [finding], day(1))
    tick(world, [], day(2))
    [again] = tick(world, [finding], day(3))
    assert again.action == "detected"
    [entry] = world.drift_entries(WS)
    assert (entry.status, entry.opened_at, entry.since) == ("open", day(3), day(3))
    [row] = world.open_drifts(WS).values()
    assert row.opened_at == to_micros(day(3))


def test_a_drift_changes_materially_only_past_five_percent_or_in_its_figure_set() -> None:
    def data(severity: Severity = "warning", **figures: float) -> dict[str, object]:
        return DriftData(
            drift_id="d-1",
            kind="stale_data",
            severity=severity,
            explanation="c-1 stopped reporting",
            figures=figures,
        ).model_dump(mode="json")

    before = data(days=10.0, share=0.5)
    assert not is_material_change(before, data(share=0.5, days=10.4))  # order does not matter
    assert is_material_change(before, data(days=10.6, share=0.5))
    assert is_material_change(before, data(days=10.0))
    assert is_material_change(before, data(days=10.0, share=0.5, idle=1.0))
    assert is_material_change(before, data("critical", days=10.0, share=0.5))
    assert not is_material_change(data(days=0.0), data(days=0.0))
    assert is_material_change(data(days=0.0), data(days=0.001))


@pytest.mark.parametrize(
    "finding",
    [
        Finding(WS, "stale_data", "c-1", "warning", "c-1 stopped", campaign_ids=("c-1",)),
        Finding(
            WS,
            "channel_mix_drift",
            "search",
            "critical",
            "search over its share",
            figures={"share": 1 / 3, "gap": float("nan"), "target": 0.1234567891},
            channel="search",
            objective_id="o-1",
            campaign_ids=("c-a", "c-b"),
        ),
        Finding(WS, "objective_off_pace", "o-1", "info", "behind", channel="", objective_id="o-1"),
    ],
)
def test_a_finding_is_compared_as_it_would_be_published(finding: Finding) -> None:
    """The tick compares findings with open drifts without building their DriftData: what
    it compares must be exactly what publishing the finding would store."""
    stored = finding.to_data().model_dump(mode="json")
    assert not is_material_change(stored, finding.published())
    assert {key: stored[key] for key in finding.published()} == {
        **finding.published(),
        "campaign_ids": list(finding.campaign_ids),
    }


def test_drifts_listed_from_another_thread_during_ticks_show_whole_ticks(tmp_path: Path) -> None:
    """`/drifts` reads the drift rows while a tick commits: a listing shows every drift as
    one tick left it, never some drifts of a tick changed and others not."""
    import threading

    url = f"sqlite:///{tmp_path}/alignment.db"
    findings = [Finding(WS, "stale_data", f"c-{n}", "warning", f"c-{n} stopped") for n in range(50)]
    world = World(engine=make_engine(url))
    reader = World(engine=make_engine(url))
    done = threading.Event()
    torn: list[object] = []
    listings = [0]

    def list_drifts() -> None:
        while not done.is_set():
            entries = reader.drift_entries(WS)
            listings[0] += 1
            states = {(e.status, e.since) for e in entries}
            if len(states) > 1:
                torn.append(states)
            for entry in entries:  # opened on even days, resolved on odd ones
                if (entry.status == "open") != ((entry.since - day(0)).days % 2 == 0):
                    torn.append(entry)

    thread = threading.Thread(target=list_drifts)
    thread.start()
    try:
        for day_number in range(2, 14):
            tick(world, findings if day_number % 2 == 0 else [], day(day_number))
    finally:
        done.set()
        thread.join()
    assert torn == [] and listings[0] > 1


def tick(world: World, findings: list[Finding], at: datetime) -> list[DriftTransition]:
    return world.record(WS, findings, at)


def test_a_tick_writes_its_transitions_in_as_many_statements_for_three_as_for_three_hundred() -> (
    None
):
    """Under SQLite a tick's write holds up every fold commit: written five statements an
    event, ~150 updates a tick held the fold up ~200 ms at 2 000 events/s
    (benchmarks/README.md, thirteenth session)."""

    def statements_to_record(findings: int, at: datetime) -> int:
        world = World(*strategy_events())
        stale = [
            Finding(WS, "stale_data", f"c-{n}", "warning", "stopped", {"days": 10.0})
            for n in range(findings)
        ]
        executed: list[str] = []
        sqlalchemy.event.listen(
            world.engine, "before_cursor_execute", lambda *a: executed.append(a[2])
        )
        assert len(world.record(WS, stale, at)) == findings
        return len(executed)

    assert statements_to_record(300, day(50)) == statements_to_record(3, day(50))


def test_a_tick_with_more_transitions_than_one_write_commits_them_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "TRANSITIONS_PER_WRITE", 1)
    world = World(*strategy_events())
    detected = world.transitions(day(50))
    assert len(detected) > 1
    assert set(world.open_drifts(WS)) == {t.data.drift_id for t in detected}
    with world.engine.connect() as connection:
        assert len(pending_outbox(connection)) == len(detected)
    assert world.transitions(day(50)) == []


def test_a_tick_judges_its_findings_a_batch_at_a_time_and_holds_none_of_the_rest() -> None:
    """At 110 000 open drifts a tick held every finding and every open drift at once
    (benchmarks/README.md, fourteenth session)."""
    drawn: list[int] = []
    asked: list[list[str]] = []

    def findings() -> Any:
        for n in range(5 * drift.JUDGED_AT_ONCE):
            drawn.append(n)
            yield Finding(WS, "stale_data", f"c-{n}", "warning", "stopped", {"days": 10.0})

    def stored(ids: list[str]) -> dict[str, OpenDriftRow]:
        asked.append(ids)
        return {}

    transitions = drift.reconcile(WS, frozenset(), findings(), 0, stored, lambda ids: {})
    first = next(transitions)
    assert (first.action, len(drawn)) == ("detected", drift.JUDGED_AT_ONCE)
    assert sum(1 for _ in transitions) == 5 * drift.JUDGED_AT_ONCE - 1
    assert asked == [[]] * 5  # none was open: no row asked for


@pytest.mark.parametrize("at_once", [1, 2, 3, 1_000])
def test_judging_in_batches_gives_what_judging_at_once_gives(
    monkeypatch: pytest.MonkeyPatch, at_once: int
) -> None:
    monkeypatch.setattr(drift, "JUDGED_AT_ONCE", at_once)
    world = World()
    campaigns = [f"c-{n}" for n in range(7)]
    stale = [
        Finding(WS, "stale_data", c, "warning", "stopped", {"days": 10.0}, campaign_ids=(c,))
        for c in campaigns
    ]
    assert [t.action for t in world.record(WS, stale, day(1))] == ["detected"] * 7
    moved = [replace(f, figures={"days": 20.0}) for f in stale[:2]]
    new = replace(stale[0], subject="c-new", campaign_ids=("c-new",))
    later = [*moved, *stale[2:4], stale[0], new, new]  # each found twice: judged once
    found = [(t.action, t.data.campaign_ids[0]) for t in world.record(WS, later, day(2))]
    assert found == [
        ("updated", "c-0"),
        ("updated", "c-1"),
        ("detected", "c-new"),
        *(("resolved", c) for c in campaigns[4:]),
    ]
    resolved = {t.data.campaign_ids[0]: t.opened_at for t in world.record(WS, [], day(3))}
    assert resolved == dict.fromkeys([*campaigns[:4], "c-new"], to_micros(day(1))) | {
        "c-new": to_micros(day(2))
    }


def test_a_tick_that_fails_after_a_write_leaves_the_rest_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(views, "TRANSITIONS_PER_WRITE", 1)
    monkeypatch.setattr(drift, "JUDGED_AT_ONCE", 1)
    world = World(*strategy_events())
    writes: list[int] = []
    real = views.record_transitions

    def record_once(connection: Connection, events: Any) -> int:
        if writes:
            raise sqlalchemy.exc.OperationalError("insert", {}, Exception("disk I/O error"))
        writes.append(len(events))
        return real(connection, events)

    monkeypatch.setattr(views, "record_transitions", record_once)
    with pytest.raises(sqlalchemy.exc.OperationalError):
        world.transitions(day(50))
    [first] = world.open_drifts(WS)
    monkeypatch.setattr(views, "record_transitions", real)
    rest = world.transitions(day(50))
    assert rest and first not in {t.data.drift_id for t in rest}
    assert set(world.open_drifts(WS)) == {first} | {t.data.drift_id for t in rest}


def test_a_tick_reads_the_drifts_it_judges_by_their_key_not_every_open_drift() -> None:
    """With `open` in the WHERE clause SQLite searched the (open, workspace) index, every
    open drift for each chunk: ~40 ms a chunk at 110 000 open drifts, a tick 9 → 22 s."""
    world = World()
    stale = [Finding(WS, "stale_data", f"c-{n}", "warning", "stopped") for n in range(3)]
    world.record(WS, stale, day(1))
    executed: list[tuple[str, Any]] = []
    sqlalchemy.event.listen(
        world.engine, "before_cursor_execute", lambda *a: executed.append((a[2], a[3]))
    )
    world.record(WS, stale, day(2))
    [(statement, parameters)] = [(s, p) for s, p in executed if "JSON_EXTRACT" in s.upper()]
    with world.engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    assert [row[-1] for row in plan] == [
        "SEARCH al_drifts USING INDEX sqlite_autoindex_al_drifts_1 (workspace=? AND drift_id=?)"
    ]
