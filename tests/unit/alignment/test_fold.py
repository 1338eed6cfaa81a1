"""Folding into the projection's tables: idempotence, restatements, versions and links, the
canonical digest, and reading the tables back on both time axes (as_of, known_at)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World, moment
from truenorth.alignment.domain.entities import SpecView
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.facts import Facts, Window
from truenorth.alignment.views import past_objectives
from truenorth.contract.envelope import EnvelopeFields
from truenorth.store.db import make_engine

BASE = (b.strategy_defined(), b.objective_added(), b.launched("c-a"))


def objective_at(
    world: World, at: float = 30, known_at: float | None = None, objective_id: str = "leads-q4"
) -> ObjectiveSnapshot | None:
    known = None if known_at is None else day(known_at)
    return world.snapshot(day(at), known_at=known).objective(WS, objective_id)


def leads_actual(world: World, at: float = 30, known_at: float | None = None) -> float:
    objective = objective_at(world, at, known_at)
    assert objective is not None
    return objective.actual


def sums(world: World, metric: str, window: Window, at: datetime = day(1000)) -> dict[str, float]:
    with world.engine.connect() as connection:
        return Facts(connection, WS, moment(at)).sums(metric, window)


# -- duplicates and restatements -----------------------------------------------------------


def test_duplicate_observation_is_counted_once() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    assert leads_actual(World(*BASE, observation, observation)) == 40
    twice = World(*BASE, observation)
    twice.apply(observation)  # redelivered in a later batch
    assert leads_actual(twice) == 40


def test_restatement_replaces_the_previous_value() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    restatement = b.restated(observation, 55, recorded_at=day(3))
    world = World(*BASE, observation, b.observed("c-a", "leads", 5, day(2)), restatement)
    assert leads_actual(world) == 60


def test_a_resent_observation_with_another_value_replaces_it() -> None:
    first = b.observed("c-a", "leads", 40, day(1), observation_id="x-1")
    second = b.observed("c-a", "leads", 42, day(1), observation_id="x-1", recorded_at=day(4))
    assert leads_actual(World(*BASE, first, second)) == 42


def test_latest_applied_restatement_wins() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    world = World(
        *BASE,
        observation,
        b.restated(observation, 50, recorded_at=day(3)),
        b.restated(observation, 45, recorded_at=day(4)),
    )
    assert leads_actual(world) == 45


def test_a_stale_redelivery_does_not_undo_a_restatement() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    restatement = b.restated(observation, 50, recorded_at=day(3))
    assert leads_actual(World(*BASE, observation, restatement, observation)) == 50
    resent = observation.model_copy(update={"event_id": b.new_event_id()})  # a producer's resend
    world = World(*BASE, observation, restatement)
    world.apply(resent)
    assert leads_actual(world) == 50


def test_a_restatement_arriving_first_still_counts_once() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    restatement = b.restated(observation, 50, recorded_at=day(3))
    assert leads_actual(World(*BASE, restatement, observation)) == 50


def test_a_restatement_can_move_an_observation_to_another_campaign() -> None:
    wrong = b.observed("c-x", "leads", 40, day(1), observation_id="o-1")
    right = b.observed("c-a", "leads", 40, day(1), observation_id="o-1", recorded_at=day(5))
    world = World(*BASE, wrong, right)
    assert leads_actual(world) == 40
    assert sums(world, "leads", None) == {"c-a": 40, "c-x": 0}


def test_restating_values_in_a_long_series_keeps_window_sums_exact() -> None:
    hourly = [
        b.observed("c-a", "leads", 1, day(0) + timedelta(hours=h), day(0) + timedelta(hours=h + 1))
        for h in range(24 * 40)
    ]
    restatements = [b.restated(hourly[h], 5, day(41)) for h in range(0, len(hourly), 7)]
    world = World(*BASE, *hourly)
    world.apply(*restatements)  # a later batch
    expected = [5 if h % 7 == 0 else 1 for h in range(len(hourly))]
    assert leads_actual(world, at=45) == sum(expected)  # the whole series
    assert leads_actual(world, at=10) == sum(expected[: 24 * 10])  # only periods ended by then
    direct = World(
        *BASE,
        *[
            b.observed("c-a", "leads", v, o.data.period_start, o.data.period_end)
            for v, o in zip(expected, hourly, strict=True)
        ],
    )
    for low, high in ((10, 20), (0, 40), (3.5, 3.75), (39, 70)):
        window = (to_micros(day(low)), to_micros(day(high)))
        assert sums(world, "leads", window) == sums(direct, "leads", window)


def test_restated_fractional_values_sum_exactly_whatever_the_batches() -> None:
    """A restated period counts exactly its new value, however the batches were cut: a live
    projector and a replay (20 000 events a batch) store the same figures and digest."""
    observation = b.observed("c-a", "spend", 0.2, day(1))
    restatement = b.restated(observation, 0.9, recorded_at=day(3))
    other = b.observed("c-a", "spend", 0.7, day(2))
    events = [observation, other, restatement]
    one_batch = World(*BASE, *events)
    batch_each = World(*BASE)
    batch_each.apply_each(*events)
    window = (to_micros(day(1)), to_micros(day(2)))
    for world in (one_batch, batch_each):
        assert sums(world, "spend", window) == {"c-a": 0.9}  # not 0.8999999999999999
        assert sums(world, "spend", None) == {"c-a": 0.9 + 0.7}
    assert batch_each.digest() == one_batch.digest()


def test_a_long_series_folded_out_of_period_order_answers_like_the_ordered_fold() -> None:
    hourly = [
        b.observed(
            "c-a", "leads", h % 5, day(0) + timedelta(hours=h), day(0) + timedelta(hours=h + 1)
        )
        for h in range(24 * 60)
    ]
    ordered = World(*BASE, *hourly)
    reversed_ = World(*BASE, *reversed(hourly))
    assert reversed_.digest() == ordered.digest()
    for low, high in ((0, 30), (3, 17), (10, 11), (59, 70)):
        window = (to_micros(day(low)), to_micros(day(high)))
        assert sums(reversed_, "leads", window) == sums(ordered, "leads", window)
    reversed_.apply(b.restated(hourly[5], 40, recorded_at=day(70)))
    assert leads_actual(reversed_, at=61) == sum(h % 5 for h in range(24 * 60)) + 40


# -- the plan and the campaigns ---------------------------------------------------------------


def test_objectives_are_revised_and_retired() -> None:
    revised = b.spec(target=2000, name="Leads Q4 (stretch)")
    world = World(*BASE, b.objective_revised(revised))
    objective = world.snapshot(day(1)).objective(WS, "leads-q4")
    assert objective is not None and (objective.target, objective.name) == (
        2000,
        "Leads Q4 (stretch)",
    )
    world.apply(b.objective_retired())
    assert world.snapshot(day(1)).objective(WS, "leads-q4") is None


def test_guardrails_merge_defaults_strategy_and_objective_override() -> None:
    world = World(
        *BASE,
        b.guardrails_set(idle_days=3, stale_hours=12),
        b.guardrails_set("leads-q4", stale_hours=6),
    )
    view = world.view(WS, day(1))
    merged = view.effective_guardrails(view.objectives["leads-q4"])
    assert (merged.idle_days, merged.stale_hours, merged.on_track_pace) == (3, 6, 0.95)


def test_budget_plans_latest_wins_and_periods_can_be_removed() -> None:
    world = World(*BASE, b.budget_planned(budget=1000), b.budget_planned(budget=2000))
    assert world.view(WS, day(1)).strategies[b.STRATEGY].periods["q4"].budget == 2000
    world.apply(b.period_removed())
    assert world.view(WS, day(1)).strategies[b.STRATEGY].periods == {}


def test_strategy_changes_are_counted_per_event_type() -> None:
    world = World(*BASE, b.budget_planned(at=day(2)), b.budget_planned(at=day(3)))
    [changes] = world.snapshot(day(5)).strategies
    assert dict(changes.counts) == {"StrategyDefined": 1, "ObjectiveAdded": 1, "BudgetPlanned": 2}
    assert changes.last_change_seconds == day(3).timestamp()


def test_campaign_lifecycle_records_when_it_went_live_and_stopped() -> None:
    world = World(
        *BASE,
        b.paused("c-a", day(3)),
        b.resumed("c-a", day(5)),
        b.paused("c-a", day(8)),
        b.ended("c-a", day(9)),
    )
    campaign = world.view(WS, day(10)).campaigns["c-a"]
    assert campaign.status == "ended"
    assert campaign.went_live == to_micros(day(5))
    assert campaign.stopped == to_micros(day(8))
    on_day_6 = world.view(WS, day(6)).campaigns["c-a"]
    assert (on_day_6.status, on_day_6.stopped) == ("live", to_micros(day(3)))


def test_links_follow_linked_and_unlinked_events() -> None:
    second = b.objective_added(b.spec(objective_id="signups", name="Signups", kpi="signups"))
    world = World(*BASE, second, b.linked("c-a", "signups"), b.unlinked("c-a", "leads-q4"))
    view = world.live_view(WS, day(1))
    assert view.campaigns["c-a"].objective_ids == ("signups",)
    assert [c.campaign_id for c in view.linked_campaigns("signups")] == ["c-a"]
    assert view.linked_campaigns("leads-q4") == []


def test_a_campaign_relinked_later_counts_in_each_interval_it_was_linked() -> None:
    world = World(
        *BASE,
        *b.daily("c-a", "leads", [10] * 30),
        b.unlinked("c-a", "leads-q4", at=day(10)),
        b.linked("c-a", "leads-q4", at=day(20)),
    )

    def linked_on(n: float) -> tuple[str, ...]:
        return world.view(WS, day(n)).campaigns["c-a"].objective_ids

    assert (linked_on(5), linked_on(15), linked_on(25)) == (("leads-q4",), (), ("leads-q4",))
    assert leads_actual(world, at=5) == 50
    assert leads_actual(world, at=15) == 0  # not linked at 15: none of its leads count
    assert leads_actual(world, at=25) == 250
    assert world.live_view(WS, day(30)).campaigns["c-a"].objective_ids == ("leads-q4",)


def test_a_link_dropped_and_remade_at_the_same_instant_is_one_interval() -> None:
    once = World(*BASE)
    twice = World(*BASE, b.unlinked("c-a", "leads-q4", at=b.T0))  # as launched
    twice.apply(b.linked("c-a", "leads-q4", at=b.T0))
    for n in (0, 5):
        assert twice.view(WS, day(n)).campaigns["c-a"].objective_ids == ("leads-q4",)
    assert twice.digest() == once.digest()


def test_a_link_dropped_and_remade_at_the_same_instant_in_one_batch_is_one_interval() -> None:
    once = World(*BASE)
    twice = World(
        *BASE,
        b.unlinked("c-a", "leads-q4", at=b.T0),
        b.linked("c-a", "leads-q4", at=b.T0),
    )
    assert twice.view(WS, day(5)).campaigns["c-a"].objective_ids == ("leads-q4",)
    assert twice.digest() == once.digest()


def test_a_campaign_known_only_by_its_metrics_counts_once_it_is_launched() -> None:
    world = World(
        b.strategy_defined(),
        b.objective_added(),
        b.budget_planned(),
        b.observed("c-m", "leads", 30, day(1)),
        b.observed("c-m", "spend", 100, day(1)),
    )
    assert not world.view(WS, day(5)).campaigns["c-m"].launched
    assert leads_actual(world, at=5) == 0
    [workspace] = [a for a in world.snapshot(day(5)).aligned_spend if a.strategy_id is None]
    assert (workspace.aligned_spend, workspace.total_spend) == (0, 100)

    world.apply(b.launched("c-m", at=day(3)))
    launched = world.view(WS, day(5)).campaigns["c-m"]
    assert (launched.launched, launched.objective_ids) == (True, ("leads-q4",))
    assert leads_actual(world, at=5) == 30
    [workspace] = [a for a in world.snapshot(day(5)).aligned_spend if a.strategy_id is None]
    assert (workspace.aligned_spend, workspace.total_spend) == (100, 100)  # counted once
    objective = objective_at(world, 5)
    assert objective is not None and [c.spend for c in objective.campaigns] == [100]


def test_kept_specs_equal_the_events_offsets_included() -> None:
    east = timezone(timedelta(hours=2))
    first = b.spec("leads-q4", cost_per_outcome=40.0)
    second = b.spec("signups-q4", kpi="signups", start=day(1).astimezone(east))
    world = World(b.strategy_defined(), b.objective_added(first), b.objective_added(second))
    kept = {o: world.view(WS, day(2)).objectives[o].spec for o in ("leads-q4", "signups-q4")}
    assert kept == {"leads-q4": SpecView.of(first), "signups-q4": SpecView.of(second)}
    for original in (first, second):
        stored = kept[original.objective_id]
        assert stored is not None
        for field in ("start", "deadline"):
            assert getattr(stored, field).isoformat() == getattr(original, field).isoformat()
    signups = kept["signups-q4"]
    assert signups is not None and signups.start.utcoffset() == timedelta(hours=2)


def test_a_snapshot_read_after_a_fold_sees_it() -> None:
    late = b.observed("c-a", "leads", 70, day(19), day(20), observation_id="late")
    world = World(*BASE, *b.daily("c-a", "leads", [10] * 20))
    first = objective_at(world, 20)
    world.apply(late)
    after = objective_at(world, 20)
    fresh = objective_at(World(*BASE, *b.daily("c-a", "leads", [10] * 20), late), 20)
    assert first is not None and after is not None and fresh is not None
    assert after.actual == first.actual + 70
    assert after == fresh and after.run_rate_per_day > first.run_rate_per_day


# -- the digest --------------------------------------------------------------------------------


def test_the_digest_is_stable_and_follows_the_facts() -> None:
    events = [*BASE, b.budget_planned(), *b.daily("c-a", "leads", [1, 2, 3])]
    world = World(*events)
    digest = world.digest()
    assert world.digest() == digest  # reading changes nothing
    world.snapshot(day(3))
    world.transitions(day(50))  # drift rows are not the fold of the source streams
    assert world.digest() == digest
    world.apply(*events)  # redelivered: already processed
    assert world.digest() == digest
    world.apply(b.observed("c-a", "leads", 1, day(10)))
    assert world.digest() != digest


def test_the_digest_of_a_store_reopened_between_batches_equals_one_fold(tmp_path: Path) -> None:
    events = [
        *BASE,
        b.budget_planned(),
        b.guardrails_set("leads-q4", idle_days=2),
        b.drift_acknowledged("some-drift", day(2)),
        *b.daily("c-a", "leads", [1, 2, 3]),
        *b.daily("c-a", "spend", [100, 200]),
        b.ended("c-a", day(4)),
    ]
    url = f"sqlite:///{tmp_path}/alignment.db"
    for event in events:
        World(event, engine=make_engine(url))  # a restart between every event
    reopened = World(engine=make_engine(url))
    assert reopened.digest() == World(*events).digest()
    assert leads_actual(reopened) == 6


# -- property: order, duplication and batches do not matter -----------------------------------


def _scenario() -> tuple[list[list[EnvelopeFields]], list[list[EnvelopeFields]]]:
    """Ordered per-aggregate streams (strategy, each campaign), and each observation id's
    values in the order they were recorded (the original, then restatements)."""
    strategy = [
        b.strategy_defined(),
        b.objective_added(),
        b.objective_added(b.spec(objective_id="signups", name="Signups", kpi="signups")),
        b.budget_planned(),
        b.guardrails_set("signups", idle_days=3),
        b.objective_retired("signups", at=day(5)),
        b.objective_revised(b.spec(target=1500), at=day(6)),
    ]
    campaigns = [
        [b.launched("c-a"), b.paused("c-a", day(4)), b.resumed("c-a", day(6))],
        [
            b.launched("c-b", ("signups",), channel="search"),
            b.linked("c-b", "leads-q4", at=day(1)),
            b.unlinked("c-b", "signups", at=day(2)),
        ],
        [b.launched("c-c", (), channel="events"), b.budget_changed("c-c", 500, at=day(3))],
    ]
    observations: list[list[EnvelopeFields]] = []
    for campaign in ("c-a", "c-b", "c-c", "c-metrics-only"):
        for metric in ("leads", "spend"):
            for i in range(3):
                observation = b.observed(campaign, metric, 10.1 + i, day(i))
                values: list[EnvelopeFields] = [observation]
                if i == 1:
                    later = observation.recorded_at + timedelta(hours=1)
                    values.append(b.restated(observation, 99.3, recorded_at=later))
                    values.append(b.restated(observation, 7.7, recorded_at=later + timedelta(1)))
                observations.append(values)
    moved = b.observed("c-a", "leads", 3.3, day(4), observation_id="moved")
    observations.append(
        [moved, b.observed("c-c", "leads", 3.3, day(4), observation_id="moved", recorded_at=day(6))]
    )
    return [strategy, *campaigns], observations


STREAMS, OBSERVATIONS = _scenario()
ORDERED = [*(e for stream in STREAMS for e in stream), *(e for o in OBSERVATIONS for e in o)]
REFERENCE = World(*ORDERED).digest()


def _interleave(rng: random.Random, duplicate_share: float) -> list[EnvelopeFields]:
    """Aggregates interleaved at random (each in its own order), events redelivered at once
    or any time later (same event id), old values resent later (new event id)."""
    queues = [list(stream) for stream in [*STREAMS, *OBSERVATIONS]]
    out: list[EnvelopeFields] = []
    while queues:
        queue = rng.choice(queues)
        event = queue.pop(0)
        out.append(event)
        if rng.random() < duplicate_share:
            out.append(event)  # immediate redelivery
        if not queue:
            queues.remove(queue)
    for event in [e for e in ORDERED if rng.random() < duplicate_share]:
        out.insert(rng.randrange(out.index(event), len(out) + 1), event)  # redelivered later
    for values in OBSERVATIONS:
        if len(values) > 1 and rng.random() < duplicate_share:
            first = values[0]
            assert first.data.observation_id  # type: ignore[attr-defined]
            resent = first.model_copy(update={"event_id": b.new_event_id()})
            out.insert(rng.randrange(out.index(values[-1]) + 1, len(out) + 1), resent)
    return out


def _fold_in_batches(events: list[EnvelopeFields], sizes: list[int]) -> World:
    world = World()
    start, turn = 0, 0
    while start < len(events):
        size = sizes[turn % len(sizes)]
        world.apply(*events[start : start + size])
        start, turn = start + size, turn + 1
    return world


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    duplicate_share=st.sampled_from([0.0, 0.2, 0.6]),
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=4),
)
def test_any_interleaving_with_duplicates_folds_to_the_same_tables(
    seed: int, duplicate_share: float, sizes: list[int]
) -> None:
    events = _interleave(random.Random(seed), duplicate_share)
    assert _fold_in_batches(events, sizes).digest() == REFERENCE


# -- time travel: as_of (the world's time) and known_at (what truenorth had recorded) ------------


def test_a_restatement_recorded_after_t_is_invisible_known_at_t_and_visible_without() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))  # recorded at its period end, day 2
    world = World(*BASE, observation, b.restated(observation, 55, recorded_at=day(10)))
    assert leads_actual(world, at=5, known_at=5) == 40  # what the dashboard showed at day 5
    assert leads_actual(world, at=5) == 55  # what we now know about day 5
    assert leads_actual(world, at=5, known_at=10) == 55
    assert leads_actual(world, at=5, known_at=1.5) == 0  # not recorded yet


def test_a_target_revised_after_t_shows_the_old_target_as_of_t() -> None:
    stretch = b.spec(target=2000, name="Leads Q4 (stretch)")
    world = World(*BASE, b.objective_revised(stretch, at=day(10)))
    before, after = objective_at(world, 5), objective_at(world, 11)
    assert before is not None and (before.target, before.name) == (1000, "Leads Q4")
    assert after is not None and (after.target, after.name) == (2000, "Leads Q4 (stretch)")
    world.apply(b.objective_retired(at=day(20)))
    assert objective_at(world, 15) is not None and objective_at(world, 21) is None
    assert objective_at(world, -1) is None  # before it was added


def test_a_campaign_unlinked_after_t_still_counts_as_of_t() -> None:
    world = World(*BASE, *b.daily("c-a", "leads", [10] * 5), b.unlinked("c-a", "leads-q4", day(10)))
    assert leads_actual(world, at=8) == 50
    assert leads_actual(world, at=11) == 0
    assert leads_actual(world, at=11, known_at=9) == 50  # the unlink was not recorded by then
    live = world.snapshot(day(11), live=True).objective(WS, "leads-q4")
    assert live is not None and live.actual == 0


def test_observations_whose_period_ends_after_t_do_not_count_as_of_t() -> None:
    world = World(
        *BASE,
        b.observed("c-a", "leads", 7, day(1), day(2)),
        b.observed("c-a", "leads", 40, day(4), day(6), recorded_at=day(6)),
    )
    assert leads_actual(world, at=5) == 7  # the second period is still running at day 5
    assert leads_actual(world, at=6) == 47
    assert leads_actual(world, at=2) == 7
    assert leads_actual(world, at=1.9) == 0


def test_a_campaign_paused_after_t_is_live_as_of_t() -> None:
    world = World(*BASE, b.paused("c-a", day(10)))
    assert world.view(WS, day(5)).campaigns["c-a"].status == "live"
    assert world.view(WS, day(11)).campaigns["c-a"].status == "paused"
    assert world.view(WS, day(11), known_at=day(5)).campaigns["c-a"].status == "live"


FIGURES = ("objectives", "channels", "aligned_spend", "strategies")


@settings(max_examples=15, deadline=None)
@given(hours=st.integers(0, 24 * 8))
def test_as_of_t_known_at_t_is_what_the_dashboard_showed_at_t(hours: int) -> None:
    """The figures read back at (T, T) equal the live figures of a store that had folded
    only what was recorded by T."""
    at = day(0) + timedelta(hours=hours)
    then = World(*(e for e in ORDERED if e.recorded_at <= at)).snapshot(at, live=True)
    now = World(*ORDERED).snapshot(at, known_at=at)
    for name in FIGURES:
        assert getattr(now, name) == getattr(then, name), name


def test_the_live_snapshot_equals_the_snapshot_as_of_now() -> None:
    """Once every event has occurred (the live view reads the newest rows, whenever they
    occurred: an event dated in the future already shows live)."""
    world = World(*ORDERED)
    for n in (7, 8.5, 50):
        world.transitions(day(n))  # drifts open and resolve
        live, as_of = world.snapshot(day(n), live=True), world.snapshot(day(n))
        assert live == as_of and live.objectives and live.drifts.counts
        assert world.snapshot(day(n), known_at=day(1000)) == as_of


def test_a_revision_recorded_late_about_an_earlier_time_shows_only_without_known_at() -> None:
    stretch = b.spec(target=2000)
    backdated = b.objective_revised(stretch, at=day(3)).model_copy(update={"recorded_at": day(10)})
    world = World(*BASE, backdated)
    now_known = objective_at(world, 5)
    shown_then = objective_at(world, 5, known_at=5)
    assert now_known is not None and now_known.target == 2000  # what we now know about day 5
    assert shown_then is not None and shown_then.target == 1000  # what the dashboard showed
    before = objective_at(world, 2)
    assert before is not None and before.target == 1000


@pytest.mark.parametrize(
    ("at", "known_at", "live"), [(5, None, False), (5, 5, False), (50, None, True)]
)
async def test_the_objective_endpoints_read_the_objectives_a_whole_snapshot_shows(
    at: float, known_at: float | None, live: bool
) -> None:
    world = World(*ORDERED)
    world.transitions(day(8.5))  # drifts open: a whole snapshot also folds them
    reading = moment(day(at), None if known_at is None else day(known_at), live=live)
    found = await past_objectives(world.engine, reading, WS)
    whole = world.snapshot(day(at), None if known_at is None else day(known_at), live=live)
    assert found.objectives == whole.objectives and found.objectives
    assert found.at == whole.at
