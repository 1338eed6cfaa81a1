"""The live plans kept between snapshot builds: read again after any plan event, never after
metric observations alone, and a live snapshot with them equals one read afresh."""

from __future__ import annotations

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.world import CONSUMER, World, moment
from truenorth.alignment.domain.drift import DriftTransition
from truenorth.alignment.store import plans as plans_module
from truenorth.alignment.store.facts import Facts
from truenorth.alignment.store.fold import fold_batch
from truenorth.alignment.store.plans import LivePlans
from truenorth.alignment.store.read import read_workspace
from truenorth.alignment.views import build_snapshot
from truenorth.contract.envelope import EnvelopeFields
from truenorth.contract.registry import encode

NOW = day(20)


class Stream:
    """One source stream folded as the projector does: batches moving its checkpoint."""

    def __init__(self, world: World, name: str) -> None:
        self.world, self.name, self.position = world, name, 0

    def fold(self, *events: EnvelopeFields) -> None:
        messages = [(self.position + i + 1, "", encode(event), 1) for i, event in enumerate(events)]
        with self.world.engine.begin() as connection:
            fold_batch(connection, CONSUMER, self.name, self.position, messages)
        self.position += len(events)


@pytest.fixture
def streams() -> tuple[World, Stream, Stream, Stream]:
    world = World()
    strategy, campaigns, metrics = (Stream(world, s) for s in ("STRATEGY", "CAMPAIGNS", "METRICS"))
    strategy.fold(b.strategy_defined(), b.objective_added())
    campaigns.fold(b.launched("c-a"))
    return world, strategy, campaigns, metrics


def live(world: World, plans: LivePlans | None = None):  # type: ignore[no-untyped-def]
    return build_snapshot(world.engine, NOW, plans=plans)


def plan_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = plans_module.read_workspace

    def counting(connection, workspace, moment, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(workspace)
        return real(connection, workspace, moment, **kwargs)

    monkeypatch.setattr(plans_module, "read_workspace", counting)
    return reads


def test_metric_observations_alone_reuse_the_plan_read_last_time(
    streams: tuple[World, Stream, Stream, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _strategy, _campaigns, metrics = streams
    reads = plan_reads(monkeypatch)
    plans = LivePlans()
    live(world, plans)
    metrics.fold(b.observed("c-a", "leads", 3, day(1)))
    metrics.fold(b.observed("c-a", "leads", 4, day(2)))
    snapshot = live(world, plans)
    assert len(reads) == 1
    assert snapshot == live(world)
    assert snapshot.objectives[0].actual == 7


def test_a_campaign_launched_after_the_last_build_is_in_the_next(
    streams: tuple[World, Stream, Stream, Stream],
) -> None:
    world, _strategy, campaigns, _metrics = streams
    plans = LivePlans()
    assert len(live(world, plans).objectives[0].campaigns) == 1
    campaigns.fold(b.launched("c-b"))
    snapshot = live(world, plans)
    assert [c.campaign_id for c in snapshot.objectives[0].campaigns] == ["c-a", "c-b"]
    assert snapshot == live(world)


def test_a_revised_target_shows_in_the_next_build(
    streams: tuple[World, Stream, Stream, Stream],
) -> None:
    world, strategy, _campaigns, _metrics = streams
    plans = LivePlans()
    live(world, plans)
    strategy.fold(b.objective_revised(b.spec(target=999), at=day(3)))
    assert live(world, plans).objectives[0].target == 999


def judged_pair() -> tuple[tuple[Stream, Stream, Stream], tuple[Stream, Stream, Stream]]:
    """Two identical projections, each as (strategy, campaigns, metrics) streams: a live
    campaign whose data stopped, and spend on a campaign known only from its metrics."""
    pair = []
    for _ in range(2):
        world = World()
        strategy, campaigns, metrics = (
            Stream(world, s) for s in ("STRATEGY", "CAMPAIGNS", "METRICS")
        )
        strategy.fold(b.strategy_defined(), b.objective_added())
        campaigns.fold(b.launched("c-a", start=day(1)))
        metrics.fold(*b.daily("c-a", "spend", [100] * 3), *b.daily("c-x", "spend", [50] * 3))
        pair.append((strategy, campaigns, metrics))
    return pair[0], pair[1]


def judged(transitions: list[DriftTransition]) -> list[tuple[str, str, str, str]]:
    return [(t.action, t.data.kind, t.data.drift_id, t.data.explanation) for t in transitions]


def test_a_tick_on_the_kept_plans_judges_what_a_fresh_reading_judges() -> None:
    (_, kept_campaigns, _), (_, fresh_campaigns, _) = judged_pair()
    kept, fresh = kept_campaigns.world, fresh_campaigns.world
    plans = LivePlans()
    live(kept, plans)  # the snapshot's build read the plans first

    first = kept.transitions(day(9), plans)
    assert judged(first) == judged(fresh.transitions(day(9)))
    found = {(t.data.kind, t.data.severity, t.data.campaign_ids) for t in first}
    # the campaign's own drift (info), beside the workspace's share of untethered spend
    assert ("untethered_spend", "info", ("c-x",)) in found
    assert ("stale_data", "warning", ("c-a",)) in found

    for campaigns in (kept_campaigns, fresh_campaigns):
        campaigns.fold(b.ended("c-a", day(9)))
    second = kept.transitions(day(10), plans)
    assert judged(second) == judged(fresh.transitions(day(10)))
    assert ("resolved", "stale_data") in {(t.action, t.data.kind) for t in second}


def test_readings_of_the_facts_share_the_plans_campaign_ids(
    streams: tuple[World, Stream, Stream, Stream],
) -> None:
    """At 100 000 campaigns a reading is a dict over every campaign, several of them a tick:
    a string of its own per key doubled what each held."""
    world, _strategy, campaigns, metrics = streams
    campaigns.fold(b.launched("c-" + "b" * 40))
    metrics.fold(*(b.observed(c, "spend", 10, day(5)) for c in ("c-a", "c-" + "b" * 40)))
    with world.engine.connect() as connection:
        when = moment(NOW, live=True)
        view = read_workspace(connection, b.WS, when)
        facts = Facts(connection, b.WS, when)
        for reading in (facts.sums("spend", None), facts.counts("spend", None), facts.reports()):
            for campaign_id in reading:
                assert campaign_id is view.campaigns[campaign_id].campaign_id


def test_a_plan_of_more_campaigns_than_are_kept_keeps_none_and_shows_what_a_fresh_reading_shows(
    streams: tuple[World, Stream, Stream, Stream], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, _strategy, campaigns, metrics = streams
    campaigns.fold(b.launched("c-b"))
    monkeypatch.setattr(plans_module, "KEPT_CAMPAIGNS", 1)
    plans = LivePlans()
    assert live(world, plans) == live(world)
    with world.engine.connect() as connection:
        kept = plans.read(connection, b.WS, moment(NOW, live=True))
    assert not kept.keeps_campaigns and kept.view.campaigns == {}
    metrics.fold(b.observed("c-b", "leads", 3, day(1)))
    snapshot = live(world, plans)
    assert snapshot == live(world)
    assert snapshot.objectives[0].actual == 3
    campaigns.fold(b.launched("c-c"))
    assert [c.campaign_id for c in live_contributions(world, plans)] == ["c-a", "c-b", "c-c"]


def live_contributions(world: World, plans: LivePlans):  # type: ignore[no-untyped-def]
    return build_snapshot(world.engine, NOW, plans=plans).objectives[0].campaigns
