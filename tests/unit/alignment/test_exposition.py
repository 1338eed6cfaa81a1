"""The pre-rendered /metrics text equals prometheus-client's rendering of the same snapshot."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.unit.alignment import builders as b
from tests.unit.alignment.builders import day
from tests.unit.alignment.reference_collector import SnapshotCollector
from truenorth import metric_names as m
from truenorth.alignment.domain.drift import DriftTracker
from truenorth.alignment.domain.projection import Projection
from truenorth.alignment.domain.snapshot import (
    AlignedSpendSnapshot,
    ChannelShareSnapshot,
    ObjectiveSnapshot,
    OpenDrift,
    Snapshot,
    StrategyChanges,
    build_snapshot,
)
from truenorth.alignment.exposition import render
from truenorth.contract.alignment import DriftData

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
        "required_rate_per_day": 15.44,
        "status": "off_track",
        "start": day(0),
        "deadline": day(100),
        "spend": 1234.5,
        "spend_by_channel": (("search", 1234.5),),
        "campaigns": (),
    }
    return ObjectiveSnapshot(**{**figures, **overrides})  # type: ignore[arg-type]


def drift(drift_id: str, kind: str, severity: str, objective_id: str | None) -> OpenDrift:
    data = DriftData(
        drift_id=drift_id,
        kind=kind,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        explanation="…",
        strategy_id="growth",
        objective_id=objective_id,
    )
    return OpenDrift("acme", data, AT, acknowledged=False)


def test_every_family_matches_prometheus_client_byte_for_byte() -> None:
    snapshot = Snapshot(
        at=AT,
        objectives=(
            objective("leads-q4"),
            objective("no-pace", pace=None, required_rate_per_day=None, status="not_started"),
            objective("huge", actual=1e22, target=math.inf, progress=-0.0, expected=1 / 3),
            objective("nan", progress=math.nan, kpi="pipeline_usd"),
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
        drifts=(
            drift("d-2", "stale_data", "info", None),
            drift("d-1", "objective_off_pace", "critical", "leads-q4"),
            drift("d-3", "stale_data", "info", None),
        ),
        strategies=(
            StrategyChanges("acme", "growth", "Growth", (("ObjectiveAdded", 2),), 1.7e9),
            StrategyChanges("acme", "never", "Never", (), 0.0),
        ),
    )
    assert render(snapshot) == reference(snapshot)


def test_label_values_are_escaped_like_prometheus_client() -> None:
    tricky = objective('quote"back\\slash\nnewline', strategy_id="s\\1")
    snapshot = Snapshot(at=AT, objectives=(tricky,))
    text = render(snapshot)
    assert text == reference(snapshot)
    [family] = [
        f for f in text_string_to_metric_families(text.decode()) if f.name == m.OBJECTIVE_ACTUAL
    ]
    assert family.samples[0].labels["objective"] == 'quote"back\\slash\nnewline'


def test_an_empty_snapshot_still_declares_every_family() -> None:
    snapshot = Snapshot(at=AT)
    assert render(snapshot) == reference(snapshot)
    names = {f.name for f in text_string_to_metric_families(render(snapshot).decode())}
    assert {m.OBJECTIVE_PROGRESS, m.DRIFT_OPEN, m.ALIGNED_SPEND_RATIO} <= names


def test_a_folded_scenario_with_open_drifts_renders_like_prometheus_client() -> None:
    projection, tracker = Projection(), DriftTracker()
    for event in (
        b.strategy_defined(),
        b.objective_added(),
        b.budget_planned({"linkedin": 50, "search": 50}),
        b.launched("c-a", channel="linkedin"),
        b.launched("c-s", channel="search"),
        *b.daily("c-a", "spend", [70] * 10),
        *b.daily("c-s", "spend", [30] * 10),
        *b.daily("c-a", "leads", [1] * 10),
    ):
        projection.apply(event)
    assert tracker.evaluate(projection, day(10))  # channel mix and pace drifts open
    snapshot = build_snapshot(projection, day(10), tracker)
    assert snapshot.drifts and snapshot.channels and snapshot.objectives
    assert render(snapshot) == reference(snapshot)


def test_the_held_families_are_the_text_compressed_family_by_family() -> None:
    from truenorth.alignment.exposition import render_families, select

    snapshot = Snapshot(
        at=AT, objectives=tuple(objective(f"objective-{n:05}") for n in range(2_000))
    )
    families = render_families(snapshot)
    text = render(snapshot)
    assert b"".join(member.text() for member in select(families, None)) == text
    held = sum(len(member.data) for member in families.values())
    assert len(text) > 3_000_000 and held < len(text) / 10
    assert [m.text() for m in select(families, {m.DRIFT_OPEN, m.OBJECTIVE_PACE})] == [
        families[m.OBJECTIVE_PACE].text(),  # in exposition order, not the asked one
        families[m.DRIFT_OPEN].text(),
    ]


def test_a_scrape_can_ask_for_some_families_only_gzip_or_not() -> None:
    import gzip

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from truenorth.alignment.exposition import render_families, select
    from truenorth.http import install_common

    snapshot = Snapshot(at=AT, objectives=(objective("leads-q4"),))
    families = render_families(snapshot)
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
        zipped = client.get("/metrics", params=some, headers={"Accept-Encoding": "gzip"})
        plain = client.get("/metrics", params=some, headers={"Accept-Encoding": "identity"})
        everything = client.get("/metrics")
        with client.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as raw:
            wire = b"".join(raw.iter_raw())
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.text == plain.text  # httpx decoded the gzip one
    assert {f.name for f in text_string_to_metric_families(plain.text)} == {
        m.OBJECTIVE_ACTUAL,
        m.DRIFT_OPEN,
    }
    assert 'objective="leads-q4"' in plain.text
    assert everything.content == gzip.decompress(wire) == render(snapshot)
