"""The pre-rendered /metrics text equals prometheus-client's rendering of the same snapshot."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.reference_collector import SnapshotCollector
from tests.unit.alignment.world import World
from truenorth import metric_names as m
from truenorth.alignment.domain.entities import CheckInView
from truenorth.alignment.domain.open_drifts import OpenDrifts, ShownDrift
from truenorth.alignment.domain.snapshot import (
    AlignedSpendSnapshot,
    ChannelShareSnapshot,
    ObjectiveSnapshot,
    Snapshot,
    StrategyChanges,
    WorkspaceSnapshot,
)
from truenorth.alignment.exposition import LINES_PER_PACK, render, render_exposition, select

AT = datetime(2025, 11, 1, tzinfo=UTC)


def reference(snapshot: Snapshot) -> bytes:
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(lambda: snapshot))
    return generate_latest(registry)


def objective(objective_id: str, **overrides: object) -> ObjectiveSnapshot:
    figures: dict[str, object] = {
        "workspace": "acme",
        "strategy_id": "growth",
        "objective_id": objective_id,
        "name": "Leads",
        "kpi": "leads",
        "owner": "ana",
        "aggregation": "sum",
        "direction": "increase",
        "actual": 305.0,
        "target": 1000.0,
        "baseline": 0.0,
        "progress": 0.305,
        "expected": 0.55,
        "pace": 0.5545454545454546,
        "run_rate_per_day": 6.1,
        "forecast": 560.0,
        "forecast_attainment": 0.56,
        "forecast_low": 400.0,
        "forecast_high": 700.0,
        "forecast_attainment_low": 0.4,
        "forecast_attainment_high": 0.7,
        "hit_probability": 0.05,
        "required_rate_per_day": 15.44,
        "status": "off_track",
        "start": day(0),
        "deadline": day(100),
        "spend": 1234.5,
        "spend_by_channel": (("search", 1234.5),),
        "campaigns": (),
    }
    return ObjectiveSnapshot(**{**figures, **overrides})  # type: ignore[arg-type]


def drift(drift_id: str, kind: str, severity: str, objective_id: str | None) -> ShownDrift:
    return ShownDrift(drift_id, "growth", objective_id, kind, severity, None)


CHECKIN_LOW = CheckInView("checked", "low", "slow start", None, None, "maria", 1_700_000_000)
CHECKIN_HIGH = CheckInView("checked", "high", "CRM ahead", 1234.5, "CRM", "li", 1_750_000_000)


def test_every_family_matches_prometheus_client_byte_for_byte() -> None:
    part = WorkspaceSnapshot(
        objectives=(
            objective("leads-q4"),
            objective("no-pace", pace=None, required_rate_per_day=None, status="not_started"),
            objective("huge", actual=1e22, target=math.inf, progress=-0.0, expected=1 / 3),
            objective("nan", progress=math.nan, kpi="pipeline_usd"),
            objective("checked", checkins=(CHECKIN_HIGH, CHECKIN_LOW)),
        ),
        channels=(
            ChannelShareSnapshot("acme", "growth", "q4", "search", 70.0, 0.7, 0.5, 50.0, True),
            ChannelShareSnapshot("acme", "growth", None, "tv", 30.0, 0.3, None, None, False),
        ),
        aligned_spend=(
            AlignedSpendSnapshot("acme", "growth", "q4", 70.0, 100.0, 0.7),
            AlignedSpendSnapshot("acme", None, None, 70.0, 100.0, 0.7),
            AlignedSpendSnapshot("acme", "empty", None, 0.0, 0.0, None),
        ),
        strategies=(
            StrategyChanges("acme", "growth", "Growth", (("ObjectiveAdded", 2),), 1.7e9),
            StrategyChanges("acme", "never", "Never", (), 0.0),
        ),
    )
    other = WorkspaceSnapshot(objectives=(objective("leads-q4", workspace="other"),))
    drifts = (
        drift("d-2", "stale_data", "info", None),
        drift("d-1", "objective_off_pace", "critical", "leads-q4"),
        drift("d-3", "stale_data", "info", None),
    )
    snapshot = Snapshot.of(AT, [part, other], OpenDrifts.of("acme", drifts))
    assert snapshot.objective("other", "leads-q4") is not None
    assert render(snapshot) == reference(snapshot)
    text = render(snapshot).decode()
    assert (
        'truenorth_drift_open{kind="stale_data",objective="",severity="info",strategy="growth",'
        'workspace="acme"} 2.0'
    ) in text.splitlines()
    assert text.count(m.INCIDENT_OPEN + "{") == 3


def test_label_values_are_escaped_like_prometheus_client() -> None:
    tricky = objective('quote"back\\slash\nnewline', strategy_id="s\\1")
    snapshot = Snapshot.of(AT, [WorkspaceSnapshot(objectives=(tricky,))])
    text = render(snapshot)
    assert text == reference(snapshot)
    [family] = [
        f for f in text_string_to_metric_families(text.decode()) if f.name == m.OBJECTIVE_ACTUAL
    ]
    assert family.samples[0].labels["objective"] == 'quote"back\\slash\nnewline'


def test_an_empty_snapshot_still_declares_every_family() -> None:
    snapshot = Snapshot.of(AT, [])
    assert render(snapshot) == reference(snapshot)
    names = {f.name for f in text_string_to_metric_families(render(snapshot).decode())}
    assert {m.OBJECTIVE_PROGRESS, m.DRIFT_OPEN, m.ALIGNED_SPEND_RATIO} <= names


def test_a_folded_scenario_with_open_drifts_renders_like_prometheus_client() -> None:
    world = World(
        b.strategy_defined(),
        b.objective_added(),
        b.budget_planned({"linkedin": 50, "search": 50}),
        b.launched("c-a", channel="linkedin"),
        b.launched("c-s", channel="search"),
        *b.daily("c-a", "spend", [70] * 10),
        *b.daily("c-s", "spend", [30] * 10),
        *b.daily("c-a", "leads", [1] * 10),
    )
    assert world.transitions(day(10))  # channel mix and pace drifts open
    for snapshot in (world.snapshot(day(10), live=True), world.snapshot(day(10))):
        assert snapshot.drifts.incidents and snapshot.channels and snapshot.objectives
        assert snapshot.strategies and snapshot.aligned_spend
        assert render(snapshot) == reference(snapshot)


def test_the_held_families_join_into_the_text_and_are_selected_in_exposition_order() -> None:
    snapshot = Snapshot.of(
        AT, [WorkspaceSnapshot(objectives=tuple(objective(f"o-{n:03}") for n in range(200)))]
    )
    families = render_exposition(snapshot)
    assert b"".join(select(families, None)) == render(snapshot) == reference(snapshot)
    for name in families:
        assert select(families, {name})[0].startswith(f"# HELP {name} ".encode())
    pace, drift = select(families, {m.DRIFT_OPEN, m.OBJECTIVE_PACE})
    assert pace.startswith(f"# HELP {m.OBJECTIVE_PACE} ".encode())  # exposition order,
    assert drift.startswith(f"# HELP {m.DRIFT_OPEN} ".encode())  # not the asked one
    assert select(families, {"no_such_family"}) == []
    held = sum(len(packed) for packed in families.values())
    assert held < len(render(snapshot)) / 4  # held compressed


def test_a_family_longer_than_one_pack_is_held_whole() -> None:
    drifts = [drift(f"d-{n:05}", "stale_data", "info", None) for n in range(LINES_PER_PACK * 2 + 1)]
    snapshot = Snapshot.of(AT, [], OpenDrifts.of("acme", drifts))
    families = render_exposition(snapshot)
    assert b"".join(select(families, None)) == render(snapshot) == reference(snapshot)
    [incidents] = select(families, {m.INCIDENT_OPEN})
    assert incidents.count(b"\n") == 2 + LINES_PER_PACK * 2 + 1  # HELP, TYPE, each incident


def test_a_scrape_can_ask_for_some_families_only() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from truenorth.http import install_common

    snapshot = Snapshot.of(AT, [WorkspaceSnapshot(objectives=(objective("leads-q4"),))])
    families = render_exposition(snapshot)
    app = FastAPI()
    install_common(
        app,
        registry=CollectorRegistry(),
        checks={},
        max_request_bytes=1024,
        expositions=[lambda names: select(families, names)],
    )
    some = {"name[]": [m.OBJECTIVE_ACTUAL, m.DRIFT_OPEN]}
    with TestClient(app) as client:
        part = client.get("/metrics", params=some)
        everything = client.get("/metrics")
    assert {f.name for f in text_string_to_metric_families(part.text)} == {
        m.OBJECTIVE_ACTUAL,
        m.DRIFT_OPEN,
    }
    assert 'objective="leads-q4"' in part.text
    assert everything.content == render(snapshot)


def test_channels_a_strategy_does_not_name_are_labelled_other_in_gauges() -> None:
    """5 000 invented channels must not become 5 000 series: they share one `other`."""
    from tests.unit.alignment import builders as b
    from tests.unit.alignment.world import World

    invented = [b.launched(f"c-{n}", channel=f"made-up-{n}") for n in range(30)]
    spend = [b.observed(f"c-{n}", "spend", 10, b.day(1)) for n in range(30)]
    world = World(
        b.strategy_defined(channels=("linkedin", "search")),
        b.objective_added(),
        b.budget_planned(mix={"linkedin": 50, "search": 50}),
        b.launched("c-l", channel="linkedin"),
        b.observed("c-l", "spend", 300, b.day(1)),
        *invented,
        *spend,
    )
    text = render(world.snapshot(b.day(2))).decode()
    shares = [line for line in text.splitlines() if line.startswith(m.CHANNEL_SPEND_SHARE + "{")]
    channels = sorted(line.split('channel="')[1].split('"')[0] for line in shares)
    assert channels == ["linkedin", "other", "search"]
    [other] = [line for line in shares if 'channel="other"' in line]
    assert float(other.rsplit(" ", 1)[1]) == pytest.approx(0.5)


def test_a_workspace_without_a_strategy_is_kept_but_never_labelled_or_judged() -> None:
    """Finding 6 of issue 17 with the doors open (auth off): invented workspaces must not
    grow /metrics or the drift log; their rows count once a strategy is defined."""
    invented = [
        event
        for n in range(20)
        for event in (
            b.launched(f"c-{n}", channel="search", workspace=f"made-up-{n}"),
            b.observed(f"c-{n}", "spend", 10, b.day(1), workspace=f"made-up-{n}"),
        )
    ]
    world = World(b.strategy_defined(channels=("linkedin", "search")), b.objective_added())
    before = render(world.snapshot(b.day(2))).decode()
    world.apply(*invented)
    after = render(world.snapshot(b.day(2))).decode()
    assert "made-up" not in after
    assert len(after.splitlines()) == len(before.splitlines())
    judged = {transition.workspace for transition in world.transitions(b.day(2))}
    assert judged <= {b.WS}
    world.apply(b.strategy_defined(workspace="made-up-0"))
    assert 'workspace="made-up-0"' in render(world.snapshot(b.day(2))).decode()
