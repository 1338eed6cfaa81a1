"""Folding: idempotence, restatements, persistence rows and the canonical digest."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import build_snapshot
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.contract.envelope import EnvelopeFields


def fold(*events: EnvelopeFields) -> Projection:
    projection = Projection()
    for event in events:
        projection.apply(event)
    return projection


def leads_actual(projection: Projection, at: int = 30) -> float:
    objective = build_snapshot(projection, day(at)).objective(WS, "leads-q4")
    assert objective is not None
    return objective.actual


BASE = (b.strategy_defined(), b.objective_added(), b.launched("c-a"))


def test_restating_values_in_a_long_series_keeps_window_sums_exact() -> None:
    hourly = [
        b.observed("c-a", "leads", 1, day(0) + timedelta(hours=h), day(0) + timedelta(hours=h + 1))
        for h in range(24 * 40)
    ]
    restatements = [b.restated(hourly[h], 5, day(41)) for h in range(0, len(hourly), 7)]
    projection = fold(*BASE, *hourly, *restatements)
    expected = [5 if h % 7 == 0 else 1 for h in range(len(hourly))]
    assert leads_actual(projection, at=45) == sum(expected)  # the whole series
    assert leads_actual(projection, at=10) == sum(expected)  # actual covers the window
    direct = fold(
        *BASE,
        *[
            b.observed("c-a", "leads", v, o.data.period_start, o.data.period_end)
            for v, o in zip(expected, hourly, strict=True)
        ],
    )
    [series] = projection.workspace(WS).campaign("c-a").all_series(projection.arrays)
    [direct_series] = direct.workspace(WS).campaign("c-a").all_series(direct.arrays)
    window = (to_micros(day(10)), to_micros(day(20)))
    assert projection.arrays.sum_within(series, *window) == direct.arrays.sum_within(
        direct_series, *window
    )


def test_duplicate_observation_is_counted_once() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    projection = fold(*BASE, observation, observation)
    assert leads_actual(projection) == 40


def test_restatement_replaces_the_previous_value() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    restatement = b.restated(observation, 55, recorded_at=day(3))
    projection = fold(*BASE, observation, b.observed("c-a", "leads", 5, day(2)), restatement)
    assert leads_actual(projection) == 60


def test_a_resent_observation_with_another_value_replaces_it() -> None:
    first = b.observed("c-a", "leads", 40, day(1), observation_id="x-1")
    second = b.observed("c-a", "leads", 42, day(1), observation_id="x-1", recorded_at=day(4))
    assert leads_actual(fold(*BASE, first, second)) == 42


def test_latest_applied_restatement_wins() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    projection = fold(
        *BASE,
        observation,
        b.restated(observation, 50, recorded_at=day(3)),
        b.restated(observation, 45, recorded_at=day(4)),
    )
    assert leads_actual(projection) == 45


def test_a_stale_redelivery_does_not_undo_a_restatement() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    restatement = b.restated(observation, 50, recorded_at=day(3))
    assert leads_actual(fold(*BASE, observation, restatement, observation)) == 50


def test_a_restatement_arriving_first_still_counts_once() -> None:
    observation = b.observed("c-a", "leads", 40, day(1))
    restatement = b.restated(observation, 50, recorded_at=day(3))
    assert leads_actual(fold(*BASE, restatement, observation)) == 50


def test_a_restatement_can_move_an_observation_to_another_campaign() -> None:
    wrong = b.observed("c-x", "leads", 40, day(1), observation_id="o-1")
    right = b.observed("c-a", "leads", 40, day(1), observation_id="o-1", recorded_at=day(5))
    projection = fold(*BASE, wrong, right)
    assert leads_actual(projection) == 40
    moved_from = projection.workspaces[WS].campaigns["c-x"].series_of("leads", projection.arrays)
    assert moved_from is not None and projection.arrays.total(moved_from) == 0


def test_objectives_are_revised_and_retired() -> None:
    revised = b.spec(target=2000, name="Leads Q4 (stretch)")
    projection = fold(*BASE, b.objective_revised(revised))
    objective = build_snapshot(projection, day(1)).objective(WS, "leads-q4")
    assert objective is not None and objective.target == 2000
    projection.apply(b.objective_retired())
    assert build_snapshot(projection, day(1)).objective(WS, "leads-q4") is None


def test_guardrails_merge_defaults_strategy_and_objective_override() -> None:
    projection = fold(
        *BASE,
        b.guardrails_set(idle_days=3, stale_hours=12),
        b.guardrails_set("leads-q4", stale_hours=6),
    )
    objective = projection.workspaces[WS].objectives["leads-q4"]
    merged = projection.effective_guardrails(WS, objective)
    assert (merged.idle_days, merged.stale_hours, merged.on_track_pace) == (3, 6, 0.95)


def test_budget_plans_latest_wins_and_periods_can_be_removed() -> None:
    projection = fold(*BASE, b.budget_planned(budget=1000), b.budget_planned(budget=2000))
    strategy = projection.workspaces[WS].strategies[b.STRATEGY]
    assert strategy.periods["q4"].budget == 2000
    projection.apply(b.period_removed())
    assert strategy.periods == {}


def test_campaign_lifecycle_records_when_it_went_live_and_stopped() -> None:
    projection = fold(
        *BASE,
        b.paused("c-a", day(3)),
        b.resumed("c-a", day(5)),
        b.paused("c-a", day(8)),
        b.ended("c-a", day(9)),
    )
    campaign = projection.workspaces[WS].campaigns["c-a"]
    assert campaign.status == "ended"
    assert campaign.went_live == to_micros(day(5))
    assert campaign.stopped == to_micros(day(8))


def test_links_follow_linked_and_unlinked_events() -> None:
    second = b.objective_added(b.spec(objective_id="signups", name="Signups", kpi="signups"))
    projection = fold(*BASE, second, b.linked("c-a", "signups"), b.unlinked("c-a", "leads-q4"))
    workspace = projection.workspaces[WS]
    assert workspace.campaigns["c-a"].objective_ids == ("signups",)
    assert [c.campaign_id for c in workspace.linked_campaigns("signups")] == ["c-a"]
    assert workspace.linked_campaigns("leads-q4") == []


def test_digest_ignores_dirty_tracking() -> None:
    projection = fold(*BASE, b.observed("c-a", "leads", 1, day(1)))
    before = projection.digest()
    projection.clear_dirty()
    assert projection.digest() == before


def test_from_rows_restores_the_same_state() -> None:
    events = [
        *BASE,
        b.budget_planned(),
        b.guardrails_set("leads-q4", idle_days=2),
        b.drift_acknowledged("some-drift", day(2)),
        *b.daily("c-a", "leads", [1, 2, 3]),
        *b.daily("c-a", "spend", [100, 200]),
        b.ended("c-a", day(4)),
    ]
    projection = fold(*events)
    restored = Projection.from_rows(projection.dirty_rows())
    assert restored.digest() == projection.digest()
    assert leads_actual(restored) == 6


def test_rows_are_json_serialisable_and_keys_fit_the_store() -> None:
    import json

    projection = fold(*BASE, *b.daily("c-a", "leads", [1, 2]), b.budget_planned())
    for kind, key, payload in projection.dirty_rows():
        assert len(kind) <= 30 and len(key) <= 300
        json.dumps(payload)


# -- property: order and duplication do not matter ------------------------------------------


def _scenario() -> tuple[list[list[EnvelopeFields]], list[EnvelopeFields]]:
    """Ordered per-aggregate streams (strategy, each campaign) and metric events."""
    strategy = [
        b.strategy_defined(),
        b.objective_added(),
        b.objective_added(b.spec(objective_id="signups", name="Signups", kpi="signups")),
        b.budget_planned(),
        b.guardrails_set("signups", idle_days=3),
        b.objective_retired("signups"),
    ]
    campaigns = [
        [b.launched("c-a"), b.paused("c-a", day(4)), b.resumed("c-a", day(6))],
        [b.launched("c-b", ("signups",), channel="search"), b.linked("c-b", "leads-q4")],
        [b.launched("c-c", (), channel="events"), b.budget_changed("c-c", 500)],
    ]
    metrics: list[EnvelopeFields] = []
    for campaign in ("c-a", "c-b", "c-c"):
        for metric in ("leads", "spend"):
            for i in range(3):
                observation = b.observed(campaign, metric, 10 + i, day(i))
                metrics.append(observation)
                if i == 1:
                    later = observation.recorded_at + timedelta(hours=1)
                    metrics.append(b.restated(observation, 99, recorded_at=later))
                    metrics.append(
                        b.restated(observation, 7, recorded_at=later + timedelta(hours=1))
                    )
    return [strategy, *campaigns], metrics


STREAMS, METRICS = _scenario()
REFERENCE = fold(*[e for stream in STREAMS for e in stream], *METRICS).digest()


def _interleave(rng: random.Random, duplicate_share: float) -> list[EnvelopeFields]:
    queues = [list(stream) for stream in STREAMS] + [[m] for m in METRICS]
    out: list[EnvelopeFields] = []
    while queues:
        queue = rng.choice(queues)
        event = queue.pop(0)
        out.append(event)
        if rng.random() < duplicate_share:
            out.append(event)  # immediate redelivery
        if not queue:
            queues.remove(queue)
    redelivered = [m for m in METRICS if rng.random() < duplicate_share]
    for event in redelivered:  # metrics redelivered any time later
        out.insert(rng.randrange(len(out) + 1), event)
    return out


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), duplicate_share=st.sampled_from([0.0, 0.2, 0.6]))
def test_any_interleaving_with_duplicates_folds_to_the_same_digest(
    seed: int, duplicate_share: float
) -> None:
    events = _interleave(random.Random(seed), duplicate_share)
    assert fold(*events).digest() == REFERENCE


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 20))
def test_from_rows_of_accumulated_dirty_rows_restores_the_same_digest(
    seed: int, batch: int
) -> None:
    events = _interleave(random.Random(seed), 0.2)
    projection = Projection()
    stored: dict[tuple[str, str], dict[str, object]] = {}
    for start in range(0, len(events), batch):
        for event in events[start : start + batch]:
            projection.apply(event)
        for kind, key, payload in projection.dirty_rows():
            stored[(kind, key)] = payload
        projection.clear_dirty()
    rows = [(kind, key, payload) for (kind, key), payload in stored.items()]
    random.Random(seed).shuffle(rows)
    restored = Projection.from_rows(rows)
    assert restored.digest() == projection.digest() == REFERENCE
    # and a restored projection keeps folding like the original
    late = b.observed("c-a", "leads", 1, day(20))
    projection.apply(late)
    restored.apply(late)
    assert restored.digest() == projection.digest()


def test_unknown_row_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown projection row kind"):
        Projection.from_rows([("bogus", "ws/x", {})])


def test_a_live_snapshot_reuses_a_run_rate_younger_than_a_second() -> None:
    late = b.observed("c-a", "leads", 70, day(19), day(20), observation_id="late")
    projection = fold(*BASE, *b.daily("c-a", "leads", [10] * 20))
    first = build_snapshot(projection, day(20)).objective(WS, "leads-q4")
    projection.apply(late)
    soon = build_snapshot(projection, day(20) + timedelta(milliseconds=500)).objective(
        WS, "leads-q4"
    )
    later = build_snapshot(projection, day(20) + timedelta(seconds=2)).objective(WS, "leads-q4")
    fresh = build_snapshot(
        fold(*BASE, *b.daily("c-a", "leads", [10] * 20), late), day(20) + timedelta(seconds=2)
    ).objective(WS, "leads-q4")
    assert first is not None and soon is not None and later is not None and fresh is not None
    assert soon.actual == first.actual + 70  # the data is live
    assert soon.run_rate_per_day == first.run_rate_per_day  # the trailing rate is reused
    assert later.run_rate_per_day == fresh.run_rate_per_day > first.run_rate_per_day


def test_kept_specs_equal_the_events_and_share_what_is_the_same() -> None:
    """The projection keeps one spec per objective for as long as it runs: it keeps the
    values (and their JSON) and shares the rest."""
    from datetime import timezone

    east = timezone(timedelta(hours=2))
    first = b.spec("leads-q4", cost_per_outcome=40.0)
    second = b.spec("signups-q4", kpi="signups", start=day(1).astimezone(east))
    projection = fold(b.strategy_defined(), b.objective_added(first), b.objective_added(second))
    kept = {o: projection.workspace(WS).objective(o).spec for o in ("leads-q4", "signups-q4")}
    assert kept["leads-q4"] == first and kept["signups-q4"] == second
    for original in (first, second):
        stored = kept[original.objective_id]
        assert stored is not None
        assert stored.model_dump(mode="json") == original.model_dump(mode="json")
        assert stored.model_fields_set == original.model_fields_set
    third = fold(b.strategy_defined(), b.objective_added(b.spec("other", cost_per_outcome=1.0)))
    other = third.workspace(WS).objective("other").spec
    assert other is not None and kept["leads-q4"] is not None
    assert other.model_fields_set is kept["leads-q4"].model_fields_set
    assert kept["signups-q4"] is not None and kept["signups-q4"].start.utcoffset() == timedelta(
        hours=2
    )


def test_restoring_a_long_series_stored_out_of_period_order_answers_like_the_fold() -> None:
    hourly = [
        b.observed(
            "c-a", "leads", h % 5, day(0) + timedelta(hours=h), day(0) + timedelta(hours=h + 1)
        )
        for h in range(24 * 60)
    ]
    projection = fold(*BASE, *hourly)
    rows = projection.dirty_rows()
    restored = Projection.from_rows(sorted(rows, key=lambda row: row[1], reverse=True))
    assert restored.digest() == projection.digest()
    [series] = restored.workspace(WS).campaign("c-a").all_series(restored.arrays)
    [folded] = projection.workspace(WS).campaign("c-a").all_series(projection.arrays)
    for low, high in ((0, 30), (3, 17), (10, 11), (59, 70)):
        window = (to_micros(day(low)), to_micros(day(high)))
        assert restored.arrays.sum_within(series, *window) == projection.arrays.sum_within(
            folded, *window
        )
    assert [restored.arrays.end_of(i) for i in restored.arrays.newest_first(series)] == sorted(
        (projection.arrays.end_of(i) for i in projection.arrays.newest_first(folded)), reverse=True
    )
    restored.apply(b.restated(hourly[5], 40, recorded_at=day(70)))
    assert leads_actual(restored, at=61) == sum(h % 5 for h in range(24 * 60)) + 40
