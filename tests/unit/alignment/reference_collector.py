"""A reference for `truenorth.alignment.exposition`: the snapshot as prometheus-client metric
families, straightforward and slow (generate_latest costs 5-10 µs per sample). The service
renders the same text itself; the tests check both agree byte for byte."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from truenorth import metric_names as m
from truenorth.alignment.domain.snapshot import Snapshot

OBJECTIVE_LABELS = ["workspace", "strategy", "objective", "kpi"]
CHANNEL_LABELS = ["workspace", "strategy", "channel"]


class SnapshotCollector(Collector):
    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        yield from self._objectives(snapshot)
        yield from self._channels(snapshot)
        yield from self._drifts(snapshot)
        yield from self._incidents(snapshot)
        yield from self._strategy_changes(snapshot)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # dynamic: no help-time description needed

    @staticmethod
    def _objectives(snapshot: Snapshot) -> Iterator[Metric]:
        gauges = {
            name: GaugeMetricFamily(name, help_text, labels=OBJECTIVE_LABELS)
            for name, help_text in (
                (m.OBJECTIVE_PROGRESS, "(actual - baseline) / (target - baseline), not clipped"),
                (m.OBJECTIVE_EXPECTED, "Expected progress by now (elapsed share or phasing)"),
                (m.OBJECTIVE_PACE, "progress / expected progress"),
                (m.OBJECTIVE_ACTUAL, "Actual KPI value over the objective's window"),
                (m.OBJECTIVE_TARGET, "Target KPI value"),
                (m.OBJECTIVE_BASELINE, "Baseline KPI value"),
                (m.OBJECTIVE_FORECAST_ATTAINMENT, "Forecast progress at the deadline"),
                (
                    m.OBJECTIVE_FORECAST_ATTAINMENT_LOW,
                    "Low end of the forecast attainment's 80 % interval",
                ),
                (
                    m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH,
                    "High end of the forecast attainment's 80 % interval",
                ),
                (
                    m.OBJECTIVE_HIT_PROBABILITY,
                    "Probability of reaching the target by the deadline (0-1)",
                ),
                (m.OBJECTIVE_REQUIRED_RATE, "KPI units per day still needed to reach target"),
                (m.OBJECTIVE_DEADLINE, "Deadline as a Unix timestamp"),
                (m.OBJECTIVE_SPEND, "Spend of the objective's linked campaigns in its window"),
                (
                    m.OBJECTIVE_CHECKIN_CONFIDENCE,
                    "The owner's confidence at the latest check-in: 0 low, 1 medium, 2 high",
                ),
                (
                    m.OBJECTIVE_CHECKIN_CORRECTED,
                    "The KPI value the owner gave at the latest check-in (with its source)",
                ),
                (m.OBJECTIVE_CHECKIN_TIME, "Unix time of the latest check-in"),
            )
        }
        status = GaugeMetricFamily(
            m.OBJECTIVE_STATUS,
            "1 for the objective's current status",
            labels=[*OBJECTIVE_LABELS, "status"],
        )
        for o in snapshot.objectives:
            labels = [o.workspace, o.strategy_id, o.objective_id, o.kpi]
            values = {
                m.OBJECTIVE_PROGRESS: o.progress,
                m.OBJECTIVE_EXPECTED: o.expected,
                m.OBJECTIVE_PACE: o.pace,
                m.OBJECTIVE_ACTUAL: o.actual,
                m.OBJECTIVE_TARGET: o.target,
                m.OBJECTIVE_BASELINE: o.baseline,
                m.OBJECTIVE_FORECAST_ATTAINMENT: o.forecast_attainment,
                m.OBJECTIVE_FORECAST_ATTAINMENT_LOW: o.forecast_attainment_low,
                m.OBJECTIVE_FORECAST_ATTAINMENT_HIGH: o.forecast_attainment_high,
                m.OBJECTIVE_HIT_PROBABILITY: o.hit_probability,
                m.OBJECTIVE_REQUIRED_RATE: o.required_rate_per_day,
                m.OBJECTIVE_DEADLINE: o.deadline_seconds,
                m.OBJECTIVE_SPEND: o.spend,
                m.OBJECTIVE_CHECKIN_CONFIDENCE: o.checkin_confidence,
                m.OBJECTIVE_CHECKIN_CORRECTED: o.checkin_corrected_value,
                m.OBJECTIVE_CHECKIN_TIME: o.checkin_seconds,
            }
            for name, value in values.items():
                if value is not None:
                    gauges[name].add_metric(labels, float(value))
            for candidate in m.STATUSES:
                status.add_metric([*labels, candidate], 1.0 if o.status == candidate else 0.0)
        yield from gauges.values()
        yield status

    @staticmethod
    def _channels(snapshot: Snapshot) -> Iterator[Metric]:
        actual = GaugeMetricFamily(
            m.CHANNEL_SPEND_SHARE, "Share of period spend per channel (0-1)", labels=CHANNEL_LABELS
        )
        planned = GaugeMetricFamily(
            m.CHANNEL_PLANNED_SHARE,
            "Planned share of period budget per channel (0-1)",
            labels=CHANNEL_LABELS,
        )
        shares: dict[tuple[str, str, str], float] = {}
        for c in snapshot.channels:
            key = (c.workspace, c.strategy_id, c.channel if c.declared else "other")
            shares[key] = shares.get(key, 0.0) + c.actual_share
        for key, share in shares.items():
            actual.add_metric(list(key), share)
        for c in snapshot.channels:
            labels = [c.workspace, c.strategy_id, c.channel]
            if c.planned_share is not None:
                planned.add_metric(labels, c.planned_share)
        aligned = GaugeMetricFamily(
            m.ALIGNED_SPEND_RATIO,
            "Spend on campaigns tied to active objectives / all spend",
            labels=["workspace", "strategy"],
        )
        for a in snapshot.aligned_spend:
            if a.ratio is not None:
                aligned.add_metric([a.workspace, a.strategy_id or ""], a.ratio)
        yield actual
        yield planned
        yield aligned

    @staticmethod
    def _incidents(snapshot: Snapshot) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            m.INCIDENT_OPEN,
            "Open incidents (drifts with one cause), by highest severity",
            labels=["workspace", "strategy", "incident", "severity"],
        )
        for i in snapshot.drifts.incidents:
            gauge.add_metric([i.workspace, i.strategy_id, i.incident, i.severity], 1)
        yield gauge

    @staticmethod
    def _drifts(snapshot: Snapshot) -> Iterator[Metric]:
        labels = ["workspace", "strategy", "objective", "kind", "severity"]
        gauge = GaugeMetricFamily(m.DRIFT_OPEN, "Open drifts", labels=labels)
        for c in snapshot.drifts.counts:
            gauge.add_metric(
                [c.workspace, c.strategy_id, c.objective_id, c.kind, c.severity], c.count
            )
        yield gauge

    @staticmethod
    def _strategy_changes(snapshot: Snapshot) -> Iterator[Metric]:
        changes = CounterMetricFamily(
            m.STRATEGY_CHANGES.removesuffix("_total"),
            "Strategy change events by type (for Grafana annotations)",
            labels=["workspace", "strategy", "kind"],
        )
        last = GaugeMetricFamily(
            m.STRATEGY_LAST_CHANGE,
            "Unix time of the last strategy change",
            labels=["workspace", "strategy"],
        )
        for s in snapshot.strategies:
            for kind, count in s.counts:
                changes.add_metric([s.workspace, s.strategy_id, kind], count)
            if s.last_change_seconds:
                last.add_metric([s.workspace, s.strategy_id], s.last_change_seconds)
        yield changes
        yield last
