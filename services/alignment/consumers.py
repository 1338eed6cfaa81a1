"""The projector's durable pull consumers on STRATEGY, CAMPAIGNS and METRICS: their names,
(re)created to start right after the checkpoint, and how a batch is fetched from one."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from truenorth.alignment.partition import CONSUMER
from truenorth.bus.streams import CAMPAIGNS, METRICS, STRATEGY, StreamSpec

SOURCE_STREAMS = (STRATEGY, CAMPAIGNS, METRICS)

IDLE_FETCH_SECONDS = 1.0
BUSY_FETCH_SECONDS = 0.02
"""How long a batch fetch collects messages that are still arriving."""


def durable_name(stream: str) -> str:
    return f"{CONSUMER}-{stream.lower()}"


@dataclass
class StreamState:
    """One source stream as its consumer loop sees it."""

    spec: StreamSpec
    subscription: Any = None
    last_message_at: float = field(default_factory=time.monotonic)
    head: int = 0
    stalled: bool = False


async def subscribe_durable(
    js: JetStreamContext, stream: str, position: int, ack_wait: float, max_ack_pending: int
) -> Any:
    """Bind to the stream's durable consumer, (re)creating it so it starts right after the
    checkpoint `position`."""
    durable = durable_name(stream)
    try:
        info = await js.consumer_info(stream, durable)
        acked = info.ack_floor.stream_seq if info.ack_floor else 0
        delivered = info.delivered.stream_seq if info.delivered else 0
        if (acked or 0) > position or (delivered or 0) > position:
            # Acked beyond the store (store reset or rebuilt elsewhere), or messages
            # still held by a dead instance, which JetStream would only hand back after
            # ack_wait, after the newer ones: start again right after the checkpoint.
            await js.delete_consumer(stream, durable)
            raise NotFoundError
    except NotFoundError:
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.ALL,
            ack_wait=ack_wait,
            max_ack_pending=max_ack_pending,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=position + 1,
        )
        await js.add_consumer(stream, config)
    return await js.pull_subscribe_bind(durable=durable, stream=stream)


async def fetch(state: StreamState, caught_up: bool, batch_size: int) -> list[Msg]:
    """Caught up, wait for the next message and return it at once; behind, take a batch.

    nats-py's fetch of n > 1 waits its whole timeout unless n messages are there: with
    a long timeout that wait is the freshness floor, with a short one an idle service
    polls. One message ends the idle wait; then short batch fetches follow until one
    comes back empty."""
    if caught_up:
        return await state.subscription.fetch(1, timeout=IDLE_FETCH_SECONDS)
    return await state.subscription.fetch(batch_size, timeout=BUSY_FETCH_SECONDS)
