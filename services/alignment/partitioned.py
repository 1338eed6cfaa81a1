"""Alignment as one of several workers (docs/design.md, "Partitions and leases"): the
partitions whose lease this worker holds, each folded by its own `Projector` on the
partitioned mirrors, every commit fenced by the lease's epoch. The tables are shared
(PostgreSQL): any worker answers the read API for every workspace; its /metrics shows only its
partitions' gauges, which partitions it owns and their lag."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import nats
import structlog
from nats.aio.client import Client as NatsClient
from sqlalchemy import Engine

from truenorth.alignment.domain.open_drifts import OpenDrifts
from truenorth.alignment.domain.snapshot import Snapshot
from truenorth.alignment.exposition import render_exposition
from truenorth.alignment.partition import CONSUMER, Partition
from truenorth.alignment.pipeline_metrics import PipelineMetrics
from truenorth.alignment.projector import Projector
from truenorth.alignment.ticks import tick_forever
from truenorth.alignment.workers import PartitionWorker, start_worker
from truenorth.bus.lease import LeaseTiming, provision_lease_buckets
from truenorth.bus.partitions import provision_partitions
from truenorth.runtime import connect_options, servers
from truenorth.settings import AlignmentSettings, SharedSettings
from truenorth.store.fencing import FencedOut, claim

log = structlog.get_logger()
Clock = Callable[[], datetime]


@dataclass
class PartitionedAlignment:
    nc: NatsClient
    engine: Engine
    metrics: PipelineMetrics
    clock: Clock
    settings: AlignmentSettings
    shared: SharedSettings
    projectors: dict[int, Projector] = field(default_factory=dict)
    worker: PartitionWorker | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _rendered: tuple[tuple[int, ...], dict[str, bytes]] | None = None

    @property
    def replicas(self) -> int:
        return self.shared.nats_replicas

    async def start(self) -> None:
        await self._provision()
        self.worker = await start_worker(
            self.nc, self.settings.partitions, self.run_partition, replicas=self.replicas
        )
        self._task = asyncio.create_task(self.worker.run(self._stop), name="partition-worker")

    async def _provision(self) -> None:
        """The partitioned mirrors and lease buckets, as the stream administrator when its
        credentials are set (a service user may not create streams), else with this
        connection (the embedded server, tests)."""
        shared = self.shared
        if shared.nats_provisioner_user:
            nc = await nats.connect(
                servers(shared.nats_url),
                name="truenorth-alignment-provisioner",
                connect_timeout=5,
                **connect_options(
                    shared,
                    user=shared.nats_provisioner_user,
                    password=shared.nats_provisioner_password,
                ),
            )
        else:
            nc = self.nc
        try:
            js = nc.jetstream()
            await provision_partitions(js, self.settings.partitions, self.replicas)
            await provision_lease_buckets(js, LeaseTiming().ttl, self.replicas)
        finally:
            if nc is not self.nc:
                await nc.close()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=self.settings.shutdown_grace_seconds)

    async def run_partition(self, partition: int, epoch: int, stop: asyncio.Event) -> None:
        """Fold one partition until asked to stop or fenced out by a newer owner. The lease
        is ours from here (the gauge says so) until this returns or raises, whatever fails:
        a start that timed out (a NATS node down) once left the gauge claiming a partition
        another worker owned, and the streams it had subscribed to still folding."""
        self.metrics.partition_owned.labels(str(partition)).set(epoch)
        try:
            await self._fold_partition(partition, epoch, stop)
        finally:
            self._forget_gauges(partition)

    async def _fold_partition(self, partition: int, epoch: int, stop: asyncio.Event) -> None:
        # the claim may wait for a previous owner's transaction in flight (paused mid-commit:
        # it commits, or dies with its session)
        await asyncio.to_thread(claim, self.engine, CONSUMER, partition, epoch)
        owned = Partition(partition, self.settings.partitions, epoch)
        projector = Projector(
            self.nc.jetstream(),
            self.engine,
            self.metrics,
            self.clock,
            batch_size=self.settings.batch_size,
            ack_wait=self.settings.ack_wait_seconds,
            stall_seconds=self.settings.stall_seconds,
            dlq_workspace=self.shared.workspace,
            partition=owned,
        )
        ticker: asyncio.Task[None] | None = None
        try:
            await projector.start()
            self.projectors[partition] = projector
            ticker = asyncio.create_task(
                tick_forever(projector, self.settings.tick_seconds, self.settings.tick_cost_spacing)
            )
            log.info("partition started", partition=partition, epoch=epoch)
            fenced = asyncio.create_task(projector.fenced.wait())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({fenced, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (fenced, stopped):
                waiter.cancel()
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.wait([ticker], timeout=self.settings.shutdown_grace_seconds)
            await projector.stop()
            self.projectors.pop(partition, None)
            log.info("partition stopped", partition=partition, epoch=epoch)
        if projector.fenced.is_set():
            raise FencedOut(CONSUMER, partition, epoch, None)

    def _forget_gauges(self, partition: int) -> None:
        with contextlib.suppress(KeyError):
            self.metrics.partition_owned.remove(str(partition))
        for stream in ("STRATEGY", "CAMPAIGNS", "METRICS"):
            with contextlib.suppress(KeyError):
                self.metrics.partition_lag.remove(str(partition), stream)

    # -- what /metrics and readiness see -------------------------------------------------------

    def exposition(self) -> dict[str, bytes]:
        """The gauges of the owned partitions' workspaces, rendered once per change of any of
        their snapshots."""
        projectors = [self.projectors[p] for p in sorted(self.projectors)]
        key = tuple(id(p.snapshot) for p in projectors)
        if self._rendered is None or self._rendered[0] != key:
            merged = merge_snapshots([p.snapshot for p in projectors], self.clock())
            self._rendered = (key, render_exposition(merged))
        return self._rendered[1]

    def stalled_streams(self) -> list[str]:
        return sorted({s for p in self.projectors.values() for s in p.stalled_streams()})


def merge_snapshots(snapshots: list[Snapshot], at: datetime) -> Snapshot:
    """One snapshot of the workspaces of several partitions (disjoint by construction)."""
    objectives = tuple(o for s in snapshots for o in s.objectives)
    return Snapshot(
        at=at,
        objectives=objectives,
        channels=tuple(c for s in snapshots for c in s.channels),
        aligned_spend=tuple(a for s in snapshots for a in s.aligned_spend),
        drifts=OpenDrifts.merged(s.drifts for s in snapshots),
        strategies=tuple(x for s in snapshots for x in s.strategies),
        _by_objective={(o.workspace, o.objective_id): o for o in objectives},
    )
