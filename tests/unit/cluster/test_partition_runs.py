"""A partition run of the partitioned alignment service (`truenorth.alignment.partitioned`)
leaves nothing behind when its projector cannot start: no gauge claiming the partition, no
stream still folding."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from truenorth.alignment import partitioned
from truenorth.alignment.partitioned import PartitionedAlignment
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.metric_names import PARTITION_OWNED
from truenorth.settings import AlignmentSettings, SharedSettings


class StartTimesOut:
    """A projector whose start subscribed to one stream, then timed out (a NATS node down)."""

    instances: list[StartTimesOut] = []

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.subscribed = False
        StartTimesOut.instances.append(self)

    async def start(self) -> None:
        self.subscribed = True
        raise TimeoutError

    async def stop(self) -> None:
        self.subscribed = False


class Connection:
    def jetstream(self) -> None:
        return None


def owned_gauges(registry: CollectorRegistry) -> dict[str, float]:
    return {
        sample.labels["partition"]: sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == PARTITION_OWNED
    }


def test_a_partition_whose_projector_cannot_start_is_not_left_claimed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    StartTimesOut.instances.clear()
    monkeypatch.setattr(partitioned, "claim", lambda *_args: None)
    monkeypatch.setattr(partitioned, "Projector", StartTimesOut)
    registry = CollectorRegistry()
    service = PartitionedAlignment(
        Connection(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        PipelineMetrics.register(registry),
        lambda: None,  # type: ignore[arg-type, return-value]
        AlignmentSettings(),
        SharedSettings(),
    )
    with pytest.raises(TimeoutError):
        asyncio.run(service.run_partition(3, 42, asyncio.Event()))
    assert owned_gauges(registry) == {}
    [projector] = StartTimesOut.instances
    assert not projector.subscribed
    assert service.projectors == {}
