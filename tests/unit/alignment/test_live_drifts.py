"""The open drifts kept between live snapshot builds: read again whenever a tick (or a
rebuild) changes a workspace's drift rows, never otherwise, and a live snapshot with them
equals one read afresh."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth.alignment.domain.drift import Finding
from truenorth.alignment.domain.snapshot import Snapshot, shown_drift
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store import drifts as drifts_module
from truenorth.alignment.store.drift_writes import move_drift_versions
from truenorth.alignment.store.drifts import LiveDrifts
from truenorth.alignment.views import build_snapshot, parse_moment
from truenorth.contract.alignment import DriftData

NOW = day(20)


def stale(campaign: str, days: float = 10.0, severity: str = "warning") -> Finding:
    return Finding(WS, "stale_data", campaign, severity, f"{campaign} stopped", {"days": days})


def tick(world: World, findings: list[Finding], at: datetime) -> None:
    world.record(WS, findings, at)


def live(world: World, kept: LiveDrifts | None = None) -> Snapshot:
    return build_snapshot(world.engine, NOW, kept_drifts=kept)


def severities(snapshot: Snapshot) -> dict[str, str]:
    """campaign -> the severity of its open stale_data drift."""
    return {
        d.drift_id.removeprefix("stale_data-").rsplit("-", 1)[0]: d.severity
        for d in snapshot.drifts
    }


@pytest.fixture
def world() -> World:
    return World(b.strategy_defined(), b.objective_added(), b.launched("c-a"))


def test_a_drift_detected_after_the_last_build_is_in_the_next(world: World) -> None:
    kept = LiveDrifts()
    assert live(world, kept).drifts == ()
    tick(world, [stale("c-a")], day(19))
    snapshot = live(world, kept)
    assert list(severities(snapshot)) == ["c-a"]
    assert snapshot == live(world)


def test_an_update_and_a_resolution_show_in_the_next_build(world: World) -> None:
    tick(world, [stale("c-a"), stale("c-b")], day(18))
    kept = LiveDrifts()
    assert severities(live(world, kept)) == {"c-a": "warning", "c-b": "warning"}
    tick(world, [stale("c-a", severity="critical")], day(19))
    snapshot = live(world, kept)
    assert severities(snapshot) == {"c-a": "critical"}
    assert snapshot == live(world)


def test_builds_between_ticks_without_transitions_read_no_drift(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    tick(world, [stale("c-a")], day(18))
    reads: list[str] = []
    real = drifts_module.shown_open_drifts

    def counting(connection, workspace):  # type: ignore[no-untyped-def]
        reads.append(workspace)
        return real(connection, workspace)

    monkeypatch.setattr(drifts_module, "shown_open_drifts", counting)
    kept = LiveDrifts()
    live(world, kept)
    tick(world, [stale("c-a", days=10.1)], day(19))  # not a material change: no transition
    live(world, kept)
    assert reads == [WS]


def test_a_rebuild_emptying_the_drift_rows_is_seen_by_the_next_build(world: World) -> None:
    tick(world, [stale("c-a")], day(18))
    kept = LiveDrifts()
    assert live(world, kept).drifts
    with world.engine.begin() as connection:
        connection.execute(drifts_module.t.drifts.delete())
        move_drift_versions(connection)
    assert live(world, kept).drifts == ()


def test_an_acknowledgement_after_the_last_build_shows_in_the_next(world: World) -> None:
    tick(world, [stale("c-a")], day(18))
    kept = LiveDrifts()
    [before] = live(world, kept).drifts
    world.apply(b.drift_acknowledged(before.drift_id, day(19)))
    [after] = live(world, kept).drifts
    assert (before.acknowledged, after.acknowledged) == (False, True)


@pytest.mark.parametrize("incident_id", [None, "campaign-c-a"])
def test_an_open_drift_shows_the_same_from_its_row_and_from_its_data(
    incident_id: str | None,
) -> None:
    data = DriftData(
        drift_id="stale_data-c-a-0123456789ab",
        kind="stale_data",
        severity="warning",
        strategy_id="growth",
        objective_id=None,
        campaign_ids=("c-a",),
        explanation="c-a stopped reporting",
        figures={"days": 10.0},
        incident_id=incident_id,
    )
    opened = to_micros(day(18))
    from_row = shown_drift(WS, data.model_dump(mode="json"), opened)
    assert from_row == shown_drift(WS, vars(data), opened)
    assert from_row.incident == data.incident
    assert (from_row.kind, from_row.severity, from_row.opened_at) == (
        "stale_data",
        "warning",
        day(18),
    )


def test_a_past_snapshot_shows_the_open_drifts_a_live_one_does(world: World) -> None:
    tick(world, [stale("c-a"), stale("c-b", severity="critical")], day(18))
    past = build_snapshot(world.engine, NOW, parse_moment(NOW, NOW.isoformat(), None))
    assert past.drifts == live(world, LiveDrifts()).drifts
