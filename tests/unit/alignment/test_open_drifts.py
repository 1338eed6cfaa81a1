"""What a snapshot shows of the open drifts: counts by subject, kind and severity, and one
incident per cause at the highest severity of its facets."""

from __future__ import annotations

from truenorth.alignment.domain.open_drifts import DriftCount, OpenDrifts, OpenIncident, ShownDrift


def drift(
    drift_id: str,
    severity: str = "warning",
    kind: str = "campaign_overspend",
    incident_id: str | None = None,
    strategy_id: str | None = "growth",
    objective_id: str | None = None,
) -> ShownDrift:
    return ShownDrift(drift_id, strategy_id, objective_id, kind, severity, incident_id)


def test_one_overspending_campaign_is_one_incident_at_its_worst_facet() -> None:
    summary = OpenDrifts.of(
        "acme",
        [
            drift("overspend-c-a", "warning", incident_id="campaign-c-a"),
            drift("channel-search", "critical", "channel_over_plan", "campaign-c-a"),
            drift("untethered-c-a", "info", "untethered_spend", "campaign-c-a"),
        ],
    )
    assert summary.incidents == (OpenIncident("acme", "growth", "campaign-c-a", "critical"),)


def test_a_drift_naming_no_incident_is_an_incident_of_its_own() -> None:
    summary = OpenDrifts.of("acme", [drift("stale-c-a", "info"), drift("stale-c-b", "info")])
    assert [i.incident for i in summary.incidents] == ["stale-c-a", "stale-c-b"]


def test_open_drifts_are_counted_by_subject_kind_and_severity() -> None:
    summary = OpenDrifts.of(
        "acme",
        [
            drift("a", "critical", "objective_off_pace", objective_id="leads-q4"),
            drift("b", "info", "stale_data"),
            drift("c", "info", "stale_data"),
            drift("d", "warning", "stale_data", strategy_id=None),
        ],
    )
    assert summary.counts == (
        DriftCount("acme", "", "", "stale_data", "warning", 1),
        DriftCount("acme", "growth", "", "stale_data", "info", 2),
        DriftCount("acme", "growth", "leads-q4", "objective_off_pace", "critical", 1),
    )


def test_an_incident_is_one_per_strategy_that_its_facets_name() -> None:
    """The series is labelled with the strategy: facets under two strategies are two series,
    as the exposition always showed them."""
    summary = OpenDrifts.of(
        "acme",
        [
            drift("x", incident_id="campaign-c-a"),
            drift("y", "info", incident_id="campaign-c-a", strategy_id="brand"),
        ],
    )
    assert [(i.strategy_id, i.severity) for i in summary.incidents] == [
        ("brand", "info"),
        ("growth", "warning"),
    ]


def test_workspaces_merge_in_order_and_keep_their_own_figures() -> None:
    beta = OpenDrifts.of("beta", [drift("b-1")])
    acme = OpenDrifts.of("acme", [drift("a-1"), drift("a-2", "critical")])
    merged = OpenDrifts.merged([beta, acme, OpenDrifts()])
    assert [c.workspace for c in merged.counts] == ["acme", "acme", "beta"]
    assert [i.incident for i in merged.incidents] == ["a-1", "a-2", "b-1"]
    assert merged.workspaces() == {"acme", "beta"}
