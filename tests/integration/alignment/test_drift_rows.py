"""The drift rows a tick writes (one upsert and a few inserts for all its transitions) on both
databases: opened, updated, resolved and reopened as the lifecycle says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import WS, day
from tests.unit.alignment.world import World
from truenorth.alignment import views
from truenorth.alignment.domain import drift
from truenorth.alignment.domain.drift import Finding
from truenorth.alignment.store.drift_writes import pending_outbox
from truenorth.alignment.views import build_snapshot
from truenorth.store import db
from truenorth.store.db import make_engine


def stale(campaign: str, days: float) -> Finding:
    return Finding(
        WS, "stale_data", campaign, "warning", "stopped", {"days": days}, campaign_ids=(campaign,)
    )


def tick(world: World, findings: list[Finding], at: datetime) -> list[str]:
    return [transition.action for transition in world.record(WS, findings, at)]


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


def test_a_snapshot_and_a_tick_read_the_fields_they_need_of_the_open_drifts(
    database_url: str,
) -> None:
    """The database extracts them from each drift's data (SQLite's JSON functions,
    PostgreSQL's operators): a tick's comparison and a snapshot's subjects come out the same."""
    world = World(b.strategy_defined(), engine=make_engine(database_url))
    off_pace = Finding(
        WS,
        "objective_off_pace",
        "o-1",
        "critical",
        "o-1 is off pace",
        {"pace": 0.123456789, "progress": 1 / 3, "actual": 1e-7},
        strategy_id="s-1",
        objective_id="o-1",
        campaign_ids=("c-a", "c-b"),
    )
    [detected] = world.record(WS, [off_pace], day(10))
    [row] = world.open_drifts(WS).values()
    assert row.compared == {
        "severity": "critical",
        "channel": None,
        "objective_id": "o-1",
        "campaign_ids": ["c-a", "c-b"],
        "figures": detected.data.model_dump(mode="json")["figures"],  # as published, exactly
    }
    assert world.record(WS, [off_pace], day(11)) == []  # the same figures: no update
    shown = build_snapshot(world.engine, day(11)).drifts
    [count] = shown.counts
    assert (count.strategy_id, count.objective_id, count.kind, count.severity, count.count) == (
        "s-1",
        "o-1",
        "objective_off_pace",
        "critical",
        1,
    )
    [incident] = shown.incidents
    assert (incident.incident, incident.severity) == (detected.data.incident, "critical")


def test_a_tick_writes_as_it_judges_and_a_second_finds_nothing_new(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection reads (facts, open drifts) while each batch of transitions commits on
    another: on PostgreSQL the reading transaction sees each commit as it goes on."""
    monkeypatch.setattr(drift, "JUDGED_AT_ONCE", 2)
    monkeypatch.setattr(views, "TRANSITIONS_PER_WRITE", 2)
    campaigns = [b.launched(f"c-{n}") for n in range(5)]
    world = World(
        b.strategy_defined(), b.objective_added(), *campaigns, engine=make_engine(database_url)
    )
    detected = world.transitions(day(50))
    assert len(detected) >= 5 and {t.action for t in detected} == {"detected"}
    assert set(world.open_drifts(WS)) == {t.data.drift_id for t in detected}
    assert world.transitions(day(50)) == []
    with world.engine.connect() as connection:
        assert len(pending_outbox(connection)) == len(detected)


def test_a_tick_judging_longer_than_the_idle_in_transaction_timeout_still_commits(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL ends a session left idle inside a transaction for a few seconds (so a
    stopped worker does not hold a partition's rows): a tick's reading must not be such a
    session while it judges, which at 10 000 objectives takes seconds between two reads."""
    monkeypatch.setattr(db, "IDLE_IN_TRANSACTION_MS", 200)
    monkeypatch.setattr(drift, "JUDGED_AT_ONCE", 1)
    real = views.detect_drifts

    def slowly(*args: object, **kwargs: object) -> Iterator[Finding]:
        for n, finding in enumerate(real(*args, **kwargs)):  # type: ignore[arg-type]
            if n:
                time.sleep(0.5)
            yield finding

    monkeypatch.setattr(views, "detect_drifts", slowly)
    campaigns = [b.launched(f"c-{n}") for n in range(2)]
    world = World(
        b.strategy_defined(), b.objective_added(), *campaigns, engine=make_engine(database_url)
    )
    detected = world.transitions(day(50))
    assert len(detected) >= 2
    assert set(world.open_drifts(WS)) == {t.data.drift_id for t in detected}
