"""What the partitioned mirror adds to alignment's freshness: the delay from an event's
append to METRICS until a partition consumer receives it from
METRICS_PARTITIONED, against the same consumer reading METRICS itself (the raw baseline,
filtered on one workspace), in one run on one embedded nats-server.

    PYTHONPATH=. .venv/bin/python -m benchmarks.partition_mirror_lag [--events 2000] [--rate 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.eventstore import provision
from truenorth.bus.partitions import (
    mirror_name,
    partition_filter,
    partition_of,
    provision_partitions,
)
from truenorth.bus.streams import METRICS

PARTITIONS = 8
WORKSPACE = "acme"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def receiver(js: JetStreamContext, stream: str, subject: str, seen: dict[int, float]) -> None:
    async def on_msg(msg: Msg) -> None:
        seen[msg.metadata.sequence.stream] = time.perf_counter()

    config = ConsumerConfig(ack_policy=AckPolicy.NONE, filter_subject=subject)
    await js.subscribe(subject, stream=stream, cb=on_msg, config=config, manual_ack=True)


async def run(events: int, rate: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp)) as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream(timeout=5.0)
        await provision(js)
        await provision_partitions(js, PARTITIONS)
        direct: dict[int, float] = {}
        mirrored: dict[int, float] = {}
        partition = partition_of(WORKSPACE, PARTITIONS)
        await receiver(js, METRICS.name, f"tn.{WORKSPACE}.metrics.>", direct)
        await receiver(js, mirror_name(METRICS), partition_filter(partition), mirrored)
        for _ in range(10):  # the mirror's own consumer on METRICS starts with the first messages
            await js.publish("tn.warm-up.metrics.c", b"{}")
        await asyncio.sleep(1.0)
        acked: dict[int, float] = {}
        interval = 1.0 / rate
        started = time.perf_counter()
        for index in range(events):
            sent = time.perf_counter()
            ack = await js.publish(f"tn.{WORKSPACE}.metrics.c-{index}", b"{}")
            acked[ack.seq] = sent
            pause = started + (index + 1) * interval - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        await asyncio.sleep(2.0)
        await nc.close()
    for name, seen in (("METRICS (raw)", direct), ("METRICS_PARTITIONED", mirrored)):
        delays = [(seen[seq] - at) * 1000 for seq, at in acked.items() if seq in seen]
        print(
            f"{name:20s} received {len(delays)}/{events}: "
            f"p50 {statistics.median(delays):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms "
            "after the append was sent"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000.0, help="appends per second")
    args = parser.parse_args()
    asyncio.run(run(args.events, args.rate))


if __name__ == "__main__":
    main()
