"""Dashboards as code: committed JSON is what the generator produces, and every query reads
only metrics that exist."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.tools import DEPLOY
from truenorth import metric_names as m
from truenorth.generators import dashboards as d

COMMITTED = DEPLOY / "grafana" / "dashboards"

KNOWN = {
    value for value in vars(m).values() if isinstance(value, str) and value.startswith("truenorth_")
}
HISTOGRAMS = {m.BATCH_COMMIT_SECONDS}
FASTSTREAM = {
    "faststream_received_messages_total",
    "faststream_received_processed_messages_total",
    "faststream_received_processed_messages_duration_seconds_bucket",
}


def allowed(name: str) -> bool:
    if name in KNOWN or name in d.BUILTIN_METRICS or name in FASTSTREAM:
        return True
    if any(name == f"{h}_{suffix}" for h in HISTOGRAMS for suffix in ("bucket", "sum", "count")):
        return True
    return name.startswith(d.NATS_EXPORTER_PREFIXES)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return d.build_dashboards()


def test_committed_dashboards_match_the_generator(tmp_path: Path) -> None:
    written = d.generate_dashboards(tmp_path)
    assert sorted(p.name for p in COMMITTED.glob("*.json")) == [p.name for p in written]
    for path in written:
        committed = (COMMITTED / path.name).read_text(encoding="utf-8")
        assert committed == path.read_text(encoding="utf-8"), (
            f"{path.name} is stale: run `truenorth dashboards generate`"
        )


def test_generation_is_stable(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in d.generate_dashboards(tmp_path / "a")]
    second = [p.read_bytes() for p in d.generate_dashboards(tmp_path / "b")]
    assert first == second


def test_the_three_dashboards_exist(boards: dict[str, dict[str, Any]]) -> None:
    titles = {b["title"] for b in boards.values()}
    assert titles == {
        "truenorth · Leadership overview",
        "truenorth · Objective detail",
        "truenorth · Pipeline health",
    }
    assert len({b["uid"] for b in boards.values()}) == 3


def test_every_query_reads_known_metrics_only(boards: dict[str, dict[str, Any]]) -> None:
    unknown = {
        (where, name)
        for board in boards.values()
        for where, expr in d.expressions(board)
        for name in d.metric_names_in(expr)
        if not allowed(name)
    }
    assert not unknown


def test_every_panel_queries_something(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        for panel in board["panels"]:
            assert panel["targets"], f"{board['uid']}/{panel['title']} has no query"
            assert all(t["expr"].strip() for t in panel["targets"])


def test_every_datasource_is_the_provisioned_prometheus(boards: dict[str, dict[str, Any]]) -> None:
    provisioned = (DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text()
    assert f"uid: {d.DATASOURCE['uid']}" in provisioned
    for board in boards.values():
        for node in walk(board):
            source = node.get("datasource")
            if isinstance(source, dict) and source.get("type") != "grafana":
                assert source == d.DATASOURCE


def test_leadership_overview_has_the_panels_of_issue_6(boards: dict[str, dict[str, Any]]) -> None:
    board = boards["leadership-overview"]
    exprs = " ".join(e for _, e in d.expressions(board))
    for metric in (
        m.OBJECTIVE_PROGRESS,
        m.OBJECTIVE_EXPECTED,
        m.OBJECTIVE_STATUS,
        m.OBJECTIVE_PACE,
        m.OBJECTIVE_FORECAST_ATTAINMENT,
        m.ALIGNED_SPEND_RATIO,
        m.CHANNEL_SPEND_SHARE,
        m.CHANNEL_PLANNED_SHARE,
        m.DRIFT_OPEN,
    ):
        assert metric in exprs
    kinds = {p["type"] for p in board["panels"]}
    assert {"bargauge", "table", "timeseries"} <= kinds
    drift_table = next(p for p in board["panels"] if p["title"] == "Open drifts")
    links = [
        link
        for override in drift_table["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert any("/drifts?kind=" in link["url"] for link in links), "explanation link missing"


def test_objective_detail_is_parameterised_by_objective(boards: dict[str, dict[str, Any]]) -> None:
    board = boards["objective-detail"]
    names = [v["name"] for v in board["templating"]["list"]]
    assert "objective" in names
    objective_var = next(v for v in board["templating"]["list"] if v["name"] == "objective")
    assert objective_var["multi"] is False
    for where, expr in d.expressions(board):
        if "annotation" not in where:
            assert 'objective="$objective"' in expr or "objective" not in expr, where


def test_pipeline_health_covers_streams_lag_dlq_commit_faststream_and_nats(
    boards: dict[str, dict[str, Any]],
) -> None:
    exprs = " ".join(e for _, e in d.expressions(boards["pipeline-health"]))
    for needle in (
        m.EVENTS_APPLIED,
        m.PROJECTION_LAG,
        m.DLQ_SIZE,
        f"{m.BATCH_COMMIT_SECONDS}_bucket",
        "faststream_",
        "gnatsd_varz_",
        "jetstream_",
    ):
        assert needle in exprs


def test_strategy_changes_are_annotated_on_every_dashboard(
    boards: dict[str, dict[str, Any]],
) -> None:
    for board in boards.values():
        queries = [a.get("expr", "") for a in board["annotations"]["list"]]
        assert any(m.STRATEGY_CHANGES in q for q in queries)
        assert any(m.STRATEGY_LAST_CHANGE in q for q in queries)


def test_layout_fits_the_grid(boards: dict[str, dict[str, Any]]) -> None:
    for board in boards.values():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24


def test_committed_json_is_valid_json() -> None:
    for path in COMMITTED.glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8"))["uid"].startswith("truenorth-")


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (stream) (rate(a_total{x="y"}[5m]))', {"a_total"}),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m])))", {"h_bucket"}),
        ('a{b="c"} + d * on (e) group_left (f) g or vector(0)', {"a", "d", "g"}),
        ("time() - max(t) > 1e3", {"t"}),
    ],
)
def test_metric_names_in(expr: str, names: set[str]) -> None:
    assert d.metric_names_in(expr) == names


def test_interpolate_replaces_grafana_variables() -> None:
    expr = 'rate(x{workspace=~"$workspace", objective="${objective}"}[$__rate_interval])'
    assert d.interpolate(expr, {"objective": "o1"}) == (
        'rate(x{workspace=~".*", objective="o1"}[1m])'
    )


def test_objective_detail_shows_the_forecast_with_its_80_percent_band_and_p_hit(
    boards: dict[str, dict[str, Any]],
) -> None:
    board = boards["objective-detail"]
    exprs = " ".join(e for _, e in d.expressions(board))
    for metric in (
        m.OBJECTIVE_FORECAST_ATTAINMENT,
        m.OBJECTIVE_FORECAST_ATTAINMENT_LOW,
        m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH,
        m.OBJECTIVE_HIT_PROBABILITY,
    ):
        assert metric in exprs
    for panel in board["panels"]:
        legends = {t["legendFormat"] for t in panel["targets"]}
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "custom.fillBelowTo":
                    # the band fills from one of the panel's own series down to another
                    assert {override["matcher"]["options"], prop["value"]} <= legends
    titles = [p["title"] for p in board["panels"]]
    assert "P(hit)" in titles
    assert any("80 %" in title and "Forecast" in title for title in titles)


def test_leadership_overview_lists_open_incidents_with_a_link_to_the_read_api(
    boards: dict[str, dict[str, Any]],
) -> None:
    panel = next(
        p for p in boards["leadership-overview"]["panels"] if p["title"] == "Open incidents"
    )
    assert m.INCIDENT_OPEN in panel["targets"][0]["expr"]
    urls = [
        link["url"]
        for override in panel["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert any(url.endswith("/incidents") for url in urls)
