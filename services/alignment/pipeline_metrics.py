"""Pipeline health instruments of the alignment service (docs/design.md, "What leadership and
alerting see")."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from truenorth import metric_names as m


@dataclass
class PipelineMetrics:
    applied: Counter
    redeliveries: Counter
    lag: Gauge
    last_sequence: Gauge
    dlq_size: Gauge
    stalled: Gauge
    commit_seconds: Histogram
    snapshot_seconds: Histogram
    last_tick: Gauge
    partition_owned: Gauge
    partition_lag: Gauge
    outbox_oldest: Gauge

    @classmethod
    def register(cls, registry: CollectorRegistry) -> PipelineMetrics:
        return cls(
            applied=Counter(
                m.EVENTS_APPLIED.removesuffix("_total"),
                "Events folded into the projection",
                ["stream"],
                registry=registry,
            ),
            redeliveries=Counter(
                m.REDELIVERIES.removesuffix("_total"),
                "Messages JetStream delivered more than once",
                ["stream"],
                registry=registry,
            ),
            lag=Gauge(
                m.PROJECTION_LAG,
                "Stream head minus the projection's checkpoint",
                ["stream"],
                registry=registry,
            ),
            last_sequence=Gauge(
                m.LAST_APPLIED_SEQUENCE,
                "Last stream sequence committed to the projection",
                ["stream"],
                registry=registry,
            ),
            dlq_size=Gauge(m.DLQ_SIZE, "Messages in the dead-letter stream", registry=registry),
            stalled=Gauge(
                m.CONSUMER_STALLED,
                "1 while a consumer has pending messages but receives none",
                ["stream"],
                registry=registry,
            ),
            commit_seconds=Histogram(
                m.BATCH_COMMIT_SECONDS,
                "Time to commit one batch (rows, checkpoint, processed ids)",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                registry=registry,
            ),
            snapshot_seconds=Histogram(
                m.SNAPSHOT_BUILD_SECONDS,
                "Time to rebuild the scrape snapshot and its exposition text",
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                registry=registry,
            ),
            last_tick=Gauge(
                m.LAST_TICK, "Unix time of the last drift evaluation tick", registry=registry
            ),
            partition_owned=Gauge(
                m.PARTITION_OWNED,
                "The lease epoch of each partition this worker owns (absent: not owned)",
                ["partition"],
                registry=registry,
            ),
            partition_lag=Gauge(
                m.PARTITION_LAG,
                "Messages of an owned partition not yet folded, per stream",
                ["partition", "stream"],
                registry=registry,
            ),
            outbox_oldest=Gauge(
                m.DRIFT_OUTBOX_OLDEST,
                "Unix time of the oldest drift event committed by a tick and not yet published "
                "to the ALIGNMENT stream (0: none waits)",
                registry=registry,
            ),
        )
