"""Figures the benchmarks read from the alignment service's own /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

TIMED = ("truenorth_batch_commit_seconds", "truenorth_snapshot_build_seconds")


def pipeline_figures(exposition: str) -> str:
    """Redeliveries, and the count and mean of batch commits and snapshot builds."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    figures = [f"{totals.get('truenorth_redeliveries_total', 0):,.0f} redeliveries"]
    for name in TIMED:
        count = totals.get(f"{name}_count", 0.0)
        if count:
            mean_ms = totals[f"{name}_sum"] / count * 1000
            figures.append(f"{name} {count:,.0f} x, mean {mean_ms:.1f} ms")
    return "; ".join(figures)
