"""The demo's simulator is pure and deterministic: a strategy document and a seed give the
same timed actions, with the scripted story (launches, stall, overspend, untethered campaign,
acknowledgement, revision) at fixed simulated times."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from truenorth.alignment.domain.drift_rules import drift_id
from truenorth.demo.scenario import (
    DEFAULT_EXAMPLE,
    Scenario,
    available_examples,
    build_scenario,
    load_example,
)


def scenario(seed: int = 7, example: str = DEFAULT_EXAMPLE) -> Scenario:
    filename, text = load_example(example)
    return build_scenario(text, seed, "demo", filename)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_same_seed_same_actions_other_seed_other_values() -> None:
    first, again, other = scenario(7), scenario(7), scenario(8)
    assert first.actions == again.actions
    assert first.fingerprint() == again.fingerprint()
    assert other.fingerprint() != first.fingerprint()
    # the script is the same for every seed; only the noise differs
    assert [(a.at, a.kind, a.subject) for a in other.story()] == [
        (a.at, a.kind, a.subject) for a in first.story()
    ]


def test_actions_are_in_simulated_time_order_and_ids_are_deterministic() -> None:
    s = scenario()
    times = [a.at for a in s.actions]
    assert times == sorted(times)
    assert s.actions[0].kind == "apply_strategy"
    assert s.actions[0].at < s.start
    launches = [a for a in s.actions if a.kind == "launch_campaign"]
    assert all(a.body["event_id"] for a in launches)
    assert s.finish > s.end


def test_the_scripted_story_of_seed_7() -> None:
    s = scenario(7)
    story = [(a.at, a.kind, a.subject) for a in s.story()]
    assert story == [
        (at("2026-09-30T00:00"), "apply_strategy", "northwind-cloud"),
        (at("2026-10-01T00:00"), "launch_campaign", "account_based-2026-q4"),
        (at("2026-10-01T00:00"), "launch_campaign", "events-2026-q4"),
        (at("2026-10-01T00:00"), "launch_campaign", "linkedin-2026-q4"),
        (at("2026-10-01T00:00"), "launch_campaign", "search-2026-q4"),
        (at("2026-10-01T00:00"), "launch_campaign", "email-2026-q4"),
        (at("2026-10-13T00:00"), "note", ""),
        (at("2026-10-16T00:00"), "note", ""),
        (at("2026-11-03T00:00"), "launch_campaign", "tiktok-flash-promo"),
        (
            at("2026-11-12T10:00"),
            "acknowledge_drift",
            drift_id("demo", "budget_overrun", "campaign:events-2026-q4"),
        ),
        (at("2026-11-18T09:00"), "revise_objective", "pipeline-q4"),
        (at("2026-12-03T00:00"), "end_campaign", "tiktok-flash-promo"),
    ]
    assert s.off_pace_objective == "pipeline-q4"
    assert s.revised_target == 3_500_000
    revision = next(a for a in s.actions if a.kind == "revise_objective")
    assert revision.body["target"] == 3_500_000
    assert revision.body["in_response_to"] == drift_id("demo", "objective_off_pace", "pipeline-q4")
    assert revision.body["reason"]
    assert {d.kind for d in s.drifts} == {
        "objective_off_pace",
        "budget_overrun",
        "channel_mix_drift",
        "untethered_spend",
    }
    assert [d.subject for d in s.drifts if d.answered] == ["pipeline-q4"]


def test_every_objective_has_a_live_campaign_and_the_untethered_one_has_none() -> None:
    s = scenario()
    launched = {a.subject: a.body for a in s.actions if a.kind == "launch_campaign"}
    linked = {o for body in launched.values() for o in body["objective_ids"]}
    assert linked == {"pipeline-q4", "executive-meetings-q4", "acquisition-cost-q4"}
    assert launched["tiktok-flash-promo"]["objective_ids"] == []
    channels = {body["channel"] for body in launched.values()}
    assert channels == {"account_based", "events", "linkedin", "search", "email", "tiktok"}


def test_noise_restatements_and_duplicates() -> None:
    s = scenario()
    tags = Counter(a.tag for a in s.actions)
    assert tags["restatement"] > 60
    assert tags["duplicate"] >= 18
    seen: dict[str, float] = {}
    for action in s.actions:
        if action.kind == "launch_campaign" and action.tag == "duplicate":
            first = next(
                a
                for a in s.actions
                if a.kind == "launch_campaign" and a.subject == action.subject and not a.tag
            )
            assert action.body["event_id"] == first.body["event_id"]
        if action.kind != "observe":
            continue
        for row in action.body:
            oid = row["observation_id"]
            if action.tag == "restatement":
                assert oid in seen and seen[oid] != row["value"]
            elif action.tag == "duplicate":
                assert seen[oid] == row["value"]
            else:
                assert oid not in seen
            seen[oid] = row["value"]
    assert seen == s.final_values


def test_spend_reports_cover_every_live_campaign() -> None:
    s = scenario()
    spend_periods: dict[str, list[tuple[str, str]]] = {}
    for action in s.actions:
        if action.kind == "observe" and not action.tag:
            for row in action.body:
                if row["metric"] == "spend":
                    spend_periods.setdefault(row["campaign_id"], []).append(
                        (row["period_start"], row["period_end"])
                    )
                assert row["period_end"] <= action.at.isoformat().replace("+00:00", "Z")
    for campaign in s.campaigns:
        periods = spend_periods[campaign.campaign_id]
        assert periods[0][0] == campaign.start.isoformat().replace("+00:00", "Z")
        assert periods[-1][1] == campaign.end.isoformat().replace("+00:00", "Z")
        assert all(a[1] == b[0] for a, b in pairwise(periods))


@pytest.mark.parametrize("example", available_examples())
def test_every_example_strategy_plays(example: str) -> None:
    s = scenario(3, example)
    assert s.actions and s.drifts
    assert any(a.kind == "revise_objective" for a in s.actions)
