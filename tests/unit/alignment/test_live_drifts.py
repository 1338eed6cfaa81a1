"""The summary of open drifts kept between live snapshot builds: read again whenever a tick
(or a rebuild) changes a workspace's drift rows, never otherwise, and a live snapshot with it
equals one read afresh and one read as of now."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth.alignment.domain.drift import Finding
from truenorth.alignment.domain.open_drifts import OpenDrifts
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.store import drifts as drifts_module
from truenorth.alignment.store.drift_writes import move_drift_versions
from truenorth.alignment.store.drifts import LiveDrifts
from truenorth.alignment.views import build_snapshot, parse_moment

NOW = day(20)


def stale(campaign: str, days: float = 10.0, severity: str = "warning") -> Finding:
    return Finding(WS, "stale_data", campaign, severity, f"{campaign} stopped", {"days": days})


def tick(world: World, findings: list[Finding], at: datetime) -> None:
    world.record(WS, findings, at)


def live(world: World, kept: LiveDrifts | None = None) -> Snapshot:
    return build_snapshot(world.engine, NOW, kept_drifts=kept)


def severities(snapshot: Snapshot) -> dict[str, str]:
    """campaign -> the severity of its open stale_data drift (an incident of its own)."""
    return {
        i.incident.removeprefix("stale_data-").rsplit("-", 1)[0]: i.severity
        for i in snapshot.drifts.incidents
    }


@pytest.fixture
def world() -> World:
    return World(b.strategy_defined(), b.objective_added(), b.launched("c-a"))


def test_a_drift_detected_after_the_last_build_is_in_the_next(world: World) -> None:
    kept = LiveDrifts()
    assert live(world, kept).drifts == OpenDrifts()
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
    assert live(world, kept).drifts == OpenDrifts()


def test_a_past_snapshot_shows_the_open_drifts_a_live_one_does(world: World) -> None:
    tick(world, [stale("c-a"), stale("c-b", severity="critical")], day(18))
    past = build_snapshot(world.engine, NOW, parse_moment(NOW, NOW.isoformat(), None))
    assert past.drifts == live(world, LiveDrifts()).drifts
