"""The drift rows a tick writes (one upsert and a few inserts for all its transitions) on both
databases: opened, updated, resolved and reopened as the lifecycle says."""

from __future__ import annotations

from datetime import datetime

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth.alignment.domain.drift import Finding, reconcile
from truenorth.alignment.domain.timeunits import to_micros
from truenorth.alignment.store.drifts import (
    drift_events,
    open_drifts,
    pending_outbox,
    record_transitions,
)
from truenorth.store.db import make_engine


def stale(campaign: str, days: float) -> Finding:
    return Finding(
        WS, "stale_data", campaign, "warning", "stopped", {"days": days}, campaign_ids=(campaign,)
    )


def tick(world: World, findings: list[Finding], at: datetime) -> list[str]:
    with world.engine.begin() as connection:
        transitions = reconcile(WS, open_drifts(connection, WS), findings, to_micros(at))
        record_transitions(connection, drift_events(transitions, at))
    return [transition.action for transition in transitions]


def test_a_ticks_transitions_open_update_resolve_and_reopen_drifts(database_url: str) -> None:
    world = World(b.strategy_defined(), engine=make_engine(database_url))
    campaigns = [f"c-{n}" for n in range(40)]
    assert tick(world, [stale(c, 10) for c in campaigns], day(10)) == ["detected"] * 40
    assert tick(world, [stale(c, 20) for c in campaigns], day(11)) == ["updated"] * 40
    assert tick(world, [stale(c, 20) for c in campaigns[:10]], day(12)) == ["resolved"] * 30
    assert tick(world, [stale(c, 20) for c in campaigns], day(13)) == ["detected"] * 30

    entries = {entry.data.campaign_ids[0]: entry for entry in world.drift_entries(WS)}
    assert {entry.status for entry in entries.values()} == {"open"}
    assert entries["c-0"].opened_at == day(10) and entries["c-0"].data.figures == {"days": 20}
    assert entries["c-39"].opened_at == day(13) and entries["c-39"].since == day(13)
    with world.engine.connect() as connection:
        assert len(pending_outbox(connection)) == 40 + 40 + 30 + 30
