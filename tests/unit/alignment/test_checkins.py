"""Check-ins folded into the projection: read back on both time axes, beside the figures, as
gauges, and kept by a replay."""

from __future__ import annotations

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth import metric_names as m
from truenorth.alignment.domain.snapshot import ObjectiveSnapshot
from truenorth.alignment.exposition import render

BASE = (b.strategy_defined(), b.objective_added(), b.launched("c-a"))


def leads(world: World, at: float, known_at: float | None = None) -> ObjectiveSnapshot:
    known = None if known_at is None else day(known_at)
    found = world.snapshot(day(at), known_at=known).objective(WS, "leads-q4")
    assert found is not None
    return found


def test_the_latest_check_in_as_of_the_moment_is_the_objectives_checkin() -> None:
    world = World(
        *BASE,
        b.checked_in("low", day(5), narrative="Webinar slipped"),
        b.checked_in("high", day(12), corrected_value=140, source="CRM export"),
    )
    assert leads(world, 4).checkin is None
    assert leads(world, 6).checkin is not None
    assert leads(world, 6).checkin.confidence == "low"  # type: ignore[union-attr]
    latest = leads(world, 20)
    assert [c.confidence for c in latest.checkins] == ["high", "low"]
    assert latest.checkin is not None
    assert (latest.checkin.corrected_value, latest.checkin.source) == (140, "CRM export")
    assert latest.checkin.actor == "maria"


def test_a_check_in_recorded_late_is_unknown_before_it_was_recorded() -> None:
    world = World(*BASE, b.checked_in("medium", day(5), recorded_at=day(9)))
    assert leads(world, 20, known_at=8).checkin is None
    assert leads(world, 20, known_at=9).checkin is not None


def test_the_live_snapshot_shows_the_check_in() -> None:
    world = World(*BASE, b.checked_in("medium", day(5)))
    found = world.snapshot(day(6), live=True).objective(WS, "leads-q4")
    assert found is not None and found.checkin is not None


def test_a_check_in_changes_no_figure_and_no_strategy_change_count() -> None:
    without = World(*BASE)
    with_checkin = World(*BASE, b.checked_in("low", day(5), corrected_value=999, source="CRM"))
    before, after = leads(without, 20), leads(with_checkin, 20)
    assert (after.actual, after.progress, after.forecast) == (
        before.actual,
        before.progress,
        before.forecast,
    )
    assert with_checkin.snapshot(day(20)).strategies == without.snapshot(day(20)).strategies


def test_the_check_in_gauges_exist_only_for_objectives_with_a_check_in() -> None:
    world = World(
        *BASE,
        b.objective_added(b.spec("signups-q4", kpi="signups")),
        b.checked_in("medium", day(5), corrected_value=120.5, source="CRM"),
    )
    text = render(world.snapshot(day(6))).decode()
    confidence = [
        line for line in text.splitlines() if line.startswith(m.OBJECTIVE_CHECKIN_CONFIDENCE + "{")
    ]
    assert confidence == [
        f'{m.OBJECTIVE_CHECKIN_CONFIDENCE}{{kpi="leads",objective="leads-q4",'
        f'strategy="{b.STRATEGY}",workspace="{WS}"}} 1.0'
    ]
    assert f'{m.OBJECTIVE_CHECKIN_CORRECTED}{{kpi="leads",objective="leads-q4"' in text
    assert "120.5" in text
    assert 'objective="signups-q4"' not in "\n".join(
        line for line in text.splitlines() if line.startswith("truenorth_objective_checkin")
    )


def test_a_check_in_without_a_corrected_value_has_no_corrected_gauge() -> None:
    world = World(*BASE, b.checked_in("high", day(5)))
    text = render(world.snapshot(day(6))).decode()
    assert f"{m.OBJECTIVE_CHECKIN_CONFIDENCE}{{" in text
    assert f"{m.OBJECTIVE_CHECKIN_CORRECTED}{{" not in text


def test_check_ins_are_counted_once_and_the_digest_does_not_depend_on_batches() -> None:
    events = [b.checked_in("low", day(5)), b.checked_in("high", day(6))]
    one_batch = World(*BASE, *events)
    batch_each = World(*BASE)
    batch_each.apply_each(*events)
    batch_each.apply(*events)  # redelivered
    assert len(leads(batch_each, 20).checkins) == 2
    assert batch_each.digest() == one_batch.digest()
    assert one_batch.digest() != World(*BASE).digest()  # the digest covers check-ins


def test_the_live_view_shows_a_check_in_dated_after_its_clock() -> None:
    """The live view reads what was folded, like the current rows: a writer whose clock runs
    ahead (a check-in from another machine) is not hidden until the clocks agree."""
    world = World(*BASE, b.checked_in("low", day(7)))
    found = world.snapshot(day(6), live=True).objective(WS, "leads-q4")
    assert found is not None and found.checkin is not None
    past = world.snapshot(day(6)).objective(WS, "leads-q4")
    assert past is not None and past.checkin is None
