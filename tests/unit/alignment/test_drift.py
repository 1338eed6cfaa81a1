"""Each drift kind of DESIGN §5: opens once, updates on material change, resolves once, and
its explanation names the objective, the campaigns or channels and the figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from truenorth.alignment.domain.drift import DriftTracker, DriftTransition, Finding, drift_id
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import build_snapshot
from truenorth.contract.alignment import DriftData, DriftDetected, DriftResolved
from truenorth.contract.envelope import EnvelopeFields


class World:
    def __init__(self, *events: EnvelopeFields) -> None:
        self.projection = Projection()
        self.tracker = DriftTracker()
        self.apply(*events)

    def apply(self, *events: EnvelopeFields) -> None:
        for event in events:
            self.projection.apply(event)

    def evaluate(self, at: datetime, kind: str) -> list[DriftTransition]:
        transitions = self.tracker.evaluate(self.projection, at)
        return [t for t in transitions if t.data.kind == kind]

    def only(self, at: datetime, kind: str, action: str) -> DriftData:
        transitions = self.evaluate(at, kind)
        assert [t.action for t in transitions] == [action], transitions
        return transitions[0].data


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


def test_objective_off_pace_names_the_least_efficient_linked_campaigns() -> None:
    world = World(
        *strategy_events(),
        b.launched("c-a"),
        b.launched("c-b"),
        b.launched("c-c"),
        *b.daily("c-a", "leads", [1] * 50),
        *b.daily("c-a", "spend", [1.25] * 50),
        *b.daily("c-b", "leads", [1.1] * 50),
        *b.daily("c-b", "spend", [1] * 50),
        *b.daily("c-c", "leads", [4] * 50),
        *b.daily("c-c", "spend", [1] * 50),
    )
    # 305 of 1000 leads at 55 % of time -> pace 0.55: off track
    drift = world.only(day(55), "objective_off_pace", "detected")
    assert drift.severity == "critical"
    assert drift.objective_id == "leads-q4"
    assert drift.campaign_ids == ("c-a", "c-b")
    assert drift.explanation.startswith(
        "Leads Q4: 31 % done at 55 % of time (pace 0.55, off track); the two linked campaigns "
        "with the lowest leads per dollar are c-a (0.8/$) and c-b (1.1/$)"
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
        "no objective"
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
        "campaigns: c-a (paused)"
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
    assert drift.explanation.endswith("(limit 3); no campaign is linked to it")
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
    assert set(by_channel) == {"linkedin", "search"}
    linkedin = by_channel["linkedin"].data
    assert linkedin.explanation == (
        "Channel linkedin took 70 % of strategy growth's spend in period q4 against 50 % "
        "planned (+20 pts, tolerance 10 pts)"
    )
    assert linkedin.campaign_ids == ("c-a",)
    assert linkedin.figures["deviation_pts"] == pytest.approx(20)

    world.apply(*b.daily("c-a", "spend", [100] * 5, first_day=10))  # 1200 of 1650: 73 %
    assert {t.action for t in world.evaluate(day(15), "channel_mix_drift")} == {"updated"}

    world.apply(*b.daily("c-s", "spend", [400] * 3, first_day=10))  # 1200 vs 1500
    resolved = world.evaluate(day(15), "channel_mix_drift")
    assert sorted((t.action, t.data.channel) for t in resolved) == [
        ("resolved", "linkedin"),
        ("resolved", "search"),
    ]


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
        "events) yet took $50 (10 %) of its spend over all recorded spend"
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
        "Growth FY25's target segments (cxo, it-leads); it serves Leads Q4 (leads-q4)"
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
        "planned $10.00 (limit 2×)"
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
        "(leads-q4) (limits $1,000 and 14 days)"
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
        "(leads-q4)"
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
        "time-phased plan ($500 by now of $5,000; limit 10 %)"
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
        "Live campaign c-a (linkedin) has reported no metrics for 36 h (limit 24 h); last "
        "report recorded 2025-10-04 00:00 UTC; it serves Leads Q4 (leads-q4)"
    )
    assert world.only(day(6), "stale_data", "updated").figures["hours_silent"] == 72
    world.apply(b.observed("c-a", "spend", 1, day(5)))
    assert world.only(day(6), "stale_data", "resolved").drift_id == drift.drift_id


def test_stale_data_counts_from_going_live_when_nothing_was_reported() -> None:
    world = World(*strategy_events(stale_hours=12), b.launched("c-a", start=day(1)))
    drift = world.only(day(2), "stale_data", "detected")
    assert "none since it went live 2025-10-02 00:00 UTC" in drift.explanation
    world.apply(b.ended("c-a", day(2)))
    assert world.only(day(2), "stale_data", "resolved")


# -- tracker ----------------------------------------------------------------------------------


def test_tracker_rows_restore_open_drifts_without_new_transitions() -> None:
    world = World(*strategy_events())
    detected = world.tracker.evaluate(world.projection, day(50))
    assert detected
    restored = DriftTracker.from_rows(world.tracker.dirty_rows())
    assert restored.evaluate(world.projection, day(50)) == []
    assert restored.workspace_of(detected[0].data.drift_id) == WS


def test_tracker_rebuilds_from_published_drift_events() -> None:
    world = World(*strategy_events())
    [transition] = world.evaluate(day(50), "objective_off_pace")
    rebuilt = DriftTracker()
    rebuilt.observe(
        DriftDetected(
            workspace=WS, aggregate_id=transition.data.drift_id, data=transition.data.to_data()
        )
    )
    assert [
        t.action
        for t in rebuilt.evaluate(world.projection, day(50))
        if t.data.kind == "objective_off_pace"
    ] == []
    rebuilt.observe(
        DriftResolved(
            workspace=WS, aggregate_id=transition.data.drift_id, data=transition.data.to_data()
        )
    )
    assert rebuilt.record(transition.data.drift_id).open is False


def test_acknowledged_drifts_are_marked_in_the_snapshot() -> None:
    world = World(*strategy_events())
    [transition] = world.evaluate(day(50), "objective_off_pace")
    world.apply(b.drift_acknowledged(transition.data.drift_id, day(51)))
    snapshot = build_snapshot(world.projection, day(51), world.tracker)
    [drift] = [d for d in snapshot.drifts if d.drift.kind == "objective_off_pace"]
    assert drift.acknowledged


def test_open_drifts_are_kept_compactly_with_their_published_values() -> None:
    """The tracker holds every open drift for as long as it lasts (25 000 at 10 000
    objectives): it keeps the published values and shares the names of the figures."""
    findings = [
        Finding(
            workspace=WS,
            kind="objective_off_pace",
            subject=f"o-{n}",
            severity="critical",
            explanation=f"objective o-{n} is off pace",
            figures={"pace": 0.5, "progress": 0.2},
            strategy_id="s-1",
            objective_id=f"o-{n}",
            campaign_ids=("c-a", "c-b"),
        )
        for n in range(2)
    ]
    tracker = DriftTracker()
    published = [t.data for t in tracker.reconcile(findings, day(1))]
    kept = [tracker.record(data.drift_id) for data in published]
    first, second = (record.data for record in kept if record is not None)
    assert [first, second] == published
    data = findings[0].to_data()
    assert first.to_data().model_dump(mode="json") == data.model_dump(mode="json")
    assert first.figures == data.figures and first.figure_names is second.figure_names
    assert first.campaign_ids[0] is second.campaign_ids[0]
    assert tracker.reconcile(findings, day(2)) == []  # kept copies compare equal: no update
    restored = DriftTracker.from_rows(tracker.rows())
    assert restored.rows() == tracker.rows()


def test_tracker_lists_open_and_resolved_drifts_with_when_they_last_changed() -> None:
    findings = [
        Finding(WS, "stale_data", f"c-{n}", "warning", f"c-{n} stopped", campaign_ids=(f"c-{n}",))
        for n in range(3)
    ]
    tracker = DriftTracker()
    tracker.reconcile(findings, day(1))
    tracker.reconcile(findings[1:], day(2))
    entries = {entry.data.drift_id: entry for entry in tracker.entries()}
    first, second, third = (entries[drift_id(WS, "stale_data", f"c-{n}")] for n in range(3))
    assert (first.status, first.since) == ("resolved", day(2))
    assert (second.status, second.since, second.workspace) == ("open", day(1), WS)
    assert second.since is third.since  # one datetime per tick, not per drift
    assert second.data is tracker.record(second.data.drift_id).data  # not a copy


def test_a_kept_drift_changes_materially_only_past_five_percent_or_in_its_figure_set() -> None:
    from truenorth.alignment.domain.drift import KeptDrift, is_material_change

    def data(**figures: float) -> DriftData:
        return DriftData(
            drift_id="d-1",
            kind="stale_data",
            severity="warning",
            explanation="c-1 stopped reporting",
            figures=figures,
        )

    before = KeptDrift(data(days=10.0, share=0.5))
    assert (
        before == KeptDrift(data(days=10.0, share=0.5))
        and before.figures == data(days=10.0, share=0.5).figures
    )
    assert not is_material_change(before, data(share=0.5, days=10.4))  # order does not matter
    assert is_material_change(before, data(days=10.6, share=0.5))
    assert is_material_change(before, data(days=10.0))
    assert is_material_change(before, data(days=10.0, share=0.5, idle=1.0))
    assert is_material_change(
        before, data(days=10.0, share=0.5).model_copy(update={"severity": "critical"})
    )


def test_drifts_listed_from_another_thread_during_ticks_are_each_whole() -> None:
    """`/drifts` lists the tracker's drifts while a tick may be changing them: each drift is
    seen either before or after a change, never half changed."""
    import sys
    import threading

    findings = [
        Finding(WS, "stale_data", f"c-{n}", "warning", f"c-{n} stopped") for n in range(500)
    ]
    tracker = DriftTracker()
    done = threading.Event()
    torn: list[object] = []

    def list_drifts() -> None:
        while not done.is_set():
            try:
                entries = tracker.entries()
            except RuntimeError as exc:  # the dict changed size while read
                torn.append(exc)
                continue
            for entry in entries:  # opened on even days, resolved on odd ones
                if (entry.status == "open") != ((entry.since - day(0)).days % 2 == 0):
                    torn.append(entry)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    reader = threading.Thread(target=list_drifts)
    reader.start()
    try:
        for day_number in range(2, 28):
            tracker.reconcile(findings if day_number % 2 == 0 else [], day(day_number))
    finally:
        done.set()
        reader.join()
        sys.setswitchinterval(interval)
    assert torn == []
