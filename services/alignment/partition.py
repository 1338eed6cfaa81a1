"""One partition of a partitioned deployment, as owned under a lease (docs/design.md,
"Partitions and leases"): its workspaces, its consumer name and the fence of its commits."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prometheus_client import Gauge
from sqlalchemy import Connection

from truenorth.bus.partitions import consumer_config, mirror_name, partition_of
from truenorth.bus.streams import StreamSpec
from truenorth.store.fencing import guard

log = structlog.get_logger()

CONSUMER = "alignment"


@dataclass(frozen=True)
class Partition:
    """One partition of a partitioned deployment, as owned under a lease
    (docs/design.md, "Partitions and leases"): its workspaces, its consumers on the
    partitioned mirrors, and the fence every one of its commits passes."""

    number: int
    count: int
    epoch: int

    @property
    def consumer(self) -> str:
        return f"{CONSUMER}-p{self.number}"

    def owns(self, workspace: str) -> bool:
        return partition_of(workspace, self.count) == self.number

    async def subscribe(
        self,
        js: JetStreamContext,
        spec: StreamSpec,
        position: int,
        ack_wait: float,
        max_ack_pending: int,
    ) -> Any:
        """The partition's consumer on the stream's partitioned mirror, always recreated right
        after the checkpoint `position`: the previous owner's unacknowledged messages would
        otherwise come back after newer ones."""
        config = consumer_config(
            CONSUMER,
            spec,
            self.number,
            start_after=position,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
        )
        mirror, durable = mirror_name(spec), str(config.durable_name)
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(mirror, durable)
        await js.add_consumer(mirror, config)
        return await js.pull_subscribe_bind(durable=durable, stream=mirror)

    async def observe(self, js: JetStreamContext, specs: Sequence[StreamSpec], lag: Gauge) -> None:
        """The partition's lag per stream: what its consumers hold or have not delivered."""
        for spec in specs:
            durable = str(consumer_config(CONSUMER, spec, self.number).durable_name)
            try:
                info = await js.consumer_info(mirror_name(spec), durable)
            except Exception as exc:
                log.warning("partition observation failed", error=repr(exc))
                continue
            pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
            lag.labels(str(self.number), spec.name).set(pending)

    def fence(self, connection: Connection) -> None:
        """First in every transaction: refused (FencedOut) once a newer owner has written."""
        guard(connection, CONSUMER, self.number, self.epoch)
